import HealthImagingHTTP
/// The DICOMweb routes HealthImaging does not document (study and series retrieve, study metadata, rendered,
/// thumbnails, DELETE): one JSON answer, 404 `UnknownOperationException`, naming what the service offers instead
/// (docs/dicomweb.md "Routes HealthImaging does not offer").
public enum UnsupportedDICOMweb: DICOMwebOperation {
    public static let name = "UnsupportedDICOMweb"
    public static let iamAction = "UnsupportedDICOMweb"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}"
    public static let readsBody = false

    static let study = "/datastore/{datastoreId}/studies/{StudyInstanceUID}"
    static let series = study + "/series/{SeriesInstanceUID}"
    static let instance = series + "/instances/{SOPInstanceUID}"
    static let frames = instance + "/frames/{frameList}"

    public static let extraRoutes: [(method: String, path: String)] = [
        ("GET", series), ("GET", study + "/metadata"),
        ("GET", study + "/rendered"), ("GET", series + "/rendered"), ("GET", instance + "/rendered"), ("GET", frames + "/rendered"),
        ("GET", study + "/thumbnail"), ("GET", series + "/thumbnail"), ("GET", instance + "/thumbnail"), ("GET", frames + "/thumbnail"),
        ("DELETE", study), ("DELETE", series), ("DELETE", instance),
    ]

    public static func handle(_ call: Call) throws(APIError) -> Response {
        throw APIError(.unknownOperation, """
            AWS HealthImaging does not offer \(call.request.method) \(call.request.path.split(separator: "?").first ?? "") \
            through DICOMweb; it offers GetDICOMSeriesMetadata, GetDICOMInstance, GetDICOMInstanceMetadata, \
            GetDICOMInstanceFrames, GetDICOMBulkdata, the QIDO-RS searches and STOW-RS
            """)
    }
}
