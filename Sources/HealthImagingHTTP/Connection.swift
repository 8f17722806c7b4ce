import CLibevent
#if canImport(Glibc)
import Glibc
#endif

/// One client connection, read and written by the loop itself: its socket, one persistent read event (registered
/// once, for the connection's life: no epoll_ctl per request), a write event added only while an answer waits for
/// the socket, and one timer. Bytes are read into an evbuffer; each request head is checked whole
/// (`RequestHead.inspect`) and turned into a `Request` straight from its bytes; bodies are read here
/// (`StreamedBody`: into one array of the body's size, or a temporary file). Answers are rendered into one
/// reusable buffer and written with one `writev` (head and body) when nothing is queued ahead of them.
///
/// Requests on a connection are answered one at a time and in order: while one is with the application
/// (`busy`), later bytes wait in the input buffer (reading pauses once they pass the head limit). A refused head
/// is answered with its error (`HTTPRefusal`), everything after it is discarded unread, and the connection is
/// closed once the answer is on the wire: the write side is shut (FIN), and the client's close or the timeout
/// frees the connection.
///
/// Timeouts: a connection waiting for a request head is dropped, without an answer, `headerTimeoutSeconds` after
/// it became idle (its last answer written, or its accept): bytes that trickle in do not push that back. A body
/// must be complete `bodyTimeoutSeconds` after its head. A write that makes no progress for `headerTimeoutSeconds`
/// drops the connection. Nothing runs out while a request is with the application.
///
/// Not Sendable: it lives on the event loop's thread.
final class Connection {
    enum State {
        case head
        /// A body being read; its request is handed on once the body is complete.
        case streaming(StreamedBody)
        /// Nothing more is read as a request: input is discarded.
        case closing
    }

    private unowned let server: HTTPServer
    let fd: Int32
    private let input: OpaquePointer
    private let output: OpaquePointer
    private var readEvent: OpaquePointer?
    private var writeEvent: OpaquePointer?
    private var timer: OpaquePointer?
    private var state = State.head
    /// Bytes of complete header lines of the current head already scanned.
    private var scanned = 0
    /// A request is with the application (handed on, not yet answered).
    private(set) var busy = false
    /// The answer being written is the connection's last.
    private var closeAfterAnswer = false
    private var shutDown = false
    /// The client closed its side (or the read failed): nothing more arrives.
    private var peerClosed = false
    private var readingPaused = false
    private var writing = false
    private var processing = false
    private(set) var closed = false
    /// When the connection is dropped if nothing changes (nil: no deadline, a request is with the application).
    private var deadline: ContinuousClock.Instant?
    /// When the timer is set to fire (nil: not armed).
    private var timerDue: ContinuousClock.Instant?

    /// Bytes read from the socket per read: more while a body streams in.
    private static let headReadBytes = 16 * 1024
    private static let bodyReadBytes = 256 * 1024

    init?(server: HTTPServer, fd: Int32) {
        guard let input = evbuffer_new() else { return nil }
        guard let output = evbuffer_new() else {
            evbuffer_free(input)
            return nil
        }
        self.server = server
        self.fd = fd
        self.input = input
        self.output = output
    }

    /// Registers the connection's events; called once, right after `init`.
    func start(base: OpaquePointer) {
        let context = Unmanaged.passUnretained(self).toOpaque()
        readEvent = event_new(base, fd, Int16(EV_READ | EV_PERSIST), { _, _, context in
            guard let context else { return }
            let connection = Unmanaged<Connection>.fromOpaque(context).takeUnretainedValue()
            withExtendedLifetime(connection) { connection.readable() }
        }, context)
        writeEvent = event_new(base, fd, Int16(EV_WRITE | EV_PERSIST), { _, what, context in
            guard let context else { return }
            let connection = Unmanaged<Connection>.fromOpaque(context).takeUnretainedValue()
            withExtendedLifetime(connection) { connection.writable(timedOut: what & Int16(EV_TIMEOUT) != 0) }
        }, context)
        timer = event_new(base, -1, 0, { _, _, context in
            guard let context else { return }
            let connection = Unmanaged<Connection>.fromOpaque(context).takeUnretainedValue()
            withExtendedLifetime(connection) { connection.timerFired() }
        }, context)
        guard let readEvent, writeEvent != nil, timer != nil else {
            close()
            return
        }
        event_add(readEvent, nil)
        idle()
    }

    // MARK: reading

