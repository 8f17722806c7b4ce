import HealthImagingJSON
import HealthImagingDICOM
/// What one committed image set looks like in the job's manifest.
public struct ImportedImageSet: Sendable, Equatable {
    public var imageSetId: String
    public var versionId: Int64
    public var isPrimary: Bool
    public var matchedInstances: Int
    /// The input files that went into it.
    public var inputFiles: [String]
}

/// Commits imported files into image sets on the loop, one SQLite transaction per image set: a failure leaves
/// that image set untouched (its files become server errors) and the others committed.
///
/// The cost is O(N log N) in the number of files whatever their series layout: grouping is a hash lookup per
/// file, the primary image set of a series and the study's other primaries come from the study index
/// (Store+StudyIndex.swift), and a document grows linearly (MetadataDocument.adding). A job's files are
/// committed in `Batch` turns of a few milliseconds, so that the loop answers requests between them; the
/// `/dicom` shortcut and STOW commit their few files at once (`commit`).
enum ImportCommit {
    struct Result {
        var imageSets: [ImportedImageSet] = []
        var failed: [RejectedFile] = []
    }

    /// Commits `files` at once (a small batch: the `/dicom` shortcut, STOW).
    static func commit(_ files: [ImportedFile], store: Store, namespace: Namespace, datastoreId: String,
                       now: Int64 = Timestamp.nowMillis()) -> Result {
        var batch = Batch(files)
        while !batch.isDone {
            batch.step(store: store, namespace: namespace, datastoreId: datastoreId, until: nil, now: now)
        }
        return batch.result
    }

    /// A job's files on their way into image sets: grouped a file at a time, then committed an image set at a
    /// time, in the files' order (the order of the job's listing), so the outcome does not depend on how the work
    /// was cut into turns.
    struct Batch {
        private var files: [ImportedFile]
        private var grouped = 0
        private var grouper = ImportGrouping.Grouper()
        private var groups: [ImportGrouping.Group] = []
        private var committed = 0
        /// Series whose first identity in this job was seen: only that one may be primary.
        private var firstOfSeries: Set<String> = []
        private(set) var result = Result()

        init(_ files: [ImportedFile]) {
            self.files = files
        }

        var isDone: Bool { grouped == files.count && committed == groups.count }

        /// Does work until `deadline` has passed (nil: all of it), at least one file or image set per call.
        mutating func step(store: Store, namespace: Namespace, datastoreId: String, until deadline: ContinuousClock.Instant?,
                           now: Int64 = Timestamp.nowMillis()) {
            func expired() -> Bool { deadline.map { ContinuousClock.now >= $0 } ?? false }
            while grouped < files.count {
                grouper.add(files[grouped])
                grouped += 1
                if grouped == files.count {
                    groups = grouper.groups
                    grouper = ImportGrouping.Grouper()
                    files = []
                    grouped = 0
                    break
                }
                if grouped % 64 == 0 && expired() { return }
            }
            while committed < groups.count {
                let group = groups[committed]
                groups[committed].files = []  // its memory (stored frames) goes once committed
                committed += 1
                commit(group, store: store, namespace: namespace, datastoreId: datastoreId, now: now)
                if expired() { return }
            }
        }

        private mutating func commit(_ group: ImportGrouping.Group, store: Store, namespace: Namespace, datastoreId: String,
                                     now: Int64) {
            // Only the first identity seen for a series in this job may be primary; later ones disagree with it.
            let mayBePrimary = firstOfSeries.insert(group.studyUID + "|" + group.seriesUID).inserted
            do {
                let imageSet = try store.database.transaction {
                    try ImportCommit.commit(group, mayBePrimary: mayBePrimary, store: store, namespace: namespace,
                                            datastoreId: datastoreId, now: now)
                }
                result.imageSets.append(imageSet)
            } catch {
                for file in group.files {
                    result.failed.append(RejectedFile(
                        inputFile: file.inputFile,
                        error: DICOMFileError(exceptionType: "InternalServerException", message: "The image set could not be stored: \(error)"),
                        serverError: true))
                }
            }
        }
    }

    /// The primary image sets of a series (`seriesUID` nil: of the study), each its latest version not deleted,
    /// primary, and its document of the study (and holding the series); in image set id order. `candidates`
    /// narrows the image sets looked at (the study index), nil: every image set of the datastore.
    static func primary(store: Store, namespace: Namespace, datastoreId: String, studyUID: String, seriesUID: String?,
                        candidates: [(key: Int64, imageSetId: String)]? = nil) throws -> [(handle: ImageSetHandle, document: JSONValue)] {
        var found: [(handle: ImageSetHandle, document: JSONValue)] = []
        for (key, imageSetId) in try candidates ?? store.imageSets(namespace, datastoreId) {
            try store.settleImageSet(key, read: false)
            guard let latest = try store.latestVersion(imageSet: key, imageSetId: imageSetId),
                latest.state != .deleted, latest.isPrimary == true
            else { continue }
            let handle = ImageSetHandle(key: key, datastoreId: datastoreId, imageSetId: imageSetId, latest: latest)
            let document = try store.document(handle, versionId: latest.versionId)
            guard document.value(at: ["Study", "DICOM", "StudyInstanceUID"])?.stringValue == studyUID else { continue }
            if let seriesUID, document.value(at: ["Study", "Series", seriesUID]) == nil { continue }
            found.append((handle, document))
        }
        return found
    }

