import Foundation

/// Reads fixture files and puts documents into the store, all or nothing.
public enum FixtureLoader {
    /// The fixture documents at `paths`: each a `.json` file, or a directory whose `*.json` files are read in
    /// name order. Every document is parsed and validated before anything is returned.
    public static func read(paths: [String]) throws -> [Fixture] {
        var files: [String] = []
        for path in paths {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw FixtureError(source: path, issues: [FixtureIssue(path: "$", reason: "no such file or directory")])
            }
            if isDirectory.boolValue {
                let names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".json") }.sorted()
                files.append(contentsOf: names.map { (path as NSString).appendingPathComponent($0) })
            } else {
                files.append(path)
            }
        }
        var documents: [Fixture] = []
        var errors: [FixtureError] = []
        for file in files {
            guard let data = FileManager.default.contents(atPath: file) else {
                errors.append(FixtureError(source: file, issues: [FixtureIssue(path: "$", reason: "cannot read the file")]))
                continue
            }
            do {
                documents.append(try Fixture.decode(Array(data), source: file))
            } catch {
                errors.append(error)
            }
        }
        if let first = errors.first {
            throw errors.count == 1 ? first : FixtureError(source: first.source, issues: errors.flatMap { error in
                error.source == first.source ? error.issues
                    : error.issues.map { FixtureIssue(path: "\(error.source): \($0.path)", reason: $0.reason) }
            })
        }
        return documents
    }
}

extension Store {
    /// What a load does with a fixture datastore the store already has.
    public enum ExistingDatastores: Sendable {
        /// The whole load fails (the control plane's POST /_healthimaging/fixtures).
        case fail
        /// It is left as it is, whatever its state (even DELETED): startup fixtures over an existing `--db`, so
        /// that restarts are idempotent.
        case skip
    }

    /// Inserts `documents` into `namespace` in one transaction: a datastore defined twice fails the whole load,
    /// and nothing is written. Returns how many datastores were loaded and how many skipped (`skip`).
    @discardableResult
    public func load(_ documents: [Fixture], into namespace: Namespace, existing: ExistingDatastores = .fail) throws -> (loaded: Int, skipped: Int) {
        try database.transaction {
            var seen: [String: String] = [:]
            var loaded = 0
            var skipped = 0
            let now = Timestamp.nowMillis()
            for document in documents {
                for entry in document.datastores {
                    let id = entry.datastore.datastoreId
                    if let earlier = seen[id] {
                        throw FixtureError(source: document.source, issues: [FixtureIssue(
                            path: "\(entry.path).datastoreId", reason: "datastore \(id) is also defined in \(earlier)")])
                    }
                    seen[id] = document.source
                    if try datastoreExists(namespace, id) {
                        guard existing == .skip else {
                            throw FixtureError(source: document.source, issues: [FixtureIssue(
                                path: "\(entry.path).datastoreId", reason: "datastore \(id) already exists")])
                        }
                        skipped += 1
                        continue
                    }
                    try insertDatastore(namespace, entry.datastore.withFixtureDefaults(loadedAt: now))
                    try setTags(namespace, datastoreId: id, imageSetId: "", entry.datastore.tags)
                    for imageSet in entry.imageSets {
                        let key = try insertImageSet(namespace, datastoreId: id, imageSetId: imageSet.imageSetId,
                                                     lastAccessedAt: imageSet.loadedLastAccess(at: now))
                        for version in imageSet.versions { try insertVersion(imageSet: key, version) }
                        try loadDetails(imageSet, key: key, namespace: namespace, datastoreId: id)
                    }
                    for job in entry.importJobs { try insertImportJob(namespace, job, clientToken: nil, digest: nil) }
                    loaded += 1
                }
            }
            return (loaded, skipped)
        }
    }
}

extension Datastore {
    /// The members the service always reports, for a datastore a fixture left them out of: `createdAt` is the
    /// load time, `updatedAt` the creation time, `losslessStorageFormat` HTJ2K (the service's default).
    func withFixtureDefaults(loadedAt now: Int64) -> Datastore {
        var datastore = self
        datastore.createdAt = createdAt ?? now
        datastore.updatedAt = updatedAt ?? datastore.createdAt
        datastore.losslessStorageFormat = losslessStorageFormat ?? LosslessStorageFormat.htj2k.rawValue
        return datastore
    }
}

extension Store {
    /// The parts of a fixture image set beyond its versions: the metadata documents (a version's own, else the
    /// image set's) and its tags.
    func loadDetails(_ imageSet: Fixture.ImageSet, key: Int64, namespace: Namespace, datastoreId: String) throws {
        let shared = imageSet.metadata?.serialized()
        for version in imageSet.versions {
            guard let bytes = imageSet.versionMetadata[version.versionId]?.serialized() ?? shared else { continue }
            try setMetadata(imageSet: key, versionId: version.versionId, bytes)
        }
        try setTags(namespace, datastoreId: datastoreId, imageSetId: imageSet.imageSetId, imageSet.tags)
        for (frameId, frame) in imageSet.frames { try insertFrame(imageSet: key, frameId: frameId, frame) }
    }
}

extension Fixture.ImageSet {
    /// `lastAccessedAt` as loaded at `now`: the document's, else 30 days before `now` for an image set it says is
    /// ARCHIVE_INSTANT_ACCESS, else `now` (loading counts as the access that created it).
    func loadedLastAccess(at now: Int64) -> Int64 {
        if let lastAccessedAt { return lastAccessedAt }
        return storageTier == .archiveInstantAccess ? now - StorageTier.archiveAfterMillis : now
    }
}
