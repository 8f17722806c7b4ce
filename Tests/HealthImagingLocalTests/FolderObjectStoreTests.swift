import Foundation
import Testing
@testable import HealthImagingLocal

/// `--s3-dir` buckets are trees inside their directory (docs/hardening.md, "Folders as buckets").
@Suite struct FolderObjectStoreTests {
    /// DIR/bucket/in with a file, links that loop (to itself, to its parent, absolutely), links out of the bucket (a
    /// directory and a file), and DIR/outside with a file that must never be listed, read or written.
    static func makeTree() throws -> (root: String, store: FolderObjectStore) {
        let fm = FileManager.default
        let root = NSTemporaryDirectory() + "hil-folder-\(UUID().uuidString)"
        let folder = root + "/bucket/in"
        try fm.createDirectory(atPath: folder + "/deeper", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: root + "/outside", withIntermediateDirectories: true)
        #expect(fm.createFile(atPath: folder + "/a.dcm", contents: Data("a".utf8)))
        #expect(fm.createFile(atPath: root + "/outside/secret.dcm", contents: Data("secret".utf8)))
        try fm.createSymbolicLink(atPath: folder + "/self", withDestinationPath: ".")
        try fm.createSymbolicLink(atPath: folder + "/deeper/up", withDestinationPath: "..")
        try fm.createSymbolicLink(atPath: folder + "/deeper/again", withDestinationPath: folder)
        try fm.createSymbolicLink(atPath: folder + "/escape", withDestinationPath: root + "/outside")
        try fm.createSymbolicLink(atPath: folder + "/escape.dcm", withDestinationPath: root + "/outside/secret.dcm")
        try fm.createSymbolicLink(atPath: folder + "/inside.dcm", withDestinationPath: "a.dcm")
        return (root, FolderObjectStore(root: root))
    }

    @Test func listingEndsOnLoopsAndStaysInsideTheBucket() throws {
        let (root, store) = try Self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        let keys = try store.list(bucket: "bucket", prefix: "in/").map(\.key)
        // Each directory once; a link to a file inside the bucket is an object, links out are not listed.
        #expect(keys == ["in/a.dcm", "in/inside.dcm"])
        #expect(try store.list(bucket: "bucket", prefix: "in/escape/").isEmpty)
    }

    @Test func readsAndWritesThroughALinkOutOfTheBucketAreRefused() throws {
        let (root, store) = try Self.makeTree()
        defer { try? FileManager.default.removeItem(atPath: root) }
        #expect(try store.get(bucket: "bucket", key: "in/inside.dcm") == Array("a".utf8))
        for key in ["in/escape.dcm", "in/escape/secret.dcm", "in/../../outside/secret.dcm"] {
            #expect(throws: ObjectStoreError.self) { try store.get(bucket: "bucket", key: key) }
        }
        #expect(throws: ObjectStoreError.self) { try store.put(bucket: "bucket", key: "in/escape/new.json", [1], contentType: "x") }
        #expect(!FileManager.default.fileExists(atPath: root + "/outside/new.json"))
        try store.put(bucket: "bucket", key: "out/new.json", [1], contentType: "application/json")
        #expect(FileManager.default.fileExists(atPath: root + "/bucket/out/new.json"))
        #expect(throws: ObjectStoreError.self) { try store.list(bucket: "..", prefix: "") }
    }

    @Test func dotSegmentsAreRefusedAtStartDICOMImportJob() {
        #expect(StartDICOMImportJob.dotSegments("s3://bucket/in/") == nil)
        #expect(StartDICOMImportJob.dotSegments("s3://bucket/a..b/") == nil)
        for uri in ["s3://bucket/../etc/", "s3://bucket/a/./b/", "s3://bucket/a/..", "s3://out/../out/x/"] {
            #expect(StartDICOMImportJob.dotSegments(uri) != nil, "\(uri)")
        }
    }
}
