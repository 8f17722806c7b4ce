import Foundation
import HealthImagingDICOM

/// The import pool (docs/hardening.md "Import worker pool", docs/performance.md "Imports on every core"): the
/// threads that do the per-file work of every import — jobs, the `/dicom` shortcut, STOW-RS — off the event loop.
///
/// - `workers` slots, one thread each. With a worker executable, each slot supervises one `import-worker` process
///   (`ImportWorkerProcess`) and DCMTK / OpenJPEG / OpenJPH never see an untrusted file in the server process;
///   without one (the in-process test server, `--import-workers 0`), the slot runs `ImportScanner.importFile`
///   itself, on its own thread.
/// - Work comes in batches (a job's files, one `process` call). Slots take files from the batches in turn
///   (round robin), so a small batch submitted behind a large one starts at the next free slot, not after it.
/// - A batch may have a deadline (the job's wall-clock limit): files not started by then are not started, and
///   the batch ends with that message.
/// - `done` runs once per batch, on a slot thread (or the caller's, for an empty batch), with one outcome per
///   unit in unit order; the coordinator posts it to the loop.
///
/// `@unchecked Sendable`: `batches`, `stopping` and every `Batch`'s mutable state are only touched with
/// `condition` held; the configuration is immutable.
public final class ImportPool: @unchecked Sendable {
    public struct Configuration: Sendable {
        /// How many files are worked on at once (slots); at least 1.
        public var workers: Int
        /// The binary that understands `import-worker` (the server's own); nil: in-process threads.
        public var executable: String?
        /// Address-space limit of each worker process in MiB (RLIMIT_AS); 0: none.
        public var memoryMiB: Int
        /// How long one file may take in a worker process, in seconds.
        public var fileSeconds: Double
        /// How worker processes share the CPU with the server (`--import-worker-scheduling`).
        public var scheduling: Scheduling
        /// The DICOM parsing limits (`--max-frame-bytes`, …) every file is read with.
        public var limits: DICOMLimits

        public init(workers: Int = 1, executable: String? = nil, memoryMiB: Int = 4096, fileSeconds: Double = 300,
                    scheduling: Scheduling = .auto, limits: DICOMLimits = .standard) {
            self.workers = workers
            self.executable = executable
            self.memoryMiB = memoryMiB
            self.fileSeconds = fileSeconds
            self.scheduling = scheduling
            self.limits = limits
        }

        public func with(limits: DICOMLimits) -> Configuration {
            var copy = self
            copy.limits = limits
            return copy
        }
    }

    /// How the worker processes share the CPU with the server's event loop (`--import-worker-scheduling`,
    /// docs/performance.md "Imports on every core").
    public enum Scheduling: String, Sendable, CaseIterable {
        /// One core's worth is the loop's: all workers but the last of the cores are SCHED_BATCH (a fair share,
        /// so imports go on however busy the machine is), and the one that would take the loop's core, with any
        /// beyond the core count, are SCHED_IDLE (they run only when the core is otherwise idle, and the loop
        /// preempts them the moment a request arrives). An idle worker that gets almost no CPU for a second — the
        /// machine is busy with other work — gives its file to the batch workers, and waits before taking another.
        case auto
        /// Every worker SCHED_BATCH: the most import throughput on a busy machine; a request that arrives while
        /// every core encodes may wait for a worker's time slice.
        case batch
        /// Every worker SCHED_IDLE: API latency first; on a machine busy with other work, imports stall.
        case idle
    }

    /// The policy of slot `index`'s worker, and whether it gives starved files back.
    func policy(slot index: Int, cores: Int = ProcessInfo.processInfo.activeProcessorCount) -> (ImportWorkerProcess.Policy, handsBack: Bool) {
        switch configuration.scheduling {
        case .batch: return (.batch, false)
        case .idle: return (.idle, false)
        case .auto:
            let batchWorkers = max(1, min(configuration.workers, cores - 1))
            return index < batchWorkers ? (.batch, false) : (.idle, true)
        }
    }

    /// What one unit of work produced.
    enum Outcome: Sendable {
        case file(Result<ImportedFile, RejectedFile>)
        /// The batch stopped before this unit: the object store went away, or the deadline passed (the message).
        case stopped(String)
    }

    /// Why a unit's source could not be had.
    enum FetchFailure: Error {
        /// This file only (it is named in the manifest).
        case rejected(RejectedFile)
        /// The whole batch (the object store is not reachable).
        case stop(String)
    }

