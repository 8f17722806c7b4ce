import Logging
#if canImport(Glibc)
import Glibc
#endif
import HealthImagingDICOM

/// Runs DICOM import jobs: the loop side. `submit` hands a job to the `ImportWorker`; the worker's messages
/// come back through `pump()` (called from the wake-up pipe's read event, and at the start of every request)
/// and are acted on here, on the loop: status changes, one SQLite transaction per image set, the job's end.
///
/// A job's life:
/// 1. StartDICOMImportJob stores it SUBMITTED and queues it.
/// 2. The worker starts it → IN_PROGRESS (at once, whatever the transition mode: the work really started).
/// 3. The worker lists the input; the pool (`ImportPool`) reads, parses and encodes every file off the loop, in
///    worker processes, files of concurrent jobs taking turns; the results return in key order.
/// 4. The loop groups the files into image sets and commits them (`ImportCommit`), in turns of a few
///    milliseconds between which it answers requests; new versions of existing primary image sets go
///    LOCKED/IMPORTING → ACTIVE/IMPORTED through the image-set transition mode.
/// 5. The worker writes the output folder (manifest, SUCCESS/, FAILURE/).
/// 6. The loop schedules the job's end, COMPLETED or FAILED, through the `importJob` transition mode: with
///    `manual` it stays IN_PROGRESS until `POST /_healthimaging/transitions/advance` (or N reads with
///    `manual:N`, or MS milliseconds after the work ended with `timed:MS`), although its image sets and output
///    already exist. Work always completes in the background; only the visible job status is held.
public final class ImportCoordinator {
    public let worker: ImportWorker
    public let objects: any ObjectStore
    public let maxFileBytes: Int
    unowned let store: Store
    let logger: Logger
    /// Jobs between `scanned` and `written`: what the end needs to know.
    private var writing: [ImportJobKey: Bool] = [:]
    /// Jobs whose files are being committed, oldest first: a turn of the loop works on the first.
    private var committing: [Committing] = []
    /// How long one turn may commit before the loop goes back to its other events (an image set already begun
    /// finishes: one transaction each). Short, because the loop answers requests between slices
    /// (read, handler, write), each of which may follow a commit turn: 4 ms turns gave a health p99 of 33–41 ms
    /// during a 5,000-series commit.
    static let turnBudget: Duration = .milliseconds(1)
    /// Whether the loop's wake-up event calls `pump()` (the server does; a library user driving `Emulator.handle`
    /// alone does not, and then requests commit turns).
    private var pumpedByLoop = false
    /// `process` calls whose results have not come back yet, by token.
    private var completions: [Int: ([Result<ImportedFile, RejectedFile>]) -> Void] = [:]
    /// `offLoop` calls whose results have not come back yet, by token.
    private var offLoopCompletions: [Int: (any Sendable) -> Void] = [:]
    private var nextToken = 0

    /// The per-file work of every import (jobs, `/dicom`, STOW-RS): worker processes or threads.
    public let pool: ImportPool
    /// A job listing more files than this ends FAILED before importing any (`--max-import-job-files`).
    public let maxJobFiles: Int
    /// A job still importing this many seconds after it started ends FAILED (`--max-import-job-seconds`).
    public let maxJobSeconds: Double
    /// The DICOM parsing limits every file is read with (`--max-frame-bytes`, …): given to the pool's workers.
    public var limits: DICOMLimits { pool.configuration.limits }

    init(store: Store, objects: any ObjectStore, maxFileBytes: Int, pool: ImportPool.Configuration,
         maxJobFiles: Int = ImportCoordinator.defaultMaxJobFiles, maxJobSeconds: Double = ImportCoordinator.defaultMaxJobSeconds,
         logger: Logger) {
        self.store = store
        self.objects = objects
        self.maxFileBytes = maxFileBytes
        self.maxJobFiles = maxJobFiles
        self.maxJobSeconds = maxJobSeconds
        self.logger = logger
        self.pool = ImportPool(pool)
        // Two threads for listings and output folders, so that one slow listing does not hold another job's.
        worker = ImportWorker(threadCount: 2)
    }

