/// Whole-state operations for the control plane: reset and direct edits of versions (export: Store+Export.swift).
extension Store {
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
            tallyReset(namespace)
        }
    }

    /// One version, or nil.
    public func version(imageSet key: Int64, imageSetId: String, versionId: Int64) throws -> ImageSetVersion? {
        let statement = try database.cached("""
            SELECT version, state, workflow_status, created_at, updated_at, deleted_at, message, forced, is_primary
            FROM image_set_versions WHERE image_set_pk = ? AND version = ?
            """)
        try statement.bind(1, key).bind(2, versionId)
        return try readVersions(statement, imageSetId: imageSetId, limit: 1).first
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

extension Store {
    /// The first version of an image set (its createdAt is the image set's).
    public func oldestVersion(imageSet key: Int64, imageSetId: String) throws -> ImageSetVersion? {
        let statement = try database.cached(
            "SELECT min(version) FROM image_set_versions WHERE image_set_pk = ?")
        try statement.bind(1, key)
        guard let first = try statement.first({ $0.int64(0) }) ?? nil else { return nil }
        return try version(imageSet: key, imageSetId: imageSetId, versionId: first)
    }
}
