import CLibevent
import Logging
#if canImport(Glibc)
import Glibc
#endif

/// What the listener does when `accept()` fails (most often EMFILE: out of file descriptors). libevent's
/// default logs "Error from accept() call" and retries at once; the connection is still pending, so the loop
/// spins at full CPU writing that line. Instead: stop accepting for a moment (50 ms, doubling up to 1 s while
/// failures continue), and warn at most once per `warningInterval` with the count since the last warning.
/// Connections already open keep being served meanwhile, and accepting resumes as soon as descriptors free up.
final class AcceptBackoff {
    private let listener: OpaquePointer
    private var timer: OpaquePointer?
    private let logger: Logger
    private var delayMillis = 0
    private var lastFailure: ContinuousClock.Instant?
    private var lastWarning: ContinuousClock.Instant?
    private var failuresSinceWarning = 0
    static let warningInterval = Duration.seconds(10)
    static let minimumDelayMillis = 50
    static let maximumDelayMillis = 1000

    init(listener: OpaquePointer, base: OpaquePointer, logger: Logger) {
        self.listener = listener
        self.logger = logger
        let context = Unmanaged.passUnretained(self).toOpaque()
        timer = event_new(base, -1, 0, { _, _, context in
            guard let context else { return }
            let backoff = Unmanaged<AcceptBackoff>.fromOpaque(context).takeUnretainedValue()
            evconnlistener_enable(backoff.listener)
        }, context)
        // > evconnlistener_set_error_cb: Set an evconnlistener's error callback.
        // https://libevent.org/doc/listener_8h.html
        // The callback's argument is the one the server gave the listener (the server), so the back-off is
        // found by the listener instead.
        AcceptBackoffs.shared.set(self, for: listener)
        evconnlistener_set_error_cb(listener, { listener, _ in
            let failure = errno
            guard let listener, let backoff = AcceptBackoffs.shared.get(listener) else { return }
            backoff.failed(failure)
        })
    }

    /// Detaches from the listener (before the listener is freed).
    func close() {
        evconnlistener_set_error_cb(listener, nil)
        AcceptBackoffs.shared.set(nil, for: listener)
        if let timer { event_free(timer) }
        timer = nil
    }

    private func failed(_ code: Int32) {
        let now = ContinuousClock.now
        if let lastFailure, now - lastFailure < .seconds(5) {
            delayMillis = min(max(delayMillis * 2, Self.minimumDelayMillis), Self.maximumDelayMillis)
        } else {
            delayMillis = Self.minimumDelayMillis
        }
        lastFailure = now
        failuresSinceWarning += 1
        evconnlistener_disable(listener)
        if let timer {
            var delay = timeval(tv_sec: delayMillis / 1000, tv_usec: Int((delayMillis % 1000) * 1000))
            event_add(timer, &delay)
        }
        if lastWarning.map({ now - $0 >= Self.warningInterval }) ?? true {
            let count = failuresSinceWarning
            logger.warning("cannot accept connections: \(String(cString: strerror(code))) (\(count) time\(count == 1 ? "" : "s") since the last warning); pausing accepts for up to \(Self.maximumDelayMillis) ms at a time until descriptors free up")
            lastWarning = now
            failuresSinceWarning = 0
        }
    }
}

@available(*, unavailable)
extension AcceptBackoff: Sendable {}

/// Back-offs by listener, for every server in the process (each on its own loop thread; a back-off itself is
/// only used on its server's thread). `@unchecked Sendable`: every access to `table` holds `mutex`.
private final class AcceptBackoffs: @unchecked Sendable {
    static let shared = AcceptBackoffs()
    private var mutex = pthread_mutex_t()
    private var table: [OpaquePointer: Unmanaged<AcceptBackoff>] = [:]

    private init() { pthread_mutex_init(&mutex, nil) }

    func set(_ backoff: AcceptBackoff?, for listener: OpaquePointer) {
        pthread_mutex_lock(&mutex)
        table[listener] = backoff.map { Unmanaged.passUnretained($0) }
        pthread_mutex_unlock(&mutex)
    }

    func get(_ listener: OpaquePointer) -> AcceptBackoff? {
        pthread_mutex_lock(&mutex)
        defer { pthread_mutex_unlock(&mutex) }
        return table[listener]?.takeUnretainedValue()
    }
}
