import Crypto

/// The emulator's state: one SQLite connection, used from the event-loop thread only.
public final class Store {
    public let database: SQLiteDatabase
    /// The key that signs pagination tokens; kept in the database so tokens outlive a restart with `--db`.
    public let tokenKey: SymmetricKey
    /// False once the transitions table was seen empty: reads then skip looking for due transitions, which
    /// keeps the hot path at one query per read in the default `immediate` mode. Set again by `schedule`.
    var mayHavePendingTransitions = true
    /// When the answer of the operation running now stops being true on the emulator's clock (a storage tier
    /// that will turn, a recorded access that a later one will move), nil when never; the read cache keeps the
    /// answer until then. Cleared by the emulator before each operation (Store+Clock.swift).
    public var answerValidUntil: Int64?
    /// Image sets and versions per namespace, kept by the inserts; nil until counted (Store+NamespaceCounts.swift).
    var tally: [Namespace: Tally]?
    /// The image set whose namespace was looked up last, for counting its versions.
    var lastTallied: (key: Int64, namespace: Namespace)?
    /// Recently served frame bytes by blob id (Store+Frames.swift).
    var frameCache = FrameByteCache()

    /// The exclusive hold on a file database (nil in memory, and after `close()`).
    var lock: DatabaseLock?
    /// Whether the store is a file (`--db`), not in memory.
    public let isFile: Bool
    /// Where committed events go (the emulator's event log); nil: no event is built (Store+Events.swift).
    public var eventSink: ((ServiceEvent) -> Void)?
    /// Events of the open transaction, published when it commits and dropped when it rolls back.
    var stagedEvents: [ServiceEvent] = []
    /// Also write the devguide's spelling `imagesetId` in image-set events (`--event-devguide-keys`).
    public var eventDevguideKeys = false

    /// Opens (creating when missing) the database at `path`, or an in-memory one when nil. A file is locked
    /// for this process first, then checked (`PRAGMA quick_check`) and migrated; every failure is a
    /// `DatabaseOpenError` naming the file.
    public init(path: String?) throws {
        isFile = path != nil
        if let path { lock = try DatabaseLock(databasePath: path) }
        do {
            database = try SQLiteDatabase(path: path)
            if isFile { try Store.checkIntegrity(database) }
            try Schema.migrate(database)
            tokenKey = try Store.loadOrCreateTokenKey(database)
            try backfillDICOMIndex()
            try indexStudiesIfPending()
        } catch {
            lock = nil
            throw DatabaseOpenError(path: path ?? ":memory:", problem: "\(error)")
        }
        database.transactionEnded = { [unowned self] committed in self.transactionEnded(committed: committed) }
    }

    private static func loadOrCreateTokenKey(_ database: SQLiteDatabase) throws -> SymmetricKey {
        let select = try database.cached("SELECT value FROM meta WHERE key = 'token-key'")
        if let bytes = try select.first({ $0.blob(0) }) ?? nil, bytes.count == 32 {
            return SymmetricKey(data: bytes)
        }
        let key = SymmetricKey(size: .bits256)
        let bytes = key.withUnsafeBytes { Array($0) }
        try database.cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('token-key', ?)").bind(1, blob: bytes).run()
        return key
    }
}

@available(*, unavailable)
extension Store: Sendable {}
