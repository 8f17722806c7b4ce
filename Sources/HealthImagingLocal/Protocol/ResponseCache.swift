import CSQLite
import HealthImagingHTTP

/// Answers of read-only operations, kept while the store is unchanged. Polling clients (waiting on a state)
/// and load tests repeat identical reads; this answers them without SQL or JSON work.
///
/// Validity is exact, not time-based: an entry stands only while SQLite's `sqlite3_total_changes()` — every row
/// any INSERT, UPDATE or DELETE touched on the emulator's single connection — is what it was when the entry was
/// made, and only while no state transition is pending (a pending one can become due with time or with the read
/// itself). Any write clears the cache.
///
/// An answer that stops being true with time alone — a storage tier that turns after 30 days, a recorded access
/// that the next access would move (`Store.answerValidUntil`) — is kept only until then on the emulator's clock;
/// moving the test clock is itself a store write.
///
/// Keys hold exactly what an answer depends on: operation, namespace, path, query, and the body only for an
/// operation that reads it (`Operation.readsBody`) — an ignored body is no part of the key, so clients cannot
/// grow the cache with it.
///
/// Memory is bounded by configuration: keys and answers count against a byte budget (`--read-cache-bytes`);
/// an entry larger than an eighth of it is not kept, and when full the least recently used entries go first.
struct ResponseCache {
    private struct Entry {
        var response: Response
        var cost: Int
        var lastUse: UInt64
        /// Epoch milliseconds on the emulator's clock from which the answer is stale (nil: never by time).
        var validUntil: Int64?
    }

    private var entries: [String: Entry] = [:]
    private var changes: Int64 = -1
    private var clock: UInt64 = 0
    /// Bytes the entries account for (keys, bodies, headers, a fixed overhead each).
    private(set) var usedBytes = 0
    let budget: Int

    static let defaultBudget = 32 << 20
    /// What an entry costs besides its key and body: the dictionary slot, the Response, its headers array.
    static let entryOverhead = 128

    init(budget: Int = defaultBudget) {
        self.budget = max(0, budget)
    }

    /// The largest entry kept: an eighth of the budget, so no single answer can take the cache over.
    var largestEntry: Int { budget / 8 }
    var count: Int { entries.count }

    static func key(operation: any Operation.Type, namespace: Namespace, request: Request) -> String {
        var key = operation.name
        key += "\u{0}" + namespace.account + "\u{0}" + namespace.region + "\u{0}" + request.path
        for item in request.query { key += "\u{0}" + item.name + "=" + item.value }
        // DICOMweb answers depend on the negotiated media type.
        if let accept = request.header("Accept") { key += "\u{0}Accept:" + accept }
        if operation.readsBody && !request.body.isEmpty { key += "\u{0}" + String(decoding: request.body, as: UTF8.self) }
        return key
    }

    /// The cached answer, if the store has not changed since it was made.
    mutating func lookup(_ key: String, store: Store) -> Response? {
        guard !store.mayHavePendingTransitions else { return nil }
        let now = store.database.totalChanges
        guard now == changes else {
            clear()
            changes = now
            return nil
        }
        guard var entry = entries[key] else { return nil }
        if let validUntil = entry.validUntil, Timestamp.nowMillis() >= validUntil {
            entries[key] = nil
            usedBytes -= entry.cost
            return nil
        }
        clock += 1
        entry.lastUse = clock
        entries[key] = entry
        return entry.response
    }

    /// Keeps a successful answer made by an operation that ran on an unchanged store, within the budget.
    mutating func store(_ response: Response, for key: String, store: Store) {
        guard response.status == 200, !store.mayHavePendingTransitions, store.database.totalChanges == changes else { return }
        let cost = Self.cost(of: response, key: key)
        guard cost <= largestEntry, entries[key] == nil else { return }
        if usedBytes + cost > budget { evict(toFit: cost) }
        clock += 1
        entries[key] = Entry(response: response, cost: cost, lastUse: clock, validUntil: store.answerValidUntil)
        usedBytes += cost
    }

    static func cost(of response: Response, key: String) -> Int {
        var cost = entryOverhead + key.utf8.count + response.body.count
        for header in response.headers { cost += header.name.utf8.count + header.value.utf8.count + 32 }
        return cost
    }

    /// Drops the least recently used entries until `incoming` fits with a quarter of the budget free (so that
    /// eviction, a sort, runs once per many insertions, not on each).
    private mutating func evict(toFit incoming: Int) {
        let target = budget - budget / 4 - incoming
        for (key, entry) in entries.sorted(by: { $0.value.lastUse < $1.value.lastUse }) {
            guard usedBytes > target else { break }
            entries[key] = nil
            usedBytes -= entry.cost
        }
    }

    private mutating func clear() {
        entries.removeAll(keepingCapacity: false)
        usedBytes = 0
    }
}
