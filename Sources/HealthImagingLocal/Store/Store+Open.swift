/// Opening a database file: its checks, and closing it cleanly.
extension Store {
    /// `PRAGMA quick_check` on a file database: a damaged file is refused at startup, not answered with 500s later.
    /// > quick_check: … does not verify UNIQUE constraints and does not verify that index content matches table
    /// > content … runs much faster than integrity_check. https://www.sqlite.org/pragma.html#pragma_quick_check
    static func checkIntegrity(_ database: SQLiteDatabase) throws {
        let statement = try Statement(database: database, sql: "PRAGMA quick_check(10)", persistent: false)
        var problems: [String] = []
        while try statement.step() { problems.append(statement.text(0) ?? "") }
        guard problems != ["ok"] else { return }
        throw DatabaseCheckError(problems: problems)
    }

    /// Checkpoints the whole WAL into the database file, truncates the WAL and closes the database (and gives up
    /// its lock). The last step of a clean shutdown: the database file alone then holds every write.
    public func close() throws {
        database.resetBusyStatements()
        if isFile { try database.checkpoint(truncate: true) }
        database.close()
        lock = nil
    }
}

/// `PRAGMA quick_check` did not answer `ok`.
struct DatabaseCheckError: Error, CustomStringConvertible {
    let problems: [String]

    var description: String {
        "PRAGMA quick_check found it damaged (\(problems.joined(separator: "; "))); restore it from a copy or start with a new --db"
    }
}