    public static let defaultMaxJobFiles = 10_000
    public static let defaultMaxJobSeconds: Double = 3600

    /// Queues the work of a job just stored SUBMITTED: list the input (on the worker thread), then hand every
    /// file to the pool as one batch, in key order, with the job's wall-clock deadline; the results come back to
    /// the loop as one `.scanned` message, files in key order, whatever order the pool finished them in.
    func submit(_ namespace: Namespace, _ job: ImportJob, format: LosslessStorageFormat) {
        let key = ImportJobKey(namespace: namespace, datastoreId: job.datastoreId, jobId: job.jobId)
        do {
            // Until its end is scheduled, the job is marked running: a server that stops before then fails it at
            // the next startup (`Store.failInterruptedImportJobs`).
            try store.markImportRunning(namespace, job.datastoreId, job.jobId)
        } catch {
            logger.error("import job \(job.jobId) could not be marked running: \(error)")
        }
        let objects = self.objects
        let maxFileBytes = self.maxFileBytes
        let maxJobFiles = self.maxJobFiles
        let maxJobSeconds = self.maxJobSeconds
        let pool = self.pool
        let loop = self.worker
        let input = S3Location(job.inputS3Uri)?.folder
        let output = S3Location(job.outputS3Uri)
        worker.enqueue { post in
            post(.started(key))
            let began = ContinuousClock.now
            guard let input, let output else {
                post(.failed(key, "INVALID_REQUEST: the input or output S3 URI cannot be read"))
                return
            }
            let listed: [ObjectInfo]
            do throws(ObjectStoreError) {
                // The output bucket is checked first, so that a job that could never write its results
                // fails before it imports anything.
                _ = try objects.list(bucket: output.bucket, prefix: output.key)
                listed = try objects.list(bucket: input.bucket, prefix: input.key).filter { !$0.key.hasSuffix("/") }
                    .sorted { $0.key < $1.key }
            } catch {
                post(.failed(key, error.message))
                return
            }
            guard listed.count <= maxJobFiles else {
                post(.failed(key, "The input holds \(listed.count) files, more than the limit of \(maxJobFiles) files per import job (--max-import-job-files); nothing was imported"))
                return
            }
            let units = ImportScanner.units(listed, input: input, objects: objects, format: format, maxFileBytes: maxFileBytes)
            let message = "The import job ran longer than its limit of \(ImportPool.seconds(maxJobSeconds)) seconds (--max-import-job-seconds); nothing was imported"
            pool.submit(units, deadline: began + .milliseconds(Int64(maxJobSeconds * 1000)), deadlineMessage: message) { outcomes in
                var scan = ImportScan()
                scan.scanned = listed.count
                for outcome in outcomes {
                    switch outcome {
                    case .file(.success(let file)): scan.imported.append(file)
                    case .file(.failure(let rejected)): scan.rejected.append(rejected)
                    case .stopped(let why): return loop.post(.failed(key, why))
                    }
                }
                loop.post(.scanned(key, scan))
            }
        }
    }

    /// Imports files off the loop (seam S3): parse, decode, encode and checksum each task's file. `completion`
    /// runs later on the loop, with one result per task, in task order. Nothing is committed: the caller
    /// commits the imported files (`ImportCommit.commit`) on the loop.
    public func process(_ tasks: [ImportTask], completion: @escaping ([Result<ImportedFile, RejectedFile>]) -> Void) {
        nextToken += 1
        let token = nextToken
        completions[token] = completion
        let units = tasks.map { task in
            ImportPool.Unit(inputFile: task.inputFile, format: task.format, fetch: { .success(task.source) })
        }
        let worker = self.worker
        pool.submit(units) { outcomes in
            worker.post(.processed(token, outcomes.enumerated().map { index, outcome in
                switch outcome {
                case .file(let result): return result
                case .stopped(let why):
                    return .failure(RejectedFile(inputFile: tasks[index].inputFile,
                                                 error: DICOMFileError(exceptionType: "InternalServerException", message: why),
                                                 serverError: true))
                }
            }))
        }
    }

