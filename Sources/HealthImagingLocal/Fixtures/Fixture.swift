import HealthImagingJSON
import HealthImagingDICOM
/// A fixture document: the one documented format for seeding state (`--fixtures`, and later the control
/// plane). `versions` holds `ImageSetProperties` objects exactly as ListImageSetVersions returns them, each
/// optionally with its own `metadata` document (which the image set's `metadata` supplies otherwise).
///
///     {"datastores": [{"datastoreId": "<[0-9a-z]{32}>", "datastoreName": "…",
///                      "imageSets": [{"imageSetId": "…", "versions": [ImageSetProperties, …]}]}]}
public struct Fixture: Sendable {
    public struct ImageSet: Sendable {
        public var imageSetId: String
        public var versions: [ImageSetVersion]
        /// The GetImageSetMetadata document of every listed version without its own (nil: the emulator's
        /// default document).
        public var metadata: JSONValue? = nil
        public var tags: [(key: String, value: String)] = []
        /// The documents of single versions (a version's `metadata` member), by version number.
        public var versionMetadata: [Int64: JSONValue] = [:]
        /// Stored frames carried by the document (`frames` member: Fixture+Frames.swift), by frame id.
        public var frames: [(id: String, frame: StoredFrame)] = []
        /// When the image set was last accessed (storage tiers); nil: see `storageTier`, else the load time.
        public var lastAccessedAt: Int64? = nil
        /// Used only without `lastAccessedAt`: ARCHIVE_INSTANT_ACCESS means last accessed 30 days before the load.
        public var storageTier: StorageTier? = nil
    }

    public struct Entry: Sendable {
        public var datastore: Datastore
        public var imageSets: [ImageSet]
        /// Where the datastore stands in its document, for errors found when loading it.
        public var path: String
        /// The datastore's import jobs (`importJobs`), oldest first.
        public var importJobs: [ImportJob] = []
    }

    public var datastores: [Entry]
    public var source: String

    public init(datastores: [Entry], source: String) {
        self.datastores = datastores
        self.source = source
    }
}

extension Fixture {
    static let rootMembers = ["datastores"]
    static let datastoreMembers = [
        "datastoreId", "datastoreName", "datastoreStatus", "createdAt", "updatedAt", "imageSets",
        "kmsKeyArn", "lambdaAuthorizerArn", "losslessStorageFormat", "tags", "importJobs",
    ]
    static let imageSetMembers = ["imageSetId", "versions", "metadata", "tags", "frames", "lastAccessedAt", "storageTier"]
    static let versionMembers = ["imageSetId", "versionId"] + ImageSetVersionMembers.settable + ["metadata"]

    /// Parses and validates a document against the service model's patterns and enums. Every issue found is
    /// reported, each with its JSON path; nothing is returned unless the whole document is valid.
    public static func decode(_ bytes: [UInt8], source: String) throws(FixtureError) -> Fixture {
        try JSONReader.document(bytes, source: source) { reader in
            Fixture(datastores: entries(reader), source: source)
        }
    }

    /// The datastores of a document. `streamed`: the `datastores` array was read a piece at a time
    /// (FixtureStream), which found these issues in it, in order; the placeholder in `reader` is not read.
    static func entries(_ reader: JSONReader, streamed: JSONReader.IssueList? = nil) -> [Entry] {
        var entries: [Entry] = []
        guard reader.object(allowed: rootMembers), let member = reader.member("datastores", required: true) else { return entries }
        if let streamed {
            reader.issues.absorb(streamed)
        } else if let list = member.elements() {
            var seen: Set<String> = []
            for item in list {
                guard let entry = datastore(item) else { continue }
                if !seen.insert(entry.datastore.datastoreId).inserted {
                    item.fail("datastore \(entry.datastore.datastoreId) appears twice in this document", at: "\(item.path).datastoreId")
                }
                entries.append(entry)
            }
        }
        return entries
    }

