import Foundation
#if canImport(Glibc)
import Glibc
#endif
import HealthImagingDICOM

/// One supervised `import-worker` process, seen from the server (docs/hardening.md, "Import worker pool").
///
/// The server re-executes its own binary as `healthimaging-local import-worker --memory-mb M`; DCMTK, OpenJPEG and
/// OpenJPH then run on untrusted files in that process only. Requests go down the child's standard input, replies
/// come up a pipe that is the child's descriptor 3 (its standard output is its standard error, so nothing a
/// library prints can corrupt a reply). Each request gets exactly one reply; `exchange` waits for it at most the
/// file's time budget. A child that dies, overruns its budget or answers garbage is killed (SIGKILL) and reaped,
/// and the file gets a server-error line; the pool slot starts a new child for its next file.
///
/// Used by one pool slot thread at a time (never shared), so it needs no lock.
public final class ImportWorkerProcess {
    struct Limits: Sendable {
        /// The binary that understands `import-worker` (the server's own executable).
        var executable: String
        /// Address-space limit of each worker (RLIMIT_AS), in MiB; 0: none.
        var memoryMiB: Int
        /// How long one file may take, in seconds.
        var fileSeconds: Double
        var policy: Policy
        /// With `policy` idle: give a file up (`Failure.starved`) when the worker got less than a tenth of a
        /// core over a second of waiting for it.
        var detectsStarvation = false
    }

    /// How one worker process shares the CPU (sched(7)); `ImportPool.Scheduling` decides which worker gets which.
    public enum Policy: String, Sendable, CaseIterable {
        /// SCHED_IDLE: the worker runs only when nothing else wants the core, and any other task that wakes
        /// preempts it at once; on a machine busy with other work it gets almost nothing.
        case idle
        /// SCHED_BATCH: a fair share of the CPU, but a batch task never preempts others when it wakes, so a
        /// request that arrives while every core encodes may wait for a time slice.
        case batch

        /// The policy number for sched_setscheduler(2) (the constants need _GNU_SOURCE, hidden from Swift).
        var number: Int32 {
            switch self {
            case .idle: 5
            case .batch: 3
            }
        }
    }

    /// Why an exchange produced no reply.
    enum Failure: Error {
        case couldNotStart(String)
        case died(String)
        case timedOut
        /// `cancelled` said stop (the batch's deadline passed): the child was killed.
        case cancelled
        /// An idle-policy child got almost no CPU while other work kept every core busy: it was killed, and the
        /// file is for another worker (`Limits.detectsStarvation`).
        case starved
    }

    public static let subcommand = "import-worker"