    /// Runs `work` on a worker thread and `then` on the loop with its result: a blocking read that must not hold
    /// up the loop (the web view's reads of job output folders, an HTTP GET with `--s3-endpoint`).
    public func offLoop<T: Sendable>(_ work: @escaping @Sendable () -> T, then: @escaping (T) -> Void) {
        nextToken += 1
        let token = nextToken
        offLoopCompletions[token] = { value in
            // The token was made here with a T: the value posted under it is that T.
            then(value as! T)
        }
        worker.enqueue { post in post(.ran(token, work())) }
    }

    /// A job whose failure was planned through the control plane: IN_PROGRESS now, FAILED per the mode.
    func failPlanned(_ namespace: Namespace, _ job: ImportJob, message: String) throws {
        try store.setImportJobStatus(namespace, job.datastoreId, job.jobId, .inProgress, message: nil, endedAt: nil)
        try store.announceImportJob(namespace, job.datastoreId, job.jobId)
        try end(ImportJobKey(namespace: namespace, datastoreId: job.datastoreId, jobId: job.jobId), failure: message)
    }

    /// Acts on every message the worker posted, then commits for one turn. On the loop only: called by the
    /// wake-up pipe's read event. While commits remain, it wakes the loop again (`ImportWorker.wake`), so that the
    /// next turn runs after the events already waiting (requests are answered between turns).
    public func pump() {
        pumpedByLoop = true
        takeMessages()
        commitTurn()
    }

    /// The pump at the start of a request: messages only, unless no loop event pumps (then a turn as well).
    public func pumpForRequest() {
        takeMessages()
        if !pumpedByLoop { commitTurn() }
    }

    private func takeMessages() {
        guard worker.hasMessages else { return }
        for message in worker.takeMessages() {
            do {
                try handle(message)
            } catch {
                logger.error("import job message could not be applied: \(error)")
            }
        }
    }

    /// Commits the oldest committing job for up to `turnBudget`; a job done is reported and its output written.
    private func commitTurn() {
        guard !committing.isEmpty else { return }
        let began = ContinuousClock.now
        let cpuBegan = Self.threadCPUTime()
        let deadline = began + Self.turnBudget
        while !committing.isEmpty && ContinuousClock.now < deadline {
            let key = committing[0].key
            // The job (or its datastore) may be gone: a reset or a load replaced the state meanwhile.
            guard let job = try? store.importJob(key.namespace, key.datastoreId, key.jobId) else {
                committing.removeFirst()
                continue
            }
            let stepped = ContinuousClock.now
            committing[0].batch.step(store: store, namespace: key.namespace, datastoreId: key.datastoreId, until: deadline)
            committing[0].spent += ContinuousClock.now - stepped
            committing[0].turns += 1
            committing[0].longest = max(committing[0].longest, ContinuousClock.now - began)
            committing[0].longestCPU = max(committing[0].longestCPU, Self.threadCPUTime() - cpuBegan)
            guard committing[0].batch.isDone else { break }
            finish(committing.removeFirst(), job: job)
        }
        if !committing.isEmpty { worker.wake() }
    }

