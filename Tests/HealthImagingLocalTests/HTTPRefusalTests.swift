import Testing
@testable import HealthImagingLocal
@testable import HealthImagingHTTP

/// What the HTTP server refuses itself (here an HTTP/2.0 request line, 400) never reaches the handler, and is
/// answered in the shape the server was given: plain text by default, the emulator's rest-json error with it.
@Suite struct HTTPRefusalTests {
    func refusal(_ refused: HTTPServer.Refuser?) throws -> RawConnection.Answer? {
        let handler: TestHTTPServer.Handler = { _, _ in Reply(Response(status: 200, body: Array("handled".utf8))) }
        let server = try refused.map { try TestHTTPServer(refused: $0, handler) } ?? TestHTTPServer(handler)
        defer { server.stop() }
        let connection = try server.connect()
        connection.send("GET /x HTTP/2.0\r\nHost: h\r\n\r\n")
        return connection.answer()
    }

    @Test func aBareServerAnswersPlainText() throws {
        let answer = try #require(try refusal({ $0.plainResponse }))
        #expect(answer.status == 400)
        #expect(answer.headers["content-type"] == "text/plain; charset=utf-8")
        #expect(answer.headers["x-amzn-errortype"] == nil)
        #expect(!answer.body.isEmpty && answer.body != "handled" && !answer.body.hasPrefix("{"))
    }

    @Test func theEmulatorsShapeIsItsRestJSONError() throws {
        let answer = try #require(try refusal(nil))
        #expect(answer.status == 400)
        #expect(answer.headers["x-amzn-errortype"] == "BadRequestException")
        #expect(answer.body.hasPrefix(#"{"__type":"BadRequestException","message":"#))
    }

    @Test func everyReasonMapsToTheErrorOfItsStatus() {
        for reason in HTTPRefusal.Reason.allCases {
            #expect(APIError(HTTPRefusal(reason, "m")).code.status == reason.status, "\(reason)")
        }
    }
}
