import Testing
@testable import HealthImagingLocal
@testable import HealthImagingDICOM

/// Frames storage: per image set, bytes shared on copy, gone with the image set (blobs with their last reference).
struct FrameStoreTests {
    let namespace = Namespace(account: "123456789012", region: "us-east-1")
    let datastoreId = "12345678901234567890123456789012"
    let first = String(repeating: "a", count: 32)
    let second = String(repeating: "b", count: 32)
    let frameId = String(repeating: "f", count: 32)

    func frame(_ byte: UInt8) -> StoredFrame {
        StoredFrame(data: [UInt8](repeating: byte, count: 1000), transferSyntaxUID: FrameCodec.htj2kRPCL,
                    contentType: "image/jph", checksums: [ResolutionChecksum(width: 2, height: 3, checksum: 4_000_000_000)],
                    minPixelValue: -5, maxPixelValue: 70000)
    }

    @Test func storesCopiesAndDeletes() throws {
        let store = try Store(path: nil)
        try store.insertDatastore(namespace, Datastore(datastoreId: datastoreId, name: "d"))
        let a = try store.insertImageSet(namespace, datastoreId: datastoreId, imageSetId: first)
        let b = try store.insertImageSet(namespace, datastoreId: datastoreId, imageSetId: second)
        try store.insertFrame(namespace, datastoreId: datastoreId, imageSetId: first, frameId: frameId, frame(7))
        #expect(try store.frame(namespace, datastoreId: datastoreId, imageSetId: first, frameId: frameId) == frame(7))
        #expect(try store.frame(namespace, datastoreId: datastoreId, imageSetId: second, frameId: frameId) == nil)
        #expect(try store.frame(Namespace(account: "999999999999", region: "us-east-1"), datastoreId: datastoreId,
                                imageSetId: first, frameId: frameId) == nil)

        try store.copyFrames(namespace, datastoreId: datastoreId, from: first, to: second)
        #expect(try store.frame(namespace, datastoreId: datastoreId, imageSetId: second, frameId: frameId) == frame(7))
        #expect(try store.frameCounts() == (frames: 2, blobs: 1))  // a reference, not a copy of the bytes

        try store.deleteFrames(imageSet: a)
        #expect(try store.frameCounts() == (frames: 1, blobs: 1))
        try store.database.execute("DELETE FROM image_sets WHERE pk = \(b)")  // cascade, as with a datastore or reset
        #expect(try store.frameCounts() == (frames: 0, blobs: 0))
        #expect(try store.frame(namespace, datastoreId: datastoreId, imageSetId: second, frameId: frameId) == nil)
    }

    @Test func cacheStaysWithinItsBudget() {
        var cache = FrameByteCache()
        for id in 0..<100 { cache.keep([UInt8](repeating: 1, count: 1 << 20), for: Int64(id)) }
        #expect(cache.bytes(99) != nil)
        #expect(cache.bytes(0) == nil)
        cache.keep([UInt8](repeating: 1, count: FrameByteCache.largest + 1), for: 1000)
        #expect(cache.bytes(1000) == nil)
    }
}
