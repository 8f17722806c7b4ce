import HealthImagingJSON
/// Import jobs in fixture documents: a datastore's `importJobs` member lists `DICOMImportJobProperties` objects
/// exactly as GetDICOMImportJob returns them (`jobId`, `jobStatus`, `dataAccessRoleArn`, `inputS3Uri`,
/// `outputS3Uri`, `submittedAt` required; `jobName`, `endedAt`, `message`, `importConfiguration` optional).
/// A loaded job is state, not work: nothing runs it, whatever its status. Client tokens are not kept.
extension Fixture {
    static let importJobMembers = [
        "jobId", "jobName", "jobStatus", "datastoreId", "dataAccessRoleArn", "endedAt", "submittedAt", "inputS3Uri",
        "outputS3Uri", "message", "importConfiguration",
    ]

    static func importJobs(_ reader: JSONReader, datastoreId: String?) -> [ImportJob] {
        guard let list = reader.member("importJobs")?.elements() else { return [] }
        var jobs: [ImportJob] = []
        var seen: Set<String> = []
        for item in list {
            guard item.object(allowed: importJobMembers) else { continue }
            let jobId = item.member("jobId", required: true)?.string { Validate.isJobId($0) ? nil : "\"\($0)\" does not match [0-9a-z]{1,32}" }
            let name = item.member("jobName")?.string { Validate.isJobName($0) ? nil : "must be 1–64 characters of [A-Za-z0-9._/#-]" }
            let status = item.member("jobStatus", required: true)?.enumeration(JobStatus.self)
            _ = item.member("datastoreId")?.string { text in
                text == datastoreId || datastoreId == nil ? nil : "is \(text), but the job is listed under datastore \(datastoreId ?? "")"
            }
            let role = item.member("dataAccessRoleArn", required: true)?.string { Validate.isRoleArn($0) ? nil : "is not an IAM role ARN" }
            let s3 = "must match s3://[a-z0-9][\\.\\-a-z0-9]{1,61}[a-z0-9](/.*)?"
            let input = item.member("inputS3Uri", required: true)?.string { Validate.isS3Uri($0) ? nil : s3 }
            let output = item.member("outputS3Uri", required: true)?.string { Validate.isS3Uri($0) ? nil : s3 }
            let submittedAt = item.member("submittedAt", required: true)?.timestamp()
            let endedAt = item.member("endedAt")?.timestamp()
            let message = item.member("message")?.string { Validate.isMessage($0) ? nil : "must be 1–2048 characters matching [\\w -:`]+" }
            var configuration: [UInt8]?
            if let member = item.member("importConfiguration"), StartDICOMImportJob.importConfiguration(member) {
                configuration = member.value.serialized()
            }
            guard let jobId, let status, let role, let input, let output, let submittedAt else { continue }
            if !seen.insert(jobId).inserted { item.fail("job \(jobId) appears twice in this datastore", at: "\(item.path).jobId") }
            jobs.append(ImportJob(
                datastoreId: datastoreId ?? "", jobId: jobId, jobName: name, status: status, dataAccessRoleArn: role,
                inputS3Uri: input, outputS3Uri: output, importConfiguration: configuration, submittedAt: submittedAt,
                endedAt: endedAt, message: message))
        }
        return jobs
    }

    /// The `importJobs` member of an exported datastore (left out when it has none).
    static func writeImportJobs(_ jobs: [ImportJob], to json: inout JSONWriter) {
        guard !jobs.isEmpty else { return }
        json.field("importJobs", array: { list in
            for job in jobs { list.object { job.write(to: &$0, full: true) } }
        })
    }
}
