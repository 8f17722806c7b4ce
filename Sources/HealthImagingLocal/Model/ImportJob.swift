/// `JobStatus` of the service model.
public enum JobStatus: String, CaseIterable, Sendable {
    case submitted = "SUBMITTED"
    case inProgress = "IN_PROGRESS"
    case completed = "COMPLETED"
    case failed = "FAILED"
}

/// One DICOM import job: the `DICOMImportJobProperties` shape. Timestamps are epoch milliseconds.
/// `outputS3Uri` is the job's own folder, `<request outputS3Uri><datastoreId>-DicomImport-<jobId>/`, as the
/// service answers it (AWS's SDK examples read `outputS3Uri + "job-output-manifest.json"`).
public struct ImportJob: Equatable, Sendable {
    public var datastoreId: String
    public var jobId: String
    public var jobName: String?
    public var status: JobStatus
    public var dataAccessRoleArn: String
    public var inputS3Uri: String
    public var outputS3Uri: String
    public var inputOwnerAccountId: String?
    /// The request's `importConfiguration` member as given (JSON text), echoed by GetDICOMImportJob.
    public var importConfiguration: [UInt8]?
    public var submittedAt: Int64
    public var endedAt: Int64?
    public var message: String?

    public init(datastoreId: String, jobId: String, jobName: String?, status: JobStatus, dataAccessRoleArn: String,
                inputS3Uri: String, outputS3Uri: String, inputOwnerAccountId: String? = nil,
                importConfiguration: [UInt8]? = nil, submittedAt: Int64, endedAt: Int64? = nil, message: String? = nil) {
        self.datastoreId = datastoreId
        self.jobId = jobId
        self.jobName = jobName
        self.status = status
        self.dataAccessRoleArn = dataAccessRoleArn
        self.inputS3Uri = inputS3Uri
        self.outputS3Uri = outputS3Uri
        self.inputOwnerAccountId = inputOwnerAccountId
        self.importConfiguration = importConfiguration
        self.submittedAt = submittedAt
        self.endedAt = endedAt
        self.message = message
    }

    /// `jobName` is required in the model's output shapes but optional in the request: a job started without
    /// one answers `DicomImport-<jobId>` (the emulator's choice; the service does not document its default).
    public var shownName: String { jobName ?? "DicomImport-\(jobId)" }

    /// The job's output folder under the request's `outputS3Uri` (a `/` is added when it lacks one).
    public static func outputFolder(_ outputS3Uri: String, datastoreId: String, jobId: String) -> String {
        let base = outputS3Uri.hasSuffix("/") ? outputS3Uri : outputS3Uri + "/"
        return "\(base)\(datastoreId)-DicomImport-\(jobId)/"
    }
}

extension Validate {
    /// S3Uri: 1–1024 characters of `s3://[a-z0-9][\.\-a-z0-9]{1,61}[a-z0-9](/.*)?`.
    public static func isS3Uri(_ value: String) -> Bool {
        guard (1...1024).contains(value.utf8.count), value.hasPrefix("s3://") else { return false }
        let rest = value.dropFirst(5)
        let bucket = Array(rest.prefix { $0 != "/" }.utf8)
        guard (3...63).contains(bucket.count) else { return false }
        func edge(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) || (0x61...0x7A).contains(byte) }
        guard edge(bucket[0]), edge(bucket[bucket.count - 1]) else { return false }
        guard bucket.allSatisfy({ edge($0) || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "-") }) else { return false }
        // `.*` does not match a line break.
        return !value.utf8.contains(0x0A) && !value.utf8.contains(0x0D)
    }

    /// RoleArn: 20–2048 characters of `arn:aws(-[^:]+)?:iam::[0-9]{12}:role/.+`.
    public static func isRoleArn(_ value: String) -> Bool {
        guard (20...2048).contains(value.utf8.count), value.hasPrefix("arn:aws") else { return false }
        var rest = Substring(value.dropFirst(7))
        if rest.hasPrefix("-") {
            let partition = rest.dropFirst().prefix { $0 != ":" }
            guard !partition.isEmpty else { return false }
            rest = rest.dropFirst(1 + partition.count)
        }
        guard rest.hasPrefix(":iam::") else { return false }
        rest = rest.dropFirst(6)
        let account = rest.prefix(12)
        guard account.count == 12, account.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
        rest = rest.dropFirst(12)
        guard rest.hasPrefix(":role/"), rest.count > 6 else { return false }
        return !rest.utf8.contains(0x0A) && !rest.utf8.contains(0x0D)
    }

    /// JobName: 1–64 characters of `[A-Za-z0-9._/#-]`.
    public static func isJobName(_ value: String) -> Bool {
        (1...64).contains(value.utf8.count) && isDatastoreName(value)
    }

    /// AwsAccountId: 12 characters of `\d`.
    public static func isAccountId(_ value: String) -> Bool {
        value.utf8.count == 12 && value.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }

    /// JobId: 1–32 characters of `[0-9a-z]`.
    public static func isJobId(_ value: String) -> Bool {
        (1...32).contains(value.utf8.count)
            && value.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x7A).contains($0) }
    }

    /// A text made fit for the model's Message pattern `[\w -:`]+` (1–2048 characters): every other character
    /// becomes a space, so that any cause can be shown in `message` without breaking a strict client.
    public static func messageText(_ text: String) -> String {
        var bytes: [UInt8] = []
        for byte in text.utf8.prefix(2048) {
            let ok = (0x20...0x3A).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "`")
            bytes.append(ok ? byte : 0x20)
        }
        let result = String(decoding: bytes, as: UTF8.self)
        return result.isEmpty ? "INTERNAL_ERROR" : result
    }
}
