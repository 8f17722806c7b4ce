import Foundation
import Logging
import Testing
@testable import HealthImagingLocal
@testable import HealthImagingHTTP

/// Events in-process: what is announced, when (after commit, at the settle of a held transition), and the ring.
@Suite struct EventTests {
    let emulator: Emulator

    init() throws {
        var configuration = Emulator.Configuration()
        configuration.eventRingSize = 4
        emulator = try Emulator(configuration: configuration, logger: Logger(label: "test"))
    }

    @discardableResult
    func call(_ method: String, _ uri: String, _ body: String = "", status: Int = 200,
              sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
        let reply = emulator.handle(Request(method: method, uri: uri, body: Array(body.utf8)))
        #expect(reply.response.status == status, "\(method) \(uri): \(String(decoding: reply.response.body, as: UTF8.self))",
                sourceLocation: sourceLocation)
        return (try? JSONSerialization.jsonObject(with: Data(reply.response.body))) as? [String: Any] ?? [:]
    }

    var types: [String] { emulator.events.entries(emulator.defaultNamespace).map(\.event.detailType.rawValue) }

    @Test func timeIsSecondPrecisionUTC() {
        #expect(ServiceEvent.isoSeconds(0) == "1970-01-01T00:00:00Z")
        #expect(ServiceEvent.isoSeconds(1_680_029_436_304) == "2023-03-28T18:50:36Z")
        #expect(ServiceEvent.isoSeconds(-1500) == "1969-12-31T23:59:58Z")
    }

    @Test func heldTransitionsAnnounceTheirEndWhenTheySettle() {
        call("PUT", "/_healthimaging/transitions", #"{"datastore": "manual"}"#)
        let id = call("POST", "/datastore", #"{"datastoreName":"ds","clientToken":"t1"}"#)["datastoreId"] as? String ?? ""
        #expect(types == ["Data Store Creating"])
        call("GET", "/datastore/\(id)")
        #expect(types == ["Data Store Creating"], "a read in manual mode settles nothing, so announces nothing")
        call("POST", "/_healthimaging/transitions/advance", #"{"datastoreId": "\#(id)"}"#)
        #expect(types == ["Data Store Creating", "Data Store Created"])
        let created = emulator.events.entries(emulator.defaultNamespace)[1].event
        #expect(created.detail["datastoreStatus"] == .string("ACTIVE"))
        #expect(created.detail["datastoreName"] == .string("ds"))
        #expect(created.resources == [emulator.defaultNamespace.datastoreArn(id)])
        #expect(created.sequence == 2 && created.id.count == 36)
    }

    @Test func aRolledBackChangeAnnouncesNothing() throws {
        let store = emulator.store
        _ = try? store.database.transaction { () throws -> Void in
            let datastore = Datastore(datastoreId: String(repeating: "c", count: 32), name: "gone", status: .creating)
            try store.insertDatastore(emulator.defaultNamespace, datastore)
            try store.announceDatastore(emulator.defaultNamespace, datastore.datastoreId)
            throw APIError.conflict("rolled back on purpose")
        }
        #expect(types.isEmpty)
        #expect(store.stagedEvents.isEmpty)
    }

    @Test func theRingKeepsTheNewestAndForgetsTheirStatuses() {
        for token in ["a", "b", "c"] { call("POST", "/datastore", #"{"clientToken":"\#(token)"}"#) }
        let entries = emulator.events.entries(emulator.defaultNamespace)
        #expect(entries.map(\.event.sequence) == [3, 4, 5, 6])
        #expect(emulator.events.ledger.status(1) == nil && emulator.events.ledger.status(6)?.state == .notConfigured)
        #expect(!entries.contains { $0.event.detail["datastoreName"] != nil }, "no name, no datastoreName")
        emulator.events.clear(nil)
        #expect(types.isEmpty && emulator.events.ledger.status(6) == nil && emulator.events.lastSequence == 6)
    }
}
