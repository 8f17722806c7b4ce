import CSQLite

/// `SQLITE_TRANSIENT` is a C macro Swift cannot import: SQLite copies the bound bytes before returning.
private let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

/// A prepared statement. Finalizes itself on deinit. Bind with 1-based indexes.
public final class Statement {
    private let database: SQLiteDatabase
    private var handle: OpaquePointer?
    let sql: String

    init(database: SQLiteDatabase, sql: String, persistent: Bool) throws {
        self.database = database
        self.sql = sql
        // > SQLITE_PREPARE_PERSISTENT: a hint to the query planner that the prepared statement will be
        // > retained for a long time and probably reused many times. https://www.sqlite.org/c3ref/prepare.html
        let flags = persistent ? UInt32(SQLITE_PREPARE_PERSISTENT) : 0
        try database.check(sqlite3_prepare_v3(database.handle, sql, -1, flags, &handle, nil), sql: sql)
    }

    deinit { sqlite3_finalize(handle) }

    func reset() {
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    @discardableResult
    public func bind(_ index: Int32, _ value: String?) throws -> Statement {
        let code: Int32
        if let value { code = sqlite3_bind_text(handle, index, value, -1, transient) } else { code = sqlite3_bind_null(handle, index) }
        try database.check(code, sql: sql)
        return self
    }

    @discardableResult
    public func bind(_ index: Int32, _ value: Int64?) throws -> Statement {
        let code: Int32
        if let value { code = sqlite3_bind_int64(handle, index, value) } else { code = sqlite3_bind_null(handle, index) }
        try database.check(code, sql: sql)
        return self
    }

    @discardableResult
    public func bind(_ index: Int32, _ value: Int?) throws -> Statement {
        try bind(index, value.map(Int64.init))
    }

    @discardableResult
    public func bind(_ index: Int32, _ value: Bool?) throws -> Statement {
        try bind(index, value.map { $0 ? Int64(1) : 0 })
    }

    @discardableResult
    public func bind(_ index: Int32, blob: [UInt8]?) throws -> Statement {
        guard let blob else { return try bind(index, nil as Int64?) }
        let code = blob.withUnsafeBytes { sqlite3_bind_blob(handle, index, $0.baseAddress, Int32($0.count), transient) }
        try database.check(code, sql: sql)
        return self
    }

    /// Runs `body` with `blob` bound to parameter `index` without SQLite copying it first (SQLITE_STATIC): the
    /// bytes are only valid inside `withUnsafeBytes`, so every step that reads them must happen in `body`, and the
    /// parameter is unbound before returning. For frame blobs, where the copy was a fifth of an import's commit.
    public func withBlob<R>(_ index: Int32, _ blob: [UInt8], _ body: (Statement) throws -> R) throws -> R {
        try blob.withUnsafeBytes { raw in
            // > SQLITE_STATIC: "the pointer is to constant, unmanaged memory that will not change during the
            // > lifetime of the binding" — the closure's extent here.
            try database.check(sqlite3_bind_blob(handle, index, raw.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32(raw.count), nil),
                               sql: sql)
            defer { sqlite3_bind_null(handle, index) }
            return try body(self)
        }
    }

    /// Steps once: true when a row is available, false when done. After the last step (done, or an error) the
    /// statement is reset at once, so that it holds no read snapshot of the WAL: a snapshot kept open stops every
    /// checkpoint at its mark and lets the WAL grow without bound.
    /// > If the prepared statement is not reset, the read transaction stays open.
    /// https://www.sqlite.org/c3ref/reset.html, https://www.sqlite.org/wal.html#avoiding_excessively_large_wal_files
    public func step() throws -> Bool {
        let code = sqlite3_step(handle)
        if code == SQLITE_ROW { return true }
        defer { sqlite3_reset(handle) }
        try database.check(code, sql: sql, allowing: SQLITE_DONE)
        return false
    }

    /// Steps once and, when a row came, reads it with `read`; the statement is reset before returning either way
    /// (the form for single-row reads, which never step to the end).
    public func first<T>(_ read: (Statement) throws -> T) throws -> T? {
        defer { sqlite3_reset(handle) }
        return try step() ? try read(self) : nil
    }

    /// Whether the statement has stepped but not reached its end or been reset (it then holds a read snapshot).
    /// https://www.sqlite.org/c3ref/stmt_busy.html
    var isBusy: Bool { sqlite3_stmt_busy(handle) != 0 }

    /// The one number a `SELECT count(*)` answers (0 when no row came).
    func count() throws -> Int {
        try first { Int($0.int64(0) ?? 0) } ?? 0
    }

    /// The namespace in columns `column` (account) and `column + 1` (region).
    func namespace(_ column: Int32) -> Namespace {
        Namespace(account: text(column) ?? "", region: text(column + 1) ?? "")
    }

    /// Runs a statement that returns no rows.
    public func run() throws {
        while try step() {}
    }

    public func isNull(_ column: Int32) -> Bool { sqlite3_column_type(handle, column) == SQLITE_NULL }

    public func text(_ column: Int32) -> String? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return String(cString: pointer)
    }

    /// The column's text bytes, valid until the next step or reset.
    func columnText(_ column: Int32) -> UnsafeBufferPointer<UInt8>? {
        guard let pointer = sqlite3_column_text(handle, column) else { return nil }
        return UnsafeBufferPointer(start: pointer, count: Int(sqlite3_column_bytes(handle, column)))
    }

    public func int64(_ column: Int32) -> Int64? {
        isNull(column) ? nil : sqlite3_column_int64(handle, column)
    }

    public func bool(_ column: Int32) -> Bool? { int64(column).map { $0 != 0 } }

    public func blob(_ column: Int32) -> [UInt8]? {
        guard !isNull(column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        guard count > 0, let pointer = sqlite3_column_blob(handle, column) else { return [] }
        return Array(UnsafeRawBufferPointer(start: pointer, count: count))
    }
}

@available(*, unavailable)
extension Statement: Sendable {}

/// A model enum read from a TEXT column by comparing bytes, without building a String per row.
protocol ColumnEnum: RawRepresentable, CaseIterable where RawValue == String {
    static var columnTable: [(bytes: [UInt8], value: Self)] { get }
}

extension ColumnEnum {
    static func makeColumnTable() -> [(bytes: [UInt8], value: Self)] { allCases.map { (Array($0.rawValue.utf8), $0) } }
}

extension ImageSetState: ColumnEnum { static let columnTable = makeColumnTable() }
extension ImageSetWorkflowStatus: ColumnEnum { static let columnTable = makeColumnTable() }
extension DatastoreStatus: ColumnEnum { static let columnTable = makeColumnTable() }

extension Statement {
    func enumeration<E: ColumnEnum>(_ column: Int32, as type: E.Type = E.self) -> E? {
        guard let pointer = columnText(column) else { return nil }
        for entry in E.columnTable where entry.bytes.count == pointer.count && entry.bytes.elementsEqual(pointer) {
            return entry.value
        }
        return nil
    }
}
