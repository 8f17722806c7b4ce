import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/studies/{StudyInstanceUID}/instances` — QIDO-RS instances of one study (relational; authorizes as SearchDICOMInstances).
public enum SearchDICOMStudyInstances: DICOMwebOperation {
    public static let name = "SearchDICOMStudyInstances"
    public static let iamAction = "SearchDICOMInstances"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}/instances"
    public static let readsBody = false
    public static let isReadOnly = true

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try QIDO.answer(call, level: .instance, scope: .study)
    }
}