    /// A job's files are committed: its output is made and written off the loop.
    private func finish(_ done: Committing, job: ImportJob) {
        let (key, scan, committed) = (done.key, done.scan, done.batch.result)
        func ms(_ duration: Duration) -> String {
            let (seconds, attoseconds) = duration.components
            return String(Double(seconds) * 1000 + Double(attoseconds / 1_000_000_000) / 1_000_000)
        }
        logger.info("import job \(key.jobId): \(scan.scanned) files, \(committed.imageSets.count) image sets, \(scan.rejected.count + committed.failed.count) rejected; committed in \(ms(done.spent)) ms over \(done.turns) turns (longest \(ms(done.longest)) ms, \(ms(done.longestCPU)) ms CPU)")
        guard let folder = S3Location(job.outputS3Uri) else {
            do { try end(key, failure: "INVALID_REQUEST: outputS3Uri") } catch { logger.error("import job end: \(error)") }
            return
        }
        let objects = self.objects
        let scanned = scan.scanned
        let rejected = scan.rejected + committed.failed
        let imageSets = committed.imageSets
        let warnings = done.warnings
        writing[key] = true
        worker.enqueue { post in
            let output = ImportOutput.make(job: job, scanned: scanned, imageSets: imageSets, rejected: rejected,
                                           warnings: warnings)
            post(.written(key, output.write(to: objects, folder: folder)))
        }
    }

    private func handle(_ message: ImportMessage) throws {
        switch message {
        case .started(let key):
            guard let job = try store.importJob(key.namespace, key.datastoreId, key.jobId), job.status == .submitted else { return }
            try store.setImportJobStatus(key.namespace, key.datastoreId, key.jobId, .inProgress, message: nil, endedAt: nil)
            try store.announceImportJob(key.namespace, key.datastoreId, key.jobId)
        case .failed(let key, let text):
            try end(key, failure: text)
        case .scanned(let key, var scan):
            // Committed in turns (`commitTurn`), after the jobs already committing.
            logger.info("import job \(key.jobId): committing \(scan.imported.count) files")
            let batch = ImportCommit.Batch(scan.imported)
            // The import warnings (0xB100 …) travel to the output files; the instances themselves are let go.
            let warnings = ImportOutput.warnings(of: scan.imported)
            scan.imported = []
            committing.append(Committing(key: key, scan: scan, batch: batch, warnings: warnings))
        case .processed(let token, let results):
            completions.removeValue(forKey: token)?(results)
        case .ran(let token, let value):
            offLoopCompletions.removeValue(forKey: token)?(value)
        case .written(let key, let failure):
            writing[key] = nil
            try end(key, failure: failure)
        }
    }

    /// Schedules the job's end through the `importJob` transition mode.
    private func end(_ key: ImportJobKey, failure: String?) throws {
        guard try store.importJob(key.namespace, key.datastoreId, key.jobId) != nil else { return }
        try store.database.transaction {
            try store.markImportEnded(key.namespace, key.datastoreId, key.jobId)
            try store.schedule(PendingTransition(
                namespace: key.namespace, datastoreId: key.datastoreId, imageSet: nil,
                state: (failure == nil ? JobStatus.completed : JobStatus.failed).rawValue,
                message: failure.map(Validate.messageText), jobId: key.jobId))
        }
    }
}

/// A job whose files are being committed, and what its turns cost (logged at its end).
private struct Committing {
    var key: ImportJobKey
    var scan: ImportScan
    var batch: ImportCommit.Batch
    /// Warnings per input file, for success.ndjson, WARNING/warning.ndjson and the manifest.
    var warnings: [String: [ImportWarning]]
    var turns = 0
    /// The time spent committing (its turns together), and the longest turn that worked on it.
    var spent: Duration = .zero
    var longest: Duration = .zero
    /// The longest turn in the loop thread's CPU time: what the turn cost, without the time the thread waited
    /// for a core (on a busy machine, wall time overstates it).
    var longestCPU: Duration = .zero
}

extension ImportCoordinator {
    /// The calling thread's CPU time.
    /// > CLOCK_THREAD_CPUTIME_ID: "Thread-specific CPU-time clock." https://man7.org/linux/man-pages/man2/clock_gettime.2.html
    static func threadCPUTime() -> Duration {
        var now = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &now) == 0 else { return .zero }
        return .seconds(now.tv_sec) + .nanoseconds(now.tv_nsec)
    }
}

@available(*, unavailable)
extension ImportCoordinator: Sendable {}
