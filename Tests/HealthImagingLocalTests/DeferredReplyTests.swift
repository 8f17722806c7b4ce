import Foundation
import Testing
@testable import HealthImagingLocal
@testable import HealthImagingHTTP

/// Deferred replies (`Reply.deferred`, `Responder`) on a bare `HTTPServer`: the connection is held until
/// `send`, pipelined requests wait their turn, and a `send` after the client left is a no-op.
@Suite(.serialized) struct DeferredReplyTests {
    /// `/later?ms=N` answers N ms after the handler returned; `/now` at once; `/drop` loses its responder.
    final class Log: @unchecked Sendable {  // written on the loop thread, read after the loop has answered
        private let lock = NSLock()
        private var entries: [String] = []
        func add(_ entry: String) { lock.lock(); entries.append(entry); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return entries }
    }

    static func server(_ log: Log) throws -> TestHTTPServer {
        try TestHTTPServer { server, request in
            switch request.path {
            case "/later":
                let millis = Int(request.query("ms") ?? "0") ?? 0
                var reply = Reply.deferred { responder in
                    log.add("start \(request.query("tag") ?? "")")
                    server.after(milliseconds: millis) {
                        responder.send(Response(status: 201, json: Array("{\"tag\":\"\(request.query("tag") ?? "")\"}".utf8)))
                        log.add("sent \(request.query("tag") ?? "")")
                    }
                }
                reply.edit { $0.headers.append(("X-Edited", "yes")) }
                return reply
            case "/drop":
                return .deferred { _ in log.add("dropped") }
            default:
                return Reply(Response(status: 200, json: Array("{\"now\":true}".utf8)))
            }
        }
    }

    @Test func theConnectionIsHeldUntilSendAndStaysUsable() throws {
        let log = Log()
        let server = try Self.server(log)
        defer { server.stop() }
        let connection = try server.connect()
        let began = ContinuousClock.now
        connection.send("GET /later?ms=200&tag=a HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = try #require(connection.answer())
        #expect(ContinuousClock.now - began >= .milliseconds(190))
        #expect(answer.status == 201)
        #expect(answer.body == #"{"tag":"a"}"#)
        #expect(answer.headers["x-edited"] == "yes")
        #expect(answer.headers["content-length"] == "11")
        // Keep-alive: the same connection answers the next request.
        connection.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.answer()?.status == 200)
        #expect(log.all == ["start a", "sent a"])
    }

    @Test func pipelinedRequestsBehindADeferredReplyAreAnsweredInOrder() throws {
        let server = try Self.server(Log())
        defer { server.stop() }
        let connection = try server.connect()
        connection.send("GET /later?ms=150&tag=first HTTP/1.1\r\nHost: x\r\n\r\nGET /now HTTP/1.1\r\nHost: x\r\n\r\n"
                        + "GET /later?ms=10&tag=third HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.answer()?.body == #"{"tag":"first"}"#)
        #expect(connection.answer()?.body == #"{"now":true}"#)
        #expect(connection.answer()?.body == #"{"tag":"third"}"#)
    }

    @Test func headOfADeferredReplyHasNoBody() throws {
        let server = try Self.server(Log())
        defer { server.stop() }
        let connection = try server.connect()
        connection.send("HEAD /later?ms=20&tag=h HTTP/1.1\r\nHost: x\r\n\r\nGET /now HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try #require(connection.answer(head: true))
        #expect(head.status == 201)
        #expect(head.headers["content-length"] == "11")
        // The next answer starts right after the head: no body bytes in between.
        #expect(connection.answer()?.body == #"{"now":true}"#)
    }

    @Test func sendAfterTheClientLeftIsANoOp() throws {
        let log = Log()
        let server = try Self.server(log)
        defer { server.stop() }
        for tag in ["gone1", "gone2", "gone3"] {
            let leaving = try server.connect()
            leaving.send("GET /later?ms=100&tag=\(tag) HTTP/1.1\r\nHost: x\r\n\r\n")
            _ = leaving  // closed here, before the reply is sent
        }
        Thread.sleep(forTimeInterval: 0.4)
        #expect(log.all.filter { $0.hasPrefix("sent") }.count == 3)
        let connection = try server.connect()
        connection.send("GET /now HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(connection.answer()?.status == 200)
    }

    @Test func aResponderDroppedUnsentAnswers500() throws {
        let log = Log()
        let server = try Self.server(log)
        defer { server.stop() }
        let connection = try server.connect()
        connection.send("GET /drop HTTP/1.1\r\nHost: x\r\n\r\n")
        let answer = try #require(connection.answer())
        #expect(answer.status == 500)
        #expect(answer.headers["x-amzn-errortype"] == "InternalServerException")
        #expect(log.all == ["dropped"])
    }
}