    /// One file: its name, the format to store its frames in, and how to get its bytes (run on the slot thread,
    /// so that an S3 GET is not made on the loop, nor all of a job's files held at once).
    struct Unit: Sendable {
        var inputFile: String
        var format: LosslessStorageFormat
        var fetch: @Sendable () -> Result<ImportSource, FetchFailure>
    }

    private final class Batch {
        let units: [Unit]
        let deadline: ContinuousClock.Instant?
        let deadlineMessage: String
        let done: @Sendable ([Outcome]) -> Void
        var next = 0
        var remaining: Int
        /// Set (with the lock held) by whoever calls `done`, so that it is called once.
        var finished = false
        var outcomes: [Outcome?]

        init(units: [Unit], deadline: ContinuousClock.Instant?, deadlineMessage: String, done: @escaping @Sendable ([Outcome]) -> Void) {
            self.units = units
            self.deadline = deadline
            self.deadlineMessage = deadlineMessage
            self.done = done
            remaining = units.count
            outcomes = Array(repeating: nil, count: units.count)
        }

        /// Marks every unit not yet started as stopped.
        func stop(_ message: String) {
            guard next < units.count else { return }
            for index in next..<units.count { outcomes[index] = .stopped(message) }
            remaining -= units.count - next
            next = units.count
        }
    }

    public let configuration: Configuration
    private let condition = NSCondition()
    /// Queued and running batches, in arrival order.
    private var batches: [Batch] = []
    /// Where the round robin goes on: the index of the batch after the one served last.
    private var cursor = 0
    private var stopping = false
    private var threadsLeft = 0
    /// Units a starved idle worker gave up, fetched already: batch slots take them before anything else.
    private var handedBack: [Taken] = []

    public init(_ configuration: Configuration) {
        var configuration = configuration
        configuration.workers = max(1, configuration.workers)
        self.configuration = configuration
        threadsLeft = configuration.workers
        for index in 0..<configuration.workers {
            let thread = Thread { [self] in slot(index) }
            thread.name = "import-pool-\(index)"
            thread.stackSize = 8 << 20
            thread.start()
        }
    }

    /// Stops the slots (and their worker processes) once they finish their current file; waits for them.
    public func shutdown() {
        condition.lock()
        stopping = true
        for batch in batches { batch.stop("The server is stopping") }
        // Units given back by a starved worker and not taken again: nobody will run them now.
        var ended: [Batch] = []
        for taken in handedBack {
            taken.batch.outcomes[taken.index] = .stopped("The server is stopping")
            taken.batch.remaining -= 1
            if claim(taken.batch) { ended.append(taken.batch) }
        }
        handedBack = []
        if !ended.isEmpty {
            condition.unlock()
            for batch in ended { end(batch) }
            condition.lock()
        }
        condition.broadcast()
        while threadsLeft > 0 { condition.wait() }
        condition.unlock()
    }

    /// Queues a batch. `done` gets one outcome per unit, in unit order.
    func submit(_ units: [Unit], deadline: ContinuousClock.Instant? = nil, deadlineMessage: String = "",
                done: @escaping @Sendable ([Outcome]) -> Void) {
        guard !units.isEmpty else { return done([]) }
        let batch = Batch(units: units, deadline: deadline, deadlineMessage: deadlineMessage, done: done)
        condition.lock()
        if stopping { batch.stop("The server is stopping") }
        batches.append(batch)
        condition.broadcast()
        let ended = claim(batch)
        condition.unlock()
        if ended { end(batch) }
    }

    /// How many batches are queued or running (for tests and the log).
    var pendingBatches: Int {
        condition.lock()
        defer { condition.unlock() }
        return batches.count
    }

    /// Whether the caller is the one to end `batch` (all its units are in, and nobody ended it yet): then it
    /// leaves the queue. With the lock held.
    private func claim(_ batch: Batch) -> Bool {
        guard batch.remaining == 0, !batch.finished else { return false }
        batch.finished = true
        if let at = batches.firstIndex(where: { $0 === batch }) {
            batches.remove(at: at)
            if at < cursor { cursor -= 1 }
        }
        return true
    }

    /// Calls `done` (without the lock; the outcomes are final once claimed).
    private func end(_ batch: Batch) {
        batch.done(batch.outcomes.map { $0 ?? .stopped("The file was not processed") })
    }

