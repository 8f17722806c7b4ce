/// Whole-state operations for the control plane: export, reset, and direct edits of versions.
extension Store {
    /// Every datastore of `namespace` with its image sets and versions, in the fixture format's shape.
    public func export(_ namespace: Namespace) throws -> [Fixture.Entry] {
        let datastores = try database.cached("""
            SELECT datastore_id, name, status, created_at, updated_at FROM datastores
            WHERE account = ? AND region = ? ORDER BY datastore_id
            """)
        try datastores.bind(1, namespace.account).bind(2, namespace.region)
        var entries: [Fixture.Entry] = []
        while try datastores.step() {
            let datastore = Datastore(
                datastoreId: datastores.text(0) ?? "", name: datastores.text(1),
                status: datastores.enumeration(2) ?? .active,
                createdAt: datastores.int64(3), updatedAt: datastores.int64(4))
            entries.append(Fixture.Entry(datastore: datastore, imageSets: [], path: "$.datastores[\(entries.count)]"))
        }
        for index in entries.indices {
            let imageSets = try database.cached("""
                SELECT pk, image_set_id FROM image_sets WHERE account = ? AND region = ? AND datastore_id = ? ORDER BY image_set_id
                """)
            try imageSets.bind(1, namespace.account).bind(2, namespace.region).bind(3, entries[index].datastore.datastoreId)
            var keys: [(Int64, String)] = []
            while try imageSets.step() { keys.append((imageSets.int64(0) ?? 0, imageSets.text(1) ?? "")) }
            for (key, imageSetId) in keys {
                let versions = try self.versions(imageSet: key, imageSetId: imageSetId, before: nil, limit: Int.max)
                entries[index].imageSets.append(Fixture.ImageSet(imageSetId: imageSetId, versions: versions))
            }
        }
        return entries
    }

    /// Deletes every datastore (and so every image set and version) of `namespace`, or of all namespaces.
    public func reset(_ namespace: Namespace?) throws {
        try database.transaction {
            if let namespace {
                for table in ["datastores", "tags", "transitions", "outcomes"] {
                    try database.cached(dynamic: "DELETE FROM \(table) WHERE account = ? AND region = ?")
                        .bind(1, namespace.account).bind(2, namespace.region).run()
                }
            } else {
                try database.execute("DELETE FROM datastores; DELETE FROM tags; DELETE FROM transitions; DELETE FROM outcomes")
            }
        }
    }

    /// One version, or nil.
    public func version(imageSet key: Int64, imageSetId: String, versionId: Int64) throws -> ImageSetVersion? {
        try versions(imageSet: key, imageSetId: imageSetId, before: versionId + 1, limit: 1).first { $0.versionId == versionId }
    }

    /// Replaces the stored fields of an existing version.
    public func updateVersion(imageSet key: Int64, _ version: ImageSetVersion) throws {
        try database.cached("""
            UPDATE image_set_versions SET state = ?, workflow_status = ?, created_at = ?, updated_at = ?, deleted_at = ?,
                message = ?, forced = ?, is_primary = ?
            WHERE image_set_pk = ? AND version = ?
            """)
            .bind(1, version.state.rawValue).bind(2, version.workflowStatus?.rawValue).bind(3, version.createdAt)
            .bind(4, version.updatedAt).bind(5, version.deletedAt).bind(6, version.message).bind(7, version.forced)
            .bind(8, version.isPrimary).bind(9, key).bind(10, version.versionId).run()
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
                        datastore.field("datastoreId", entry.datastore.datastoreId)
                        datastore.field("datastoreName", entry.datastore.name)
                        datastore.field("datastoreStatus", entry.datastore.status.rawValue)
                        datastore.field("createdAt", timestampMillis: entry.datastore.createdAt)
                        datastore.field("updatedAt", timestampMillis: entry.datastore.updatedAt)
                        datastore.field("imageSets", array: { imageSets in
                            for imageSet in entry.imageSets {
                                imageSets.object { item in
                                    item.field("imageSetId", imageSet.imageSetId)
                                    item.field("versions", array: { versions in
                                        for version in imageSet.versions { version.writeProperties(to: &versions) }
                                    })
                                }
                            }
                        })
                    }
                }
            })
        }
        return json.bytes
    }
}

extension Store {
    /// The first version of an image set (its createdAt is the image set's).
    public func oldestVersion(imageSet key: Int64, imageSetId: String) throws -> ImageSetVersion? {
        let statement = try database.cached(
            "SELECT min(version) FROM image_set_versions WHERE image_set_pk = ?")
        try statement.bind(1, key)
        guard try statement.step(), let first = statement.int64(0) else { return nil }
        return try version(imageSet: key, imageSetId: imageSetId, versionId: first)
    }
}
