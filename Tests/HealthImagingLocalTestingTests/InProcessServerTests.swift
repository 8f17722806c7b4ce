import Foundation
import HealthImagingLocalTesting
import Testing

/// The in-process emulator as a Swift test suite uses it: start with a fixture, call the API over HTTP,
/// inspect the journal, stop.
@Suite struct InProcessServerTests {
    static let seed: String = {
        // Tests/HealthImagingLocalTestingTests/ → the repository root.
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("fixtures/seed.json").path
    }()
    static let datastoreId = "12345678901234567890123456789012"
    static let imageSetId = "ea92b0d8838c72a3f25d00d13616f87e"

    @Test func listImageSetVersionsOverHTTPIsJournaled() throws {
        let server = try HealthImagingLocalServer.start(fixtures: [Self.seed])
        defer { server.stop() }
        #expect(server.url.hasPrefix("http://127.0.0.1:"))
        #expect(server.port > 0)

        let answer = try server.request(
            "POST", "/datastore/\(Self.datastoreId)/imageSet/\(Self.imageSetId)/listImageSetVersions?maxResults=2")
        #expect(answer.status == 200)
        let body = try #require(try answer.json() as? [String: Any])
        let versions = try #require(body["imageSetPropertiesList"] as? [[String: Any]])
        #expect(versions.map { $0["versionId"] as? String } == ["4", "3"])
        #expect(body["nextToken"] is String)

        let entries = try server.journal(operation: "ListImageSetVersions")
        #expect(entries.count == 1)
        #expect(entries.first?["status"] as? Int == 200)
        #expect((entries.first?["query"] as? [String: String])?["maxResults"] == "2")
        #expect((entries.first?["pathParameters"] as? [String: String])?["imageSetId"] == Self.imageSetId)
    }

    @Test func faultsAndStatesThroughTheControlHelpers() throws {
        let server = try HealthImagingLocalServer.start(fixtures: [Self.seed])
        defer { server.stop() }
        let ids = try server.addFault(#"{"operation": "ListImageSetVersions", "error": {"code": "ThrottlingException"}, "times": 1}"#)
        #expect(ids.count == 1)
        let path = "/datastore/\(Self.datastoreId)/imageSet/\(Self.imageSetId)/listImageSetVersions"
        let throttled = try server.request("POST", path)
        #expect(throttled.status == 429)
        #expect(throttled.headers["x-amzn-errortype"]?.hasPrefix("ThrottlingException") == true)
        #expect(try server.request("POST", path).status == 200)
        let journal = try server.journal()
        #expect(journal.map { $0["faultInjected"] as? Bool } == [true, false])

        try server.setVersionState(datastoreId: Self.datastoreId, imageSetId: Self.imageSetId, versionId: "4",
                                   #"{"ImageSetWorkflowStatus": "COPY_FAILED", "message": "broken on purpose"}"#)
        let latest = try #require(try server.request("POST", path + "?maxResults=1").json() as? [String: Any])
        let first = try #require((latest["imageSetPropertiesList"] as? [[String: Any]])?.first)
        #expect(first["ImageSetWorkflowStatus"] as? String == "COPY_FAILED")

        // A control-plane refusal carries the JSON path.
        #expect(throws: ControlPlaneError.self) { try server.addFault(#"{"operation": "Nope", "latencyMs": 1}"#) }
    }

    @Test func startFailsOnABadFixtureAndServersRunSideBySide() throws {
        #expect(throws: (any Error).self) {
            _ = try HealthImagingLocalServer.start(documents: [#"{"datastores": [{"datastoreId": "bad"}]}"#])
        }
        let a = try HealthImagingLocalServer.start(documents: [#"{"datastores": []}"#])
        let b = try HealthImagingLocalServer.start()
        #expect(a.port != b.port)
        #expect(try a.health()["status"] as? String == "ready")
        a.stop()
        a.stop()  // idempotent
        #expect(try b.health()["datastores"] as? Int == 0)
        b.stop()
    }
}
