import Crypto
import HealthImagingJSON
import HealthImagingHTTP

/// `GET /listDICOMImportJobs/datastore/{datastoreId}?jobStatus=&maxResults=&nextToken=` → `{jobSummaries,
/// nextToken?}`: newest first (submittedAt descending, then jobId), paginated by position with a token bound to
/// the datastore and the status filter.
public enum ListDICOMImportJobs: Operation {
    public static let name = "ListDICOMImportJobs"
    public static let isReadOnly = true
    public static let method = "GET"
    public static let path = "/listDICOMImportJobs/datastore/{datastoreId}"
    public static let defaultMaxResults = 50

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let status: JobStatus? = try Validate.enumeration(call.request.query("jobStatus"), member: "jobStatus")
        let maxResults = try Validate.integer(call.request.query("maxResults"), member: "maxResults", range: 1...50)
            ?? defaultMaxResults
        let scope = "\(name)/\(call.namespace)/\(datastoreId)/\(status?.rawValue ?? "*")"
        var offset: Int64 = 0
        if let token = call.request.query("nextToken") { offset = try call.tokens.openInt64(token, scope: scope) }
        let jobs = try call.store { store throws -> [ImportJob] in
            _ = try store.requireDatastore(call.namespace, datastoreId, read: true)
            for job in try store.importJobs(call.namespace, datastoreId, status: nil) where job.status == .inProgress || job.status == .submitted {
                try store.settleImportJob(call.namespace, datastoreId, job.jobId, read: true)
            }
            return try store.importJobs(call.namespace, datastoreId, status: status)
        }
        let start = min(Int(clamping: offset), jobs.count)
        let page = jobs[start..<min(start + maxResults, jobs.count)]
        var json = JSONWriter(capacity: 320 * page.count + 64)
        json.object { body in
            body.field("jobSummaries", array: { list in
                for job in page { list.object { job.write(to: &$0, full: false) } }
            })
            if start + maxResults < jobs.count {
                body.field("nextToken", call.tokens.seal(int64: Int64(start + maxResults), scope: scope))
            }
        }
        return Response(json: json.bytes)
    }
}
