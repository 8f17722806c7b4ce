import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/studies/{StudyInstanceUID}/series` — QIDO-RS series of one study.
public enum SearchDICOMSeries: DICOMwebOperation {
    public static let name = "SearchDICOMSeries"
    public static let iamAction = "SearchDICOMSeries"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}/series"
    public static let readsBody = false
    public static let isReadOnly = true

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try QIDO.answer(call, level: .series, scope: .study)
    }
}
