import CLibevent
import Logging
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

    private let base: OpaquePointer
    private let http: OpaquePointer
    private var signalEvents: [OpaquePointer] = []
    /// Read events added by `watch`, with the callbacks they call (retained here, freed with the loop).
    private var watchedEvents: [(event: OpaquePointer, callback: Watcher)] = []
    private let handler: Handler
    private let gates: ConnectionGates
    private var requestIds = RequestIdGenerator()
    private var acceptBackoff: AcceptBackoff?
    public private(set) var port: Int = 0
    public let host: String
    public let limits: RequestHead.Limits

    /// `handleSignals: false` leaves SIGTERM / SIGINT alone (a server embedded in another process, such as the
    /// in-process test server, which stops through its own event instead).
    public init(host: String, port: Int, limits: RequestHead.Limits = .init(), handleSignals: Bool = true,
                logger: Logger = Logger(label: "healthimaging-local"), handler: @escaping Handler) throws {
        guard let base = event_base_new() else { throw HTTPServerError(description: "event_base_new failed") }
        guard let http = evhttp_new(base) else {
            event_base_free(base)
            throw HTTPServerError(description: "evhttp_new failed")
        }
        self.base = base
        self.http = http
        self.handler = handler
        self.host = host
        self.limits = limits
        gates = ConnectionGates(limits: limits)
        // A write to a connection the client already closed must fail with EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)

        // Every connection reads through a gate (ConnectionGate) that checks each request head's framing
        // before libevent parses it, and refuses in JSON what libevent would misread or answer in HTML.
        // libevent's own limits below are the same ones, as a second line: the gate answers first.
        evhttp_set_bevcb(http, { base, context in
            guard let base, let context else { return nil }
            return ConnectionGate.make(base: base, registry: Unmanaged<ConnectionGates>.fromOpaque(context).takeUnretainedValue())
        }, Unmanaged.passUnretained(gates).toOpaque())
        var methods = UInt16(0)
        for method in [EVHTTP_REQ_GET, EVHTTP_REQ_POST, EVHTTP_REQ_PUT, EVHTTP_REQ_DELETE, EVHTTP_REQ_PATCH, EVHTTP_REQ_HEAD] {
            methods |= UInt16(method.rawValue)
        }
        evhttp_set_allowed_methods(http, methods)
        evhttp_set_max_headers_size(http, limits.maxHeadBytes)
        // > evhttp_set_max_body_size: XXX Document.   (http.h; a body past it is refused while it is read)
        evhttp_set_max_body_size(http, limits.maxBodyBytes)
        // > evhttp_set_timeout_tv: Set the timeout for an HTTP request.  (the read and write timeout of every
        // > connection: a head not complete, an idle keep-alive connection, a stalled write)
        let seconds = limits.headerTimeoutSeconds
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        evhttp_set_timeout_tv(http, &timeout)
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
        if let listener = evhttp_bound_socket_get_listener(handle) {
            acceptBackoff = AcceptBackoff(listener: listener, base: base, logger: logger)
        }
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
        acceptBackoff?.close()
        for event in signalEvents { event_free(event) }
        for watched in watchedEvents { event_free(watched.event) }
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

    /// Which requests stream their body to a temporary file instead of memory (`Request.bodyFile`): given
    /// method and path, the body limit, or nil for an ordinary body (`limits.maxBodyBytes`, in memory). Only
    /// these requests may send `Transfer-Encoding: chunked`. Set it before `run()`.
    public var streamsBody: RequestHead.StreamsBody? {
        get { gates.streamsBody }
        set { gates.streamsBody = newValue }
    }

    /// Where streamed bodies are written (default `$TMPDIR`, else /tmp); each file is removed once its
    /// request's reply is sent.
    public var bodyDirectory: String {
        get { gates.bodyDirectory }
        set { gates.bodyDirectory = newValue }
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

    /// Calls `callback` on the loop whenever `fd` is readable (the import worker's wake-up pipe).
    public func watch(fd: Int32, _ callback: @escaping () -> Void) {
        let watcher = Watcher(callback)
        guard let event = event_new(base, fd, Int16(EV_READ | EV_PERSIST), { _, _, context in
            guard let context else { return }
            Unmanaged<Watcher>.fromOpaque(context).takeUnretainedValue().callback()
        }, Unmanaged.passUnretained(watcher).toOpaque()) else { return }
        event_add(event, nil)
        watchedEvents.append((event, watcher))
    }

    /// Stops the loop after a short delay, so that a reply queued by the current handler still goes out.
    public func stop() {
        var delay = timeval(tv_sec: 0, tv_usec: 10_000)
        event_base_loopexit(base, &delay)
    }

    // MARK: requests

    private func handle(_ raw: OpaquePointer) {
        var request = Self.read(raw)
        let gate = gates.gate(for: raw)
        // HEAD is answered as GET without the body, with the GET's Content-Length.
        var head = request.method == "HEAD"
        if head { request.method = "GET" }
        if request.header(ConnectionGates.markerHeader) != nil {
            // A head the gate refused: answer its error. A client cannot forge the marker (it carries the
            // gate's secret), and a request that tries is refused like any other unreadable one.
            if let gate, request.header(ConnectionGates.markerHeader) == gates.secret, !gate.refusals.isEmpty {
                let refused = gate.refusals.removeFirst()
                request.refusal = refused.error
                head = refused.head
            } else {
                request.refusal = APIError(.badRequest, "Malformed HTTP request: reserved header \(ConnectionGates.markerHeader)")
            }
        }
        if request.refusal == nil, request.header(ConnectionGates.bodyMarkerHeader) != nil {
            // A streamed body: the gate wrote it to a file and handed on the head without its framing headers.
            if let gate, request.header(ConnectionGates.bodyMarkerHeader) == gates.secret, !gate.bodies.isEmpty {
                let body = gate.bodies.removeFirst()
                request.headers.removeAll { $0.name.caseInsensitiveCompare(ConnectionGates.bodyMarkerHeader) }
                request.headers.removeAll { $0.name.caseInsensitiveCompare("Content-Length") }
                request.headers += body.headers.map { ($0.name, $0.value) }
                request.bodyFile = body.file
            } else {
                request.refusal = APIError(.badRequest, "Malformed HTTP request: reserved header \(ConnectionGates.bodyMarkerHeader)")
            }
        }
        let close = request.refusal != nil || Self.wantsClose(request)
        // A refused request never reaches the application: answered here, with a request id like any answer.
        let bodyFile = request.bodyFile
        let reply = request.refusal.map { error -> Reply in
            var response = error.response
            response.headers.append(("x-amzn-RequestId", requestIds.next()))
            return Reply(response)
        } ?? handler(request)
        let outgoing = Outgoing(request: raw, response: reply.response, head: head, close: close)
        if let start = reply.start {
            start(Responder(server: self, outgoing: outgoing, delayMillis: reply.delayMillis, edits: reply.edits,
                            bodyFile: bodyFile))
        } else {
            transmit(outgoing, afterMillis: reply.delayMillis, bodyFile: bodyFile)
        }
    }

    /// Sends an answer now, or after `afterMillis` (injected latency), then removes the request's body file.
    func transmit(_ outgoing: Outgoing, afterMillis delay: Int, bodyFile: BodyFile?) {
        guard delay > 0 else {
            Self.send(outgoing, gate: gates.gate(for: outgoing.request))
            bodyFile?.remove()
            return
        }
        after(milliseconds: delay) { [weak self] in
            if let self { Self.send(outgoing, gate: self.gates.gate(for: outgoing.request)) }
            bodyFile?.remove()
        }
    }

    /// Calls `callback` once on the loop after `milliseconds` (loop thread only). A callback still waiting
    /// when the server is freed never runs.
    public func after(milliseconds: Int, _ callback: @escaping () -> Void) {
        let timer = Unmanaged.passRetained(Watcher(callback))
        var delay = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        // > event_base_once: Schedule a one-time event ... The callback will be invoked exactly once.
        // https://libevent.org/doc/event_8h.html (so the retained watcher is released there, exactly once)
        event_base_once(base, -1, Int16(EV_TIMEOUT), { _, _, context in
            guard let context else { return }
            Unmanaged<Watcher>.fromOpaque(context).takeRetainedValue().callback()
        }, timer.toOpaque(), &delay)
    }

    /// Whether the client asked for the connection to close after this answer (HTTP/1.0 arrives from the
    /// gate as 1.1 with `Connection: close` spelled out).
    private static func wantsClose(_ request: Request) -> Bool {
        request.headers.contains { header in
            header.name.caseInsensitiveCompare("Connection")
                && header.value.lowercased().split(separator: ",").contains { $0.trimmingSpaces == "close" }
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

    /// One answer on its way out.
    struct Outgoing {
        let request: OpaquePointer
        let response: Response
        /// Headers only (HEAD), with the Content-Length the body would have.
        let head: Bool
        /// The connection's last answer.
        let close: Bool

        func with(_ response: Response) -> Outgoing {
            Outgoing(request: request, response: response, head: head, close: close)
        }
    }

    private static func send(_ outgoing: Outgoing, gate: ConnectionGate?) {
        let raw = outgoing.request
        let response = outgoing.response
        if let output = evhttp_request_get_output_headers(raw) {
            for header in response.headers where !header.name.caseInsensitiveCompare("Content-Length") {
                evhttp_add_header(output, header.name, header.value)
            }
            // Always given (libevent adds one only for HTTP/1.1 answers that carry a body).
            evhttp_add_header(output, "Content-Length", String(response.body.count))
            if outgoing.close {
                if let gate {
                    // evhttp must not close by itself (see ConnectionGate): it never sees a close — not in the
                    // request, nor in this header, whose trailing space (optional whitespace to HTTP, not to
                    // evhttp's exact comparison) keeps it from noticing — and the gate closes once written.
                    if let input = evhttp_request_get_input_headers(raw) {
                        while evhttp_remove_header(input, "Connection") == 0 {}
                    }
                    evhttp_add_header(output, "Connection", "close ")
                    gate.closeAfterResponse = true
                } else {
                    evhttp_add_header(output, "Connection", "close")
                }
            }
        }
        let buffer = evbuffer_new()
        if !outgoing.head {
            response.body.withUnsafeBytes { bytes in
                if let address = bytes.baseAddress, bytes.count > 0 { evbuffer_add(buffer, address, bytes.count) }
            }
        }
        evhttp_send_reply(raw, Int32(response.status), Response.reason(response.status), buffer)
        evbuffer_free(buffer)
        gate?.answered()
    }
}

/// A callback of `HTTPServer.watch` (kept alive by the server) or `after` (kept alive by its timer).
private final class Watcher {
    let callback: () -> Void
    init(_ callback: @escaping () -> Void) { self.callback = callback }
}

@available(*, unavailable)
extension HTTPServer: Sendable {}
