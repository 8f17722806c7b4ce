import HealthImagingDICOM
/// Stored image frames: one row per (image set, frame id) in `frames`, the bytes in `frame_blobs`, shared by
/// reference between image sets (CopyImageSet). Rows go with their image set (foreign key cascade, so with its
/// datastore and with reset too); a trigger drops a blob with its last reference.
extension Store {
    /// Stores a frame of an existing image set (replacing one with the same id).
    public func insertFrame(_ namespace: Namespace, datastoreId: String, imageSetId: String, frameId: String,
                            _ frame: StoredFrame) throws {
        guard let key = try imageSetKey(namespace, datastoreId, imageSetId) else {
            throw SQLiteError(code: 0, message: "no image set \(imageSetId) in datastore \(datastoreId)", sql: "insertFrame")
        }
        try insertFrame(imageSet: key, frameId: frameId, frame)
    }

    public func insertFrame(imageSet key: Int64, frameId: String, _ frame: StoredFrame, synthetic: Bool = false) throws {
        let blobId = try database.cached("INSERT INTO frame_blobs (data) VALUES (?) RETURNING id").withBlob(1, frame.data) { blob in
            guard try blob.step(), let blobId = blob.int64(0) else {
                throw SQLiteError(code: 0, message: "INSERT … RETURNING gave no row", sql: blob.sql)
            }
            try blob.run()
            return blobId
        }
        try database.cached("""
            INSERT OR REPLACE INTO frames (image_set_pk, frame_id, blob_id, transfer_syntax, content_type, checksums,
                min_value, max_value, size, synthetic)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
            .bind(1, key).bind(2, frameId).bind(3, blobId).bind(4, frame.transferSyntaxUID).bind(5, frame.contentType)
            .bind(6, Self.encodeChecksums(frame.checksums)).bind(7, frame.minPixelValue).bind(8, frame.maxPixelValue)
            .bind(9, frame.data.count).bind(10, synthetic).run()
    }

    /// A stored frame with its bytes, nil when the image set has no frame with that id.
    public func frame(_ namespace: Namespace, datastoreId: String, imageSetId: String, frameId: String) throws -> StoredFrame? {
        let statement = try database.cached("""
            SELECT f.blob_id, f.transfer_syntax, f.content_type, f.checksums, f.min_value, f.max_value
            FROM image_sets s JOIN frames f ON f.image_set_pk = s.pk
            WHERE s.account = ? AND s.region = ? AND s.datastore_id = ? AND s.image_set_id = ? AND f.frame_id = ?
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, imageSetId)
            .bind(5, frameId)
        guard try statement.step(), let blobId = statement.int64(0) else { return nil }
        var frame = StoredFrame(
            data: [], transferSyntaxUID: statement.text(1) ?? "", contentType: statement.text(2) ?? "",
            checksums: Self.decodeChecksums(statement.text(3) ?? ""), minPixelValue: Int(statement.int64(4) ?? 0),
            maxPixelValue: Int(statement.int64(5) ?? 0))
        try statement.run()
        frame.data = try frameBytes(blobId)
        return frame
    }

    /// A blob's bytes, from the cache when recently served.
    func frameBytes(_ blobId: Int64) throws -> [UInt8] {
        if let bytes = frameCache.bytes(blobId) { return bytes }
        let statement = try database.cached("SELECT data FROM frame_blobs WHERE id = ?")
        try statement.bind(1, blobId)
        let bytes = try statement.step() ? statement.blob(0) ?? [] : []
        try statement.run()
        frameCache.keep(bytes, for: blobId)
        return bytes
    }

    /// A frame's metadata facts without its bytes (the document patcher's lookup).
    public func frameFacts(imageSet key: Int64, frameId: String) throws -> FrameFacts? {
        let statement = try database.cached("""
            SELECT transfer_syntax, checksums, min_value, max_value, size FROM frames WHERE image_set_pk = ? AND frame_id = ?
            """)
        try statement.bind(1, key).bind(2, frameId)
        guard try statement.step() else { return nil }
        let facts = FrameFacts(
            transferSyntaxUID: statement.text(0) ?? "", checksums: Self.decodeChecksums(statement.text(1) ?? ""),
            minPixelValue: Int(statement.int64(2) ?? 0), maxPixelValue: Int(statement.int64(3) ?? 0),
            sizeInBytes: Int(statement.int64(4) ?? 0))
        try statement.run()
        return facts
    }

    /// Makes `frameIds` of one image set (all of its frames when nil) frames of another too, sharing the bytes.
    public func copyFrames(_ namespace: Namespace, datastoreId: String, from sourceImageSetId: String,
                           to destinationImageSetId: String, frameIds: [String]? = nil) throws {
        guard let source = try imageSetKey(namespace, datastoreId, sourceImageSetId),
            let destination = try imageSetKey(namespace, datastoreId, destinationImageSetId)
        else { return }
        try copyFrames(from: source, to: destination, frameIds: frameIds)
    }

    func copyFrames(from source: Int64, to destination: Int64, frameIds: [String]?) throws {
        guard let frameIds else {
            try database.cached("""
                INSERT OR REPLACE INTO frames (image_set_pk, frame_id, blob_id, transfer_syntax, content_type, checksums,
                    min_value, max_value, size, synthetic)
                SELECT ?, frame_id, blob_id, transfer_syntax, content_type, checksums, min_value, max_value, size, synthetic
                FROM frames WHERE image_set_pk = ?
                """).bind(1, destination).bind(2, source).run()
            return
        }
        let one = try database.cached("""
            INSERT OR REPLACE INTO frames (image_set_pk, frame_id, blob_id, transfer_syntax, content_type, checksums,
                min_value, max_value, size, synthetic)
            SELECT ?, frame_id, blob_id, transfer_syntax, content_type, checksums, min_value, max_value, size, synthetic
            FROM frames WHERE image_set_pk = ? AND frame_id = ?
            """)
        for frameId in frameIds {
            try one.bind(1, destination).bind(2, source).bind(3, frameId).run()
        }
    }

