import CLibevent
import Logging
#if canImport(Glibc)
import Glibc
#endif

public struct HTTPServerError: Error, CustomStringConvertible {
    public let description: String
}

/// The HTTP server: one libevent `event_base` with a listener on it, run on the calling thread. Each connection
/// is read and answered by the loop itself (`Connection`): request heads are checked and parsed as bytes, and
/// answers are rendered into one reusable buffer. libevent provides the loop, the listener and the buffers.
/// Not Sendable: every libevent object belongs to the thread that runs `run()`.
public final class HTTPServer {
    public typealias Handler = (Request) -> Reply
    /// The answer to a request the HTTP layer refuses itself (`HTTPRefusal`): the application's error shape.
    public typealias Refuser = (HTTPRefusal) -> Response

    private let base: OpaquePointer
    private var listener: OpaquePointer?
    private var signalEvents: [OpaquePointer] = []
    /// Read events added by `watch`, with the callbacks they call (retained here, freed with the loop).
    private var watchedEvents: [(event: OpaquePointer, callback: Watcher)] = []
    private let handler: Handler
    /// Open connections (each keeps itself registered here until it closes).
    private var connections: [ObjectIdentifier: Connection] = [:]
    /// How refusals are answered (`Refuser`).
    let refused: Refuser
    private var date = HTTPDate()
    /// Where answers are rendered (status line and headers), reused by every answer.
    private var rendered: [UInt8] = []
    private var acceptBackoff: AcceptBackoff?
    public private(set) var port: Int = 0
    public let host: String
    public let limits: RequestHead.Limits
    /// `limits.headerTimeoutSeconds`, as a duration and as a timeval.
    let headerTimeout: Duration
    let timeoutValue: timeval
    /// Where streamed bodies are written (`$TMPDIR`, else /tmp); each file is removed once its reply is sent.
    let bodyDirectory = HTTPServer.defaultBodyDirectory()

