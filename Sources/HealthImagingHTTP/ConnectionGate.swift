import CLibevent
#if canImport(Glibc)
import Glibc
#endif

/// The gate in front of libevent's HTTP parser, one per connection: a filtering bufferevent
/// (`bufferevent_filter_new`, installed with `evhttp_set_bevcb`) whose input filter hands libevent one whole,
/// checked request head at a time (`RequestHead.inspect`). Bodies are read here, not by evhttp
/// (`StreamedBody`: into one array of the body's size, or a temporary file), and handed to the server with
/// their head (`bodies`), which evhttp gets with `Content-Length: 0` and a body marker header. A
/// refused head is replaced by a marker request that the server answers with its refusal (`HTTPRefusal`);
/// everything after it on the connection is discarded unread, and the connection is closed once the answer is on
/// the wire.
///
/// Closing is done here, not by libevent: evhttp frees a connection as soon as its answer has left the
/// *filter's* output buffer, which with a filter is before it has left the socket's, so an answer with
/// `Connection: close` would be cut off. The server therefore never lets evhttp see a close (see
/// `HTTPServer.send`), and the gate shuts the socket's write side once both buffers are empty; the client's
/// close (or the read timeout) then frees the connection.
///
/// Not Sendable: it lives on the event loop's thread, like the bufferevents it belongs to.
final class ConnectionGate {
    enum State {
        case head
        /// A body being read (into memory, or a file: `HTTPServer.streamsBody`); its head is handed on once
        /// it is complete.
        case streaming(StreamedBody)
        /// Nothing more is read as a request: input is discarded.
        case closing
    }

    let registry: ConnectionGates
    private(set) var filter: OpaquePointer?
    let underlying: OpaquePointer
    private var flushEvent: OpaquePointer?
    private var underlyingOutputCallback: OpaquePointer?
    private var state = State.head
    /// Bytes of complete header lines of the current head already scanned.
    private var scanned = 0
    /// Refusals handed to evhttp as marker requests, answered in order (`head`: the refused request was a
    /// HEAD, so its answer has no body).
    var refusals: [(error: HTTPRefusal, head: Bool)] = []
    /// Bodies read by the gate, whose heads were handed to evhttp with a body marker, taken in order by the
    /// server, with the framing headers those heads left out.
    var bodies: [(body: StreamedBody.Finished, headers: [RequestHead.Header])] = []
    /// Requests handed to evhttp and not yet answered (`answered()`), so that a `100 Continue` never
    /// overtakes an earlier answer.
    private var unanswered = 0
    private var continueOwed = false
    /// When the filter's read timeout was last pushed back during a streamed body.
    private var lastTimeoutReset = ContinuousClock.now
    /// Set when the answer being written is the connection's last.
    var closeAfterResponse = false
    private var shutDown = false
    private var flushScheduled = false

    private init(registry: ConnectionGates, underlying: OpaquePointer) {
        self.registry = registry
        self.underlying = underlying
    }

    /// Makes the bufferevent pair for a new connection (nil: let evhttp make a plain one).
    static func make(base: OpaquePointer, registry: ConnectionGates) -> OpaquePointer? {
        let closeOnFree = Int32(BEV_OPT_CLOSE_ON_FREE.rawValue)
        guard let underlying = bufferevent_socket_new(base, -1, closeOnFree) else { return nil }
        let gate = ConnectionGate(registry: registry, underlying: underlying)
        let context = Unmanaged.passRetained(gate).toOpaque()
        // > bufferevent_filter_new: Allocate a new filtering bufferevent on top of an existing bufferevent.
        // > free_context: A function to use to free the filter context when this bufferevent is freed.
        // https://libevent.org/doc/bufferevent_8h.html
        guard let filter = bufferevent_filter_new(underlying, { source, destination, _, _, context in
            guard let source, let destination, let context else { return BEV_ERROR }
            return Unmanaged<ConnectionGate>.fromOpaque(context).takeUnretainedValue().filterInput(source, destination)
        }, nil, closeOnFree, { context in
            guard let context else { return }
            Unmanaged<ConnectionGate>.fromOpaque(context).takeRetainedValue().released()
        }, context) else {
            Unmanaged<ConnectionGate>.fromOpaque(context).release()
            bufferevent_free(underlying)
            return nil
        }
        gate.filter = filter
        gate.flushEvent = event_new(base, -1, 0, { _, _, context in
            guard let context else { return }
            Unmanaged<ConnectionGate>.fromOpaque(context).takeUnretainedValue().flush()
        }, context)
        // evhttp queues an answer while writing is disabled and then enables it, which a filter does not
        // notice; so every addition to the filter's output schedules one flush on the next loop turn.
        evbuffer_add_cb(bufferevent_get_output(filter), { _, info, context in
            guard let info, let context, info.pointee.n_added > 0 else { return }
            Unmanaged<ConnectionGate>.fromOpaque(context).takeUnretainedValue().scheduleFlush()
        }, context)
        gate.underlyingOutputCallback = evbuffer_add_cb(bufferevent_get_output(underlying), { _, _, context in
            guard let context else { return }
            Unmanaged<ConnectionGate>.fromOpaque(context).takeUnretainedValue().shutDownIfDrained()
        }, context)
        registry.gates[filter] = gate
        return filter
    }