    /// Removes an image set's frames (their blobs go with their last reference).
    public func deleteFrames(imageSet key: Int64) throws {
        try database.cached("DELETE FROM frames WHERE image_set_pk = ?").bind(1, key).run()
    }

    /// How many frames and distinct stored blobs the store holds, over every namespace.
    public func frameCounts() throws -> (frames: Int, blobs: Int) {
        let statement = try database.cached("SELECT (SELECT count(*) FROM frames), (SELECT count(*) FROM frame_blobs)")
        _ = try statement.step()
        let result = (Int(statement.int64(0) ?? 0), Int(statement.int64(1) ?? 0))
        try statement.run()
        return result
    }

    /// Takes a CORRUPT_FRAME outcome planned for GetImageFrame on this image set (or any of the datastore).
    /// A read first, so that the usual request (nothing planned) writes nothing.
    public func takeFrameOutcome(_ namespace: Namespace, datastoreId: String, imageSetId: String) throws -> Bool {
        let planned = try database.cached("""
            SELECT 1 FROM outcomes WHERE account = ? AND region = ? AND datastore_id = ? AND image_set_id IN (?, '')
                AND operation = 'GetImageFrame' LIMIT 1
            """)
        try planned.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, imageSetId)
        let found = try planned.step()
        try planned.run()
        guard found else { return false }
        return try takeOutcome(namespace, datastoreId: datastoreId, imageSetIds: [imageSetId], operation: "GetImageFrame") != nil
    }

    /// The frames of an image set that export must carry (not the synthetic ones: loading regenerates those),
    /// in frame-id order.
    public func exportedFrames(imageSet key: Int64) throws -> [(id: String, frame: StoredFrame)] {
        let statement = try database.cached("""
            SELECT f.frame_id, b.data, f.transfer_syntax, f.content_type, f.checksums, f.min_value, f.max_value
            FROM frames f JOIN frame_blobs b ON b.id = f.blob_id
            WHERE f.image_set_pk = ? AND f.synthetic = 0 ORDER BY f.frame_id
            """)
        try statement.bind(1, key)
        var result: [(id: String, frame: StoredFrame)] = []
        while try statement.step() {
            result.append((statement.text(0) ?? "", StoredFrame(
                data: statement.blob(1) ?? [], transferSyntaxUID: statement.text(2) ?? "", contentType: statement.text(3) ?? "",
                checksums: Self.decodeChecksums(statement.text(4) ?? ""), minPixelValue: Int(statement.int64(5) ?? 0),
                maxPixelValue: Int(statement.int64(6) ?? 0))))
        }
        return result
    }

    /// `w,h,crc;w,h,crc…`, smallest resolution first.
    static func encodeChecksums(_ checksums: [ResolutionChecksum]) -> String {
        checksums.map { "\($0.width),\($0.height),\($0.checksum)" }.joined(separator: ";")
    }

    static func decodeChecksums(_ text: String) -> [ResolutionChecksum] {
        text.split(separator: ";").compactMap { item in
            let parts = item.split(separator: ",")
            guard parts.count == 3, let w = Int(parts[0]), let h = Int(parts[1]), let c = UInt32(parts[2]) else { return nil }
            return ResolutionChecksum(width: w, height: h, checksum: c)
        }
    }
}

/// What a metadata document's `ImageFrames` entry says about a stored frame.
public struct FrameFacts: Sendable, Equatable {
    public var transferSyntaxUID: String
    public var checksums: [ResolutionChecksum]
    public var minPixelValue: Int
    public var maxPixelValue: Int
    public var sizeInBytes: Int

    public init(_ frame: StoredFrame) {
        self.init(transferSyntaxUID: frame.transferSyntaxUID, checksums: frame.checksums, minPixelValue: frame.minPixelValue,
                  maxPixelValue: frame.maxPixelValue, sizeInBytes: frame.sizeInBytes)
    }

    public init(transferSyntaxUID: String, checksums: [ResolutionChecksum], minPixelValue: Int, maxPixelValue: Int,
                sizeInBytes: Int) {
        self.transferSyntaxUID = transferSyntaxUID
        self.checksums = checksums
        self.minPixelValue = minPixelValue
        self.maxPixelValue = maxPixelValue
        self.sizeInBytes = sizeInBytes
    }
}

/// Frame bytes recently read, by blob id, within a byte budget (habit 14): a viewer fetching the same frames
/// again, or a load test, skips the blob read. Exact by construction: a blob is never changed, and its id is
/// never reused (AUTOINCREMENT), so an entry can only be stale by being unreachable. Emptied when full.
struct FrameByteCache {
    static let budget = 32 << 20
    /// Frames larger than this are never kept (one would evict everything else).
    static let largest = 4 << 20
    private var entries: [Int64: [UInt8]] = [:]
    private var size = 0

    func bytes(_ blobId: Int64) -> [UInt8]? { entries[blobId] }

    mutating func keep(_ bytes: [UInt8], for blobId: Int64) {
        guard bytes.count <= Self.largest else { return }
        if size + bytes.count > Self.budget {
            entries.removeAll(keepingCapacity: true)
            size = 0
        }
        entries[blobId] = bytes
        size += bytes.count
    }
}