    /// Whether `studyUID` has the form of the Study Instance UIDs in the documents the emulator makes up for
    /// versions without one (`<root>.1.<13 digits>`: DICOMDocument.makeDefault), which the study index leaves
    /// out: such imports look at every image set, as before the index. (The root is also pydicom's, so the
    /// whole form is checked, not the prefix.)
    private static func mayMatchMadeUpDocuments(_ studyUID: String) -> Bool {
        let prefix = DICOMDocument.uidRoot + ".1."
        guard studyUID.hasPrefix(prefix) else { return false }
        let number = studyUID.utf8.dropFirst(prefix.utf8.count)
        return number.count == 13 && number.allSatisfy { $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }
    }

    private static func commit(_ group: ImportGrouping.Group, mayBePrimary: Bool, store: Store, namespace: Namespace,
                               datastoreId: String, now: Int64) throws -> ImportedImageSet {
        let inputFiles = group.files.map(\.inputFile)
        let sops = Set(group.files.map(\.instance.sopInstanceUID)).count
        var primary = mayBePrimary
        if primary {
            let scan = mayMatchMadeUpDocuments(group.studyUID)
            let existing = try Self.primary(
                store: store, namespace: namespace, datastoreId: datastoreId, studyUID: group.studyUID, seriesUID: group.seriesUID,
                candidates: scan ? nil : store.primaryCandidates(namespace, datastoreId, studyUID: group.studyUID,
                                                                 seriesUID: group.seriesUID)).first
            if let existing {
                let agrees = ImportGrouping.identity(existing.document, seriesUID: group.seriesUID) == group.identity
                if agrees, existing.handle.latest.state == .active {
                    // Join: a new version of the primary image set, through the image-set transition mode.
                    let handle = existing.handle
                    let version = ImageSetVersion(
                        imageSetId: handle.imageSetId, versionId: handle.latest.versionId + 1, state: .locked,
                        workflowStatus: .importing, createdAt: handle.latest.createdAt ?? now, updatedAt: now,
                        isPrimary: true)
                    let document = ImportCodec.document(adding: group.files, to: existing.document,
                                                        datastoreId: datastoreId, imageSetId: handle.imageSetId)
                    try store.insertVersion(imageSet: handle.key, version, document: document)
                    try store.touchImageSet(handle.key, now: now)
                    try ImportCodec.insertFrames(store, namespace, datastoreId: datastoreId, imageSetId: handle.imageSetId, group.files)
                    try store.schedule(PendingTransition(
                        namespace: namespace, datastoreId: datastoreId, imageSet: (handle.key, version.versionId),
                        state: ImageSetState.active.rawValue, workflowStatus: .imported), now: now)
                    return ImportedImageSet(imageSetId: handle.imageSetId, versionId: version.versionId, isPrimary: true,
                                            matchedInstances: sops, inputFiles: inputFiles)
                }
                primary = false
            } else {
                // A new series of a study: its study-level elements must agree with the study's primary image sets.
                // Only primaries whose study key differs can disagree: the index gives just those.
                let others = try Self.primary(
                    store: store, namespace: namespace, datastoreId: datastoreId, studyUID: group.studyUID, seriesUID: nil,
                    candidates: scan ? nil : store.disagreeingCandidates(namespace, datastoreId, studyUID: group.studyUID,
                                                                         studyKey: ImportGrouping.studyKey(group.identity)))
                for other in others {
                    let identity = ImportGrouping.identity(other.document, seriesUID: group.seriesUID)
                    if ImportGrouping.studyPart(identity) != ImportGrouping.studyPart(group.identity) { primary = false }
                }
            }
        }
        // A new image set: version 1, ACTIVE + CREATED.
        let imageSetId = ResourceIds.make()
        let key = try store.insertImageSet(namespace, datastoreId: datastoreId, imageSetId: imageSetId, lastAccessedAt: now)
        let document = ImportCodec.document(adding: group.files, to: nil, datastoreId: datastoreId, imageSetId: imageSetId)
        try store.insertVersion(imageSet: key, ImageSetVersion(
            imageSetId: imageSetId, versionId: 1, state: .active, workflowStatus: .created, createdAt: now, updatedAt: now,
            isPrimary: primary), document: document)
        try ImportCodec.insertFrames(store, namespace, datastoreId: datastoreId, imageSetId: imageSetId, group.files)
        // Image Set Created, published once this image set's transaction commits (S5: imports and STOW alike).
        try store.announceImageSet(namespace, datastoreId, imageSet: key, versionId: 1, now: now)
        return ImportedImageSet(imageSetId: imageSetId, versionId: 1, isPrimary: primary, matchedInstances: sops,
                                inputFiles: inputFiles)
    }
}
