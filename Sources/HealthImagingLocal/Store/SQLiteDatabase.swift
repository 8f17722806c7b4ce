import CSQLite

/// One SQLite connection. Not thread-safe: the emulator touches it only from the event-loop thread.
public final class SQLiteDatabase {
    private(set) var handle: OpaquePointer?
    private var statements: [String: Statement] = [:]
    /// Statements of literal SQL, keyed by the literal's address: no hashing of the SQL text per call.
    private var literalStatements: [UnsafeRawPointer: Statement] = [:]

    /// Opens `path` (a file, or an in-memory database when nil).
    public init(path: String?) throws {
        // > The sqlite3_open_v2() interface works like sqlite3_open() except that it accepts two additional
        // > parameters for additional control over the new database connection.
        // https://www.sqlite.org/c3ref/open.html
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI
        let code = sqlite3_open_v2(path ?? ":memory:", &handle, flags, nil)
        do {
            try check(code)
        } catch {
            sqlite3_close_v2(handle)
            handle = nil
            throw error
        }
        sqlite3_extended_result_codes(handle, 1)
        // > a finite busy timeout: another process holding the file answers SQLITE_BUSY after this.
        sqlite3_busy_timeout(handle, 5_000)
        try execute("PRAGMA foreign_keys = ON")
        if path != nil {
            // WAL + NORMAL for file databases; check the pragma's answer, it may refuse (e.g. on a read-only fs).
            let mode = try scalarText("PRAGMA journal_mode = WAL")
            guard mode?.lowercased() == "wal" else {
                throw SQLiteError(code: SQLITE_ERROR, message: "journal_mode=WAL refused (got \(mode ?? "nil"))", sql: nil)
            }
            try execute("PRAGMA synchronous = NORMAL")
            // > The wal_autocheckpoint pragma … sets the write-ahead log auto-checkpoint interval (default 1000
            // > pages). https://www.sqlite.org/pragma.html#pragma_wal_autocheckpoint
            // Checkpoints only copy frames no open read snapshot still needs; statements reset after their last
            // step (Statement.step, resetBusyStatements) keep that true between requests.
            try execute("PRAGMA wal_autocheckpoint = 1000")
            // > journal_size_limit: … in WAL mode, the write-ahead log file is truncated to this size after
            // > each successful checkpoint that resets the log. https://www.sqlite.org/pragma.html#pragma_journal_size_limit
            _ = try scalarText("PRAGMA journal_size_limit = \(Self.walSizeLimit)")
        }
    }

    /// The size the WAL file is truncated back to after a checkpoint that restarts it.
    public static let walSizeLimit = 4 << 20

    deinit {
        close()
    }

    /// Finalizes every statement and closes the connection (idempotent). The last connection to close
    /// checkpoints the WAL into the database file.
    public func close() {
        guard let handle else { return }
        statements.removeAll()
        literalStatements.removeAll()
        sqlite3_close_v2(handle)
        self.handle = nil
    }

    /// Resets every statement of this connection that stepped but did not reach its end, and returns how many
    /// there were. Called after each request: no read snapshot outlives the request that opened it.
    /// > sqlite3_next_stmt: … returns a pointer to the next prepared statement after pStmt associated with the
    /// > database connection. https://www.sqlite.org/c3ref/next_stmt.html
    @discardableResult
    public func resetBusyStatements() -> Int {
        guard handle != nil else { return 0 }
        var count = 0
        var statement = sqlite3_next_stmt(handle, nil)
        while let current = statement {
            if sqlite3_stmt_busy(current) != 0 {
                sqlite3_reset(current)
                count += 1
            }
            statement = sqlite3_next_stmt(handle, current)
        }
        return count
    }

    /// How many statements of this connection hold an unfinished step (for tests: zero between requests).
    public var busyStatementCount: Int {
        guard handle != nil else { return 0 }
        var count = 0
        var statement = sqlite3_next_stmt(handle, nil)
        while let current = statement {
            if sqlite3_stmt_busy(current) != 0 { count += 1 }
            statement = sqlite3_next_stmt(handle, current)
        }
        return count
    }

    /// Copies the whole WAL into the database file and truncates the WAL to zero bytes; returns
    /// (busy, frames in the log, frames checkpointed). https://www.sqlite.org/c3ref/wal_checkpoint_v2.html
    @discardableResult
    public func checkpoint(truncate: Bool = true) throws -> (busy: Bool, log: Int, checkpointed: Int) {
        var log: Int32 = 0
        var done: Int32 = 0
        let mode = truncate ? SQLITE_CHECKPOINT_TRUNCATE : SQLITE_CHECKPOINT_PASSIVE
        let code = sqlite3_wal_checkpoint_v2(handle, nil, mode, &log, &done)
        if code == SQLITE_BUSY { return (true, Int(log), Int(done)) }
        try check(code, sql: "wal_checkpoint")
        return (false, Int(log), Int(done))
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws {
        try check(sqlite3_exec(handle, sql, nil, nil, nil), sql: sql)
    }

    /// A cached prepared statement for literal `sql` (prepared once, persistent), reset and unbound.
    /// The hot-path form: looked up by the literal's address.
    public func cached(_ sql: StaticString) throws -> Statement {
        let key = UnsafeRawPointer(sql.utf8Start)
        if let statement = literalStatements[key] {
            statement.reset()
            return statement
        }
        let statement = try Statement(database: self, sql: sql.description, persistent: true)
        literalStatements[key] = statement
        return statement
    }

    /// A cached prepared statement for SQL built at run time, looked up by its text.
    public func cached(dynamic sql: String) throws -> Statement {
        if let statement = statements[sql] {
            statement.reset()
            return statement
        }
        let statement = try Statement(database: self, sql: sql, persistent: true)
        statements[sql] = statement
        return statement
    }

    func scalarText(_ sql: String) throws -> String? {
        let statement = try Statement(database: self, sql: sql, persistent: false)
        return try statement.first { $0.text(0) } ?? nil
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back when it throws.
    /// `transactionEnded` is told which, after the fact.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            transactionEnded?(true)
            return value
        } catch {
            try? execute("ROLLBACK")
            transactionEnded?(false)
            throw error
        }
    }

    /// Called after `transaction` committed (true) or rolled back (false): what waits for a commit (events)
    /// goes out then, or is dropped.
    var transactionEnded: ((_ committed: Bool) -> Void)?

    /// Whether a transaction is open (else every statement commits on its own).
    /// > sqlite3_get_autocommit: returns non-zero or zero if the given database connection is or is not in
    /// > autocommit mode, respectively. https://www.sqlite.org/c3ref/get_autocommit.html
    public var inTransaction: Bool { handle != nil && sqlite3_get_autocommit(handle) == 0 }

    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Rows changed by every INSERT, UPDATE and DELETE on this connection since it opened.
    /// https://www.sqlite.org/c3ref/total_changes.html
    public var totalChanges: Int64 { sqlite3_total_changes64(handle) }
}

@available(*, unavailable)
extension SQLiteDatabase: Sendable {}