    private func readable() {
        guard !closed else { return }
        let size = if case .streaming = state { Self.bodyReadBytes } else { Self.headReadBytes }
        var vector = iovec()  // evbuffer_iovec is `#define evbuffer_iovec iovec` (event2/buffer.h)
        // > evbuffer_reserve_space: Reserves space in the last chain or chains of an evbuffer. ... After calling
        // > this function, you may write into the vectors ... evbuffer_commit_space ... makes the data available
        // > (buffer.h). One read(2) into it: no FIONREAD ioctl per read, as evbuffer_read would make.
        guard evbuffer_reserve_space(input, size, &vector, 1) >= 1 else { return close() }
        let count = read(fd, vector.iov_base, vector.iov_len)
        if count > 0 {
            vector.iov_len = count
            evbuffer_commit_space(input, &vector, 1)
        } else if count == 0 {
            peerClosed = true
        } else {
            if errno == EAGAIN || errno == EINTR { return }
            peerClosed = true
        }
        if peerClosed, let readEvent { event_del(readEvent) }
        process()
    }

    /// Takes every complete request in the input, in order, while none is with the application.
    private func process() {
        guard !processing else { return }
        processing = true
        defer { processing = false }
        let limits = server.limits
        while !closed && !busy {
            let available = evbuffer_get_length(input)
            switch state {
            case .closing:
                if available > 0 { evbuffer_drain(input, available) }
                return finishIfPeerClosed()
            case .streaming(let body):
                guard available > 0 else { return finishIfPeerClosed() }
                if ContinuousClock.now > body.deadline {
                    // Too slow: dropped without an answer, as any other timeout.
                    return close()
                }
                switch body.consume(input) {
                case .needMore:
                    return finishIfPeerClosed()
                case .done:
                    state = body.stream.closeAfter ? .closing : .head
                    var request = Self.request(body.stream.head + [0x0D, 0x0A])
                    request.headers.removeAll { $0.name.caseInsensitiveCompare("Content-Length") }
                    for header in body.stream.framingHeaders { request.headers.append((header.name, header.value)) }
                    switch body.finish() {
                    case .file(let file): request.bodyFile = file
                    case .memory(let bytes): request.body = bytes
                    }
                    dispatch(request, close: body.stream.closeAfter)
                case .refuse(let error):
                    body.abandon()
                    refuse(error)
                }
            case .head:
                guard available > 0 else { return finishIfPeerClosed() }
                if scanned == 0 && skipEmptyLines() { continue }
                guard let headLength = findHeadEnd() else {
                    if available > limits.maxHeadBytes {
                        let tooLong = scanned == 0 ? HTTPRefusal(.uriTooLong, "The request URI is longer than \(limits.maxURILength) bytes")
                            : HTTPRefusal(.headersTooLarge, "The request headers are larger than \(limits.maxHeaderBytes) bytes")
                        refuse(tooLong, head: startsWithHEAD())
                        continue
                    }
                    return finishIfPeerClosed()
                }
                guard headLength <= limits.maxHeadBytes, let bytes = evbuffer_pullup(input, headLength) else {
                    refuse(HTTPRefusal(.headersTooLarge, "The request headers are larger than \(limits.maxHeaderBytes) bytes"),
                           head: startsWithHEAD())
                    continue
                }
                let head = UnsafeRawBufferPointer(start: bytes, count: headLength)
                switch RequestHead.inspect(head, limits: limits, streams: server.streamsBody) {
                case .pass(let rewritten, let closeAfter):
                    let request = rewritten.map { Self.request($0) } ?? Self.request(head)
                    evbuffer_drain(input, headLength)
                    if closeAfter { state = .closing }
                    dispatch(request, close: closeAfter)
                case .stream(let stream):
                    evbuffer_drain(input, headLength)
                    let deadline = ContinuousClock.now + .milliseconds(Int(limits.bodyTimeoutSeconds * 1000))
                    switch StreamedBody.open(stream, directory: server.bodyDirectory, deadline: deadline,
                                             maxTrailerBytes: limits.maxHeaderBytes) {
                    case .success(let body):
                        state = .streaming(body)
                        setDeadline(deadline)
                        if stream.expectsContinue { Self.continueLine.withUnsafeBytes { write($0, []) } }
                    case .failure(let error):
                        refuse(error)
                    }
                case .refuse(let error):
                    let isHead = startsWithHEAD()
                    evbuffer_drain(input, headLength)
                    refuse(error, head: isHead)
                }
            }
        }
        // A request is with the application: bytes behind it wait, up to a head's worth.
        if !closed && busy && !readingPaused && !peerClosed && evbuffer_get_length(input) > limits.maxHeadBytes, let readEvent {
            readingPaused = true
            event_del(readEvent)
        }
    }

    /// Nothing more can arrive and nothing is pending: the connection is done.
    private func finishIfPeerClosed() {
        if peerClosed && !busy && !writing { close() }
    }

