import HealthImagingJSON
/// Image-set versions as the lifecycle operations need them: the latest or a given version, its metadata
/// document, state changes, and the image sets of a datastore.
extension Store {
    /// The newest version of an image set.
    public func latestVersion(imageSet key: Int64, imageSetId: String) throws -> ImageSetVersion? {
        try versions(imageSet: key, imageSetId: imageSetId, before: nil, limit: 1).first
    }

    /// The stored metadata document of a version (JSON text), nil when none was ever given.
    public func metadata(imageSet key: Int64, versionId: Int64) throws -> [UInt8]? {
        let statement = try database.cached("SELECT metadata FROM image_set_versions WHERE image_set_pk = ? AND version = ?")
        try statement.bind(1, key).bind(2, versionId)
        return try statement.first { $0.blob(0) } ?? nil
    }

    /// Stores a version's document (nil: none, the emulator's default then) and records what study and series it
    /// holds (Store+StudyIndex.swift) and the QIDO indexes (Store+DICOMIndex.swift, in `writeMetadata`). Every
    /// document is written through here or `insertVersion(imageSet:_:document:)`; it is serialized once and
    /// never parsed again for the indexes.
    public func setMetadata(imageSet key: Int64, versionId: Int64, document: JSONValue?) throws {
        try writeMetadata(imageSet: key, versionId: versionId, document: document)
        try indexStudy(imageSet: key, versionId: versionId, document)
    }

    /// Stores a document without recording it in the study index (the caller does: fixture loads).
    func writeMetadata(imageSet key: Int64, versionId: Int64, document: JSONValue?) throws {
        try database.cached("UPDATE image_set_versions SET metadata = ? WHERE image_set_pk = ? AND version = ?")
            .bind(1, blob: document?.serialized()).bind(2, key).bind(3, versionId).run()
        try reindexDICOM(imageSet: key, written: (versionId, document))
    }

    /// Sets the state of one version; `deletedAt` is set only when given.
    public func setVersionState(
        imageSet key: Int64, versionId: Int64, state: ImageSetState, workflowStatus: ImageSetWorkflowStatus?,
        message: String?, updatedAt: Int64, deletedAt: Int64? = nil
    ) throws {
        try database.cached("""
            UPDATE image_set_versions SET state = ?, workflow_status = ?, message = ?, updated_at = ?,
                deleted_at = coalesce(?, deleted_at)
            WHERE image_set_pk = ? AND version = ?
            """)
            .bind(1, state.rawValue).bind(2, workflowStatus?.rawValue).bind(3, message).bind(4, updatedAt)
            .bind(5, deletedAt).bind(6, key).bind(7, versionId).run()
    }

