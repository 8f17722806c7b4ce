import HealthImagingJSON
/// The export of `GET /_healthimaging/fixtures`: a namespace's whole state — everything a read operation
/// answers from — as a fixture document that `Fixture.decode` reads back, so export → reset → load gives
/// byte-for-byte the same answers. Deterministic: datastores and image sets in id order, versions newest
/// first, tags in key order, metadata documents in their serialized form.
///
/// Not exported, being behaviour rather than state: pending transitions (a version or datastore is exported
/// as it stands, LOCKED or CREATING included), transition modes, planned outcomes, fault rules, the journal,
/// and CreateDatastore / StartDICOMImportJob client tokens. Import jobs are state and are exported (`importJobs`
/// of each datastore); work still running for a job is not.
extension Store {
    public func export(_ namespace: Namespace) throws -> [Fixture.Entry] {
        var entries = try datastores(namespace, status: nil, after: nil, limit: Int.max).enumerated().map { index, datastore in
            Fixture.Entry(datastore: datastore, imageSets: [], path: "$.datastores[\(index)]")
        }
        for index in entries.indices {
            let datastoreId = entries[index].datastore.datastoreId
            entries[index].datastore.tags = try tags(namespace, datastoreId: datastoreId, imageSetId: "")
            entries[index].importJobs = Array(try importJobs(namespace, datastoreId, status: nil).reversed())
            for (key, imageSetId) in try imageSets(namespace, datastoreId) {
                let versions = try self.versions(imageSet: key, imageSetId: imageSetId, before: nil, limit: Int.max)
                let tier = try storageTier(imageSet: key)
                entries[index].imageSets.append(Fixture.ImageSet(
                    imageSetId: imageSetId, versions: versions,
                    tags: try tags(namespace, datastoreId: datastoreId, imageSetId: imageSetId),
                    versionMetadata: try exportedMetadata(imageSet: key), frames: try exportedFrames(imageSet: key),
                    lastAccessedAt: tier.lastAccessedAt, storageTier: tier.tier))
            }
        }
        return entries
    }

    /// The stored metadata documents of an image set's versions. A version without one (or with one that does
    /// not parse, which GetImageSetMetadata also replaces by the default document) is left out: loaded back, it
    /// gets the same default document.
    private func exportedMetadata(imageSet key: Int64) throws -> [Int64: JSONValue] {
        let statement = try database.cached(
            "SELECT version, metadata FROM image_set_versions WHERE image_set_pk = ? AND metadata IS NOT NULL")
        try statement.bind(1, key)
        var result: [Int64: JSONValue] = [:]
        while try statement.step() {
            guard let versionId = statement.int64(0), let bytes = statement.blob(1), !bytes.isEmpty,
                let document = try? JSONParser.parse(bytes), case .object = document else { continue }
            result[versionId] = document
        }
        return result
    }
}

extension Fixture {
    /// The document as JSON, in the format `decode` reads: export → reset → load gives the same state.
    public static func encode(_ entries: [Entry]) -> [UInt8] {
        var json = JSONWriter(capacity: 4096)
        json.object { root in
            root.field("datastores", array: { list in
                for entry in entries {
                    list.object { datastore in
                        let properties = entry.datastore
                        datastore.field("datastoreId", properties.datastoreId)
                        datastore.field("datastoreName", properties.name)
                        datastore.field("datastoreStatus", properties.status.rawValue)
                        datastore.field("createdAt", timestampMillis: properties.createdAt)
                        datastore.field("updatedAt", timestampMillis: properties.updatedAt)
                        datastore.field("kmsKeyArn", properties.kmsKeyArn)
                        datastore.field("lambdaAuthorizerArn", properties.lambdaAuthorizerArn)
                        datastore.field("losslessStorageFormat", properties.losslessStorageFormat)
                        writeTags(properties.tags, to: &datastore)
                        datastore.field("imageSets", array: { imageSets in
                            for imageSet in entry.imageSets { write(imageSet, to: &imageSets) }
                        })
                        writeImportJobs(entry.importJobs, to: &datastore)
                    }
                }
            })
        }
        return json.bytes
    }

    private static func write(_ imageSet: ImageSet, to list: inout JSONWriter) {
        list.object { item in
            item.field("imageSetId", imageSet.imageSetId)
            item.field("lastAccessedAt", timestampMillis: imageSet.lastAccessedAt)
            item.field("storageTier", imageSet.storageTier?.rawValue)
            if let metadata = imageSet.metadata { item.field("metadata", raw: metadata.serialized()) }
            writeTags(imageSet.tags, to: &item)
            writeFrames(imageSet.frames, to: &item)
            item.field("versions", array: { versions in
                for version in imageSet.versions {
                    guard let metadata = imageSet.versionMetadata[version.versionId] else {
                        version.writeProperties(to: &versions)
                        continue
                    }
                    // The ImageSetProperties object as ListImageSetVersions writes it, plus the version's
                    // `metadata` member before its closing brace.
                    var properties = JSONWriter(capacity: 512)
                    version.writeProperties(to: &properties)
                    var bytes = properties.bytes
                    bytes.removeLast()
                    bytes.append(contentsOf: #","metadata":"#.utf8)
                    bytes.append(contentsOf: metadata.serialized())
                    bytes.append(UInt8(ascii: "}"))
                    versions.raw(bytes)
                }
            })
        }
    }

    private static func writeTags(_ tags: [(key: String, value: String)], to json: inout JSONWriter) {
        guard !tags.isEmpty else { return }
        json.field("tags", object: { map in for tag in tags { map.field(tag.key, tag.value) } })
    }
}
