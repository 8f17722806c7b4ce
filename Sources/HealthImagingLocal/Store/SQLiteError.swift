import CSQLite

/// An SQLite failure: the extended result code, SQLite's own message, and the SQL that failed.
public struct SQLiteError: Error, CustomStringConvertible {
    public let code: Int32
    public let message: String
    public let sql: String?

    public var description: String {
        if let sql { return "SQLite error \(code): \(message) (in: \(sql))" }
        return "SQLite error \(code): \(message)"
    }
}

extension SQLiteDatabase {
    /// Every SQLite return code goes through here: anything but the expected codes becomes a `SQLiteError`
    /// carrying the extended code and `sqlite3_errmsg` of this connection.
    @discardableResult
    func check(_ code: Int32, sql: String? = nil, allowing ok: Int32 = SQLITE_OK, or alsoOk: Int32 = SQLITE_OK) throws -> Int32 {
        if code == ok || code == alsoOk { return code }
        let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? String(cString: sqlite3_errstr(code))
        let extended = handle.map { sqlite3_extended_errcode($0) } ?? code
        throw SQLiteError(code: extended, message: message, sql: sql)
    }
}
