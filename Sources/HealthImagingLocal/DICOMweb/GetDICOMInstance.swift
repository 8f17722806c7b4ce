import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances/{SOPInstanceUID}` — WADO-RS: the instance as a Part 10 file rebuilt from the stored metadata document and frames.
public enum GetDICOMInstance: DICOMwebOperation {
    public static let name = "GetDICOMInstance"
    public static let iamAction = "GetDICOMInstance"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances/{SOPInstanceUID}"
    public static let readsBody = false

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try WADO.instance(call)
    }
}