    /// Every image set of a datastore: key and id, in id order.
    public func imageSets(_ namespace: Namespace, _ datastoreId: String) throws -> [(key: Int64, imageSetId: String)] {
        let statement = try database.cached("""
            SELECT pk, image_set_id FROM image_sets WHERE account = ? AND region = ? AND datastore_id = ? ORDER BY image_set_id
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId)
        var result: [(Int64, String)] = []
        while try statement.step() { result.append((statement.int64(0) ?? 0, statement.text(1) ?? "")) }
        return result
    }
}

// MARK: transitions

/// A state change waiting to happen: a datastore status, or the state of one image-set version.
public struct PendingTransition: Sendable {
    public var namespace: Namespace
    public var datastoreId: String
    /// The image set's key and version; nil for a datastore transition.
    public var imageSet: (key: Int64, versionId: Int64)?
    /// An `ImageSetState` or a `DatastoreStatus` raw value.
    public var state: String
    public var workflowStatus: ImageSetWorkflowStatus?
    public var message: String?
    public var markDeleted = false
    /// The import job whose status changes (`state` is then a `JobStatus`); nil for other transitions.
    public var jobId: String?
    /// Settles without an event (a copy source going back to its earlier status after a failed copy: no
    /// detail-type names that return).
    public var quiet = false

    public init(namespace: Namespace, datastoreId: String, imageSet: (key: Int64, versionId: Int64)?, state: String,
                workflowStatus: ImageSetWorkflowStatus? = nil, message: String? = nil, markDeleted: Bool = false,
                jobId: String? = nil, quiet: Bool = false) {
        self.jobId = jobId
        self.quiet = quiet
        self.namespace = namespace
        self.datastoreId = datastoreId
        self.imageSet = imageSet
        self.state = state
        self.workflowStatus = workflowStatus
        self.message = message
        self.markDeleted = markDeleted
    }
}

extension Store {
    /// The mode of a resource type in a namespace: its own, else the startup mode.
    public func transitionMode(_ namespace: Namespace, _ resource: TransitionResource) throws -> TransitionMode {
        let statement = try database.cached("""
            SELECT mode FROM transition_modes WHERE resource_type = ? AND (account = ? AND region = ? OR account = '')
            ORDER BY account DESC LIMIT 1
            """)
        try statement.bind(1, resource.rawValue).bind(2, namespace.account).bind(3, namespace.region)
        guard let text = try statement.first({ $0.text(0) }) ?? nil else { return .immediate }
        return TransitionMode(text) ?? .immediate
    }

    public func setTransitionMode(_ namespace: Namespace, _ resource: TransitionResource, _ mode: TransitionMode) throws {
        try database.cached("INSERT OR REPLACE INTO transition_modes (account, region, resource_type, mode) VALUES (?, ?, ?, ?)")
            .bind(1, namespace.account).bind(2, namespace.region).bind(3, resource.rawValue).bind(4, mode.description).run()
    }

    /// Back to the startup mode: one namespace's own modes dropped, or (nil) every namespace's, with the startup
    /// mode set to `startup`.
    public func resetTransitionModes(_ namespace: Namespace?, startup: TransitionMode) throws {
        if let namespace {
            try database.cached("DELETE FROM transition_modes WHERE account = ? AND region = ?")
                .bind(1, namespace.account).bind(2, namespace.region).run()
            return
        }
        try database.execute("DELETE FROM transition_modes")
        for resource in TransitionResource.allCases {
            try setTransitionMode(Namespace(account: "", region: ""), resource, startup)
        }
    }

    /// Records `transition` per the mode of its resource type; in `immediate` mode it is applied at once.
    public func schedule(_ transition: PendingTransition, now: Int64 = Timestamp.nowMillis()) throws {
        mayHavePendingTransitions = true
        let mode = try transitionMode(transition.namespace, transition.jobId != nil ? .importJob : transition.imageSet == nil ? .datastore : .imageSet)
        var dueAt: Int64?
        var readsLeft: Int?
        switch mode {
        case .immediate: return try apply(transition, now: now)
        case .manual(let reads): readsLeft = reads
        case .timed(let millis): dueAt = now + Int64(millis)
        }
        try database.cached("""
            INSERT INTO transitions (account, region, datastore_id, image_set_pk, version, state, workflow_status, message,
                mark_deleted, due_at, reads_left, job_id, quiet)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
            .bind(1, transition.namespace.account).bind(2, transition.namespace.region).bind(3, transition.datastoreId)
            .bind(4, transition.imageSet?.key).bind(5, transition.imageSet?.versionId).bind(6, transition.state)
            .bind(7, transition.workflowStatus?.rawValue).bind(8, transition.message).bind(9, transition.markDeleted)
            .bind(10, dueAt).bind(11, readsLeft).bind(12, transition.jobId).bind(13, transition.quiet).run()
    }

    /// Applies a transition and announces the state it settles to (Store+Events.swift) unless it is quiet.
    private func apply(_ transition: PendingTransition, now: Int64) throws {
        if let jobId = transition.jobId {
            let status = JobStatus(rawValue: transition.state) ?? .failed
            let final = status == .completed || status == .failed
            try setImportJobStatus(transition.namespace, transition.datastoreId, jobId, status,
                                   message: transition.message, endedAt: final ? now : nil)
            if !transition.quiet { try announceImportJob(transition.namespace, transition.datastoreId, jobId, now: now) }
        } else if let imageSet = transition.imageSet {
            try setVersionState(
                imageSet: imageSet.key, versionId: imageSet.versionId,
                state: ImageSetState(rawValue: transition.state) ?? .active, workflowStatus: transition.workflowStatus,
                message: transition.message, updatedAt: now, deletedAt: transition.markDeleted ? now : nil)
            if !transition.quiet {
                try announceImageSet(transition.namespace, transition.datastoreId, imageSet: imageSet.key,
                                     versionId: imageSet.versionId, now: now)
            }
        } else {
            try setDatastoreStatus(
                transition.namespace, transition.datastoreId, DatastoreStatus(rawValue: transition.state) ?? .active, at: now)
            if !transition.quiet { try announceDatastore(transition.namespace, transition.datastoreId, now: now) }
        }
    }

    private struct Row {
        var id: Int64
        var transition: PendingTransition
        var dueAt: Int64?
        var readsLeft: Int64?
    }

    /// Reads rows of `SELECT id, account, region, datastore_id, image_set_pk, version, state, workflow_status,
    /// message, mark_deleted, due_at, reads_left, job_id, quiet FROM transitions …`, the columns every query below selects.
    private func rows(_ statement: Statement) throws -> [Row] {
        var rows: [Row] = []
        while try statement.step() {
            let key = statement.int64(4)
            rows.append(Row(
                id: statement.int64(0) ?? 0,
                transition: PendingTransition(
                    namespace: statement.namespace(1),
                    datastoreId: statement.text(3) ?? "",
                    imageSet: key.map { ($0, statement.int64(5) ?? 0) }, state: statement.text(6) ?? "",
                    workflowStatus: statement.enumeration(7),
                    message: statement.text(8), markDeleted: statement.bool(9) ?? false, jobId: statement.text(12),
                    quiet: statement.bool(13) ?? false),
                dueAt: statement.int64(10), readsLeft: statement.int64(11)))
        }
        return rows
    }

    /// Applies a waiting transition and removes it.
    private func complete(_ row: Row, now: Int64) throws {
        try apply(row.transition, now: now)
        try database.cached("DELETE FROM transitions WHERE id = ?").bind(1, row.id).run()
    }

    /// Applies the due transitions of one row set: timed ones whose time has come, and, when this is a read,
    /// read-counted ones that have been seen their N times (the others count this read).
    private func settle(_ rows: [Row], read: Bool, now: Int64) throws {
        for row in rows {
            var due = false
            if let dueAt = row.dueAt, dueAt <= now { due = true }
            if read, let left = row.readsLeft {
                if left <= 0 {
                    due = true
                } else {
                    try database.cached("UPDATE transitions SET reads_left = reads_left - 1 WHERE id = ?").bind(1, row.id).run()
                }
            }
            if due { try complete(row, now: now) }
        }
    }

    /// Settles the pending transitions of an image set before a request uses it.
    public func settleImageSet(_ key: Int64, read: Bool, now: Int64 = Timestamp.nowMillis()) throws {
        guard try anyPendingTransitions() else { return }
        let statement = try database.cached("""
            SELECT id, account, region, datastore_id, image_set_pk, version, state, workflow_status, message, mark_deleted,
                due_at, reads_left, job_id, quiet
            FROM transitions WHERE image_set_pk = ? ORDER BY id
            """)
        try statement.bind(1, key)
        try settle(try rows(statement), read: read, now: now)
    }

    /// Settles the pending status change of a datastore before a request uses it.
    public func settleDatastore(_ namespace: Namespace, _ datastoreId: String, read: Bool, now: Int64 = Timestamp.nowMillis()) throws {
        guard try anyPendingTransitions() else { return }
        let statement = try database.cached("""
            SELECT id, account, region, datastore_id, image_set_pk, version, state, workflow_status, message, mark_deleted,
                due_at, reads_left, job_id, quiet
            FROM transitions
            WHERE account = ? AND region = ? AND datastore_id = ? AND image_set_pk IS NULL AND job_id IS NULL ORDER BY id
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId)
        try settle(try rows(statement), read: read, now: now)
    }

    /// Settles the pending status change of an import job before a request shows it.
    public func settleImportJob(_ namespace: Namespace, _ datastoreId: String, _ jobId: String, read: Bool,
                                now: Int64 = Timestamp.nowMillis()) throws {
        guard try anyPendingTransitions() else { return }
        let statement = try database.cached("""
            SELECT id, account, region, datastore_id, image_set_pk, version, state, workflow_status, message, mark_deleted,
                due_at, reads_left, job_id, quiet
            FROM transitions WHERE account = ? AND region = ? AND datastore_id = ? AND job_id = ? ORDER BY id
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, jobId)
        try settle(try rows(statement), read: read, now: now)
    }

    /// Applies pending transitions now, whatever their mode: all of them, or those of one namespace,
    /// datastore or image set. Returns how many were applied.
    public func advance(_ namespace: Namespace?, datastoreId: String?, imageSetKey: Int64?, jobId: String? = nil,
                        now: Int64 = Timestamp.nowMillis()) throws -> Int {
        let statement = try database.cached("""
            SELECT id, account, region, datastore_id, image_set_pk, version, state, workflow_status, message, mark_deleted,
                due_at, reads_left, job_id, quiet
            FROM transitions
            WHERE (?1 IS NULL OR account = ?1) AND (?2 IS NULL OR region = ?2) AND (?3 IS NULL OR datastore_id = ?3)
              AND (?4 IS NULL OR image_set_pk = ?4) AND (?5 IS NULL OR job_id = ?5)
            ORDER BY id
            """)
        try statement.bind(1, namespace?.account).bind(2, namespace?.region).bind(3, datastoreId).bind(4, imageSetKey).bind(5, jobId)
        let found = try rows(statement)
        for row in found { try complete(row, now: now) }
        return found.count
    }

    /// Applies every `timed:` transition whose time has come, in one transaction: the loop's sweep
    /// (`Emulator.settleDueTransitions`), so that their end is announced on time, not at the next read. What a
    /// read sees is the same either way. Returns how many were applied.
    public func settleDue(now: Int64 = Timestamp.nowMillis()) throws -> Int {
        guard try anyPendingTransitions() else { return 0 }
        let statement = try database.cached("""
            SELECT id, account, region, datastore_id, image_set_pk, version, state, workflow_status, message, mark_deleted,
                due_at, reads_left, job_id, quiet
            FROM transitions WHERE due_at IS NOT NULL AND due_at <= ? ORDER BY id
            """)
        try statement.bind(1, now)
        let due = try rows(statement)
        guard !due.isEmpty else { return 0 }
        try database.transaction {
            for row in due { try complete(row, now: now) }
        }
        return due.count
    }

    /// Whether any transition may wait; looks in the table only while the last look found some.
    private func anyPendingTransitions() throws -> Bool {
        guard mayHavePendingTransitions else { return false }
        mayHavePendingTransitions = try pendingTransitionCount() > 0
        return mayHavePendingTransitions
    }

    /// How many transitions wait, over every namespace.
    public func pendingTransitionCount() throws -> Int {
        try database.cached("SELECT count(*) FROM transitions").count()
    }

    /// How many transitions wait in one namespace.
    public func pendingTransitionCount(_ namespace: Namespace) throws -> Int {
        try database.cached("SELECT count(*) FROM transitions WHERE account = ? AND region = ?")
            .bind(1, namespace.account).bind(2, namespace.region).count()
    }
}

// MARK: outcomes

/// A failure planned through the control plane for the next Update or Copy on an image set (or a corrupt frame
/// for the next GetImageFrame).
public struct PlannedOutcome: Sendable, Equatable {
    public var datastoreId: String
    /// Empty: any image set of the datastore.
    public var imageSetId: String
    public var operation: String
    /// UPDATE_FAILED, COPY_FAILED (workflow statuses) or CORRUPT_FRAME.
    public var outcome: String
    public var message: String
}

extension Store {
    public func planOutcome(_ namespace: Namespace, _ outcome: PlannedOutcome) throws {
        try database.cached("""
            INSERT OR REPLACE INTO outcomes (account, region, datastore_id, image_set_id, operation, outcome, message)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            """)
            .bind(1, namespace.account).bind(2, namespace.region).bind(3, outcome.datastoreId).bind(4, outcome.imageSetId)
            .bind(5, outcome.operation).bind(6, outcome.outcome).bind(7, outcome.message).run()
    }

