import CLibevent
#if canImport(Glibc)
import Glibc
#endif

public struct HTTPServerError: Error, CustomStringConvertible {
    public let description: String
}

/// The HTTP server: one libevent `event_base` with an `evhttp` on it, run on the calling thread.
/// Not Sendable: every evhttp object belongs to the thread that runs `run()`.
public final class HTTPServer {
    public typealias Handler = (Request) -> Reply

    /// Hard safety nets enforced by libevent itself, which answers past them with its own page and closes
    /// the connection. The application's (much lower) limits answer JSON before these are reached.
    public static let hardHeaderLimit = 16 << 20
    public static let hardBodyLimit = 256 << 20

    private let base: OpaquePointer
    private let http: OpaquePointer
    private var signalEvents: [OpaquePointer] = []
    private let handler: Handler
    public private(set) var port: Int = 0
    public let host: String

    /// `handleSignals: false` leaves SIGTERM / SIGINT alone (a server embedded in another process, such as the
    /// in-process test server, which stops through its own event instead).
    public init(host: String, port: Int, handleSignals: Bool = true, handler: @escaping Handler) throws {
        guard let base = event_base_new() else { throw HTTPServerError(description: "event_base_new failed") }
        guard let http = evhttp_new(base) else {
            event_base_free(base)
            throw HTTPServerError(description: "evhttp_new failed")
        }
        self.base = base
        self.http = http
        self.handler = handler
        self.host = host

        // Accept every method, including ones libevent does not know (it passes those on as an unknown
        // command), so that the application answers a wrong method in JSON instead of libevent's 501 page.
        evhttp_set_allowed_methods(http, 0xFFFF)
        evhttp_set_max_headers_size(http, Int(Self.hardHeaderLimit))
        evhttp_set_max_body_size(http, Int(Self.hardBodyLimit))
        evhttp_set_timeout(http, 120)
        evhttp_set_default_content_type(http, "application/json")

        evhttp_set_gencb(http, { request, context in
            guard let request, let context else { return }
            Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().handle(request)
        }, Unmanaged.passUnretained(self).toOpaque())

        // > evhttp_bind_socket_with_handle: Like evhttp_bind_socket(), but returns a handle for referencing
        // > the socket. https://libevent.org/doc/http_8h.html
        guard let handle = evhttp_bind_socket_with_handle(http, host, UInt16(clamping: port)) else {
            evhttp_free(http)
            event_base_free(base)
            throw HTTPServerError(description: "cannot listen on \(host):\(port) (\(String(cString: strerror(errno))))")
        }
        self.port = Self.boundPort(evhttp_bound_socket_get_fd(handle)) ?? port
        for signal in handleSignals ? [SIGTERM, SIGINT] : [] {
            let event = event_new(base, signal, Int16(EV_SIGNAL | EV_PERSIST), { _, _, context in
                guard let context else { return }
                event_base_loopexit(OpaquePointer(context), nil)
            }, UnsafeMutableRawPointer(base))
            if let event {
                event_add(event, nil)
                signalEvents.append(event)
            }
        }
    }

    deinit {
        for event in signalEvents { event_free(event) }
        // The evhttp goes before the event_base it lives on.
        evhttp_free(http)
        event_base_free(base)
    }

    private static func boundPort(_ fd: Int32) -> Int? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let ok = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard ok == 0 else { return nil }
        switch Int32(storage.ss_family) {
        case AF_INET:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
            }
        case AF_INET6:
            return withUnsafePointer(to: &storage) {
                $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin6_port)) }
            }
        default: return nil
        }
    }

    /// The libevent base the server runs on, for code that adds its own events (the in-process test server's
    /// cross-thread stop). Use it only from the thread that runs `run()`, before or during the loop.
    public var eventBase: OpaquePointer { base }

    /// The endpoint URL clients use.
    public var url: String {
        let shown = host.contains(":") ? "[\(host)]" : host
        return "http://\(shown):\(port)"
    }

    /// Runs the loop until SIGTERM / SIGINT (handled from the moment the server exists, so a signal sent right
    /// after the URL line is printed still stops it cleanly) or `stop()`.
    public func run() {
        event_base_dispatch(base)
    }

    /// Stops the loop after a short delay, so that a reply queued by the current handler still goes out.
    public func stop() {
        var delay = timeval(tv_sec: 0, tv_usec: 10_000)
        event_base_loopexit(base, &delay)
    }

    // MARK: requests

    private func handle(_ raw: OpaquePointer) {
        let request = Self.read(raw)
        let reply = handler(request)
        if reply.delayMillis > 0 {
            let pending = Unmanaged.passRetained(PendingReply(request: raw, response: reply.response))
            var delay = timeval(tv_sec: reply.delayMillis / 1000, tv_usec: Int((reply.delayMillis % 1000) * 1000))
            event_base_once(base, -1, Int16(EV_TIMEOUT), { _, _, context in
                guard let context else { return }
                let pending = Unmanaged<PendingReply>.fromOpaque(context).takeRetainedValue()
                HTTPServer.send(pending.response, to: pending.request)
            }, pending.toOpaque(), &delay)
        } else {
            Self.send(reply.response, to: raw)
        }
    }

    private static func read(_ raw: OpaquePointer) -> Request {
        let method: String
        switch evhttp_request_get_command(raw) {
        case EVHTTP_REQ_GET: method = "GET"
        case EVHTTP_REQ_POST: method = "POST"
        case EVHTTP_REQ_HEAD: method = "HEAD"
        case EVHTTP_REQ_PUT: method = "PUT"
        case EVHTTP_REQ_DELETE: method = "DELETE"
        case EVHTTP_REQ_OPTIONS: method = "OPTIONS"
        case EVHTTP_REQ_TRACE: method = "TRACE"
        case EVHTTP_REQ_CONNECT: method = "CONNECT"
        case EVHTTP_REQ_PATCH: method = "PATCH"
        default: method = "UNKNOWN"
        }
        let uri = evhttp_request_get_uri(raw).map { String(cString: $0) } ?? "/"
        var headers: [(name: String, value: String)] = []
        if let list = evhttp_request_get_input_headers(raw) {
            var entry = hil_evkeyvalq_first(list)
            while let current = entry {
                headers.append((String(cString: current.pointee.key), String(cString: current.pointee.value)))
                entry = hil_evkeyval_next(current)
            }
        }
        var body: [UInt8] = []
        if let input = evhttp_request_get_input_buffer(raw) {
            let length = evbuffer_get_length(input)
            if length > 0 {
                body = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                    count = Int(evbuffer_remove(input, buffer.baseAddress, length))
                }
            }
        }
        return Request(method: method, uri: uri, headers: headers, body: body)
    }

    private static func send(_ response: Response, to raw: OpaquePointer) {
        if let output = evhttp_request_get_output_headers(raw) {
            for header in response.headers {
                evhttp_add_header(output, header.name, header.value)
            }
        }
        let buffer = evbuffer_new()
        response.body.withUnsafeBytes { bytes in
            if let address = bytes.baseAddress, bytes.count > 0 { evbuffer_add(buffer, address, bytes.count) }
        }
        evhttp_send_reply(raw, Int32(response.status), Response.reason(response.status), buffer)
        evbuffer_free(buffer)
    }
}

/// A reply held back by injected latency. Owned by the timer callback (retained until it fires).
private final class PendingReply {
    let request: OpaquePointer
    let response: Response

    init(request: OpaquePointer, response: Response) {
        self.request = request
        self.response = response
    }
}

@available(*, unavailable)
extension HTTPServer: Sendable {}
