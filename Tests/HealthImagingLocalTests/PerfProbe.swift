import Foundation
import Logging
import Testing
@testable import HealthImagingLocal

@Suite struct PerfProbe {
    func time(_ label: String, _ n: Int, _ body: () throws -> Int) throws {
        let start = ContinuousClock.now
        var total = 0
        for _ in 0..<n { total += try body() }
        let elapsed = ContinuousClock.now - start
        let micros = Double(elapsed.components.attoseconds) / 1e12 / Double(n) + Double(elapsed.components.seconds) * 1e6 / Double(n)
        FileHandle.standardError.write(Data("PERF \(label): \(String(format: "%.2f", micros)) µs (\(total))\n".utf8))
    }

    @Test func probe() throws {
        guard let count = ProcessInfo.processInfo.environment["HIL_PERF"].flatMap(Int.init) else { return }
        var configuration = Emulator.Configuration()
        configuration.fixtures = try FixtureLoader.read(paths: ["fixtures/seed.json"])
        let emulator = try Emulator(configuration: configuration, logger: Logger(label: "x"))
        try emulator.loadStartupFixtures()
        let headers: [(name: String, value: String)] = [("Host", "127.0.0.1:1"), ("User-Agent", "wrk"), ("Content-Length", "0")]
        let uri = "/datastore/12345678901234567890123456789012/imageSet/ea92b0d8838c72a3f25d00d13616f87e/listImageSetVersions"
        let request = Request(method: "POST", uri: uri, headers: headers)
        let ns = emulator.defaultNamespace
        try time("whole", count) { emulator.handle(Request(method: "POST", uri: uri, headers: headers)).response.body.count }
        try time("request init", count) { Request(method: "POST", uri: uri, headers: headers).path.count }
        var router = Router<Int>()
        router.add("POST", ListImageSetVersions.path, 1)
        try time("route", count) { if case .found(let t, _) = router.match(method: "POST", path: request.path) { return t } else { return 0 } }
        try time("namespace", count) { emulator.namespace(of: request).account.count }
        try time("store", count) {
            _ = try emulator.store.datastoreExists(ns, "12345678901234567890123456789012")
            let key = try emulator.store.imageSetKey(ns, "12345678901234567890123456789012", "ea92b0d8838c72a3f25d00d13616f87e")!
            return try emulator.store.versions(imageSet: key, imageSetId: "ea92b0d8838c72a3f25d00d13616f87e", before: nil, limit: 51).count
        }
        let key = try emulator.store.imageSetKey(ns, "12345678901234567890123456789012", "ea92b0d8838c72a3f25d00d13616f87e")!
        let versions = try emulator.store.versions(imageSet: key, imageSetId: "ea92b0d8838c72a3f25d00d13616f87e", before: nil, limit: 51)
        try time("json", count) {
            var json = JSONWriter()
            json.object { body in body.field("imageSetPropertiesList", array: { list in for v in versions { v.writeProperties(to: &list) } }) }
            return json.bytes.count
        }
        var ids = RequestIdGenerator()
        try time("request id", count) { ids.next().count }
        try time("now", count) { Int(Timestamp.nowMillis() & 1) }
        try time("journal", count) {
            emulator.journal.record(Journal.Entry(sequence: 0, time: Timestamp.nowMillis(), namespace: ns, operation: "x", method: "POST", path: request.path, parameters: ["a": "b", "c": "d"], query: [], status: 200, errorCode: nil, latencyMillis: 1, fault: nil))
            return 1
        }
    }
}
