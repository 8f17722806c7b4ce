import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/studies` — QIDO-RS study search (docs/dicomweb.md "QIDO-RS").
public enum SearchDICOMStudies: DICOMwebOperation {
    public static let name = "SearchDICOMStudies"
    public static let iamAction = "SearchDICOMStudies"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies"
    public static let readsBody = false
    public static let isReadOnly = true

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try QIDO.answer(call, level: .study, scope: .datastore)
    }
}