    /// argv[0] of the workers, as `ps` shows them: the server's own path.
    static let displayName: String = {
        var buffer = [CChar](repeating: 0, count: 4096)
        let count = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return count > 0 ? String(decoding: buffer[..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self) : "healthimaging-local"
    }()

    /// The server's environment, with
    /// - the Swift runtime's crash backtracer off: a worker that crashes on a file is expected, and its end is
    ///   reported in the manifest, not as pages of backtrace on the server's stderr;
    /// - glibc's malloc told to keep freed blocks of up to 32 MiB for reuse, with up to 64 MiB at the top of the
    ///   heap before returning memory (`GLIBC_TUNABLES`; a value the user set comes after, so it wins). By default
    ///   each frame's half-megabyte buffers were mapped, faulted in page by page and unmapped again, file after
    ///   file: a tenth of a worker's CPU time (200 one-frame files: 2.02 → 1.82 CPU-seconds).
    static let environment: CStringArray = {
        var variables: [String] = []
        var tunables = "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=67108864"
        var cursor = environ
        while let entry = cursor.pointee {
            let text = String(cString: entry)
            if text.hasPrefix("GLIBC_TUNABLES=") {
                tunables += ":" + text.dropFirst("GLIBC_TUNABLES=".count)
            } else if !text.hasPrefix("SWIFT_BACKTRACE=") {
                variables.append(text)
            }
            cursor += 1
        }
        return CStringArray(variables + ["SWIFT_BACKTRACE=enable=no", "GLIBC_TUNABLES=" + tunables])
    }()

    /// A NULL-terminated `char *[]` that lives as long as the process (the environment given to every worker).
    final class CStringArray: @unchecked Sendable {
        /// Immutable after `init`; only read by `posix_spawn`.
        let pointers: [UnsafeMutablePointer<CChar>?]

        init(_ strings: [String]) {
            pointers = strings.map { strdup($0) } + [nil]
        }
    }

    /// The running binary, to re-execute as a worker: `/proc/self/exe` where it exists, else argv[0].
    public static func ownExecutable() -> String {
        access("/proc/self/exe", X_OK) == 0 ? "/proc/self/exe" : CommandLine.arguments[0]
    }

    private let limits: Limits
    private(set) var pid: pid_t = -1
    private var requestFD: Int32 = -1
    private var replyFD: Int32 = -1

    init(limits: Limits) {
        self.limits = limits
    }

    deinit { stop() }

    var isRunning: Bool { pid > 0 }

    /// Serialises pipe creation and spawning across pool slots, so that no child inherits another's pipe ends
    /// in the moment between `pipe(2)` and `FD_CLOEXEC` (pipe2 is not visible to Swift here).
    private static let spawnLock = NSLock()

    /// Starts the child (posix_spawn: no fork of this multi-threaded process).
    func start() throws(Failure) {
        var request: [Int32] = [-1, -1]
        var reply: [Int32] = [-1, -1]
        Self.spawnLock.lock()
        defer { Self.spawnLock.unlock() }
        guard pipe(&request) == 0 else { throw .couldNotStart("pipe failed: errno \(errno)") }
        guard pipe(&reply) == 0 else {
            close(request[0]); close(request[1])
            throw .couldNotStart("pipe failed: errno \(errno)")
        }
        // FD_CLOEXEC on all four ends: no other child inherits them; posix_spawn's dup2 clears the flag on the
        // child's own copies only.
        for fd in request + reply { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        // fcntl(2) F_SETPIPE_SZ (1031 on Linux; hidden from Swift with F_SETPIPE_SZ's _GNU_SOURCE): 1 MiB, the most
        // an unprivileged process may ask for by default (/proc/sys/fs/pipe-max-size). A one-frame file and its
        // reply then cross in one write each instead of a wake-up per 64 KiB, while the worker waits for its next
        // file. Where it is refused, the pipes keep their size and only get slower.
        #if os(Linux)
        _ = fcntl(request[1], 1031, Int32(1 << 20))
        _ = fcntl(reply[1], 1031, Int32(1 << 20))
        #endif
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, request[0], 0)
        posix_spawn_file_actions_adddup2(&actions, 2, 1)
        posix_spawn_file_actions_adddup2(&actions, reply[1], 3)
        let arguments = [Self.displayName, Self.subcommand, "--memory-mb", String(limits.memoryMiB),
                         "--scheduling", limits.policy.rawValue]
        var argv: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var child: pid_t = 0
        // posix_spawn(3): 0 on success, else an error number (errno is not set).
        let status = posix_spawn(&child, limits.executable, &actions, nil, &argv, Self.environment.pointers)
        close(request[0])
        close(reply[1])
        guard status == 0 else {
            close(request[1]); close(reply[0])
            throw .couldNotStart("posix_spawn \(limits.executable) failed: error \(status)")
        }
        pid = child
        requestFD = request[1]
        replyFD = reply[0]
    }

    /// Kills and reaps the child (idempotent).
    func stop() {
        closePipes()
        guard pid > 0 else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        pid = -1
    }

    /// When the file sent last was sent: its time budget runs from there.
    private var sentAt: ContinuousClock.Instant?

    /// Sends one file (starting the child if none runs). The child begins on it at once, even while the
    /// caller still decodes the reply to the file before (`receive` hands the reply over undecoded).
    func send(_ task: ImportTask, limits dicomLimits: DICOMLimits) throws(Failure) {
        if !isRunning { try start() }
        sentAt = ContinuousClock.now
        guard writeMessage(ImportWire.request(task, limits: dicomLimits)) else { throw fail() }
    }

    /// The reply to the file sent last, within its time budget; on any failure the child is stopped.
    func receive(cancelled: () -> Bool = { false }) throws(Failure) -> [UInt8] {
        let deadline = (sentAt ?? ContinuousClock.now) + .milliseconds(Int64(limits.fileSeconds * 1000))
        do throws(Failure) {
            return try readMessage(deadline: deadline, cancelled: cancelled)
        } catch {
            switch error {
            case .timedOut, .cancelled, .starved:
                stop()
                throw error
            default:
                throw fail()
            }
        }
    }

    /// A reply's result (decoding needs no child: it may run after the next file was sent).
    static func decode(_ reply: [UInt8]) throws(Failure) -> Result<ImportedFile, RejectedFile> {
        do throws(ImportWire.DecodeError) {
            return try ImportWire.result(reply)
        } catch {
            throw .died("the import worker sent a reply that could not be read")
        }
    }

    /// Stops the child and says how it ended.
    private func fail() -> Failure {
        guard pid > 0 else { return .died("the import worker is gone") }
        closePipes()
        // Give a dying child a moment to be reaped with its real status, then make sure.
        var status: Int32 = 0
        var reaped = false
        for _ in 0..<100 {
            let got = waitpid(pid, &status, WNOHANG)
            if got == pid { reaped = true; break }
            usleep(2_000)
        }
        if !reaped {
            kill(pid, SIGKILL)
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
        pid = -1
        // WIFSIGNALED / WTERMSIG / WEXITSTATUS, spelled out (the C macros are not imported).
        let signal = status & 0x7f
        if reaped && signal != 0 && signal != 0x7f {
            return .died("the import worker was killed by signal \(signal) (\(Self.signalName(signal)))")
        }
        return .died("the import worker exited with status \((status >> 8) & 0xff)")
    }

    /// Closes this end of both pipes (idempotent).
    private func closePipes() {
        if requestFD >= 0 { close(requestFD); requestFD = -1 }
        if replyFD >= 0 { close(replyFD); replyFD = -1 }
    }

    static func signalName(_ signal: Int32) -> String {
        switch signal {
        case SIGSEGV: "SIGSEGV"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGILL: "SIGILL"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGTRAP: "SIGTRAP"
        default: "signal \(signal)"
        }
    }

    private func writeMessage(_ payload: [UInt8]) -> Bool {
        Self.writeAll(requestFD, ImportWire.lengthPrefix(payload.count)) && Self.writeAll(requestFD, payload)
    }

    private func readMessage(deadline: ContinuousClock.Instant, cancelled: () -> Bool) throws(Failure) -> [UInt8] {
        var prefix = [UInt8](repeating: 0, count: ImportWire.lengthPrefixBytes)
        try readExactly(&prefix, deadline: deadline, cancelled: cancelled)
        guard let count = ImportWire.messageLength(prefix) else { throw .died("the import worker sent a bad length") }
        var message = [UInt8](repeating: 0, count: count)
        try readExactly(&message, deadline: deadline, cancelled: cancelled)
        return message
    }

    private func readExactly(_ buffer: inout [UInt8], deadline: ContinuousClock.Instant, cancelled: () -> Bool) throws(Failure) {
        var done = 0
        var window = limits.detectsStarvation ? (start: ContinuousClock.now, cpu: cpuSeconds()) : nil
        while done < buffer.count {
            let now = ContinuousClock.now
            guard now < deadline else { throw .timedOut }
            if cancelled() { throw .cancelled }
            if let started = window, started.start.duration(to: now) >= .seconds(1) {
                let cpu = cpuSeconds()
                if let before = started.cpu, let after = cpu, after - before < 0.1 { throw .starved }
                window = (now, cpu)
            }
            let left = now.duration(to: deadline).components
            let leftMillis = left.seconds * 1000 + left.attoseconds / 1_000_000_000_000_000 + 1
            var poller = pollfd(fd: replyFD, events: Int16(POLLIN), revents: 0)
            // poll(2): the number of ready descriptors, 0 on timeout, -1 with errno.
            let ready = poll(&poller, 1, Int32(min(leftMillis, 200)))
            if ready < 0 && errno == EINTR { continue }
            guard ready >= 0 else { throw .died("poll failed: errno \(errno)") }
            if ready == 0 { continue }
            let count = buffer.count
            let got = buffer.withUnsafeMutableBytes { read(replyFD, $0.baseAddress! + done, count - done) }
            if got < 0 && (errno == EINTR || errno == EAGAIN) { continue }
            guard got > 0 else { throw .died("the import worker closed its reply pipe") }
            done += got
        }
    }

    /// The child's processor time so far (utime + stime of /proc/PID/stat), nil where it cannot be read.
    private func cpuSeconds() -> Double? {
        guard pid > 0, let text = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = text.lastIndex(of: ")") else { return nil }
        // Fields after the command name: state is field 3, utime 14 and stime 15 (proc(5)).
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var done = 0
        while done < bytes.count {
            // write(2): bytes written, or -1 with errno (EPIPE once the reader is gone: SIGPIPE is ignored).
            let wrote = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + done, bytes.count - done) }
            if wrote < 0 && errno == EINTR { continue }
            guard wrote > 0 else { return false }
            done += wrote
        }
        return true
    }

    static func readAll(_ fd: Int32, _ buffer: inout [UInt8]) -> Bool {
        var done = 0
        while done < buffer.count {
            let count = buffer.count
            let got = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress! + done, count - done) }
            if got < 0 && errno == EINTR { continue }
            guard got > 0 else { return false }
            done += got
        }
        return true
    }

}

/// The framing both ends of the pipes use: a message is an 8-byte little-endian length, then that many bytes.
extension ImportWire {
    static let lengthPrefixBytes = 8

    /// The length prefix of a message of `count` bytes.
    static func lengthPrefix(_ count: Int) -> [UInt8] {
        var writer = Writer()
        writer.int(count)
        return writer.bytes
    }

    /// The length a prefix announces; nil when it is out of range (a broken peer).
    static func messageLength(_ prefix: [UInt8]) -> Int? {
        var reader = Reader(prefix)
        guard let count = try? reader.int(), count >= 0, count <= maxMessageBytes else { return nil }
        return count
    }
}