    /// Takes (and removes) the outcome planned for `operation` on one of `imageSetIds`, else on the datastore.
    public func takeOutcome(_ namespace: Namespace, datastoreId: String, imageSetIds: [String], operation: String) throws -> PlannedOutcome? {
        for imageSetId in imageSetIds + [""] {
            let statement = try database.cached("""
                DELETE FROM outcomes WHERE account = ? AND region = ? AND datastore_id = ? AND image_set_id = ? AND operation = ?
                RETURNING outcome, message
                """)
            try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, imageSetId)
                .bind(5, operation)
            if try statement.step(), let outcome = statement.text(0) {
                let message = statement.text(1) ?? ""
                try statement.run()
                return PlannedOutcome(datastoreId: datastoreId, imageSetId: imageSetId, operation: operation,
                                      outcome: outcome, message: message)
            }
            try statement.run()
        }
        return nil
    }

    public func outcomes(_ namespace: Namespace) throws -> [PlannedOutcome] {
        let statement = try database.cached("""
            SELECT datastore_id, image_set_id, operation, outcome, message FROM outcomes WHERE account = ? AND region = ?
            ORDER BY datastore_id, image_set_id, operation
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region)
        var result: [PlannedOutcome] = []
        while try statement.step() {
            result.append(PlannedOutcome(
                datastoreId: statement.text(0) ?? "", imageSetId: statement.text(1) ?? "", operation: statement.text(2) ?? "",
                outcome: statement.text(3) ?? "",
                message: statement.text(4) ?? ""))
        }
        return result
    }

    public func clearOutcomes(_ namespace: Namespace) throws -> Int {
        try database.cached("DELETE FROM outcomes WHERE account = ? AND region = ?")
            .bind(1, namespace.account).bind(2, namespace.region).run()
        return database.changes
    }
}
