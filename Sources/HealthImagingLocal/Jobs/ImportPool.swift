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
        /// The DICOM parsing limits (`--max-frame-bytes`, …) every file is read with.
        public var limits: DICOMLimits

        public init(workers: Int = 1, executable: String? = nil, memoryMiB: Int = 4096, fileSeconds: Double = 300,
                    limits: DICOMLimits = .standard) {
            self.workers = workers
            self.executable = executable
            self.memoryMiB = memoryMiB
            self.fileSeconds = fileSeconds
            self.limits = limits
        }

        public func with(limits: DICOMLimits) -> Configuration {
            var copy = self
            copy.limits = limits
            return copy
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

    public init(_ configuration: Configuration) {
        var configuration = configuration
        configuration.workers = max(1, configuration.workers)
        self.configuration = configuration
        threadsLeft = configuration.workers
        for index in 0..<configuration.workers {
            let thread = Thread { [self] in slot() }
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

    /// Takes the next unit, round robin across batches; nil when stopping.
    private func take() -> (Batch, Int)? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if stopping { return nil }
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
                return (batch, index)
            }
            condition.wait()
        }
    }

    /// One slot: take a unit, run it, record it; end the batch when its last unit is in.
    private func slot() {
        var worker: ImportWorkerProcess?
        if let executable = configuration.executable {
            worker = ImportWorkerProcess(limits: .init(executable: executable, memoryMiB: configuration.memoryMiB,
                                                       fileSeconds: configuration.fileSeconds))
        }
        defer {
            worker?.stop()
            condition.lock()
            threadsLeft -= 1
            condition.broadcast()
            condition.unlock()
        }
        while let (batch, index) = take() {
            let deadline = batch.deadline
            let outcome = run(batch.units[index], worker: worker, deadlineMessage: batch.deadlineMessage,
                              cancelled: { deadline.map { ContinuousClock.now >= $0 } ?? false })
            condition.lock()
            if case .stopped(let message) = outcome { batch.stop(message) }
            batch.outcomes[index] = outcome
            batch.remaining -= 1
            let ended = claim(batch)
            condition.unlock()
            if ended { end(batch) }
        }
    }

    private func run(_ unit: Unit, worker: ImportWorkerProcess?, deadlineMessage: String, cancelled: () -> Bool) -> Outcome {
        let source: ImportSource
        switch unit.fetch() {
        case .success(let fetched): source = fetched
        case .failure(.rejected(let rejected)): return .file(.failure(rejected))
        case .failure(.stop(let message)): return .stopped(message)
        }
        let task = ImportTask(inputFile: unit.inputFile, source: source, format: unit.format)
        guard let worker else { return .file(ImportScanner.importFile(task, limits: configuration.limits)) }
        // A worker that dies may have been hurt by an earlier file: the file gets a second, fresh worker before
        // it is blamed. A time-budget overrun is not retried.
        var attempt = 0
        while true {
            attempt += 1
            do throws(ImportWorkerProcess.Failure) {
                return .file(try worker.exchange(task, limits: configuration.limits, cancelled: cancelled))
            } catch {
                let message: String
                switch error {
                case .cancelled:
                    return .stopped(deadlineMessage)
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
