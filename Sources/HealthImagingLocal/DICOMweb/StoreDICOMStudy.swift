import HealthImagingHTTP
/// STOW-RS `POST /datastore/{datastoreId}/studies/{StudyInstanceUID}`: as StoreDICOM, except that an instance
/// whose StudyInstanceUID is not the path's fails (FailedSOPSequence, FailureReason A900) and is not stored.
public enum StoreDICOMStudy: DICOMwebOperation {
    public static let iamAction = "StoreDICOMStudy"
    public static let name = "StoreDICOMStudy"
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/studies/{StudyInstanceUID}"

    /// Parses and encodes in the import pool, answers when committed.
    public static func reply(_ call: Call) throws(APIError) -> OperationReply {
        try StoreDICOMRequest.prepare(call, study: call.path("StudyInstanceUID")).reply(call)
    }

    /// The same on the calling thread.
    public static func handle(_ call: Call) throws(APIError) -> Response {
        let request = try StoreDICOMRequest.prepare(call, study: call.path("StudyInstanceUID"))
        return request.finish(request.importHere(), call: call)
    }
}
