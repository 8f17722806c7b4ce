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
    /// Inserts `documents` into `namespace` in one transaction: a datastore that already exists (in the store or
    /// in an earlier document) fails the whole load, and nothing is written.
    public func load(_ documents: [Fixture], into namespace: Namespace) throws {
        try database.transaction {
            var seen: [String: String] = [:]
            for document in documents {
                for entry in document.datastores {
                    let id = entry.datastore.datastoreId
                    if let earlier = seen[id] {
                        throw FixtureError(source: document.source, issues: [FixtureIssue(
                            path: "\(entry.path).datastoreId", reason: "datastore \(id) is also defined in \(earlier)")])
                    }
                    if try datastoreExists(namespace, id) {
                        throw FixtureError(source: document.source, issues: [FixtureIssue(
                            path: "\(entry.path).datastoreId", reason: "datastore \(id) already exists")])
                    }
                    seen[id] = document.source
                    try insertDatastore(namespace, entry.datastore)
                    try setTags(namespace, datastoreId: id, imageSetId: "", entry.datastore.tags)
                    for imageSet in entry.imageSets {
                        let key = try insertImageSet(namespace, datastoreId: id, imageSetId: imageSet.imageSetId)
                        for version in imageSet.versions { try insertVersion(imageSet: key, version) }
                        try loadDetails(imageSet, key: key, namespace: namespace, datastoreId: id)
                    }
                    for job in entry.importJobs { try insertImportJob(namespace, job, clientToken: nil, digest: nil) }
                }
            }
        }
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
