import HealthImagingJSON
import HealthImagingHTTP
/// `GET /getDICOMImportJob/datastore/{datastoreId}/job/{jobId}` → `{jobProperties}` (DICOMImportJobProperties),
/// the job's pending end settled first (a read counts toward `manual:N`).
public enum GetDICOMImportJob: Operation {
    public static let name = "GetDICOMImportJob"
    public static let isReadOnly = true
    public static let method = "GET"
    public static let path = "/getDICOMImportJob/datastore/{datastoreId}/job/{jobId}"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let jobId = try ImportJob.validId(call.path("jobId"))
        let job = try call.store { store throws -> ImportJob in
            _ = try store.requireDatastore(call.namespace, datastoreId)
            try store.settleImportJob(call.namespace, datastoreId, jobId, read: true)
            guard let job = try store.importJob(call.namespace, datastoreId, jobId) else {
                throw APIError.notFound("Import job \(jobId) does not exist in datastore \(datastoreId)")
            }
            return job
        }
        var json = JSONWriter(capacity: 768)
        json.object { body in
            body.field("jobProperties", object: { job.write(to: &$0, full: true) })
        }
        return Response(json: json.bytes)
    }
}

extension ImportJob {
    /// A `jobId` path parameter: `[0-9a-z]+`, 1–32 characters.
    static func validId(_ value: String) throws(APIError) -> String {
        guard Validate.isJobId(value) else {
            throw .invalid(value, at: "jobId", "Member must satisfy regular expression pattern: [0-9a-z]+ and have length between 1 and 32")
        }
        return value
    }

    /// `DICOMImportJobProperties` (full) or `DICOMImportJobSummary` members, in the model's order.
    func write(to json: inout JSONWriter, full: Bool) {
        json.field("jobId", jobId)
        json.field("jobName", shownName)
        json.field("jobStatus", status.rawValue)
        json.field("datastoreId", datastoreId)
        json.field("dataAccessRoleArn", dataAccessRoleArn)
        json.field("endedAt", timestampMillis: endedAt)
        json.field("submittedAt", timestampMillis: submittedAt)
        if full {
            json.field("inputS3Uri", inputS3Uri)
            json.field("outputS3Uri", outputS3Uri)
        }
        json.field("message", message)
        if full, let importConfiguration { json.field("importConfiguration", raw: importConfiguration) }
    }
}
