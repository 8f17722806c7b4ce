import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances/{SOPInstanceUID}/frames/{frameList}` — WADO-RS: frames (1-based list) as multipart/related, one part per frame in request order.
public enum GetDICOMInstanceFrames: DICOMwebOperation {
    public static let name = "GetDICOMInstanceFrames"
    public static let iamAction = "GetDICOMInstanceFrames"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances/{SOPInstanceUID}/frames/{frameList}"
    public static let readsBody = false

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try WADO.frames(call)
    }
}
