import Logging
import Testing
@testable import HealthImagingLocal
@testable import HealthImagingJSON
@testable import HealthImagingHTTP

/// In-process requests through the whole stack but the socket: route → operation → store → response.
@Suite struct EmulatorTests {
    let emulator: Emulator
    let listPath = "/datastore/12345678901234567890123456789012/imageSet/ea92b0d8838c72a3f25d00d13616f87e/listImageSetVersions"

    init() throws {
        var configuration = Emulator.Configuration()
        configuration.fixtures = [try Fixture.decode(Array(FixtureTests.valid.utf8), source: "test.json")]
        emulator = try Emulator(configuration: configuration, logger: Logger(label: "test"))
        try emulator.loadStartupFixtures()
    }

    func send(_ method: String, _ uri: String, body: String = "") -> Response {
        emulator.handle(Request(method: method, uri: uri, body: Array(body.utf8))).response
    }

    func json(_ response: Response) throws -> JSONValue { try JSONParser.parse(response.body) }

    @Test func listsVersionsWithTheCapitalI() throws {
        let response = send("POST", listPath)
        #expect(response.status == 200)
        #expect(response.header("x-amzn-RequestId")?.count == 36)
        let body = try json(response)
        guard case .array(let items) = body["imageSetPropertiesList"] else {
            Issue.record("no list")
            return
        }
        #expect(items.count == 2)
        #expect(items[0]["ImageSetWorkflowStatus"] == .string("COPY_FAILED"))
        #expect(items[0]["imageSetWorkflowStatus"] == nil)
        #expect(items[0]["overrides"]?["forced"] == .bool(true))
        #expect(items[1]["updatedAt"] == nil)
        #expect(body["nextToken"] == nil)
    }

    @Test func paginatesWithAnOpaqueToken() throws {
        let first = try json(send("POST", listPath + "?maxResults=1"))
        guard case .string(let token) = first["nextToken"] else {
            Issue.record("no token")
            return
        }
        let second = try json(send("POST", listPath + "?maxResults=1&nextToken=" + token))
        #expect(second["imageSetPropertiesList"] != first["imageSetPropertiesList"])
        #expect(second["nextToken"] == nil)
    }

    @Test(arguments: [
        ("?maxResults=0", 400, "ValidationException"), ("?maxResults=51", 400, "ValidationException"),
        ("?maxResults=abc", 400, "ValidationException"), ("?nextToken=abc", 400, "ValidationException"),
    ])
    func refusesBadQueries(_ query: String, _ status: Int, _ code: String) {
        let response = send("POST", listPath + query)
        #expect(response.status == status)
        #expect(response.header("x-amzn-ErrorType") == code)
    }

    @Test func answersUnknownThingsInJSON() throws {
        let unknown = send("GET", "/nothing/here")
        #expect(unknown.status == 404)
        #expect(unknown.header("Content-Type") == "application/json")
        #expect(try json(unknown)["__type"] == .string("UnknownOperationException"))
        let wrongMethod = send("GET", listPath)
        #expect(wrongMethod.status == 405)
        let notFound = send("POST", listPath.replacingOccurrences(of: "ea92b0d8838c72a3f25d00d13616f87e", with: String(repeating: "0", count: 32)))
        #expect(notFound.status == 404)
        #expect(notFound.header("x-amzn-ErrorType") == "ResourceNotFoundException")
        let malformed = send("POST", listPath.replacingOccurrences(of: "ea92b0d8838c72a3f25d00d13616f87e", with: "EA92"))
        #expect(malformed.status == 400)
    }

    @Test func faultRuleFiresTimesThenStops() throws {
        let added = send("POST", "/_healthimaging/faults", body: """
            {"operation": "ListImageSetVersions", "error": {"code": "ThrottlingException", "message": "slow down"}, "times": 2}
            """)
        #expect(added.status == 201)
        #expect(send("POST", listPath).status == 429)
        #expect(send("POST", listPath).status == 429)
        #expect(send("POST", listPath).status == 200)
        let journal = try json(send("GET", "/_healthimaging/journal?operation=ListImageSetVersions"))
        guard case .array(let entries) = journal["entries"] else {
            Issue.record("no entries")
            return
        }
        #expect(entries.map { $0["status"] } == [.number("429"), .number("429"), .number("200")])
    }

