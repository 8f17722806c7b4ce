import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances/{SOPInstanceUID}/metadata` — WADO-RS: one instance's DICOM JSON (a one-element array), reporting the stored transfer syntax.
public enum GetDICOMInstanceMetadata: DICOMwebOperation {
    public static let name = "GetDICOMInstanceMetadata"
    public static let iamAction = "GetDICOMInstanceMetadata"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances/{SOPInstanceUID}/metadata"
    public static let readsBody = false
    public static let isReadOnly = true

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try WADO.metadata(call, instance: true)
    }
}
