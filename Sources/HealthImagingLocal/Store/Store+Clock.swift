/// The test clock's offset as state of the database (meta key `clock-offset-ms`): a restart with `--db` keeps it,
/// so the stored timestamps, the tiers computed from them and due times never go backwards across a restart.
extension Store {
    /// The stored offset in milliseconds (0 when never moved).
    public func clockOffset() throws -> Int64 {
        let statement = try database.cached("SELECT value FROM meta WHERE key = 'clock-offset-ms'")
        guard let text = try statement.first({ $0.text(0) }) ?? nil else { return 0 }
        return Int64(text) ?? 0
    }

    public func setClockOffset(_ millis: Int64) throws {
        try database.cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('clock-offset-ms', ?)")
            .bind(1, String(millis)).run()
    }
}

/// Storage tiers (events-and-time docs, "Clock and storage tiers"): an image set not accessed for 30 days on the
/// emulator's clock reports ARCHIVE_INSTANT_ACCESS; any access brings it back to FREQUENT_ACCESS. The tier is
/// computed when reported, from `lastAccessedAt`: moving between tiers writes nothing, makes no version and no event.
public enum StorageTier: String, CaseIterable, Sendable {
    case frequentAccess = "FREQUENT_ACCESS"
    case archiveInstantAccess = "ARCHIVE_INSTANT_ACCESS"

    /// 30 days.
    public static let archiveAfterMillis: Int64 = 30 * 86_400_000

    public static func of(lastAccessedAt: Int64?, now: Int64) -> StorageTier {
        guard let lastAccessedAt else { return .frequentAccess }
        return now - lastAccessedAt >= archiveAfterMillis ? .archiveInstantAccess : .frequentAccess
    }
}

extension Store {
    /// Accesses closer together than this record one `lastAccessedAt` (the first): a viewer reading hundreds of
    /// frames writes once, and repeated metadata reads stay in the read cache.
    public static let accessGranularityMillis: Int64 = 1000

    /// Records an access to an image set (GetImageSetMetadata, GetImageFrame, WADO-RS retrieves, the target of
    /// UpdateImageSetMetadata, the destination of CopyImageSet, image sets an import or STOW writes): its
    /// `lastAccessedAt` becomes now, which also puts it back in FREQUENT_ACCESS. Writes nothing when the recorded
    /// access is less than `accessGranularityMillis` old; then tells the read cache when this answer goes stale.
    public func touchImageSet(_ key: Int64, now: Int64 = Timestamp.nowMillis()) throws {
        // A read first: most accesses of a busy image set (frame after frame) find a recent one and write nothing.
        if let recorded = try lastAccessedAt(imageSet: key), recorded <= now, now - recorded < Self.accessGranularityMillis {
            answerGoesStale(at: recorded + Self.accessGranularityMillis)
            return
        }
        try database.cached("UPDATE image_sets SET last_accessed_at = ? WHERE pk = ?").bind(1, now).bind(2, key).run()
    }

    /// When an image set was last accessed (epoch milliseconds), nil when never recorded.
    public func lastAccessedAt(imageSet key: Int64) throws -> Int64? {
        let statement = try database.cached("SELECT last_accessed_at FROM image_sets WHERE pk = ?")
        try statement.bind(1, key)
        return try statement.first { $0.int64(0) } ?? nil
    }

    /// The tier of an image set now, with `lastAccessedAt`; a FREQUENT_ACCESS answer tells the read cache when it
    /// would turn ARCHIVE_INSTANT_ACCESS.
    public func storageTier(imageSet key: Int64, now: Int64 = Timestamp.nowMillis()) throws -> (tier: StorageTier, lastAccessedAt: Int64?) {
        let last = try lastAccessedAt(imageSet: key)
        let tier = StorageTier.of(lastAccessedAt: last, now: now)
        if tier == .frequentAccess, let last { answerGoesStale(at: last + StorageTier.archiveAfterMillis) }
        return (tier, last)
    }

    /// Notes that the answer being made stops being true at `millis` on the emulator's clock: the read cache keeps
    /// it only until then (`ResponseCache`; the emulator clears `answerValidUntil` before each operation).
    func answerGoesStale(at millis: Int64) {
        answerValidUntil = min(answerValidUntil ?? .max, millis)
    }
}