    /// `handleSignals: false` leaves SIGTERM / SIGINT alone (a server embedded in another process, such as the
    /// in-process test server, which stops through its own event instead). `refused` answers what the server
    /// refuses before the handler (plain text unless given).
    public init(host: String, port: Int, limits: RequestHead.Limits = .init(), handleSignals: Bool = true,
                logger: Logger = Logger(label: "healthimaging-local"),
                refused: @escaping Refuser = { $0.plainResponse }, handler: @escaping Handler) throws {
        guard let base = event_base_new() else { throw HTTPServerError(description: "event_base_new failed") }
        self.base = base
        self.handler = handler
        self.refused = refused
        self.host = host
        self.limits = limits
        let seconds = limits.headerTimeoutSeconds
        headerTimeout = .milliseconds(Int((seconds * 1000).rounded()))
        timeoutValue = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - seconds.rounded(.down)) * 1_000_000))
        rendered.reserveCapacity(1024)
        // A write to a connection the client already closed must fail with EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        // > M_MMAP_THRESHOLD: ... Allocations greater than or equal to the limit are satisfied using mmap(2)
        // > ... Note: ... setting this parameter disables the dynamic adjustment of the threshold.  (mallopt(3))
        // Without it, glibc raises the threshold to the size of the largest block freed (up to 32 MiB), so
        // body-sized arrays move into the heap after the first one and their memory is never returned.
        _ = mallopt(M_MMAP_THRESHOLD, 512 * 1024)

        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE
        var found: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &found)
        guard status == 0, let address = found else {
            event_base_free(base)
            throw HTTPServerError(description: "cannot listen on \(host):\(port) (\(String(cString: gai_strerror(status))))")
        }
        defer { freeaddrinfo(found) }
        // > evconnlistener_new_bind: Allocate a new evconnlistener object to listen for incoming TCP connections on
        // > a given address. ... backlog: ... If it's -1, libevent will try to pick a good value  (listener.h).
        // Accepted sockets come non-blocking and close-on-exec (accept4).
        let flags = LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC
        listener = evconnlistener_new_bind(base, { _, fd, _, _, context in
            guard let context else { return }
            Unmanaged<HTTPServer>.fromOpaque(context).takeUnretainedValue().accepted(fd)
        }, Unmanaged.passUnretained(self).toOpaque(), UInt32(flags), -1, address.pointee.ai_addr,
            Int32(address.pointee.ai_addrlen))
        guard let listener else {
            let reason = String(cString: strerror(errno))
            event_base_free(base)
            throw HTTPServerError(description: "cannot listen on \(host):\(port) (\(reason))")
        }
        self.port = Self.boundPort(evconnlistener_get_fd(listener)) ?? port
        acceptBackoff = AcceptBackoff(listener: listener, base: base, logger: logger)
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

    /// `$TMPDIR`, else /tmp.
    static func defaultBodyDirectory() -> String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }

    private func accepted(_ fd: Int32) {
        // Each answer leaves in one write, so Nagle's algorithm would only hold back the second of two pipelined
        // answers (or the tail of a large one) until the client's delayed ACK.
        var on: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &on, socklen_t(MemoryLayout<Int32>.size))
        guard let connection = Connection(server: self, fd: fd) else {
            Glibc.close(fd)
            return
        }
        connections[ObjectIdentifier(connection)] = connection
        connection.start(base: base)
    }

    /// A connection closed itself: forget it.
    func closed(_ connection: Connection) {
        connections[ObjectIdentifier(connection)] = nil
    }

    deinit {
        acceptBackoff?.close()
        if let listener { evconnlistener_free(listener) }
        let open = connections.values
        connections = [:]
        for connection in open { connection.close(notifying: false) }
        for event in signalEvents { event_free(event) }
        for watched in watchedEvents { event_free(watched.event) }
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
    public var streamsBody: RequestHead.StreamsBody?

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

    /// A request from `connection` (or a refusal of its head: `request.refusal`): answered now, or later by a
    /// deferred reply. A HEAD is answered as the GET it names, without the body; `close`: the connection's last
    /// answer.
    func handle(_ request: Request, close: Bool, connection: Connection) {
        var request = request
        let head = request.method == "HEAD"
        if head { request.method = "GET" }
        // A refused request never reaches the application's handler: answered here, in the application's shape.
        let bodyFile = request.bodyFile
        let reply = request.refusal.map { Reply(refused($0)) } ?? handler(request)
        if request.body.count >= Self.largeBody { scheduleTrim() }
        let outgoing = Outgoing(connection: connection, response: reply.response, head: head, close: close)
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
            send(outgoing)
            return
        }
        after(milliseconds: delay) { [weak self] in
            bodyFile?.remove()
            self?.send(outgoing)
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

    /// One answer on its way out.
    struct Outgoing {
        /// Nil once the connection is gone: the answer is then dropped.
        weak var connection: Connection?
        let response: Response
        /// Headers only (HEAD), with the Content-Length the body would have.
        let head: Bool
        /// The connection's last answer.
        let close: Bool

        func with(_ response: Response) -> Outgoing {
            Outgoing(connection: connection, response: response, head: head, close: close)
        }
    }

    /// Renders the answer's status line and headers into `rendered` and writes them with the body.
    private func send(_ outgoing: Outgoing) {
        guard let connection = outgoing.connection, !connection.closed, connection.busy else { return }
        let response = outgoing.response
        rendered.removeAll(keepingCapacity: true)
        Self.appendStatusLine(&rendered, response.status)
        var hasContentType = false
        for header in response.headers where !header.name.caseInsensitiveCompare("Content-Length") {
            if !hasContentType && header.name.caseInsensitiveCompare("Content-Type") { hasContentType = true }
            rendered.append(contentsOf: header.name.utf8)
            rendered.append(contentsOf: Self.colonSpace)
            rendered.append(contentsOf: header.value.utf8)
            rendered.append(contentsOf: Self.lineEnd)
        }
        let status = response.status
        // A body-carrying status without a type is JSON, the API's default.
        if !hasContentType && !outgoing.head && status != 204 && status != 304 && !(100..<200).contains(status) {
            rendered.append(contentsOf: Self.defaultContentType)
        }
        // Always given, written as digits without formatting calls.
        rendered.append(contentsOf: Self.contentLengthName)
        Self.appendDecimal(&rendered, response.body.count)
        rendered.append(contentsOf: Self.lineEnd)
        rendered.append(contentsOf: Self.dateName)
        date.withCurrent { text in
            text.withMemoryRebound(to: UInt8.self, capacity: 30) { rendered.append(contentsOf: UnsafeBufferPointer(start: $0, count: strlen(text))) }
        }
        rendered.append(contentsOf: Self.lineEnd)
        if outgoing.close { rendered.append(contentsOf: Self.connectionClose) }
        rendered.append(contentsOf: Self.lineEnd)
        rendered.withUnsafeBytes { connection.write($0, outgoing.head ? [] : response.body) }
        connection.answered(close: outgoing.close)
    }

    private static let colonSpace: [UInt8] = Array(": ".utf8)
    private static let lineEnd: [UInt8] = [0x0D, 0x0A]
    private static let contentLengthName: [UInt8] = Array("Content-Length: ".utf8)
    private static let dateName: [UInt8] = Array("Date: ".utf8)
    private static let connectionClose: [UInt8] = Array("Connection: close\r\n".utf8)
    private static let defaultContentType: [UInt8] = Array("Content-Type: application/json\r\n".utf8)
    /// `HTTP/1.1 200 OK\r\n` for the statuses the server answers, rendered once.
    private static let statusLines: [Int: [UInt8]] = Dictionary(uniqueKeysWithValues:
        [200, 201, 202, 204, 303, 400, 401, 402, 403, 404, 405, 406, 409, 413, 414, 415, 429, 431, 500, 501, 503].map {
            ($0, Array("HTTP/1.1 \($0) \(Response.reason($0))\r\n".utf8))
        })

    static func appendStatusLine(_ out: inout [UInt8], _ status: Int) {
        if let line = statusLines[status] {
            out.append(contentsOf: line)
        } else {
            out.append(contentsOf: "HTTP/1.1 \(status) \(Response.reason(status))\r\n".utf8)
        }
    }

    static func appendDecimal(_ out: inout [UInt8], _ value: Int) {
        withDecimal(value) { text in
            text.withMemoryRebound(to: UInt8.self, capacity: 24) { out.append(contentsOf: UnsafeBufferPointer(start: $0, count: strlen(text))) }
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
