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
enum ImportCommit {
    struct Result {
        var imageSets: [ImportedImageSet] = []
        var failed: [RejectedFile] = []
    }

    static func commit(_ files: [ImportedFile], store: Store, namespace: Namespace, datastoreId: String,
                       now: Int64 = Timestamp.nowMillis()) -> Result {
        var result = Result()
        var firstOfSeries: Set<String> = []
        for group in ImportGrouping.groups(files) {
            let seriesKey = group.studyUID + "|" + group.seriesUID
            // Only the first identity seen for a series in this job may be primary; later ones disagree with it.
            let mayBePrimary = !firstOfSeries.contains(seriesKey)
            firstOfSeries.insert(seriesKey)
            do {
                let committed = try store.database.transaction {
                    try commit(group, mayBePrimary: mayBePrimary, store: store, namespace: namespace,
                               datastoreId: datastoreId, now: now)
                }
                result.imageSets.append(committed)
            } catch {
                for file in group.files {
                    result.failed.append(RejectedFile(
                        inputFile: file.inputFile,
                        error: DICOMFileError(exceptionType: "InternalServerException", message: "The image set could not be stored: \(error)"),
                        serverError: true))
                }
            }
        }
        return result
    }

    /// The primary image set of a series, if any: the latest version not deleted, primary, and holding the series.
    static func primary(store: Store, namespace: Namespace, datastoreId: String, studyUID: String,
                        seriesUID: String?) throws -> [(handle: ImageSetHandle, document: JSONValue)] {
        var found: [(handle: ImageSetHandle, document: JSONValue)] = []
        for (key, imageSetId) in try store.imageSets(namespace, datastoreId) {
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

    private static func commit(_ group: ImportGrouping.Group, mayBePrimary: Bool, store: Store, namespace: Namespace,
                               datastoreId: String, now: Int64) throws -> ImportedImageSet {
        let inputFiles = group.files.map(\.inputFile)
        let sops = Set(group.files.map(\.instance.sopInstanceUID)).count
        var primary = mayBePrimary
        if primary {
            let existing = try Self.primary(store: store, namespace: namespace, datastoreId: datastoreId,
                                            studyUID: group.studyUID, seriesUID: group.seriesUID).first
            if let existing {
                let agrees = ImportGrouping.identity(existing.document, seriesUID: group.seriesUID) == group.identity
                if agrees, existing.handle.latest.state == .active {
                    // Join: a new version of the primary image set, through the image-set transition mode.
                    let handle = existing.handle
                    let version = ImageSetVersion(
                        imageSetId: handle.imageSetId, versionId: handle.latest.versionId + 1, state: .locked,
                        workflowStatus: .importing, createdAt: handle.latest.createdAt ?? now, updatedAt: now,
                        isPrimary: true)
                    try store.insertVersion(imageSet: handle.key, version)
                    try store.touchImageSet(handle.key, now: now)
                    let document = ImportCodec.document(adding: group.files, to: existing.document,
                                                        datastoreId: datastoreId, imageSetId: handle.imageSetId)
                    try store.setMetadata(imageSet: handle.key, versionId: version.versionId, document.serialized())
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
                let others = try Self.primary(store: store, namespace: namespace, datastoreId: datastoreId,
                                              studyUID: group.studyUID, seriesUID: nil)
                for other in others {
                    let identity = ImportGrouping.identity(other.document, seriesUID: group.seriesUID)
                    if ImportGrouping.studyPart(identity) != ImportGrouping.studyPart(group.identity) { primary = false }
                }
            }
        }
        // A new image set: version 1, ACTIVE + CREATED.
        let imageSetId = ResourceIds.make()
        let key = try store.insertImageSet(namespace, datastoreId: datastoreId, imageSetId: imageSetId, lastAccessedAt: now)
        try store.insertVersion(imageSet: key, ImageSetVersion(
            imageSetId: imageSetId, versionId: 1, state: .active, workflowStatus: .created, createdAt: now, updatedAt: now,
            isPrimary: primary))
        let document = ImportCodec.document(adding: group.files, to: nil, datastoreId: datastoreId, imageSetId: imageSetId)
        try store.setMetadata(imageSet: key, versionId: 1, document.serialized())
        try ImportCodec.insertFrames(store, namespace, datastoreId: datastoreId, imageSetId: imageSetId, group.files)
        // Image Set Created, published once this image set's transaction commits (S5: imports and STOW alike).
        try store.announceImageSet(namespace, datastoreId, imageSet: key, versionId: 1, now: now)
        return ImportedImageSet(imageSetId: imageSetId, versionId: 1, isPrimary: primary, matchedInstances: sops,
                                inputFiles: inputFiles)
    }
}