    /// One datastore. `streamedImageSets`: its `imageSets` array was read a piece at a time (FixtureStream),
    /// which found these issues in it; the entry then has no image sets (they were loaded as they came).
    static func datastore(_ reader: JSONReader, streamedImageSets: JSONReader.IssueList? = nil) -> Entry? {
        guard reader.object(allowed: datastoreMembers) else { return nil }
        let id = reader.member("datastoreId", required: true)?.string(resourceIdProblem)
        let status = reader.member("datastoreStatus")?.enumeration(DatastoreStatus.self)
        let createdAt = reader.member("createdAt")?.timestamp()
        let updatedAt = reader.member("updatedAt")?.timestamp()
        var imageSets: [ImageSet] = []
        if let streamedImageSets {
            reader.issues.absorb(streamedImageSets)
        } else if let list = reader.member("imageSets")?.elements() {
            var seen: Set<String> = []
            for item in list {
                guard let imageSet = imageSet(item) else { continue }
                if !seen.insert(imageSet.imageSetId).inserted {
                    item.fail("image set \(imageSet.imageSetId) appears twice in this datastore", at: "\(item.path).imageSetId")
                }
                imageSets.append(imageSet)
            }
        }
        let jobs = importJobs(reader, datastoreId: id)
        guard let id else { return nil }
        var datastore = DatastoreRequest.read(reader, id: id) ?? Datastore(datastoreId: id, name: nil)
        datastore.status = status ?? .active
        datastore.createdAt = createdAt
        datastore.updatedAt = updatedAt
        return Entry(datastore: datastore, imageSets: imageSets, path: reader.path, importJobs: jobs)
    }

    static func imageSet(_ reader: JSONReader) -> ImageSet? {
        guard reader.object(allowed: imageSetMembers) else { return nil }
        let id = reader.member("imageSetId", required: true)?.string(resourceIdProblem)
        var versions: [ImageSetVersion] = []
        var versionMetadata: [Int64: JSONValue] = [:]
        if let list = reader.member("versions", required: true)?.elements() {
            if list.isEmpty { reader.fail("an image set needs at least one version", at: "\(reader.path).versions") }
            var seen: Set<Int64> = []
            for item in list {
                let document = item.member("metadata").flatMap(metadataDocument)
                guard let version = version(item, imageSetId: id) else { continue }
                if !seen.insert(version.versionId).inserted {
                    item.fail("version \(version.versionId) appears twice in this image set", at: "\(item.path).versionId")
                }
                versions.append(version)
                if let document { versionMetadata[version.versionId] = document }
            }
        }
        let metadata = reader.member("metadata").flatMap(metadataDocument)
        let tags = reader.member("tags").flatMap(TagRules.read) ?? []
        let frames = reader.member("frames").flatMap(Fixture.frames) ?? []
        let lastAccessedAt = reader.member("lastAccessedAt")?.timestamp()
        let storageTier = reader.member("storageTier")?.enumeration(StorageTier.self)
        guard let id else { return nil }
        return ImageSet(imageSetId: id, versions: versions, metadata: metadata, tags: tags, versionMetadata: versionMetadata,
                        frames: frames, lastAccessedAt: lastAccessedAt, storageTier: storageTier)
    }

    /// A GetImageSetMetadata document: any JSON object.
    private static func metadataDocument(_ reader: JSONReader) -> JSONValue? {
        guard case .object = reader.value else {
            reader.fail("expected the GetImageSetMetadata document as an object, found \(reader.value.typeName)")
            return nil
        }
        return reader.value
    }

    private static func version(_ reader: JSONReader, imageSetId parent: String?) -> ImageSetVersion? {
        guard reader.object(allowed: versionMembers) else { return nil }
        let imageSetId = reader.member("imageSetId", required: true)?.string { text in
            if let problem = resourceIdProblem(text) { return problem }
            if let parent, text != parent { return "is \(text), but the version is listed under image set \(parent)" }
            return nil
        }
        let versionId = reader.member("versionId", required: true)?.string { text in
            guard Validate.isVersionId(text) else { return "\"\(text)\" does not match \\d+" }
            guard let number = Int64(text), (1...Validate.maxSeededVersionId).contains(number) else {
                return "must be a version number from 1 to \(Validate.maxSeededVersionId)"
            }
            return nil
        }
        let count = reader.issues.items.count
        if reader.value["imageSetState"] == nil { reader.fail("missing required member \"imageSetState\"", at: "\(reader.path).imageSetState") }
        var version = ImageSetVersion(imageSetId: imageSetId ?? "", versionId: versionId.flatMap { Int64($0) } ?? 0, state: .active)
        version.apply(reader, allowNull: false)
        guard imageSetId != nil, versionId != nil, reader.issues.items.count == count else { return nil }
        return version
    }

    static func resourceIdProblem(_ text: String) -> String? {
        Validate.isResourceId(text) ? nil : "\"\(text)\" does not match [0-9a-z]{32}"
    }
}