    /// Takes the next unit: a unit handed back by a starved worker first (when `handedBackToo`), then round robin
    /// across batches; nil when stopping, or when none is left and `wait` is false.
    private func take(wait: Bool = true, handedBackToo: Bool) -> Taken? {
        condition.lock()
        while true {
            if stopping {
                condition.unlock()
                return nil
            }
            if handedBackToo && !handedBack.isEmpty {
                let taken = handedBack.removeFirst()
                condition.unlock()
                return taken
            }
            let now = ContinuousClock.now
            for batch in batches {
                if let deadline = batch.deadline, now >= deadline { batch.stop(batch.deadlineMessage) }
            }
            // Batches whose every unit is accounted for by expiry (none running) end here.
            let ended = batches.filter { claim($0) }
            if !ended.isEmpty {
                condition.unlock()
                for batch in ended { end(batch) }
                condition.lock()
                continue
            }
            // Round robin: the first batch with a file left, from the one after the batch served last (a batch
            // that arrives while another is served is next).
            for step in 0..<batches.count {
                let at = (cursor + step) % batches.count
                let batch = batches[at]
                guard batch.next < batch.units.count else { continue }
                let index = batch.next
                batch.next += 1
                cursor = at + 1
                // Fetched without the lock: an S3 GET or a file read.
                condition.unlock()
                return prepare(batch, index)
            }
            guard wait else {
                condition.unlock()
                return nil
            }
            condition.wait()
        }
    }

    /// A unit taken from its batch, with its source fetched, or the outcome that ended it before any work.
    private struct Taken {
        let batch: Batch
        let index: Int
        let prepared: Result<ImportTask, Stopped>

        /// An outcome settled before a worker saw the file (Result's failure must be an Error).
        struct Stopped: Error {
            let outcome: Outcome
        }
    }

    /// Fetches a taken unit's source (on the slot thread: an S3 GET is not made on the loop).
    private func prepare(_ batch: Batch, _ index: Int) -> Taken {
        let unit = batch.units[index]
        let prepared: Result<ImportTask, Taken.Stopped> = switch unit.fetch() {
        case .success(let source): .success(ImportTask(inputFile: unit.inputFile, source: source, format: unit.format))
        case .failure(.rejected(let rejected)): .failure(.init(outcome: .file(.failure(rejected))))
        case .failure(.stop(let message)): .failure(.init(outcome: .stopped(message)))
        }
        return Taken(batch: batch, index: index, prepared: prepared)
    }

    /// One slot: take a unit, run it, record it; end the batch when its last unit is in.
    ///
    /// With a worker process the slot keeps it fed: while the worker encodes one file, the slot takes and
    /// fetches the next, and sends it as soon as the reply is read, before decoding that reply. The worker then
    /// never waits for the server between files (200 one-frame files: 13 % of each worker's time was spent
    /// waiting). Only a unit that is already available is taken ahead, so a batch submitted later is not
    /// delayed by it.
    private func slot(_ slotIndex: Int) {
        var worker: ImportWorkerProcess?
        let (policy, handsBack) = policy(slot: slotIndex)
        if let executable = configuration.executable {
            worker = ImportWorkerProcess(limits: .init(executable: executable, memoryMiB: configuration.memoryMiB,
                                                       fileSeconds: configuration.fileSeconds,
                                                       policy: policy, detectsStarvation: handsBack))
            // Started now rather than for the first file: a worker spends about 50 ms starting (its libraries,
            // then DCMTK's data dictionary), which was a twentieth of a 200-file import on a fresh server. A
            // worker that cannot start is tried again for the first file, which then reports why.
            try? worker?.start()
        }
        defer {
            worker?.stop()
            condition.lock()
            threadsLeft -= 1
            condition.broadcast()
            condition.unlock()
        }
        var ahead: Taken?
        /// Whether `ahead` was already sent to the worker.
        var aheadSent = false
        while true {
            let current: Taken
            if let taken = ahead {
                current = taken
                ahead = nil
            } else if let taken = take(handedBackToo: !handsBack) {
                current = taken
            } else {
                break
            }
            let sent = aheadSent
            aheadSent = false
            let outcome: Outcome
            switch current.prepared {
            case .failure(let stopped):
                outcome = stopped.outcome
            case .success(let task):
                if let worker {
                    let result = run(task, of: current, worker: worker, alreadySent: sent, working: {
                        // The worker has its file: fetch the next one meanwhile, if one is waiting.
                        if ahead == nil { ahead = take(wait: false, handedBackToo: !handsBack) }
                    }, replied: {
                        // The reply is in: send the next file before decoding it.
                        if let next = ahead, case .success(let nextTask) = next.prepared, !stopped(next.batch) {
                            aheadSent = (try? worker.send(nextTask, limits: configuration.limits)) != nil
                        }
                    })
                    // Every failure stops the worker: whatever was sent ahead went with it, and is sent again.
                    if !worker.isRunning { aheadSent = false }
                    guard let result else {
                        // Starved: the file, and any taken ahead, go to the batch workers; this slot waits a
                        // little before it takes another, as the machine is busy.
                        condition.lock()
                        handedBack.append(current)
                        if let next = ahead { handedBack.append(next) }
                        condition.broadcast()
                        let until = Date(timeIntervalSinceNow: Self.starvedPause)
                        while !stopping && Date() < until { _ = condition.wait(until: until) }
                        condition.unlock()
                        ahead = nil
                        aheadSent = false
                        continue
                    }
                    outcome = result
                } else {
                    outcome = .file(ImportScanner.importFile(task, limits: configuration.limits))
                }
            }
            condition.lock()
            if case .stopped(let message) = outcome { current.batch.stop(message) }
            current.batch.outcomes[current.index] = outcome
            current.batch.remaining -= 1
            let ended = claim(current.batch)
            condition.unlock()
            if ended { end(current.batch) }
        }
    }

