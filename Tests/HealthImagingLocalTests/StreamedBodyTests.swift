import Foundation
import Glibc
import Testing
@testable import HealthImagingLocal
@testable import HealthImagingHTTP

/// Streamed request bodies (seam S2) on a bare `HTTPServer`: `/stream` streams (limit 1000 bytes), every
/// other path buffers. The handler answers what it got: the body file's size and text, or the buffered body.
@Suite(.serialized) struct StreamedBodyTests {
    final class Files: @unchecked Sendable {  // written on the loop thread, read after the answer arrived
        private let lock = NSLock()
        private var paths: [String] = []
        func add(_ path: String) { lock.lock(); paths.append(path); lock.unlock() }
        var all: [String] { lock.lock(); defer { lock.unlock() }; return paths }
    }

    static func server(_ files: Files, deferMillis: Int = 0) throws -> TestHTTPServer {
        try TestHTTPServer(streamsBody: { method, path in method == "POST" && path == "/stream" ? 1000 : nil }) { server, request in
            var fields = ["\"memory\":\(request.body.count)"]
            if let file = request.bodyFile {
                files.add(file.path)
                let text = (try? String(contentsOfFile: file.path, encoding: .utf8)) ?? "?"
                fields.append("\"file\":\(file.count),\"text\":\"\(text)\"")
            }
            let framing = request.header("Transfer-Encoding") ?? request.header("Content-Length") ?? "-"
            fields.append("\"framing\":\"\(framing)\"")
            let response = Response(status: 200, json: Array("{\(fields.joined(separator: ","))}".utf8))
            guard deferMillis > 0 else { return Reply(response) }
            return .deferred { responder in
                if let path = request.bodyFile?.path { #expect(access(path, F_OK) == 0) }
                server.after(milliseconds: deferMillis) { responder.send(response) }
            }
        }
    }

    func json(_ answer: RawConnection.Answer?) -> [String: Any] {
        guard let answer, let data = answer.body.data(using: .utf8),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object
    }

    @Test func aContentLengthBodyGoesToAFileThatIsRemovedAfterTheReply() throws {
        let files = Files()
        let server = try Self.server(files)
        defer { server.stop() }
        let connection = try server.connect()
        connection.send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world")
        let answer = json(connection.answer())
        #expect(answer["memory"] as? Int == 0)
        #expect(answer["file"] as? Int == 11)
        #expect(answer["text"] as? String == "hello world")
        #expect(answer["framing"] as? String == "11")
        // The same connection goes on; a buffered route still buffers.
        connection.send("POST /other HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        #expect(json(connection.answer())["memory"] as? Int == 3)
        #expect(files.all.count == 1)
        #expect(files.all.allSatisfy { access($0, F_OK) != 0 })
    }

    @Test func aChunkedBodyWithExtensionsAndTrailersIsDecoded() throws {
        let files = Files()
        let server = try Self.server(files)
        defer { server.stop() }
        let connection = try server.connect()
        connection.send("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                        + "5;name=value\r\nhello\r\n1 ; x\r\n \r\nA;a;b=\"q s\"\r\nchunked!!!\r\n0\r\nX-Checksum: 1\r\nX-Other: 2\r\n\r\n"
                        + "POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        let first = json(connection.answer())
        #expect(first["text"] as? String == "hello chunked!!!")
        #expect(first["file"] as? Int == 16)
        #expect(first["framing"] as? String == "chunked")
        // An empty chunked body: an empty file.
        let second = json(connection.answer())
        #expect(second["file"] as? Int == 0)
        #expect(files.all.allSatisfy { access($0, F_OK) != 0 })
    }

    @Test func aBodyArrivingInPiecesIsStreamedAsItComes() throws {
        let server = try Self.server(Files())
        defer { server.stop() }
        let connection = try server.connect()
        connection.send("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        for piece in ["1", "0\r\n0123", "456789ABCDEF\r", "\n0\r", "\n\r\n"] {
            Thread.sleep(forTimeInterval: 0.02)
            connection.send(piece)
        }
        #expect(json(connection.answer())["text"] as? String == "0123456789ABCDEF")
    }

    @Test func overTheLimitIs413() throws {
        let server = try Self.server(Files())
        defer { server.stop() }
        let byLength = try server.connect()
        byLength.send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n")
        let refused = try #require(byLength.answer())
        #expect(refused.status == 413)
        #expect(refused.headers["x-amzn-errortype"] == "RequestEntityTooLargeException")
        #expect(refused.body.contains("1000 bytes"))
        #expect(byLength.closedByServer())

        let chunked = try server.connect()
        chunked.send("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + "1f4\r\n" + String(repeating: "x", count: 500) + "\r\n1f5\r\n")
        let tooLarge = try #require(chunked.answer())
        #expect(tooLarge.status == 413)
        #expect(tooLarge.headers["content-type"] == "application/json")
        #expect(chunked.closedByServer())
    }

    @Test func malformedChunksAre400() throws {
        let server = try Self.server(Files())
        defer { server.stop() }
        for body in ["x\r\n", "-1\r\n", "\r\n", "5 5\r\n", "10000000000000000\r\n", "5\r\nhelloXX\r\n", "0\r\nbad trailer\r\n\r\n",
                     "3;\u{01}\r\nabc\r\n0\r\n\r\n", "0x5\r\n"] {
            let connection = try server.connect()
            connection.send("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
            let answer = try #require(connection.answer(), "\(body.debugDescription)")
            #expect(answer.status == 400, "\(body.debugDescription)")
            #expect(answer.headers["x-amzn-errortype"] == "BadRequestException")
            #expect(connection.closedByServer())
        }
        // A chunk-size line that never ends.
        let endless = try server.connect()
        endless.send("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;" + String(repeating: "e", count: 5000))
        #expect(endless.answer()?.status == 400)
    }

    @Test func chunkedElsewhereKeepsItsAnswerAndOtherCodingsAreRefused() throws {
        let server = try Self.server(Files())
        defer { server.stop() }
        let elsewhere = try server.connect()
        elsewhere.send("POST /other HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(elsewhere.answer()?.status == 501)
        let gzip = try server.connect()
        gzip.send("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n")
        #expect(gzip.answer()?.status == 501)
        let both = try server.connect()
        both.send("POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n")
        #expect(both.answer()?.status == 400)
        let old = try server.connect()
        old.send("POST /stream HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(old.answer()?.status == 400)
    }

    @Test func expectContinueGetsA100BeforeTheBody() throws {
        let server = try Self.server(Files())
        defer { server.stop() }
        let connection = try server.connect()
        connection.send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n")
        let proceed = try #require(connection.answer(head: true))
        #expect(proceed.status == 100)
        connection.send("abcd")
        #expect(json(connection.answer())["text"] as? String == "abcd")
    }

    @Test func theFileOfADeferredReplyLivesUntilSend() throws {
        let files = Files()
        let server = try Self.server(files, deferMillis: 100)
        defer { server.stop() }
        let connection = try server.connect()
        connection.send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok")
        #expect(json(connection.answer())["text"] as? String == "ok")
        #expect(files.all.count == 1 && access(files.all[0], F_OK) != 0)
        // A client that leaves before the reply: the file goes all the same.
        let leaving = try server.connect()
        leaving.send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi")
        Thread.sleep(forTimeInterval: 0.05)
        _ = leaving
        Thread.sleep(forTimeInterval: 0.3)
        #expect(files.all.count == 2 && access(files.all[1], F_OK) != 0)
    }

    @Test func aBodyCutOffMidwayLeavesNoFile() throws {
        let directory = NSTemporaryDirectory() + "hil-stream-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        setenv("TMPDIR", directory, 1)
        defer { unsetenv("TMPDIR") }
        let server = try Self.server(Files())
        defer { server.stop() }
        do {
            let connection = try server.connect()
            connection.send("POST /stream HTTP/1.1\r\nHost: x\r\nContent-Length: 900\r\n\r\npartial")
            Thread.sleep(forTimeInterval: 0.1)
            #expect(try FileManager.default.contentsOfDirectory(atPath: directory).count == 1)
        }
        Thread.sleep(forTimeInterval: 0.2)
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty)
    }
}
