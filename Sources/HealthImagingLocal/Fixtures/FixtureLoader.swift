import Foundation
import HealthImagingJSON
import HealthImagingDICOM

/// Reads fixture files and puts documents into the store, all or nothing.
public enum FixtureLoader {
    /// The files named by `paths`: each a file, or a directory whose `*.json` files are taken in name order.
    static func files(paths: [String]) throws -> [String] {
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
        return files
    }

    /// Validates the fixture files at `paths` a piece at a time (FixtureStream), loading nothing: the same errors
    /// as `read`, in bounded memory.
    public static func validate(paths: [String]) throws {
        _ = try FixtureStream.run(paths: paths, load: nil)
    }

    /// The fixture documents at `paths`: each a `.json` file, or a directory whose `*.json` files are read in
    /// name order. Every document is parsed and validated before anything is returned.
    public static func read(paths: [String]) throws -> [Fixture] {
        let files = try files(paths: paths)
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
        if let error = FixtureError.merged(errors) { throw error }
        return documents
    }
}

extension FixtureError {
    /// The documents' errors as one (nil: none): the first alone, or the first's source with every issue, those of
    /// other sources prefixed with their source.
    static func merged(_ errors: [FixtureError]) -> FixtureError? {
        guard let first = errors.first else { return nil }
        return errors.count == 1 ? first : FixtureError(source: first.source, issues: errors.flatMap { error in
            error.source == first.source ? error.issues
                : error.issues.map { FixtureIssue(path: "\(error.source): \($0.path)", reason: $0.reason) }
        })
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
            let load = FixtureLoad(store: self, namespace: namespace, existing: existing)
            for document in documents {
                for entry in document.datastores { try load.load(entry, source: document.source) }
            }
            return (load.loaded, load.skipped)
        }
    }
}

/// Puts fixture datastores into the store, inside the caller's transaction, with the rules of `Store.load`: a
/// datastore defined twice in the load, or (`fail`) already in the store, is an error; (`skip`) an existing one
/// is left as it is. FixtureStream uses the parts apart: it inserts image sets as they are read.
final class FixtureLoad {
    let store: Store
    let namespace: Namespace
    let existing: Store.ExistingDatastores
    let now = Timestamp.nowMillis()
    /// The datastores claimed so far, with the document that defined each.
    private var seen: [String: String] = [:]
    private(set) var loaded = 0
    private(set) var skipped = 0

    init(store: Store, namespace: Namespace, existing: Store.ExistingDatastores) {
        self.store = store
        self.namespace = namespace
        self.existing = existing
    }

    /// Claims datastore `id` (at `path` in `source`) for this load: true when it is to be inserted, false when
    /// an existing one is skipped; throws when it was defined before in the load or (`fail`) already exists.
    func claim(_ id: String, path: String, source: String) throws -> Bool {
        if let earlier = seen[id] {
            throw FixtureError(source: source, issues: [FixtureIssue(
                path: "\(path).datastoreId", reason: "datastore \(id) is also defined in \(earlier)")])
        }
        seen[id] = source
        if try store.datastoreExists(namespace, id) {
            guard existing == .skip else {
                throw FixtureError(source: source, issues: [FixtureIssue(
                    path: "\(path).datastoreId", reason: "datastore \(id) already exists")])
            }
            skipped += 1
            return false
        }
        return true
    }

    /// The datastore's own row, tags and import jobs, and `entry.imageSets`.
    func insert(_ entry: Fixture.Entry) throws {
        let id = entry.datastore.datastoreId
        try store.insertDatastore(namespace, entry.datastore.withFixtureDefaults(loadedAt: now))
        try store.setTags(namespace, datastoreId: id, imageSetId: "", entry.datastore.tags)
        for imageSet in entry.imageSets { try insert(imageSet, datastoreId: id) }
        for job in entry.importJobs { try store.insertImportJob(namespace, job, clientToken: nil, digest: nil) }
        loaded += 1
    }

    func insert(_ imageSet: Fixture.ImageSet, datastoreId: String) throws {
        let key = try store.insertImageSet(namespace, datastoreId: datastoreId, imageSetId: imageSet.imageSetId,
                                           lastAccessedAt: imageSet.loadedLastAccess(at: now))
        for version in imageSet.versions { try store.insertVersion(imageSet: key, version) }
        try store.loadDetails(imageSet, key: key, namespace: namespace, datastoreId: datastoreId)
    }

    func load(_ entry: Fixture.Entry, source: String) throws {
        if try claim(entry.datastore.datastoreId, path: entry.path, source: source) { try insert(entry) }
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
        var newest: (version: Int64, document: JSONValue)?
        for version in imageSet.versions {
            guard let document = imageSet.versionMetadata[version.versionId] ?? imageSet.metadata else { continue }
            try writeMetadata(imageSet: key, versionId: version.versionId, document: document)
            if version.versionId > newest?.version ?? 0 { newest = (version.versionId, document) }
        }
        // The study index records the newest version's document only (Store+StudyIndex.swift).
        if let newest { try indexStudy(imageSet: key, versionId: newest.version, newest.document) }
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
