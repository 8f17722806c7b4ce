import Logging

/// Runs DICOM import jobs: the loop side. `submit` hands a job to the `ImportWorker`; the worker's messages
/// come back through `pump()` (called from the wake-up pipe's read event, and at the start of every request)
/// and are acted on here, on the loop: status changes, one SQLite transaction per image set, the job's end.
///
/// A job's life:
/// 1. StartDICOMImportJob stores it SUBMITTED and queues it.
/// 2. The worker starts it → IN_PROGRESS (at once, whatever the transition mode: the work really started).
/// 3. The worker lists and reads the input, parses every file and encodes its frames (off the loop).
/// 4. The loop groups the files into image sets and commits them (`ImportCommit`); new versions of existing
///    primary image sets go LOCKED/IMPORTING → ACTIVE/IMPORTED through the image-set transition mode.
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

    init(store: Store, objects: any ObjectStore, maxFileBytes: Int, logger: Logger) {
        self.store = store
        self.objects = objects
        self.maxFileBytes = maxFileBytes
        self.logger = logger
        worker = ImportWorker()
    }

    /// Queues the work of a job just stored SUBMITTED.
    func submit(_ namespace: Namespace, _ job: ImportJob, format: LosslessStorageFormat) {
        let key = ImportJobKey(namespace: namespace, datastoreId: job.datastoreId, jobId: job.jobId)
        let objects = self.objects
        let maxFileBytes = self.maxFileBytes
        let input = S3Location(job.inputS3Uri)?.folder
        let output = S3Location(job.outputS3Uri)
        worker.enqueue { post in
            post(.started(key))
            guard let input, let output else {
                post(.failed(key, "INVALID_REQUEST: the input or output S3 URI cannot be read"))
                return
            }
            do throws(ObjectStoreError) {
                // The output bucket is checked first, so that a job that could never write its results
                // fails before it imports anything.
                _ = try objects.list(bucket: output.bucket, prefix: output.key)
                let scan = try ImportScanner.scan(objects, input: input, format: format, maxFileBytes: maxFileBytes)
                post(.scanned(key, scan))
            } catch {
                post(.failed(key, error.message))
            }
        }
    }

    /// A job whose failure was planned through the control plane: IN_PROGRESS now, FAILED per the mode.
    func failPlanned(_ namespace: Namespace, _ job: ImportJob, message: String) throws {
        try store.setImportJobStatus(namespace, job.datastoreId, job.jobId, .inProgress, message: nil, endedAt: nil)
        try end(ImportJobKey(namespace: namespace, datastoreId: job.datastoreId, jobId: job.jobId), failure: message)
    }

    /// Acts on every message the worker posted. On the loop only.
    public func pump() {
        guard worker.hasMessages else { return }
        for message in worker.takeMessages() {
            do {
                try handle(message)
            } catch {
                logger.error("import job message could not be applied: \(error)")
            }
        }
    }

    private func handle(_ message: ImportMessage) throws {
        switch message {
        case .started(let key):
            guard let job = try store.importJob(key.namespace, key.datastoreId, key.jobId), job.status == .submitted else { return }
            try store.setImportJobStatus(key.namespace, key.datastoreId, key.jobId, .inProgress, message: nil, endedAt: nil)
        case .failed(let key, let text):
            try end(key, failure: text)
        case .scanned(let key, let scan):
            // The job (or its datastore) may be gone: a reset or a load replaced the state meanwhile.
            guard let job = try store.importJob(key.namespace, key.datastoreId, key.jobId) else { return }
            let committed = ImportCommit.commit(scan.imported, store: store, namespace: key.namespace, datastoreId: key.datastoreId)
            let output = ImportOutput.make(job: job, scanned: scan.scanned, imageSets: committed.imageSets,
                                           rejected: scan.rejected + committed.failed, warnings: ImportOutput.warnings(of: scan.imported))
            logger.info("import job \(key.jobId): \(scan.scanned) files, \(committed.imageSets.count) image sets, \(scan.rejected.count + committed.failed.count) rejected")
            guard let folder = S3Location(job.outputS3Uri) else { return try end(key, failure: "INVALID_REQUEST: outputS3Uri") }
            let objects = self.objects
            writing[key] = true
            worker.enqueue { post in post(.written(key, output.write(to: objects, folder: folder))) }
        case .written(let key, let failure):
            writing[key] = nil
            try end(key, failure: failure)
        }
    }

    /// Schedules the job's end through the `importJob` transition mode.
    private func end(_ key: ImportJobKey, failure: String?) throws {
        guard try store.importJob(key.namespace, key.datastoreId, key.jobId) != nil else { return }
        try store.database.transaction {
            try store.schedule(PendingTransition(
                namespace: key.namespace, datastoreId: key.datastoreId, imageSet: nil,
                state: (failure == nil ? JobStatus.completed : JobStatus.failed).rawValue,
                message: failure.map(Validate.messageText), jobId: key.jobId))
        }
    }
}

@available(*, unavailable)
extension ImportCoordinator: Sendable {}
