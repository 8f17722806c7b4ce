#if canImport(Glibc)
import Glibc
#endif

/// Why a database file cannot be used, naming the file: the exit-2 message of the command.
public struct DatabaseOpenError: Error, CustomStringConvertible {
    public let path: String
    public let problem: String

    public var description: String { "cannot use the database \(path): \(problem)" }
}

/// One owner per database file across processes: a POSIX record lock on the sidecar file `<db>.lock`, which
/// holds the owner's pid. A second emulator on the same `--db` sees the lock and is told the owner's pid by the
/// kernel (`F_GETLK`). The lock goes with the process (exit, crash, kill -9); the file itself stays, harmless.
/// Not Sendable: owned by the `Store`.
final class DatabaseLock {
    let path: String
    private let descriptor: Int32

    init(databasePath: String) throws(DatabaseOpenError) {
        let path = databasePath + ".lock"
        // > open: O_CLOEXEC so a child process does not inherit (and so keep) the descriptor.
        let descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw DatabaseOpenError(path: databasePath, problem: "cannot open its lock file \(path): \(Self.errorText())")
        }
        // > F_SETLK: Acquire a lock … If a conflicting lock is held by another process, this call returns -1
        // > and sets errno to EACCES or EAGAIN. F_GETLK: … returns details about one of these locks in the
        // > l_type, l_whence, l_start, and l_len fields of lock and sets l_pid to be the PID of the process
        // > holding that lock. https://man7.org/linux/man-pages/man2/fcntl.2.html
        var lock = Self.wholeFile(F_WRLCK)
        guard fcntl(descriptor, F_SETLK, &lock) == 0 else {
            let failure = errno
            var probe = Self.wholeFile(F_WRLCK)
            let owner = fcntl(descriptor, F_GETLK, &probe) == 0 && probe.l_type != Int16(F_UNLCK) ? Int(probe.l_pid) : nil
            close(descriptor)
            if failure == EACCES || failure == EAGAIN {
                let who = owner.map { "another healthimaging-local (pid \($0))" } ?? "another healthimaging-local"
                throw DatabaseOpenError(path: databasePath, problem: "it is in use by \(who), which holds the lock on \(path)")
            }
            throw DatabaseOpenError(path: databasePath, problem: "cannot lock \(path): \(Self.errorText(failure))")
        }
        let text = Array("\(getpid())\n".utf8)
        _ = ftruncate(descriptor, 0)
        _ = text.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        self.path = path
        self.descriptor = descriptor
    }

    deinit {
        // Closing the descriptor releases the lock.
        close(descriptor)
    }

    private static func wholeFile(_ type: Int32) -> flock {
        var lock = flock()
        lock.l_type = Int16(type)
        lock.l_whence = Int16(SEEK_SET)
        lock.l_start = 0
        lock.l_len = 0
        return lock
    }

    private static func errorText(_ code: Int32 = errno) -> String { String(cString: strerror(code)) }
}

@available(*, unavailable)
extension DatabaseLock: Sendable {}
