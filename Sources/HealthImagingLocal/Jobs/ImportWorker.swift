import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The thread that runs import work off the event loop, and the way its results come back onto the loop.
/// Work items run one after another on one thread (`threadCount` more if asked); each posts messages that the
/// loop takes with `takeMessages()`. Posting writes a byte to a pipe whose read end the loop watches with a
/// libevent read event (`ImportCoordinator.attach`), so the loop wakes without polling and without any libevent
/// object crossing threads (no `evthread` locking needed: the worker never touches the loop's `event_base`).
///
/// `@unchecked Sendable`: the queues (in `Shared`) are only touched with its `condition` held; the pipe's
/// descriptors are immutable after `init` and `write(2)` / `read(2)` on them are thread-safe.
public final class ImportWorker: @unchecked Sendable {
    public typealias Post = @Sendable (ImportMessage) -> Void
    public typealias Work = @Sendable (_ post: Post) -> Void

    /// What the threads share with the worker; they hold it strongly, so the worker can go away (its `deinit`
    /// tells them to stop) while a thread still waits or runs.
    private final class Shared: @unchecked Sendable {
        let condition = NSCondition()
        var queue: [Work] = []
        var messages: [ImportMessage] = []
        var stopping = false
        let signalFD: Int32
        let wakeFD: Int32

        init(wakeFD: Int32, signalFD: Int32) {
            self.wakeFD = wakeFD
            self.signalFD = signalFD
        }

        /// The pipe closes once the worker and its threads are all gone.
        deinit {
            if wakeFD >= 0 { close(wakeFD) }
            if signalFD >= 0 { close(signalFD) }
        }

        func post(_ message: ImportMessage) {
            condition.lock()
            messages.append(message)
            condition.unlock()
            var byte: UInt8 = 1
            _ = write(signalFD, &byte, 1)
        }

        func run() {
            while true {
                condition.lock()
                while queue.isEmpty && !stopping { condition.wait() }
                if stopping {
                    condition.unlock()
                    return
                }
                let work = queue.removeFirst()
                condition.unlock()
                work { [self] message in self.post(message) }
            }
        }
    }

    private let shared: Shared
    /// Read end (watched by the loop) and write end (written by the worker) of the wake-up pipe.
    public let wakeFD: Int32
    private let signalFD: Int32

    public init(threadCount: Int = 1) {
        var fds: [Int32] = [-1, -1]
        if pipe(&fds) == 0 {
            // Non-blocking on both ends: a full pipe already means "wake up", and draining must not block the loop.
            for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        }
        wakeFD = fds[0]
        signalFD = fds[1]
        let shared = Shared(wakeFD: fds[0], signalFD: fds[1])
        self.shared = shared
        for index in 0..<max(1, threadCount) {
            let thread = Thread { shared.run() }
            thread.name = "import-worker-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    deinit {
        shared.condition.lock()
        shared.stopping = true
        shared.queue = []
        shared.condition.broadcast()
        shared.condition.unlock()
    }

    /// Posts a message for the loop from any thread (the import pool's results).
    public func post(_ message: ImportMessage) {
        shared.post(message)
    }

    /// Queues work; it runs on the worker thread.
    public func enqueue(_ work: @escaping Work) {
        shared.condition.lock()
        shared.queue.append(work)
        shared.condition.signal()
        shared.condition.unlock()
    }

    /// Wakes the loop's read event on the pipe without a message (from any thread): the loop has more work of its
    /// own to do after the events already waiting (ImportCoordinator's commit turns).
    public func wake() {
        var byte: UInt8 = 1
        _ = write(signalFD, &byte, 1)
    }

    /// Messages posted since the last call (on the loop).
    public func takeMessages() -> [ImportMessage] {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        let taken = shared.messages
        shared.messages = []
        return taken
    }

    /// Whether messages wait (cheap check before `takeMessages`).
    public var hasMessages: Bool {
        shared.condition.lock()
        defer { shared.condition.unlock() }
        return !shared.messages.isEmpty
    }

    /// Empties the wake-up pipe (on the loop, from its read event).
    public func drainWakeups() {
        var scratch = [UInt8](repeating: 0, count: 256)
        while scratch.withUnsafeMutableBytes({ read(wakeFD, $0.baseAddress, 256) }) > 0 {}
    }
}

/// What the worker reports back to the loop about one job.
public enum ImportMessage: Sendable {
    /// The worker began the job: SUBMITTED → IN_PROGRESS.
    case started(ImportJobKey)
    /// Every input file was read: the loop groups and commits them, then asks for the output to be written.
    case scanned(ImportJobKey, ImportScan)
    /// The job cannot go on (no source, bucket missing, endpoint down): it ends FAILED with this message.
    case failed(ImportJobKey, String)
    /// The files of one `ImportCoordinator.process` call (by its token), in task order.
    case processed(Int, [Result<ImportedFile, RejectedFile>])
    /// The output folder was written (nil) or could not be (the message): the job ends COMPLETED or FAILED.
    case written(ImportJobKey, String?)
    /// The result of one `ImportCoordinator.offLoop` call (by its token).
    case ran(Int, any Sendable)
}

/// Which job a message is about.
public struct ImportJobKey: Sendable, Hashable {
    public var namespace: Namespace
    public var datastoreId: String
    public var jobId: String
}
