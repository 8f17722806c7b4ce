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
    /// The answer to a request the HTTP layer refuses itself (`HTTPRefusal`): the application's error shape.
    public typealias Refuser = (HTTPRefusal) -> Response

    private let base: OpaquePointer
    private let http: OpaquePointer
    private var signalEvents: [OpaquePointer] = []
    /// Read events added by `watch`, with the callbacks they call (retained here, freed with the loop).
    private var watchedEvents: [(event: OpaquePointer, callback: Watcher)] = []
    private let handler: Handler
    private let gates: ConnectionGates
    /// How refusals are answered (`Refuser`).
    let refused: Refuser
    private var date = HTTPDate()
    private var acceptBackoff: AcceptBackoff?
    public private(set) var port: Int = 0
    public let host: String
    public let limits: RequestHead.Limits

    /// `handleSignals: false` leaves SIGTERM / SIGINT alone (a server embedded in another process, such as the
    /// in-process test server, which stops through its own event instead). `refused` answers what the server
    /// refuses before the handler (plain text unless given).
    public init(host: String, port: Int, limits: RequestHead.Limits = .init(), handleSignals: Bool = true,
                logger: Logger = Logger(label: "healthimaging-local"),
                refused: @escaping Refuser = { $0.plainResponse }, handler: @escaping Handler) throws {
        // > EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST: ... tells the epoll backend to use a "changelist" so that
        // > it can combine multiple changes to the same fd into a single epoll_ctl call, or none at all when
        // > an event is removed and re-added before the next dispatch.  (event.h)
        // evhttp stops reading a connection while it answers a request and starts again once the answer is
        // queued, on every request: with the changelist that costs no epoll_ctl (the connection keeps its
        // registration). Its caveat (file descriptors shared with dup()) does not apply: each socket is its own.
        guard let config = event_config_new() else { throw HTTPServerError(description: "event_config_new failed") }
        event_config_set_flag(config, Int32(EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST.rawValue))
        let made = event_base_new_with_config(config)
        event_config_free(config)
        guard let base = made else { throw HTTPServerError(description: "event_base_new failed") }
        guard let http = evhttp_new(base) else {
            event_base_free(base)
            throw HTTPServerError(description: "evhttp_new failed")
        }
        self.base = base
        self.http = http
        self.handler = handler
        self.refused = refused
        self.host = host
        self.limits = limits
        gates = ConnectionGates(limits: limits)
        // A write to a connection the client already closed must fail with EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        // > M_MMAP_THRESHOLD: ... Allocations greater than or equal to the limit are satisfied using mmap(2)
        // > ... Note: ... setting this parameter disables the dynamic adjustment of the threshold.  (mallopt(3))
        // Without it, glibc raises the threshold to the size of the largest block freed (up to 32 MiB), so
        // body-sized arrays move into the heap after the first one and their memory is never returned.
        _ = mallopt(M_MMAP_THRESHOLD, 512 * 1024)

        // Every connection reads through a gate (ConnectionGate) that checks each request head's framing
        // before libevent parses it, and refuses (`HTTPRefusal`, in the application's shape) what libevent would
        // misread or answer in HTML.
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
        addPersistent(fd: fd, events: EV_READ | EV_PERSIST, interval: nil, callback)
    }

    /// Calls `callback` on the loop every `milliseconds` (the sweep of due `timed:` transitions).
    public func every(milliseconds: Int, _ callback: @escaping () -> Void) {
        // > event_new(base, -1, EV_PERSIST, …) + event_add(ev, tv): a timer that fires every tv until deleted.
        // > https://libevent.org/doc/event_8h.html
        addPersistent(fd: -1, events: EV_PERSIST,
                      interval: timeval(tv_sec: milliseconds / 1000, tv_usec: (milliseconds % 1000) * 1000), callback)
    }

    /// A persistent event calling `callback` on the loop, kept (with its callback) until the loop is freed.
    private func addPersistent(fd: Int32, events: Int32, interval: timeval?, _ callback: @escaping () -> Void) {
        let watcher = Watcher(callback)
        guard let event = event_new(base, fd, Int16(events), { _, _, context in
            guard let context else { return }
            Unmanaged<Watcher>.fromOpaque(context).takeUnretainedValue().callback()
        }, Unmanaged.passUnretained(watcher).toOpaque()) else { return }
        if var interval {
            event_add(event, &interval)
        } else {
            event_add(event, nil)
        }
        watchedEvents.append((event, watcher))
    }

    /// Stops the loop after a short delay, so that a reply queued by the current handler still goes out.
    public func stop() {
        var delay = timeval(tv_sec: 0, tv_usec: 10_000)
        event_base_loopexit(base, &delay)
    }

    // MARK: requests

    private func handle(_ raw: OpaquePointer) {
        let (read, markers) = Self.read(raw)
        var request = read
        let gate = gates.gate(for: raw)
        // HEAD is answered as GET without the body, with the GET's Content-Length.
        var head = request.method == "HEAD"
        if head { request.method = "GET" }
        if let marker = markers.refused {
            // A head the gate refused: answer its error. A client cannot forge the marker (it carries the
            // gate's secret), and a request that tries is refused like any other unreadable one.
            if let gate, marker == gates.secret, !gate.refusals.isEmpty {
                let refused = gate.refusals.removeFirst()
                request.refusal = refused.error
                head = refused.head
            } else {
                request.refusal = HTTPRefusal(.badRequest, "Malformed HTTP request: reserved header \(ConnectionGates.markerHeader)")
            }
        }
        if request.refusal == nil, let marker = markers.body {
            // A body the gate read (into memory or a file), handed on behind its head without the framing headers.
            if let gate, marker == gates.secret, !gate.bodies.isEmpty {
                let body = gate.bodies.removeFirst()
                request.headers.removeAll { $0.name.caseInsensitiveCompare("Content-Length") }
                for header in body.headers { request.headers.append((header.name, header.value)) }
                switch body.body {
                case .file(let file): request.bodyFile = file
                case .memory(let bytes): request.body = bytes
                }
            } else {
                request.refusal = HTTPRefusal(.badRequest, "Malformed HTTP request: reserved header \(ConnectionGates.bodyMarkerHeader)")
            }
        }
        let close = request.refusal != nil || markers.close
        // A refused request never reaches the application's handler: answered here, in the application's shape.
        let bodyFile = request.bodyFile
        let reply = request.refusal.map { Reply(refused($0)) } ?? handler(request)
        if request.body.count >= Self.largeBody { scheduleTrim() }
        let outgoing = Outgoing(request: raw, response: reply.response, head: head, close: close)
        if let start = reply.start {
            start(Responder(server: self, outgoing: outgoing, delayMillis: reply.delayMillis, edits: reply.edits,
                            bodyFile: bodyFile))
        } else {
            transmit(outgoing, afterMillis: reply.delayMillis, bodyFile: bodyFile)
        }
    }

    /// A body this large is worth giving back to the system once its request is done (`scheduleTrim`).
    static let largeBody = 1 << 20
    private var trimScheduled = false

    /// Returns freed heap memory to the system shortly after large bodies were handled. Their bytes pass
    /// through libevent's buffers in chains of up to a few tens of KiB, below the mmap threshold, so glibc
    /// keeps the freed chains in its heaps; malloc_trim hands the free pages back (RSS returns to where it
    /// was). Coalesced: one trim per 200 ms at most, and none while only small requests come.
    private func scheduleTrim() {
        guard !trimScheduled else { return }
        trimScheduled = true
        after(milliseconds: 200) { [weak self] in
            self?.trimScheduled = false
            // > malloc_trim: attempts to release free memory from the heap (by calling sbrk(2) or madvise(2)
            // > with suitable arguments)... pad = 0: only the minimum amount of memory is maintained at the
            // > top of the heap.  (malloc_trim(3); since glibc 2.8 every arena, not only the top of the heap)
            _ = malloc_trim(0)
        }
    }

    /// Removes the request's body file and sends the answer, now or after `afterMillis` (injected latency).
    func transmit(_ outgoing: Outgoing, afterMillis delay: Int, bodyFile: BodyFile?) {
        // The body file goes first: the answer is complete, and once it is written the client may look.
        guard delay > 0 else {
            bodyFile?.remove()
            send(outgoing, gate: gates.gate(for: outgoing.request))
            return
        }
        after(milliseconds: delay) { [weak self] in
            bodyFile?.remove()
            if let self { self.send(outgoing, gate: self.gates.gate(for: outgoing.request)) }
        }
    }

    /// Calls `callback` once on the loop no sooner than `milliseconds` from now (loop thread only). A callback
    /// still waiting when the server is freed never runs.
    ///
    /// libevent measures a timeout from the time it cached when the loop last woke, which is earlier than now
    /// by whatever ran since; such a timer fires early by that much. So the deadline is taken from the
    /// monotonic clock here, and a timer that fires before it waits again for the rest.
    public func after(milliseconds: Int, _ callback: @escaping () -> Void) {
        let deadline = ContinuousClock.now + .milliseconds(milliseconds)
        once(in: milliseconds) { [weak self] in self?.wait(until: deadline, callback) }
    }

    private func wait(until deadline: ContinuousClock.Instant, _ callback: @escaping () -> Void) {
        let (seconds, attoseconds) = ContinuousClock.now.duration(to: deadline).components
        let millis = Int(seconds) * 1000 + Int((attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000)
        guard millis > 0 else { return callback() }
        once(in: millis) { [weak self] in self?.wait(until: deadline, callback) }
    }

    private func once(in milliseconds: Int, _ callback: @escaping () -> Void) {
        event_base_update_cache_time(base)
        let timer = Unmanaged.passRetained(Watcher(callback))
        var delay = timeval(tv_sec: milliseconds / 1000, tv_usec: Int((milliseconds % 1000) * 1000))
        // > event_base_once: Schedule a one-time event ... The callback will be invoked exactly once.
        // https://libevent.org/doc/event_8h.html (so the retained watcher is released there, exactly once)
        event_base_once(base, -1, Int16(EV_TIMEOUT), { _, _, context in
            guard let context else { return }
            Unmanaged<Watcher>.fromOpaque(context).takeRetainedValue().callback()
        }, timer.toOpaque(), &delay)
    }

    /// What `read` noticed in the headers on the way: the gate's markers (taken out of the request's
    /// headers) and whether the client asked for the connection to close after this answer (HTTP/1.0
    /// arrives from the gate as 1.1 with `Connection: close` spelled out).
    struct Markers {
        var refused: String?
        var body: String?
        var close = false
    }

    private static func read(_ raw: OpaquePointer) -> (Request, Markers) {
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
        var markers = Markers()
        if let list = evhttp_request_get_input_headers(raw) {
            headers.reserveCapacity(8)
            var entry = hil_evkeyvalq_first(list)
            while let current = entry {
                entry = hil_evkeyval_next(current)
                let key = current.pointee.key!, value = current.pointee.value!
                // The few names that matter here are told apart by their C bytes, before any String is made.
                if strcasecmp(key, ConnectionGates.markerHeader) == 0 {
                    markers.refused = String(cString: value)
                    continue
                }
                if strcasecmp(key, ConnectionGates.bodyMarkerHeader) == 0 {
                    markers.body = String(cString: value)
                    continue
                }
                if strcasecmp(key, "Connection") == 0 && Self.listsClose(value) { markers.close = true }
                headers.append((String(cString: key), String(cString: value)))
            }
        }
        var body: [UInt8] = []
        if let input = evhttp_request_get_input_buffer(raw) {
            let length = evbuffer_get_length(input)
            if length > 0 {
                body = [UInt8](unsafeUninitializedCapacity: length) { buffer, count in
                    // Piece by piece: each evbuffer_remove drains — and frees — the chains it copied, so the
                    // body is held once, not twice, while it is copied.
                    // > evbuffer_remove: Read data from an event buffer and drain the bytes read.  (buffer.h)
                    var done = 0
                    while done < length {
                        let piece = evbuffer_remove(input, buffer.baseAddress! + done, min(length - done, 256 * 1024))
                        guard piece > 0 else { break }
                        done += Int(piece)
                    }
                    count = done
                }
            }
        }
        return (Request(method: method, uri: uri, headers: headers, body: body), markers)
    }

    /// Whether a `Connection` value lists the `close` option (case-insensitive, comma-separated, optional
    /// whitespace), read from its C bytes.
    static func listsClose(_ value: UnsafePointer<CChar>) -> Bool {
        var start = value
        while true {
            while start.pointee == 0x20 || start.pointee == 0x09 || start.pointee == 0x2C { start += 1 }
            if start.pointee == 0 { return false }
            var end = start
            while end.pointee != 0 && end.pointee != 0x2C { end += 1 }
            var last = end
            while last > start && ((last - 1).pointee == 0x20 || (last - 1).pointee == 0x09) { last -= 1 }
            if last - start == 5 && strncasecmp(start, "close", 5) == 0 { return true }
            start = end
        }
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

    private func send(_ outgoing: Outgoing, gate: ConnectionGate?) {
        let raw = outgoing.request
        let response = outgoing.response
        if let output = evhttp_request_get_output_headers(raw) {
            for header in response.headers where !header.name.caseInsensitiveCompare("Content-Length") {
                evhttp_add_header(output, header.name, header.value)
            }
            // Always given (libevent adds one only for HTTP/1.1 answers that carry a body), as digits written
            // into a small buffer.
            Self.withDecimal(response.body.count) { evhttp_add_header(output, "Content-Length", $0) }
            // Given, so that evhttp does not format one per answer.
            date.withCurrent { evhttp_add_header(output, "Date", $0) }
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
        // The body goes into the request's own output buffer (no buffer made and freed per answer).
        // > evhttp_send_reply ... databuf: the body of the response (may be NULL)  (http.h; with NULL the
        // > request's output buffer is sent)
        if !outgoing.head, !response.body.isEmpty, let buffer = evhttp_request_get_output_buffer(raw) {
            response.body.withUnsafeBytes { bytes in _ = evbuffer_add(buffer, bytes.baseAddress, bytes.count) }
        }
        if let gate {
            gate.send { evhttp_send_reply(raw, Int32(response.status), Response.reason(response.status), nil) }
            gate.answered()
        } else {
            evhttp_send_reply(raw, Int32(response.status), Response.reason(response.status), nil)
        }
    }

    /// `value` in decimal as a C string, without formatting calls.
    static func withDecimal<T>(_ value: Int, _ body: (UnsafePointer<CChar>) -> T) -> T {
        withUnsafeTemporaryAllocation(of: CChar.self, capacity: 24) { buffer in
            var index = 23
            buffer[index] = 0
            var rest = value.magnitude
            repeat {
                index -= 1
                buffer[index] = CChar(48 + Int(rest % 10))
                rest /= 10
            } while rest > 0
            if value < 0 { index -= 1; buffer[index] = CChar(UInt8(ascii: "-")) }
            return body(buffer.baseAddress! + index)
        }
    }
}

/// A callback of `HTTPServer.watch` (kept alive by the server) or `after` (kept alive by its timer).
private final class Watcher {
    let callback: () -> Void
    init(_ callback: @escaping () -> Void) { self.callback = callback }
}

@available(*, unavailable)
extension HTTPServer: Sendable {}
