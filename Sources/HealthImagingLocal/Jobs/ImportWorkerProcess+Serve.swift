import HealthImagingDICOM
#if canImport(Glibc)
import Glibc
#endif

extension ImportWorkerProcess {
    /// The test-only fault hook (docs/hardening.md, "Import worker pool"): when the environment variable
    /// `HIL_TEST_IMPORT_WORKER_FAULT` is `crash:TEXT`, `hang:TEXT` or `hog:TEXT`, a worker *process* given a file
    /// whose name contains TEXT aborts, sleeps forever, or allocates until its memory budget stops it. It exists
    /// so that the conformance suite can prove the supervision deterministically; in-process mode ignores it.
    static let faultVariable = "HIL_TEST_IMPORT_WORKER_FAULT"

    /// The `import-worker` subcommand's main loop: one request in, one reply out, until the server closes the
    /// request pipe (or goes away). Returns the process exit status.
    public static func serve(arguments: [String]) -> Int32 {
        closeInheritedDescriptors()
        var memoryMiB = 0
        if let at = arguments.firstIndex(of: "--memory-mb"), at + 1 < arguments.count { memoryMiB = Int(arguments[at + 1]) ?? 0 }
        if memoryMiB > 0 {
            // setrlimit(2) RLIMIT_AS: allocations beyond the address-space limit fail (malloc returns NULL,
            // mmap ENOMEM), which ends this process, not the server.
            let bytes = rlim_t(memoryMiB) << 20
            var limit = rlimit(rlim_cur: bytes, rlim_max: bytes)
            _ = setrlimit(__rlimit_resource_t(RLIMIT_AS.rawValue), &limit)
        }
        // sched_setscheduler(2), as the pool says (ImportPool.Scheduling). (Nice 10 was tried before either policy:
        // on a machine busy with other work it starved the workers, 4x slower imports, for no measurable gain in
        // loop latency, because a niced task is still not preempted at once when the loop wakes.)
        #if os(Linux)
        var policy = Policy.batch
        if let at = arguments.firstIndex(of: "--scheduling"), at + 1 < arguments.count, let given = Policy(rawValue: arguments[at + 1]) {
            policy = given
        }
        var parameters = sched_param()
        parameters.sched_priority = 0
        _ = sched_setscheduler(0, policy.number, &parameters)
        #endif
        // DCMTK reads its data dictionary (/usr/share/libdcmtk17/dicom.dic, about 25 ms) on first use: before the
        // first file arrives, not while it waits.
        _ = DICOMDictionary.entry(keyword: "PatientName")
        let fault = getenv(faultVariable).map { String(cString: $0) }
        let parent = getppid()
        while true {
            var prefix = [UInt8](repeating: 0, count: ImportWire.lengthPrefixBytes)
            guard readAll(0, &prefix) else { return 0 }  // the server closed the pipe: done
            guard let count = ImportWire.messageLength(prefix) else { return 3 }
            var message = [UInt8](repeating: 0, count: count)
            guard readAll(0, &message) else { return 0 }
            guard let (task, limits) = try? ImportWire.task(message) else { return 3 }
            if let fault { injectFault(fault, inputFile: task.inputFile, parent: parent, memoryLimited: memoryMiB > 0) }
            let result = ImportScanner.importFile(task, limits: limits)
            let reply = ImportWire.reply(result)
            guard writeAll(3, ImportWire.lengthPrefix(reply.count)), writeAll(3, reply) else { return 0 }
        }
    }

    /// Closes every descriptor above 3 that came from the server through exec (descriptors opened without
    /// O_CLOEXEC by libraries: sockets, the database, its lock file), so that the worker holds nothing of the
    /// server's. Lists /proc/self/fd; elsewhere closes up to the descriptor limit.
    static func closeInheritedDescriptors() {
        var open: [Int32] = []
        if let directory = opendir("/proc/self/fd") {
            let own = dirfd(directory)
            while let entry = readdir(directory) {
                let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                if let fd = Int32(name), fd > 3, fd != own { open.append(fd) }
            }
            closedir(directory)
        } else {
            open = Array(4..<Int32(min(sysconf(Int32(_SC_OPEN_MAX)), 65536)))
        }
        for fd in open { close(fd) }
    }

    private static func injectFault(_ fault: String, inputFile: String, parent: pid_t, memoryLimited: Bool) {
        let parts = fault.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[1].isEmpty, inputFile.contains(parts[1]) else { return }
        switch parts[0] {
        case "crash":
            abort()
        case "hang":
            // Until the server kills it (or is gone).
            while getppid() == parent { sleep(1) }
            exit(0)
        case "hog":
            // Never without a budget: the machine's memory is not the test's to take.
            guard memoryLimited else { abort() }
            var held: [UnsafeMutableRawPointer] = []
            while true {
                // Touch every page, so that the memory is really used, until malloc fails under RLIMIT_AS.
                guard let block = malloc(64 << 20) else { abort() }
                memset(block, 1, 64 << 20)
                held.append(block)
            }
        default:
            return
        }
    }
}
