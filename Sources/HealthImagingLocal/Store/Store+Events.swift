import HealthImagingJSON
/// Where state changes become events (seam S5). Each `announce…` call builds the event from what the store holds
/// at that moment, inside the change's transaction, so the event says exactly what GetDatastore / GetImageSet /
/// GetDICOMImportJob say once the change is visible; it is published when that transaction commits (dropped when
/// it rolls back), or at once when no transaction is open. A status without a detail-type announces nothing.
///
/// Callers: the operations for the in-flight states (Creating, Deleting, Updating, Copying …), `Store.apply` for
/// every settled transition (Created, Updated, Copied, Deleted, Import Job Completed …), `ImportCommit` for the
/// image sets an import or STOW makes, and `ImportCoordinator` for Import Job In Progress.
extension Store {
    /// Announces a datastore's current status.
    public func announceDatastore(_ namespace: Namespace, _ datastoreId: String, now: Int64 = Timestamp.nowMillis()) throws {
        guard eventSink != nil, let datastore = try datastore(namespace, datastoreId),
            let type = EventDetailType(datastore.status)
        else { return }
        var detail: [(key: String, value: JSONValue)] = [("imagingVersion", .string("1.0")), ("datastoreId", .string(datastoreId))]
        if let name = datastore.name { detail.append(("datastoreName", .string(name))) }
        detail.append(("datastoreStatus", .string(datastore.status.rawValue)))
        stage(ServiceEvent(id: "", detailType: type, namespace: namespace, time: now,
                           resources: [namespace.datastoreArn(datastoreId)], datastoreId: datastoreId,
                           detail: .object(detail)))
    }

    /// Announces an import job's current status. `outputS3Uri` is the caller's prefix, as the devguide's example
    /// shows (GetDICOMImportJob answers the job's own folder under it).
    public func announceImportJob(_ namespace: Namespace, _ datastoreId: String, _ jobId: String,
                                  now: Int64 = Timestamp.nowMillis()) throws {
        guard eventSink != nil, let job = try importJob(namespace, datastoreId, jobId) else { return }
        let folder = "\(datastoreId)-DicomImport-\(jobId)/"
        let output = job.outputS3Uri.hasSuffix(folder) ? String(job.outputS3Uri.dropLast(folder.count)) : job.outputS3Uri
        var detail: [(key: String, value: JSONValue)] = [("imagingVersion", .string("1.0")), ("datastoreId", .string(datastoreId)),
                                                         ("jobId", .string(jobId))]
        if let name = job.jobName { detail.append(("jobName", .string(name))) }
        detail += [("jobStatus", .string(job.status.rawValue)), ("inputS3Uri", .string(job.inputS3Uri)),
                   ("outputS3Uri", .string(output))]
        stage(ServiceEvent(id: "", detailType: EventDetailType(job.status), namespace: namespace, time: now,
                           resources: [namespace.datastoreArn(datastoreId)], datastoreId: datastoreId, jobId: jobId,
                           detail: .object(detail)))
    }

    /// Announces the state of one image-set version. `type` overrides the detail-type the workflow status names
    /// (for a status without one, like UPDATING_FOR_STUDY_CONSISTENCY: `.imageSetUpdating`); `sourceImageSetArn`
    /// goes into Image Set Copying.
    public func announceImageSet(_ namespace: Namespace, _ datastoreId: String, imageSet key: Int64, versionId: Int64,
                                 as type: EventDetailType? = nil, sourceImageSetArn: String? = nil,
                                 now: Int64 = Timestamp.nowMillis()) throws {
        guard eventSink != nil, let imageSetId = try imageSetId(key: key),
            let version = try version(imageSet: key, imageSetId: imageSetId, versionId: versionId),
            let type = type ?? EventDetailType(version.workflowStatus)
        else { return }
        var detail: [(key: String, value: JSONValue)] = [
            ("imagingVersion", .string("1.0")), ("isPrimary", .bool(version.isPrimary ?? true)),
            ("imageSetVersion", .string(String(versionId))), ("datastoreId", .string(datastoreId)),
            ("imageSetId", .string(imageSetId)),
        ]
        if eventDevguideKeys { detail.append(("imagesetId", .string(imageSetId))) }
        detail.append(("imageSetState", .string(version.state.rawValue)))
        if let status = version.workflowStatus { detail.append(("imageSetWorkflowStatus", .string(status.rawValue))) }
        if let sourceImageSetArn { detail.append(("sourceImageSetArn", .string(sourceImageSetArn))) }
        stage(ServiceEvent(id: "", detailType: type, namespace: namespace, time: now,
                           resources: [namespace.imageSetArn(datastoreId, imageSetId)], datastoreId: datastoreId,
                           imageSetId: imageSetId, detail: .object(detail)))
    }

    /// The image set id of a key.
    func imageSetId(key: Int64) throws -> String? {
        let statement = try database.cached("SELECT image_set_id FROM image_sets WHERE pk = ?")
        try statement.bind(1, key)
        return try statement.first { $0.text(0) } ?? nil
    }

    private func stage(_ event: ServiceEvent) {
        if database.inTransaction {
            stagedEvents.append(event)
        } else {
            eventSink?(event)
        }
    }

    /// A `transaction` ended: its events go out (committed) or are dropped (rolled back).
    func transactionEnded(committed: Bool) {
        if !committed { forgetTally() }
        guard !stagedEvents.isEmpty else { return }
        let events = stagedEvents
        stagedEvents = []
        guard committed else { return }
        for event in events { eventSink?(event) }
    }

    /// Publishes events staged by a transaction committed other than through `transaction` (none is open now).
    public func flushStagedEvents() {
        guard !stagedEvents.isEmpty, !database.inTransaction else { return }
        transactionEnded(committed: true)
    }
}
