/// DICOM import jobs: create (idempotent on the client token), read, list, finish.
extension Store {
    private static let jobColumns = """
        datastore_id, job_id, job_name, status, data_access_role_arn, input_s3_uri, output_s3_uri, input_owner_account_id,
        import_configuration, submitted_at, ended_at, message
        """

    /// Reads the columns of `jobColumns`, in that order.
    private func readJob(_ statement: Statement) -> ImportJob {
        ImportJob(
            datastoreId: statement.text(0) ?? "", jobId: statement.text(1) ?? "", jobName: statement.text(2),
            status: JobStatus(rawValue: statement.text(3) ?? "") ?? .failed,
            dataAccessRoleArn: statement.text(4) ?? "", inputS3Uri: statement.text(5) ?? "",
            outputS3Uri: statement.text(6) ?? "", inputOwnerAccountId: statement.text(7),
            importConfiguration: statement.blob(8), submittedAt: statement.int64(9) ?? 0, endedAt: statement.int64(10),
            message: statement.text(11))
    }

    public func insertImportJob(_ namespace: Namespace, _ job: ImportJob, clientToken: String?, digest: String?) throws {
        try database.cached("""
            INSERT INTO import_jobs (account, region, datastore_id, job_id, job_name, status, data_access_role_arn,
                input_s3_uri, output_s3_uri, input_owner_account_id, import_configuration, submitted_at, ended_at, message,
                client_token, request_digest)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
            .bind(1, namespace.account).bind(2, namespace.region).bind(3, job.datastoreId).bind(4, job.jobId)
            .bind(5, job.jobName).bind(6, job.status.rawValue).bind(7, job.dataAccessRoleArn).bind(8, job.inputS3Uri)
            .bind(9, job.outputS3Uri).bind(10, job.inputOwnerAccountId).bind(11, blob: job.importConfiguration)
            .bind(12, job.submittedAt).bind(13, job.endedAt).bind(14, job.message).bind(15, clientToken)
            .bind(16, digest).run()
    }

    public func importJob(_ namespace: Namespace, _ datastoreId: String, _ jobId: String) throws -> ImportJob? {
        let statement = try database.cached("""
            SELECT datastore_id, job_id, job_name, status, data_access_role_arn, input_s3_uri, output_s3_uri,
                input_owner_account_id, import_configuration, submitted_at, ended_at, message
            FROM import_jobs WHERE account = ? AND region = ? AND datastore_id = ? AND job_id = ?
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, jobId)
        return try statement.step() ? readJob(statement) : nil
    }

    /// The job an earlier StartDICOMImportJob on this datastore made with `clientToken`, and that request's digest.
    public func importJob(_ namespace: Namespace, _ datastoreId: String, clientToken: String) throws -> (ImportJob, digest: String?)? {
        let statement = try database.cached("""
            SELECT datastore_id, job_id, job_name, status, data_access_role_arn, input_s3_uri, output_s3_uri,
                input_owner_account_id, import_configuration, submitted_at, ended_at, message, request_digest
            FROM import_jobs WHERE account = ? AND region = ? AND datastore_id = ? AND client_token = ?
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, clientToken)
        return try statement.step() ? (readJob(statement), statement.text(12)) : nil
    }

    /// Every job of a datastore (optionally of one status), newest first (submittedAt descending, then job id).
    public func importJobs(_ namespace: Namespace, _ datastoreId: String, status: JobStatus?) throws -> [ImportJob] {
        let statement = try database.cached("""
            SELECT datastore_id, job_id, job_name, status, data_access_role_arn, input_s3_uri, output_s3_uri,
                input_owner_account_id, import_configuration, submitted_at, ended_at, message
            FROM import_jobs WHERE account = ? AND region = ? AND datastore_id = ? AND (?4 IS NULL OR status = ?4)
            ORDER BY submitted_at DESC, job_id
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, status?.rawValue)
        var result: [ImportJob] = []
        while try statement.step() { result.append(readJob(statement)) }
        return result
    }

    /// Every job of a namespace (for export), in datastore then submission order.
    public func importJobs(_ namespace: Namespace) throws -> [ImportJob] {
        let statement = try database.cached("""
            SELECT datastore_id, job_id, job_name, status, data_access_role_arn, input_s3_uri, output_s3_uri,
                input_owner_account_id, import_configuration, submitted_at, ended_at, message
            FROM import_jobs WHERE account = ? AND region = ? ORDER BY datastore_id, submitted_at, job_id
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region)
        var result: [ImportJob] = []
        while try statement.step() { result.append(readJob(statement)) }
        return result
    }

    /// Sets a job's status; `endedAt` and `message` when given (a final status).
    public func setImportJobStatus(_ namespace: Namespace, _ datastoreId: String, _ jobId: String, _ status: JobStatus,
                                   message: String?, endedAt: Int64?) throws {
        try database.cached("""
            UPDATE import_jobs SET status = ?, message = coalesce(?, message), ended_at = coalesce(?, ended_at)
            WHERE account = ? AND region = ? AND datastore_id = ? AND job_id = ?
            """)
            .bind(1, status.rawValue).bind(2, message).bind(3, endedAt).bind(4, namespace.account)
            .bind(5, namespace.region).bind(6, datastoreId).bind(7, jobId).run()
    }
}