    @Test func refusesAnErrorTheOperationCannotAnswer() {
        let response = send("POST", "/_healthimaging/faults", body: """
            {"operation": "ListImageSetVersions", "error": {"code": "ServiceQuotaExceededException"}}
            """)
        #expect(response.status == 400)
        #expect(String(decoding: response.body, as: UTF8.self).contains("$.error.code"))
        #expect(emulator.faults.values.allSatisfy { $0.rules.isEmpty })
    }

    @Test func probabilityDrawsRepeatForASeed() {
        func firings(seed: UInt64) -> [Bool] {
            var engine = FaultEngine()
            engine.reseed(seed)
            _ = engine.add([FaultRule(id: "", operation: "GetImageSet", error: APIError(.throttling, "x"), latencyMillis: 0, remaining: nil, probability: 0.5)])
            return (0..<32).map { _ in engine.fire(operation: "GetImageSet", parameters: [:]) != nil }
        }
        #expect(firings(seed: 7) == firings(seed: 7))
        #expect(firings(seed: 7) != firings(seed: 8))
        #expect(firings(seed: 7).contains(true) && firings(seed: 7).contains(false))
    }

    @Test func exportResetLoadRoundTrips() throws {
        let before = send("POST", listPath).body
        let exported = send("GET", "/_healthimaging/fixtures").body
        #expect(send("POST", "/_healthimaging/reset", body: "{\"to\": \"empty\"}").status == 200)
        #expect(send("POST", listPath).status == 404)
        #expect(send("POST", "/_healthimaging/fixtures", body: String(decoding: exported, as: UTF8.self)).status == 201)
        #expect(send("POST", listPath).body == before)
        #expect(send("GET", "/_healthimaging/fixtures").body == exported)
    }

    @Test func cachedReadsFollowEveryWrite() throws {
        let first = send("POST", listPath).body
        #expect(send("POST", listPath).body == first)
        // a write through the control plane
        let patch = "/_healthimaging/datastores/12345678901234567890123456789012/imageSets/ea92b0d8838c72a3f25d00d13616f87e/versions/1"
        #expect(send("PATCH", patch, body: "{\"imageSetState\": \"DELETED\"}").status == 200)
        let second = send("POST", listPath).body
        #expect(second != first)
        #expect(String(decoding: second, as: UTF8.self).contains("\"DELETED\""))
        // a write straight into the store
        let key = try #require(try emulator.store.imageSetKey(emulator.defaultNamespace, "12345678901234567890123456789012", "ea92b0d8838c72a3f25d00d13616f87e"))
        try emulator.store.insertVersion(imageSet: key, ImageSetVersion(imageSetId: "ea92b0d8838c72a3f25d00d13616f87e", versionId: 3, state: .locked))
        #expect(String(decoding: send("POST", listPath).body, as: UTF8.self).contains("\"versionId\":\"3\""))
        // a reset, then a load of the same state, answers as before the writes
        #expect(send("POST", "/_healthimaging/reset", body: "{\"to\": \"startup\"}").status == 200)
        #expect(send("POST", listPath).body == first)
    }

    @Test func credentialsPickTheNamespace() {
        let fallback = Namespace(account: "123456789012", region: "us-east-1")
        let signed = "AWS4-HMAC-SHA256 Credential=111122223333/20230101/eu-west-1/medical-imaging/aws4_request, SignedHeaders=host, Signature=abc"
        #expect(Credentials.namespace(authorization: signed, presignedCredential: nil, default: fallback)
            == Namespace(account: "111122223333", region: "eu-west-1"))
        let test = "AWS4-HMAC-SHA256 Credential=test/20230101/us-west-2/medical-imaging/aws4_request, SignedHeaders=host, Signature=abc"
        #expect(Credentials.namespace(authorization: test, presignedCredential: nil, default: fallback)
            == Namespace(account: "123456789012", region: "us-west-2"))
        #expect(Credentials.namespace(authorization: nil, presignedCredential: nil, default: fallback) == fallback)
        // The account bits of an AKIA/ASIA key id (the same decoding as LocalStack and published research).
        #expect(Credentials.account(accessKeyId: "ASIAY34FZKBOKMUTVV7A") == "609629065308")
    }
}
