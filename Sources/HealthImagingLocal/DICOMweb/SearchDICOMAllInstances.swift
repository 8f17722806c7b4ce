import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/instances` — QIDO-RS instances of the whole datastore (relational; authorizes as SearchDICOMInstances).
public enum SearchDICOMAllInstances: DICOMwebOperation {
    public static let name = "SearchDICOMAllInstances"
    public static let iamAction = "SearchDICOMInstances"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/instances"
    public static let readsBody = false
    public static let isReadOnly = true

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try QIDO.answer(call, level: .instance, scope: .datastore)
    }
}
