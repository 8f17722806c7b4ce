import Logging
import Testing
@testable import HealthImagingLocal
@testable import HealthImagingHTTP

@Suite struct ResponseCacheTests {
    let namespace = Namespace(account: "123456789012", region: "us-east-1")

    func quietStore() throws -> Store {
        let store = try Store(path: nil)
        store.mayHavePendingTransitions = false
        return store
    }

    func answer(_ bytes: Int) -> Response { Response(json: [UInt8](repeating: UInt8(ascii: "x"), count: bytes)) }

    @Test func staysWithinItsByteBudget() throws {
        let store = try quietStore()
        var cache = ResponseCache(budget: 20_000)
        _ = cache.lookup("warm", store: store)
        for index in 0..<200 { cache.store(answer(500), for: "key-\(index)", store: store) }
        #expect(cache.usedBytes <= 20_000)
        #expect(cache.count > 10 && cache.count < 200)
    }

    @Test func anAnswerOverAnEighthOfTheBudgetIsNotKept() throws {
        let store = try quietStore()
        var cache = ResponseCache(budget: 16_000)
        _ = cache.lookup("warm", store: store)
        cache.store(answer(3_000), for: "big", store: store)
        cache.store(answer(1_000), for: "small", store: store)
        #expect(cache.lookup("big", store: store) == nil)
        #expect(cache.lookup("small", store: store) != nil)
    }

    @Test func evictsTheLeastRecentlyUsedFirst() throws {
        let store = try quietStore()
        var cache = ResponseCache(budget: 20_000)
        _ = cache.lookup("warm", store: store)
        cache.store(answer(500), for: "kept", store: store)
        cache.store(answer(500), for: "dropped", store: store)
        for index in 0..<100 {
            _ = cache.lookup("kept", store: store)
            cache.store(answer(500), for: "filler-\(index)", store: store)
        }
        #expect(cache.lookup("kept", store: store) != nil)
        #expect(cache.lookup("dropped", store: store) == nil)
    }

    @Test func keyLeavesOutTheBodyOfOperationsThatIgnoreIt() {
        let path = "/datastore/12345678901234567890123456789012/imageSet/ea92b0d8838c72a3f25d00d13616f87e/getImageSet"
        let a = Request(method: "POST", uri: path, body: Array("{\"a\":1}".utf8))
        let b = Request(method: "POST", uri: path, body: Array(repeating: UInt8(ascii: "z"), count: 4096))
        #expect(ResponseCache.key(operation: GetImageSet.self, namespace: namespace, request: a)
            == ResponseCache.key(operation: GetImageSet.self, namespace: namespace, request: b))
        let search = "/datastore/12345678901234567890123456789012/searchImageSets"
        let c = Request(method: "POST", uri: search, body: Array("{}".utf8))
        let d = Request(method: "POST", uri: search, body: Array("{\"searchCriteria\":{}}".utf8))
        #expect(ResponseCache.key(operation: SearchImageSets.self, namespace: namespace, request: c)
            != ResponseCache.key(operation: SearchImageSets.self, namespace: namespace, request: d))
    }
}

@Suite struct StatementResetTests {
    let namespace = Namespace(account: "123456789012", region: "us-east-1")

    @Test func singleRowReadsLeaveNoStatementMidStep() throws {
        let store = try Store(path: nil)
        try store.insertDatastore(namespace, Datastore(datastoreId: "12345678901234567890123456789012", name: "d"))
        #expect(try store.datastoreExists(namespace, "12345678901234567890123456789012"))
        #expect(store.database.busyStatementCount == 0)
        #expect(try store.datastore(namespace, "12345678901234567890123456789012") != nil)
        #expect(store.database.busyStatementCount == 0)
        #expect(try store.counts().datastores == 1)
        #expect(store.database.busyStatementCount == 0)
    }

    @Test func everyRequestEndsWithNoStatementMidStep() throws {
        var configuration = Emulator.Configuration()
        configuration.fixtures = [try Fixture.decode(Array(FixtureTests.valid.utf8), source: "test.json")]
        let emulator = try Emulator(configuration: configuration, logger: .init(label: "test"))
        try emulator.loadStartupFixtures()
        for uri in ["/datastore", "/datastore/12345678901234567890123456789012"] {
            _ = emulator.handle(Request(method: "GET", uri: uri))
            #expect(emulator.store.database.busyStatementCount == 0)
        }
    }
}
