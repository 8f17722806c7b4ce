import Crypto
import HealthImagingJSON
import HealthImagingDICOM
import HealthImagingHTTP

/// `POST /startDICOMImportJob/datastore/{datastoreId}` `{jobName?, dataAccessRoleArn, clientToken, inputS3Uri,
/// outputS3Uri, inputOwnerAccountId?, importConfiguration?}` → `{datastoreId, jobId, jobStatus: SUBMITTED,
/// submittedAt}`. The job then runs off the loop (`ImportCoordinator`). The same clientToken with the same body
/// answers the same job (its first answer again); with another body, ConflictException. The datastore must
/// exist (ResourceNotFoundException) and be ACTIVE (ConflictException).
public enum StartDICOMImportJob: Operation {
    public static let name = "StartDICOMImportJob"
    public static let method = "POST"
    public static let path = "/startDICOMImportJob/datastore/{datastoreId}"

    struct Request {
        var jobName: String?
        var roleArn: String
        var clientToken: String
        var input: String
        var output: String
        var owner: String?
        var configuration: JSONValue?
    }

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let body = try call.jsonBody()
        let request = try JSONReader.validated(body) { reader -> Request? in
            guard reader.object(allowed: ["jobName", "dataAccessRoleArn", "clientToken", "inputS3Uri", "outputS3Uri",
                                          "inputOwnerAccountId", "importConfiguration"]) else { return nil }
            let jobName = reader.member("jobName")?.string { Validate.isJobName($0) ? nil : "must be 1–64 characters of [A-Za-z0-9._/#-]" }
            let role = reader.member("dataAccessRoleArn", required: true)?.string {
                Validate.isRoleArn($0) ? nil : "must be 20–2048 characters matching arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+"
            }
            let token = reader.member("clientToken", required: true)?.string {
                Validate.isClientToken($0) ? nil : "must be 1–64 characters of [A-Za-z0-9._-]"
            }
            let s3 = "must be 1–1024 characters matching s3://[a-z0-9][\\.\\-a-z0-9]{1,61}[a-z0-9](/.*)?"
            let input = reader.member("inputS3Uri", required: true)?.string { Validate.isS3Uri($0) ? dotSegments($0) : s3 }
            let output = reader.member("outputS3Uri", required: true)?.string { Validate.isS3Uri($0) ? dotSegments($0) : s3 }
            let owner = reader.member("inputOwnerAccountId")?.string { Validate.isAccountId($0) ? nil : "must be 12 digits" }
            var configuration: JSONValue?
            if let member = reader.member("importConfiguration") {
                configuration = importConfiguration(member) ? member.value : nil
            }
            guard let role, let token, let input, let output else { return nil }
            return Request(jobName: jobName, roleArn: role, clientToken: token, input: input, output: output, owner: owner,
                           configuration: configuration)
        }
        let digest = SHA256.hash(data: body.setting("clientToken", .null).serialized())
            .map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()

        let (job, fresh, planned, format) = try call.store { store throws -> (ImportJob, Bool, PlannedOutcome?, LosslessStorageFormat) in
            try store.database.transaction {
                let datastore = try store.requireDatastore(call.namespace, datastoreId)
                let format = datastore.losslessStorageFormat.flatMap(LosslessStorageFormat.init(rawValue:)) ?? .htj2k
                if let (existing, earlier) = try store.importJob(call.namespace, datastoreId, clientToken: request.clientToken) {
                    guard earlier == digest else {
                        throw APIError.conflict("clientToken \(request.clientToken) was already used with different parameters")
                    }
                    return (existing, false, nil, format)
                }
                guard datastore.status == .active else {
                    throw APIError.conflict("Datastore \(datastoreId) is \(datastore.status.rawValue), not ACTIVE")
                }
                let jobId = ResourceIds.make()
                let job = ImportJob(
                    datastoreId: datastoreId, jobId: jobId, jobName: request.jobName, status: .submitted,
                    dataAccessRoleArn: request.roleArn, inputS3Uri: request.input,
                    outputS3Uri: ImportJob.outputFolder(request.output, datastoreId: datastoreId, jobId: jobId),
                    inputOwnerAccountId: request.owner, importConfiguration: request.configuration?.serialized(),
                    submittedAt: Timestamp.nowMillis())
                try store.insertImportJob(call.namespace, job, clientToken: request.clientToken, digest: digest)
                try store.announceImportJob(call.namespace, datastoreId, jobId, now: job.submittedAt)
                let planned = try store.takeOutcome(call.namespace, datastoreId: datastoreId, imageSetIds: [], operation: name)
                return (job, true, planned, format)
            }
        }
        if fresh, let imports = call.imports {
            if let planned {
                try call.store { _ in try imports.failPlanned(call.namespace, job, message: planned.message) }
            } else {
                imports.submit(call.namespace, job, format: format)
            }
        }
        var json = JSONWriter()
        json.object {
            $0.field("datastoreId", datastoreId)
            $0.field("jobId", job.jobId)
            $0.field("jobStatus", JobStatus.submitted.rawValue)
            $0.field("submittedAt", timestampMillis: job.submittedAt)
        }
        return Response(json: json.bytes)
    }

    /// A prefix is a plain path inside its bucket: a `.` or `..` segment is refused here, before anything is imported
    /// (docs/hardening.md, "Folders as buckets").
    static func dotSegments(_ uri: String) -> String? {
        let key = uri.dropFirst("s3://".count).drop { $0 != "/" }
        return key.split(separator: "/", omittingEmptySubsequences: false).contains { $0 == "." || $0 == ".." }
            ? "must not contain \".\" or \"..\" path segments" : nil
    }

    /// The ImportConfiguration union: `{"dicomJsonMetadataImportConfiguration": {"dicomMetadataMappings": [{
    /// "studyInstanceUID", "seriesInstanceUID"?, "metadataFilePath"}, …1000]}}`, checked against the model
    /// (accepted and echoed; the emulator imports Part 10 files only — see docs/import.md).
    static func importConfiguration(_ reader: JSONReader) -> Bool {
        guard reader.object(allowed: ["dicomJsonMetadataImportConfiguration"]) else { return false }
        guard let inner = reader.member("dicomJsonMetadataImportConfiguration", required: true),
            inner.object(allowed: ["dicomMetadataMappings"]),
            let mappings = inner.member("dicomMetadataMappings", required: true)?.elements()
        else { return false }
        if !(1...1000).contains(mappings.count) { inner.fail("1 to 1000 mappings", at: "\(inner.path).dicomMetadataMappings") }
        func uid(_ text: String) -> String? {
            text.utf8.count <= 512 && text.utf8.allSatisfy { (0x30...0x39).contains($0) || $0 == UInt8(ascii: ".") }
                ? nil : "must be at most 512 characters of [0-9.]"
        }
        for mapping in mappings {
            guard mapping.object(allowed: ["studyInstanceUID", "seriesInstanceUID", "metadataFilePath"]) else { continue }
            _ = mapping.member("studyInstanceUID", required: true)?.string(uid)
            _ = mapping.member("seriesInstanceUID")?.string(uid)
            _ = mapping.member("metadataFilePath", required: true)?.string {
                (1...1024).contains($0.utf8.count) && $0.utf8.allSatisfy({ (0x21...0x7E).contains($0) || $0 == 0x20 })
                    && $0.first != " " && $0.last != " " ? nil : "must be 1–1024 printable ASCII characters"
            }
        }
        return true
    }
}