    /// Called when libevent frees the filter (its finalizer): drop everything that points at this gate.
    private func released() {
        if case .streaming(let body) = state { body.abandon() }
        for case (.file(let file), _) in bodies { file.remove() }
        bodies = []
        if let flushEvent { event_free(flushEvent) }
        if let underlyingOutputCallback { evbuffer_remove_cb_entry(bufferevent_get_output(underlying), underlyingOutputCallback) }
        if let filter { registry.gates[filter] = nil }
        filter = nil
    }

    private func scheduleFlush() {
        guard !sending, !flushScheduled, let flushEvent, let filter else { return }
        flushScheduled = true
        bufferevent_incref(filter)
        event_active(flushEvent, Int32(EV_TIMEOUT), 0)
    }

    /// Set while the server hands evhttp an answer (`send`), which flushes it itself right after.
    private var sending = false

    /// Hands evhttp an answer (`reply` calls `evhttp_send_reply`) and writes it at once, in the same loop
    /// turn, rather than on the next (`scheduleFlush`): evhttp then finishes the request and starts reading
    /// the connection again within the turn in which it stopped, so with the epoll changelist the
    /// connection's registration stays as it is (no epoll_ctl per request).
    func send(_ reply: () -> Void) {
        sending = true
        reply()
        sending = false
        guard let filter else { return }
        bufferevent_incref(filter)
        defer { bufferevent_decref(filter) }
        // Write straight to the socket when nothing is queued ahead: the socket's bufferevent would otherwise
        // register for writability, write on the next turn and unregister (two epoll_ctl per answer).
        let output = bufferevent_get_output(filter)
        let fd = bufferevent_getfd(underlying)
        if fd >= 0, evbuffer_get_length(bufferevent_get_output(underlying)) == 0,
           Int32(bufferevent_get_enabled(filter)) & Int32(EV_WRITE) != 0 {
            // > evbuffer_write: Write the contents of an evbuffer to a file descriptor. The evbuffer will be
            // > drained after the bytes have been successfully written.  (buffer.h; a non-blocking socket
            // > takes what it can, -1 with EAGAIN when full)
            while evbuffer_get_length(output) > 0, evbuffer_write(output, fd) > 0 {}
            if evbuffer_get_length(output) == 0 {
                // > bufferevent_trigger: Triggers bufferevent data callbacks ... if the watermark conditions
                // > are met  (bufferevent.h): evhttp's write callback, which finishes the request.
                bufferevent_trigger(filter, Int16(EV_WRITE), 0)
                shutDownIfDrained()
                return
            }
        }
        // > bufferevent_flush: Triggers the bufferevent to produce more data if possible.  (bufferevent.h; for a
        // > filter, BEV_NORMAL moves what its output holds to the underlying bufferevent while writing is enabled,
        // > and runs evhttp's write callback once it is drained)
        bufferevent_flush(filter, Int16(EV_WRITE), BEV_NORMAL)
        shutDownIfDrained()
    }

    private func flush() {
        flushScheduled = false
        guard let filter else { return }
        bufferevent_flush(filter, Int16(EV_WRITE), BEV_NORMAL)
        shutDownIfDrained()
        bufferevent_decref(filter)  // may free the filter (and this gate) on a later loop turn
    }

    /// Once the last answer has fully reached the socket: FIN to the client, and read nothing more.
    func shutDownIfDrained() {
        guard closeAfterResponse, !shutDown, let filter,
              evbuffer_get_length(bufferevent_get_output(underlying)) == 0,
              evbuffer_get_length(bufferevent_get_output(filter)) == 0 else { return }
        shutDown = true
        state = .closing
        let fd = bufferevent_getfd(underlying)
        if fd >= 0 { shutdown(fd, Int32(SHUT_WR)) }
    }

    // MARK: input