    private static let continueLine = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)

    /// Answers `error` in place of a request (without a body when the refused request was a HEAD); nothing after
    /// it is read.
    private func refuse(_ error: HTTPRefusal, head: Bool = false) {
        scanned = 0
        state = .closing
        var request = Request(method: head ? "HEAD" : "GET", uri: "/")
        request.refusal = error
        dispatch(request, close: true)
    }

    private func dispatch(_ request: Request, close: Bool) {
        busy = true
        deadline = nil
        server.handle(request, close: close, connection: self)
    }

    /// A request line and header lines, as the application sees them (names as sent, values without the
    /// optional whitespace around them). The head has passed `RequestHead.inspect`.
    static func request(_ head: UnsafeRawBufferPointer) -> Request {
        var lineStart = 0
        var method = ""
        var uri = ""
        var headers: [(name: String, value: String)] = []
        headers.reserveCapacity(8)
        for index in 0..<head.count where head[index] == 0x0A {
            var end = index
            if end > lineStart, head[end - 1] == 0x0D { end -= 1 }
            defer { lineStart = index + 1 }
            if end == lineStart { break }
            if method.isEmpty {
                // METHOD SP target SP version
                var space1 = lineStart
                while head[space1] != 0x20 { space1 += 1 }
                var space2 = space1 + 1
                while head[space2] != 0x20 { space2 += 1 }
                method = String(decoding: UnsafeRawBufferPointer(rebasing: head[lineStart..<space1]), as: UTF8.self)
                uri = String(decoding: UnsafeRawBufferPointer(rebasing: head[(space1 + 1)..<space2]), as: UTF8.self)
                continue
            }
            var colon = lineStart
            while head[colon] != UInt8(ascii: ":") { colon += 1 }
            var valueStart = colon + 1
            var valueEnd = end
            while valueStart < valueEnd, head[valueStart] == 0x20 || head[valueStart] == 0x09 { valueStart += 1 }
            while valueEnd > valueStart, head[valueEnd - 1] == 0x20 || head[valueEnd - 1] == 0x09 { valueEnd -= 1 }
            headers.append((String(decoding: UnsafeRawBufferPointer(rebasing: head[lineStart..<colon]), as: UTF8.self),
                            String(decoding: UnsafeRawBufferPointer(rebasing: head[valueStart..<valueEnd]), as: UTF8.self)))
        }
        return Request(method: method, uri: uri, headers: headers)
    }

    static func request(_ head: [UInt8]) -> Request {
        head.withUnsafeBytes { request($0) }
    }

    private func startsWithHEAD() -> Bool {
        var peek: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)
        let count = withUnsafeMutableBytes(of: &peek) { evbuffer_copyout(input, $0.baseAddress, 5) }
        return count == 5 && peek == (0x48, 0x45, 0x41, 0x44, 0x20)
    }

    /// Drops empty lines before a request line (RFC 9112 §2.2: a server SHOULD ignore at least one).
    /// Returns whether it dropped any.
    private func skipEmptyLines() -> Bool {
        var dropped = false
        var peek: (UInt8, UInt8) = (0, 0)
        while true {
            let count = withUnsafeMutableBytes(of: &peek) { evbuffer_copyout(input, $0.baseAddress, 2) }
            if count >= 1 && peek.0 == 0x0A {
                evbuffer_drain(input, 1)
            } else if count == 2 && peek.0 == 0x0D && peek.1 == 0x0A {
                evbuffer_drain(input, 2)
            } else {
                return dropped
            }
            dropped = true
        }
    }

    /// The length of the head (through its empty line) once it is complete. Lines end in LF or CRLF.
    private func findHeadEnd() -> Int? {
        var position = evbuffer_ptr()
        while true {
            guard evbuffer_ptr_set(input, &position, scanned, EVBUFFER_PTR_SET) == 0 else { return nil }
            var eolLength = 0
            let eol = evbuffer_search_eol(input, &position, &eolLength, EVBUFFER_EOL_CRLF)
            guard eol.pos >= 0 else { return nil }
            if eol.pos == scanned {
                let end = eol.pos + eolLength
                scanned = 0
                return end
            }
            scanned = eol.pos + eolLength
        }
    }

    // MARK: answering

    /// The request with the application is answered (its bytes written with `write`): go on with the next one,
    /// or close once written (`close`).
    func answered(close: Bool) {
        guard !closed else { return }
        busy = false
        if close {
            closeAfterAnswer = true
            state = .closing
            shutDownIfDrained()
        } else {
            idle()
        }
        if readingPaused, !peerClosed, let readEvent {
            readingPaused = false
            event_add(readEvent, nil)
        }
        process()
    }

    /// Queues bytes behind anything already queued; with nothing queued, writes them at once (one writev).
    func write(_ head: UnsafeRawBufferPointer, _ body: [UInt8]) {
        guard !closed else { return }
        let total = head.count + body.count
        var written = 0
        if !writing {
            written = body.withUnsafeBytes { bodyBytes in
                var vectors = (iovec(iov_base: UnsafeMutableRawPointer(mutating: head.baseAddress), iov_len: head.count),
                               iovec(iov_base: UnsafeMutableRawPointer(mutating: bodyBytes.baseAddress), iov_len: bodyBytes.count))
                return withUnsafeMutablePointer(to: &vectors) {
                    $0.withMemoryRebound(to: iovec.self, capacity: 2) { Self.writeAll(fd, $0, bodyBytes.isEmpty ? 1 : 2, total) }
                }
            }
            if written < 0 { return close() }
        }
        guard written < total else { return }
        // The rest waits for the socket.
        if written < head.count {
            _ = evbuffer_add(output, head.baseAddress! + written, head.count - written)
            written = head.count
        }
        let bodyWritten = written - head.count
        if bodyWritten < body.count {
            body.withUnsafeBytes { _ = evbuffer_add(output, $0.baseAddress! + bodyWritten, body.count - bodyWritten) }
        }
        if !writing, let writeEvent {
            writing = true
            var timeout = server.timeoutValue
            event_add(writeEvent, &timeout)
        }
    }

    /// `writev` until everything is written or the socket is full: the bytes written, or -1 on an error.
    private static func writeAll(_ fd: Int32, _ vectors: UnsafeMutablePointer<iovec>, _ count: Int, _ total: Int) -> Int {
        var done = 0
        while done < total {
            // Skip what is already written.
            var skip = done
            var first = 0
            while first < count && skip >= vectors[first].iov_len { skip -= vectors[first].iov_len; first += 1 }
            let saved = vectors[first]
            vectors[first].iov_base = vectors[first].iov_base.map { $0 + skip }
            vectors[first].iov_len -= skip
            let result = writev(fd, vectors + first, Int32(count - first))
            vectors[first] = saved
            if result > 0 {
                done += result
            } else if result < 0 && errno == EINTR {
                continue
            } else if result < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                return done
            } else {
                return -1
            }
        }
        return done
    }

    private func writable(timedOut: Bool) {
        guard !closed else { return }
        if timedOut { return close() }
        // > evbuffer_write: Write the contents of an evbuffer to a file descriptor. The evbuffer will be
        // > drained after the bytes have been successfully written.  (buffer.h)
        if evbuffer_write(output, fd) < 0 && errno != EAGAIN && errno != EINTR { return close() }
        guard evbuffer_get_length(output) == 0 else { return }
        writing = false
        if let writeEvent { event_del(writeEvent) }
        if closeAfterAnswer { shutDownIfDrained() }
        if peerClosed && !busy { process() }
    }

    /// Once the last answer has fully reached the socket: FIN to the client, and read nothing more; the
    /// client's close (or the timeout) then frees the connection.
    private func shutDownIfDrained() {
        guard closeAfterAnswer, !shutDown, !writing, !closed else { return }
        shutDown = true
        shutdown(fd, Int32(SHUT_WR))
        if peerClosed { return close() }
        setDeadline(ContinuousClock.now + server.headerTimeout)
    }

    // MARK: timeouts

    /// The connection waits for a request head from now on.
    private func idle() {
        setDeadline(ContinuousClock.now + server.headerTimeout)
    }

    private func setDeadline(_ instant: ContinuousClock.Instant) {
        deadline = instant
        // The timer stays as it is unless it would fire too late: it checks the deadline when it fires.
        if let timerDue, timerDue <= instant { return }
        arm(at: instant)
    }

    private func arm(at instant: ContinuousClock.Instant) {
        guard let timer else { return }
        let (seconds, attoseconds) = ContinuousClock.now.duration(to: instant).components
        let micros = max(0, Int(seconds) * 1_000_000 + Int(attoseconds / 1_000_000_000_000) + 1)
        var delay = timeval(tv_sec: micros / 1_000_000, tv_usec: micros % 1_000_000)
        event_base_update_cache_time(server.eventBase)
        event_add(timer, &delay)
        timerDue = instant
    }

    private func timerFired() {
        timerDue = nil
        guard !closed, let deadline else { return }
        if ContinuousClock.now >= deadline {
            // A head or body not complete in time, an idle connection, or a closing one the client kept open.
            if busy { return }
            return close()
        }
        arm(at: deadline)
    }

    // MARK: closing

    /// Frees everything now: the events, the buffers, a body being read, the socket. `notifying: false` when
    /// the server itself is going (it must not be called back then).
    func close(notifying: Bool = true) {
        guard !closed else { return }
        closed = true
        if case .streaming(let body) = state { body.abandon() }
        state = .closing
        for event in [readEvent, writeEvent, timer] { if let event { event_free(event) } }
        readEvent = nil
        writeEvent = nil
        timer = nil
        evbuffer_free(input)
        evbuffer_free(output)
        Glibc.close(fd)
        if notifying { server.closed(self) }
    }
}

@available(*, unavailable)
extension Connection: Sendable {}
