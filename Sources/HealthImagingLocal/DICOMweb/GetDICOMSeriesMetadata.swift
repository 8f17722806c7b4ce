import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/metadata` — WADO-RS: every instance of a series as DICOM JSON, in InstanceNumber order.
public enum GetDICOMSeriesMetadata: DICOMwebOperation {
    public static let name = "GetDICOMSeriesMetadata"
    public static let iamAction = "GetDICOMSeriesMetadata"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/metadata"
    public static let readsBody = false
    public static let isReadOnly = true

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try WADO.metadata(call, instance: false)
    }
}