    private func filterInput(_ source: OpaquePointer, _ destination: OpaquePointer) -> bufferevent_filter_result {
        var moved = false
        let limits = registry.limits
        while true {
            let available = evbuffer_get_length(source)
            switch state {
            case .closing:
                if available > 0 { evbuffer_drain(source, available) }
                return moved ? BEV_OK : BEV_NEED_MORE
            case .streaming(let body):
                guard available > 0 else { return moved ? BEV_OK : BEV_NEED_MORE }
                if ContinuousClock.now > body.deadline {
                    // Too slow, as for a buffered body: read nothing more; the read timeout drops the connection.
                    body.abandon()
                    state = .closing
                    continue
                }
                switch body.consume(source) {
                case .needMore:
                    keepReading()
                    return moved ? BEV_OK : BEV_NEED_MORE
                case .done:
                    bodies.append((body.finish(), body.stream.framingHeaders))
                    var head = body.stream.head
                    head.append(contentsOf: registry.bodyMarkerLine)
                    head.withUnsafeBytes { _ = evbuffer_add(destination, $0.baseAddress, $0.count) }
                    unanswered += 1
                    moved = true
                    state = body.stream.closeAfter ? .closing : .head
                case .refuse(let error):
                    body.abandon()
                    refuse(error, destination)
                    moved = true
                }
            case .head:
                guard available > 0 else { return moved ? BEV_OK : BEV_NEED_MORE }
                if scanned == 0 && skipEmptyLines(source) { continue }
                guard let headLength = findHeadEnd(source) else {
                    if available > limits.maxHeadBytes {
                        let tooLong = scanned == 0 ? HTTPRefusal(.uriTooLong, "The request URI is longer than \(limits.maxURILength) bytes")
                            : HTTPRefusal(.headersTooLarge, "The request headers are larger than \(limits.maxHeaderBytes) bytes")
                        refuse(tooLong, destination, head: startsWithHEAD(source))
                        moved = true
                        continue
                    }
                    return moved ? BEV_OK : BEV_NEED_MORE
                }
                let verdict: RequestHead.Verdict
                if headLength > limits.maxHeadBytes {
                    verdict = .refuse(HTTPRefusal(.headersTooLarge, "The request headers are larger than \(limits.maxHeaderBytes) bytes"))
                } else if let bytes = evbuffer_pullup(source, headLength) {
                    verdict = RequestHead.inspect(UnsafeRawBufferPointer(start: bytes, count: headLength), limits: limits,
                                                  streams: registry.streamsBody)
                } else {
                    verdict = .refuse(HTTPRefusal(.internalServer, "The request head could not be buffered"))
                }
                switch verdict {
                case .pass(let rewritten, let closeAfter):
                    if let rewritten {
                        evbuffer_drain(source, headLength)
                        rewritten.withUnsafeBytes { _ = evbuffer_add(destination, $0.baseAddress, $0.count) }
                    } else {
                        evbuffer_remove_buffer(source, destination, headLength)
                    }
                    moved = true
                    unanswered += 1
                    if closeAfter { state = .closing }
                case .stream(let stream):
                    evbuffer_drain(source, headLength)
                    let deadline = ContinuousClock.now + .milliseconds(Int(limits.bodyTimeoutSeconds * 1000))
                    switch StreamedBody.open(stream, directory: registry.bodyDirectory, deadline: deadline,
                                             maxTrailerBytes: limits.maxHeaderBytes) {
                    case .success(let body):
                        state = .streaming(body)
                        lastTimeoutReset = ContinuousClock.now
                        if stream.expectsContinue { sendContinue() }
                    case .failure(let error):
                        refuse(error, destination)
                        moved = true
                    }
                case .refuse(let error):
                    let head = startsWithHEAD(source)
                    evbuffer_drain(source, headLength)
                    refuse(error, destination, head: head)
                    moved = true
                }
            }
        }
    }

    /// The server answered one request of this connection.
    func answered() {
        unanswered = max(0, unanswered - 1)
        if continueOwed && unanswered == 0 { sendContinue() }
    }

    /// `100 Continue` for a streamed body whose client waits for it (evhttp never sees that head until the
    /// body is in, so it cannot send one). Written to the socket's bufferevent behind any earlier answer, and
    /// only once every earlier request is answered.
    private func sendContinue() {
        guard unanswered == 0 else {
            continueOwed = true
            return
        }
        continueOwed = false
        guard let filter else { return }
        // Earlier answers first: evhttp has reading, not writing, enabled now, so a normal flush would leave
        // them in the filter; BEV_FLUSH moves them whatever is enabled.
        bufferevent_flush(filter, Int16(EV_WRITE), BEV_FLUSH)
        let line = "HTTP/1.1 100 Continue\r\n\r\n"
        var bytes = Array(line.utf8)
        bytes.withUnsafeMutableBytes { _ = bufferevent_write(underlying, $0.baseAddress, $0.count) }
    }

