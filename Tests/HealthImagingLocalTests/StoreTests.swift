import Foundation
import Testing
@testable import HealthImagingLocal

@Suite struct StoreTests {
    let namespace = Namespace(account: "123456789012", region: "us-east-1")
    let datastoreId = "12345678901234567890123456789012"
    let imageSetId = "ea92b0d8838c72a3f25d00d13616f87e"

    func seeded(versions: Int) throws -> (Store, Int64) {
        let store = try Store(path: nil)
        try store.insertDatastore(namespace, Datastore(datastoreId: datastoreId, name: "d"))
        let key = try store.insertImageSet(namespace, datastoreId: datastoreId, imageSetId: imageSetId)
        for number in 1...Int64(versions) {
            try store.insertVersion(imageSet: key, ImageSetVersion(imageSetId: imageSetId, versionId: number, state: .active))
        }
        return (store, key)
    }

    /// The kept image-set and version counts (health, reset and load answers) always equal a count in SQL: after
    /// inserts in two namespaces, versions of an image set inserted earlier, a rolled-back transaction, a reset of
    /// one namespace and of all.
    @Test func keptCountsEqualCountsInSQL() throws {
        let (store, key) = try seeded(versions: 3)
        let other = Namespace(account: "210987654321", region: "eu-west-1")
        func check() throws {
            let tallied = try store.tallied()
            store.forgetTally()
            #expect(try store.tallied() == tallied)
            #expect(try store.counts(namespace).versions == (tallied[namespace]?.versions ?? 0))
        }
        try check()
        try store.insertDatastore(other, Datastore(datastoreId: datastoreId, name: "o"))
        let otherKey = try store.insertImageSet(other, datastoreId: datastoreId, imageSetId: imageSetId)
        try store.insertVersion(imageSet: otherKey, ImageSetVersion(imageSetId: imageSetId, versionId: 1, state: .active))
        // A version of the first image set after the other's: its namespace is looked up, not the last one used.
        try store.insertVersion(imageSet: key, ImageSetVersion(imageSetId: imageSetId, versionId: 4, state: .active))
        #expect(try store.counts(namespace) == Store.Counts(datastores: 1, imageSets: 1, versions: 4))
        #expect(try store.counts(other) == Store.Counts(datastores: 1, imageSets: 1, versions: 1))
        try check()
        struct Undo: Error {}
        #expect(throws: Undo.self) {
            try store.database.transaction {
                try store.insertVersion(imageSet: otherKey, ImageSetVersion(imageSetId: imageSetId, versionId: 2, state: .active))
                throw Undo()
            }
        }
        #expect(try store.counts(other).versions == 1)
        try check()
        try store.reset(other)
        #expect(try store.counts(other) == Store.Counts(datastores: 0, imageSets: 0, versions: 0))
        #expect(try store.counts() == Store.Counts(datastores: 1, imageSets: 1, versions: 4))
        // The key the reset freed may be given to an image set of the first namespace.
        let again = try store.insertImageSet(namespace, datastoreId: datastoreId, imageSetId: String(repeating: "b", count: 32))
        try store.insertVersion(imageSet: again, ImageSetVersion(imageSetId: String(repeating: "b", count: 32), versionId: 1, state: .active))
        #expect(try store.counts(namespace) == Store.Counts(datastores: 1, imageSets: 2, versions: 5))
        try check()
        try store.reset(nil)
        #expect(try store.counts() == Store.Counts(datastores: 0, imageSets: 0, versions: 0))
        try check()
    }

    @Test func pagesNewestFirstWithoutGapsOrRepeats() throws {
        let (store, key) = try seeded(versions: 23)
        var seen: [Int64] = []
        var before: Int64?
        while true {
            let page = try store.versions(imageSet: key, imageSetId: imageSetId, before: before, limit: 5)
            seen += page.map(\.versionId)
            guard page.count == 5 else { break }
            before = page.last?.versionId
        }
        #expect(seen == Array((1...23).reversed()))
    }

    @Test func aVersionAddedBetweenPagesShiftsNothing() throws {
        let (store, key) = try seeded(versions: 10)
        let first = try store.versions(imageSet: key, imageSetId: imageSetId, before: nil, limit: 4)
        try store.insertVersion(imageSet: key, ImageSetVersion(imageSetId: imageSetId, versionId: 11, state: .locked))
        let second = try store.versions(imageSet: key, imageSetId: imageSetId, before: first.last?.versionId, limit: 4)
        #expect(first.map(\.versionId) == [10, 9, 8, 7])
        #expect(second.map(\.versionId) == [6, 5, 4, 3])
    }

    @Test func namespacesAreIsolated() throws {
        let (store, _) = try seeded(versions: 1)
        let other = Namespace(account: "999999999999", region: "us-east-1")
        #expect(try store.datastoreExists(namespace, datastoreId))
        #expect(try !store.datastoreExists(other, datastoreId))
        #expect(try store.imageSetKey(other, datastoreId, imageSetId) == nil)
    }

    @Test func pageQueryUsesThePrimaryKey() throws {
        let (store, _) = try seeded(versions: 3)
        let plan = try store.database.cached("""
            EXPLAIN QUERY PLAN SELECT version FROM image_set_versions WHERE image_set_pk = ? AND version < ? ORDER BY version DESC LIMIT ?
            """)
        var details: [String] = []
        while try plan.step() { details.append(plan.text(3) ?? "") }
        #expect(details.contains { $0.contains("SEARCH image_set_versions USING PRIMARY KEY") })
        #expect(!details.contains { $0.contains("TEMP B-TREE") })
    }

    @Test func listJoinUsesTheIndexesAndNoSort() throws {
        let (store, _) = try seeded(versions: 3)
        let plan = try store.database.cached("""
            EXPLAIN QUERY PLAN SELECT v.version FROM image_sets s JOIN image_set_versions v ON v.image_set_pk = s.pk
            WHERE s.account = ? AND s.region = ? AND s.datastore_id = ? AND s.image_set_id = ? AND v.version < ?
            ORDER BY v.version DESC LIMIT ?
            """)
        var details: [String] = []
        while try plan.step() { details.append(plan.text(3) ?? "") }
        #expect(details.contains { $0.contains("SEARCH s USING") && $0.contains("INDEX") })
        #expect(details.contains { $0.contains("SEARCH v USING PRIMARY KEY (image_set_pk=? AND version<?)") })
        #expect(!details.contains { $0.contains("TEMP B-TREE") }, "\(details)")
        let page = try store.versions(namespace, datastoreId: datastoreId, imageSetId: imageSetId, before: 3, limit: 5)
        #expect(page.map(\.versionId) == [2, 1])
    }

    @Test func tokenKeyAndDataSurviveReopeningAFile() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hil-\(UUID().uuidString).db").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let key1: [UInt8]
        do {
            let store = try Store(path: path)
            try store.insertDatastore(namespace, Datastore(datastoreId: datastoreId, name: "d"))
            key1 = store.tokenKey.withUnsafeBytes { Array($0) }
        }
        let reopened = try Store(path: path)
        #expect(reopened.tokenKey.withUnsafeBytes { Array($0) } == key1)
        #expect(try reopened.datastoreExists(namespace, datastoreId))
    }

    @Test func loadIsAllOrNothing() throws {
        let (store, _) = try seeded(versions: 1)
        let fresh = Fixture.Entry(datastore: Datastore(datastoreId: String(repeating: "a", count: 32), name: nil), imageSets: [], path: "$.datastores[0]")
        let clash = Fixture.Entry(datastore: Datastore(datastoreId: datastoreId, name: nil), imageSets: [], path: "$.datastores[1]")
        #expect(throws: FixtureError.self) {
            try store.load([Fixture(datastores: [fresh, clash], source: "x.json")], into: namespace)
        }
        #expect(try store.counts().datastores == 1)
    }
}
