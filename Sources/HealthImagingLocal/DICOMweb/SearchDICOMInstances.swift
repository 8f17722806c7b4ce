import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances` — QIDO-RS instances of one series.
public enum SearchDICOMInstances: DICOMwebOperation {
    public static let name = "SearchDICOMInstances"
    public static let iamAction = "SearchDICOMInstances"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances"
    public static let readsBody = false
    public static let isReadOnly = true

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try QIDO.answer(call, level: .instance, scope: .series)
    }
}
