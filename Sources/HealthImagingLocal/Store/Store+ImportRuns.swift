/// Import jobs whose work this process has queued and not yet ended (docs/hardening.md, "Import worker pool"):
/// a row is written when the work is queued and removed, in the same transaction, when the job's end is
/// scheduled. Rows found at startup belong to a server that stopped mid-job (kill -9, a crash, power loss):
/// their jobs end FAILED, since the work is not resumed.
extension Store {
    public static let interruptedJobMessage = "The server stopped while this import job was in progress (the job is not resumed); files it had not committed were not imported"

    func markImportRunning(_ namespace: Namespace, _ datastoreId: String, _ jobId: String) throws {
        try database.cached("INSERT OR IGNORE INTO import_runs (account, region, datastore_id, job_id) VALUES (?, ?, ?, ?)")
            .bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, jobId).run()
    }

    func markImportEnded(_ namespace: Namespace, _ datastoreId: String, _ jobId: String) throws {
        try database.cached("DELETE FROM import_runs WHERE account = ? AND region = ? AND datastore_id = ? AND job_id = ?")
            .bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, jobId).run()
    }

    /// At startup: every job a previous process left queued or running ends FAILED with
    /// `interruptedJobMessage`; returns how many.
    @discardableResult
    public func failInterruptedImportJobs(now: Int64 = Timestamp.nowMillis()) throws -> Int {
        try database.transaction {
            try database.cached("""
                UPDATE import_jobs SET status = 'FAILED', message = ?, ended_at = ?
                WHERE status IN ('SUBMITTED', 'IN_PROGRESS') AND EXISTS (
                    SELECT 1 FROM import_runs r WHERE r.account = import_jobs.account AND r.region = import_jobs.region
                        AND r.datastore_id = import_jobs.datastore_id AND r.job_id = import_jobs.job_id)
                """).bind(1, Self.interruptedJobMessage).bind(2, now).run()
            // The jobs failed are the rows that UPDATE changed.
            let count = database.changes
            try database.execute("DELETE FROM import_runs")
            return count
        }
    }
}
