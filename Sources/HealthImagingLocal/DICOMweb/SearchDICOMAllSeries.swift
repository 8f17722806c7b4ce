import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/series` — QIDO-RS series of the whole datastore (relational; authorizes as SearchDICOMSeries).
public enum SearchDICOMAllSeries: DICOMwebOperation {
    public static let name = "SearchDICOMAllSeries"
    public static let iamAction = "SearchDICOMSeries"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/series"
    public static let readsBody = false
    public static let isReadOnly = true

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try QIDO.answer(call, level: .series, scope: .datastore)
    }
}
