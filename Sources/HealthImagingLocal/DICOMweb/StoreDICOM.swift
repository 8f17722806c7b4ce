import HealthImagingHTTP
/// STOW-RS `POST /datastore/{datastoreId}/studies`: stores the DICOM instances of the body — one Part 10 file
/// (`application/dicom`) or a `multipart/related` body of them — synchronously, through the import jobs' parsing,
/// encoding and grouping; answers the Store Instances Response Module (`StoreDICOMResponse`). Statuses and
/// choices: docs/dicomweb.md, "STOW-RS".
public enum StoreDICOM: DICOMwebOperation {
    public static let iamAction = "StoreDICOM"
    public static let name = "StoreDICOM"
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/studies"
    /// The developer guide's "1 GB of DICOM data per request", read as 1 GiB (see docs/dicomweb.md, "STOW-RS").
    public static let defaultMaxBytes = 1 << 30

    /// Parses and encodes in the import pool, answers when committed.
    public static func reply(_ call: Call) throws(APIError) -> OperationReply {
        try StoreDICOMRequest.prepare(call, study: nil).reply(call)
    }

    /// The same on the calling thread.
    public static func handle(_ call: Call) throws(APIError) -> Response {
        let request = try StoreDICOMRequest.prepare(call, study: nil)
        return request.finish(request.importHere(), call: call)
    }
}
