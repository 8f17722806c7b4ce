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
        }
    }

    deinit {
        statements.removeAll()
        literalStatements.removeAll()
        sqlite3_close_v2(handle)
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
        return try statement.step() ? statement.text(0) : nil
    }

    /// Runs `body` in a `BEGIN IMMEDIATE` transaction: committed when it returns, rolled back when it throws.
    public func transaction<T>(_ body: () throws -> T) throws -> T {
        try execute("BEGIN IMMEDIATE")
        do {
            let value = try body()
            try execute("COMMIT")
            return value
        } catch {
            try? execute("ROLLBACK")
            throw error
        }
    }

    public var changes: Int { Int(sqlite3_changes(handle)) }

    /// Rows changed by every INSERT, UPDATE and DELETE on this connection since it opened.
    /// https://www.sqlite.org/c3ref/total_changes.html
    public var totalChanges: Int64 { sqlite3_total_changes64(handle) }
}

@available(*, unavailable)
extension SQLiteDatabase: Sendable {}
