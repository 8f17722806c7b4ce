import CSQLite

/// Answers of read-only operations, kept while the store is unchanged. Polling clients (waiting on a state)
/// and load tests repeat identical reads; this answers them without SQL or JSON work.
///
/// Validity is exact, not time-based: an entry stands only while SQLite's `sqlite3_total_changes()` — every row
/// any INSERT, UPDATE or DELETE touched on the emulator's single connection — is what it was when the entry was
/// made, and only while no state transition is pending (a pending one can become due with time or with the read
/// itself). Any write clears the cache. Keys hold everything an answer depends on: operation, namespace, path,
/// query and body.
struct ResponseCache {
    private var entries: [String: Response] = [:]
    private var changes: Int64 = -1
    static let capacity = 1024

    static func key(operation: String, namespace: Namespace, request: Request) -> String {
        var key = operation
        key += "\u{0}" + namespace.account + "\u{0}" + namespace.region + "\u{0}" + request.path
        for item in request.query { key += "\u{0}" + item.name + "=" + item.value }
        if !request.body.isEmpty { key += "\u{0}" + String(decoding: request.body, as: UTF8.self) }
        return key
    }

    /// The cached answer, if the store has not changed since it was made.
    mutating func lookup(_ key: String, store: Store) -> Response? {
        guard !store.mayHavePendingTransitions else { return nil }
        let now = store.database.totalChanges
        guard now == changes else {
            entries.removeAll(keepingCapacity: true)
            changes = now
            return nil
        }
        return entries[key]
    }

    /// Keeps a successful answer made by an operation that ran on an unchanged store.
    mutating func store(_ response: Response, for key: String, store: Store) {
        guard response.status == 200, !store.mayHavePendingTransitions, store.database.totalChanges == changes else { return }
        if entries.count >= Self.capacity { entries.removeAll(keepingCapacity: true) }
        entries[key] = response
    }
}