    /// Whether a batch's deadline has passed or the pool is stopping (a unit taken ahead is then not started).
    private func stopped(_ batch: Batch) -> Bool {
        if let deadline = batch.deadline, ContinuousClock.now >= deadline { return true }
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// How long a slot whose idle worker starved waits before it takes another file.
    static let starvedPause: TimeInterval = 2

    /// One file in the slot's worker process; nil when the worker starved (`Failure.starved`) and the file is for
    /// another slot. `alreadySent`: the slot sent it while the file before was finishing. On each attempt,
    /// `working` runs once the worker has the file, and `replied` once its reply is read, before it is decoded.
    private func run(_ task: ImportTask, of taken: Taken, worker: ImportWorkerProcess, alreadySent: Bool,
                     working: () -> Void, replied: () -> Void) -> Outcome? {
        let batch = taken.batch
        let deadline = batch.deadline
        let cancelled = { deadline.map { ContinuousClock.now >= $0 } ?? false }
        if !alreadySent && stopped(batch) {
            condition.lock()
            let message = stopping ? "The server is stopping" : batch.deadlineMessage
            condition.unlock()
            return .stopped(message)
        }
        // A worker that dies may have been hurt by an earlier file: the file gets a second, fresh worker before
        // it is blamed. A time-budget overrun is not retried.
        var attempt = 0
        var sent = alreadySent
        while true {
            attempt += 1
            do throws(ImportWorkerProcess.Failure) {
                if !sent { try worker.send(task, limits: configuration.limits) }
                sent = false
                working()
                let reply = try worker.receive(cancelled: cancelled)
                replied()
                do throws(ImportWorkerProcess.Failure) {
                    return .file(try ImportWorkerProcess.decode(reply))
                } catch {
                    // A worker that answers garbage is not trusted with the file sent after it either.
                    worker.stop()
                    throw error
                }
            } catch {
                let message: String
                switch error {
                case .cancelled:
                    return .stopped(batch.deadlineMessage)
                case .starved:
                    return nil
                case .timedOut:
                    message = "The import worker exceeded its time budget of \(Self.seconds(configuration.fileSeconds)) seconds on this file (--import-file-seconds) and was stopped"
                case .died(let why):
                    if attempt < 2 { continue }
                    let budget = configuration.memoryMiB > 0 ? " (a crash in a codec, or more memory than the worker's budget of \(configuration.memoryMiB) MiB, --import-worker-memory-mb)" : " (a crash in a codec)"
                    message = "The import worker stopped while reading this file: \(why)\(budget); the file was not imported"
                case .couldNotStart(let why):
                    message = "No import worker could be started: \(why)"
                }
                return .file(.failure(RejectedFile(
                    inputFile: task.inputFile, error: DICOMFileError(exceptionType: "InternalServerException", message: message),
                    serverError: true)))
            }
        }
    }

    static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}
