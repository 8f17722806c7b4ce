import HealthImagingHTTP
/// `GET /datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances/{SOPInstanceUID}/bulkdata/{bulkdataUriHash}` — WADO-RS: one attribute's value named by a BulkDataURI of the metadata.
public enum GetDICOMBulkdata: DICOMwebOperation {
    public static let name = "GetDICOMBulkdata"
    public static let iamAction = "GetDICOMBulkdata"
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}/series/{SeriesInstanceUID}/instances/{SOPInstanceUID}/bulkdata/{bulkdataUriHash}"
    public static let readsBody = false

    public static func handle(_ call: Call) throws(APIError) -> Response {
        try WADO.bulkdata(call)
    }
}
