import Foundation
import Glibc
@testable import HealthImagingLocal
@testable import HealthImagingHTTP

/// A bare `HTTPServer` on its own thread with a test handler (no emulator), and a raw-socket client: for
/// tests of the HTTP room itself (deferred replies, streamed bodies). The handler gets the server, for its
/// timers.
final class TestHTTPServer: @unchecked Sendable {  // `port` is written once before `start` returns; the rest is the loop thread's
    typealias Handler = (HTTPServer, Request) -> Reply
    private(set) var port = 0
    private let stopPipe: (read: Int32, write: Int32)
    private let done = DispatchSemaphore(value: 0)

    /// `refused` answers what the server refuses itself; by default as the emulator does (its rest-json error).
    init(limits: RequestHead.Limits = .init(), streamsBody: RequestHead.StreamsBody? = nil,
         refused: @escaping HTTPServer.Refuser = { APIError($0).response }, _ handler: @escaping Handler) throws {
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw HTTPServerError(description: "pipe failed") }
        stopPipe = (fds[0], fds[1])
        let ready = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var failure: Error?
        nonisolated(unsafe) let handler = handler
        nonisolated(unsafe) let streamsBody = streamsBody
        nonisolated(unsafe) let refused = refused
        let thread = Thread { [self] in
            defer { done.signal() }
            let server: HTTPServer
            do {
                nonisolated(unsafe) var own: HTTPServer?
                server = try HTTPServer(host: "127.0.0.1", port: 0, limits: limits, handleSignals: false,
                                        refused: refused) { request in
                    handler(own!, request)
                }
                own = server
                server.streamsBody = streamsBody
            } catch {
                failure = error
                ready.signal()
                return
            }
            port = server.port
            server.watch(fd: stopPipe.read) { server.stop() }
            ready.signal()
            server.run()
        }
        thread.start()
        ready.wait()
        if let failure { throw failure }
    }

    func stop() {
        var byte: UInt8 = 1
        _ = write(stopPipe.write, &byte, 1)
        done.wait()
        close(stopPipe.read)
        close(stopPipe.write)
    }

    /// A connection to the server.
    func connect() throws -> RawConnection { try RawConnection(port: port) }
}

/// One client socket: send bytes, read answers (`Content-Length` framed), tell EOF.
final class RawConnection {
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var eof = false

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = UInt16(port).bigEndian
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard ok == 0 else { throw HTTPServerError(description: "connect failed") }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close(fd) }

    func send(_ text: String) { send(Array(text.utf8)) }

    func send(_ bytes: [UInt8]) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            sent += n
        }
    }

    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = recv(fd, &chunk, chunk.count, 0)
        if n <= 0 {
            eof = true
            return false
        }
        buffer.append(contentsOf: chunk[..<n])
        return true
    }

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    /// The next answer; nil when the connection ends (or 10 s pass) first.
    func answer(head: Bool = false) -> Answer? {
        let separator: [UInt8] = [13, 10, 13, 10]
        var end: Int?
        while true {
            if buffer.count >= 4, let index = (0...(buffer.count - 4)).first(where: { Array(buffer[$0..<$0 + 4]) == separator }) {
                end = index
                break
            }
            if !fill() { return nil }
        }
        guard let end else { return nil }
        let lines = String(decoding: buffer[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines[0].split(separator: " ")[1]) ?? 0
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let length = head ? 0 : Int(headers["content-length"] ?? "0") ?? 0
        while buffer.count < end + 4 + length {
            if !fill() { return nil }
        }
        let body = String(decoding: buffer[(end + 4)..<(end + 4 + length)], as: UTF8.self)
        buffer.removeFirst(end + 4 + length)
        return Answer(status: status, headers: headers, body: body)
    }

    /// Whether the server closes the connection with nothing more sent.
    func closedByServer() -> Bool {
        while buffer.isEmpty {
            if !fill() { return eof && buffer.isEmpty }
        }
        return false
    }
}