    /// A streamed body hands evhttp nothing until it is complete, so evhttp's read timeout (which only
    /// bytes handed on push back) would fire during a long upload: push it back, at most once a second,
    /// while the body keeps arriving (`--body-timeout` still bounds the whole body).
    private func keepReading() {
        let now = ContinuousClock.now
        guard now - lastTimeoutReset > .seconds(1), let filter,
              Int32(bufferevent_get_enabled(filter)) & Int32(EV_READ) != 0 else { return }
        lastTimeoutReset = now
        // > bufferevent_enable ... (re-arms the bufferevent's read timeout: bufferevent_filter.c be_filter_enable
        // > calls BEV_RESET_GENERIC_READ_TIMEOUT)
        bufferevent_enable(filter, Int16(EV_READ))
    }

    /// Hands evhttp a marker request in place of a refused head; the server answers it with `error`.
    private func refuse(_ error: HTTPRefusal, _ destination: OpaquePointer, head: Bool = false) {
        refusals.append((error, head))
        unanswered += 1
        let marker = "GET /_healthimaging-refused HTTP/1.1\r\n\(ConnectionGates.markerHeader): \(registry.secret)\r\nContent-Length: 0\r\n\r\n"
        var bytes = Array(marker.utf8)
        bytes.withUnsafeMutableBytes { _ = evbuffer_add(destination, $0.baseAddress, $0.count) }
        scanned = 0
        state = .closing
    }

    private func startsWithHEAD(_ source: OpaquePointer) -> Bool {
        var peek: (UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0)
        let count = withUnsafeMutableBytes(of: &peek) { evbuffer_copyout(source, $0.baseAddress, 5) }
        return count == 5 && peek == (0x48, 0x45, 0x41, 0x44, 0x20)
    }

    /// Drops empty lines before a request line (RFC 9112 §2.2: a server SHOULD ignore at least one).
    /// Returns whether it dropped any.
    private func skipEmptyLines(_ source: OpaquePointer) -> Bool {
        var dropped = false
        var peek: (UInt8, UInt8) = (0, 0)
        while true {
            let count = withUnsafeMutableBytes(of: &peek) { evbuffer_copyout(source, $0.baseAddress, 2) }
            if count >= 1 && peek.0 == 0x0A {
                evbuffer_drain(source, 1)
            } else if count == 2 && peek.0 == 0x0D && peek.1 == 0x0A {
                evbuffer_drain(source, 2)
            } else {
                return dropped
            }
            dropped = true
        }
    }

    /// The length of the head (through its empty line) once it is complete. Lines end in LF or CRLF, as
    /// libevent reads them (`EVBUFFER_EOL_CRLF`), so both agree where the head ends.
    private func findHeadEnd(_ source: OpaquePointer) -> Int? {
        var position = evbuffer_ptr()
        while true {
            guard evbuffer_ptr_set(source, &position, scanned, EVBUFFER_PTR_SET) == 0 else { return nil }
            var eolLength = 0
            let eol = evbuffer_search_eol(source, &position, &eolLength, EVBUFFER_EOL_CRLF)
            guard eol.pos >= 0 else { return nil }
            if eol.pos == scanned {
                let end = eol.pos + eolLength
                scanned = 0
                return end
            }
            scanned = eol.pos + eolLength
        }
    }
}

@available(*, unavailable)
extension ConnectionGate: Sendable {}

/// The server's gates by filter bufferevent, so that a request can find its connection's gate; plus what
/// every gate shares.
final class ConnectionGates {
    static let markerHeader = "X-HIL-Refused"
    /// Marks a request whose body the gate streamed to a file (`ConnectionGate.bodies`).
    static let bodyMarkerHeader = "X-HIL-Body"
    var gates: [OpaquePointer: ConnectionGate] = [:]
    let limits: RequestHead.Limits
    /// Which requests stream their body to a file (`HTTPServer.streamsBody`).
    var streamsBody: RequestHead.StreamsBody?
    /// Where streamed bodies are written (`$TMPDIR`, else /tmp); each file is removed once its reply is sent.
    let bodyDirectory = ConnectionGates.defaultBodyDirectory()
    /// Proves a marker request came from a gate, not from a client.
    let secret: String
    /// The marker header line (and the head's end) put after each body's head, rendered once.
    let bodyMarkerLine: [UInt8]

    init(limits: RequestHead.Limits) {
        self.limits = limits
        var generator = SystemRandomNumberGenerator()
        secret = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
        bodyMarkerLine = Array("\(ConnectionGates.bodyMarkerHeader): \(secret)\r\n\r\n".utf8)
    }

    /// `$TMPDIR`, else /tmp.
    static func defaultBodyDirectory() -> String {
        if let value = getenv("TMPDIR"), value.pointee != 0 { return String(cString: value) }
        return "/tmp"
    }

    func gate(for request: OpaquePointer) -> ConnectionGate? {
        guard let connection = evhttp_request_get_connection(request),
              let bufferevent = evhttp_connection_get_bufferevent(connection) else { return nil }
        return gates[bufferevent]
    }
}

@available(*, unavailable)
extension ConnectionGates: Sendable {}
