import HealthImagingJSON
/// Datastores, image sets and versions: the queries behind the operations.
extension Store {
    public func datastoreExists(_ namespace: Namespace, _ datastoreId: String) throws -> Bool {
        let statement = try database.cached(
            "SELECT 1 FROM datastores WHERE account = ? AND region = ? AND datastore_id = ?")
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId)
        return try statement.first { _ in true } ?? false
    }

    /// The internal key of an image set, nil when it does not exist.
    public func imageSetKey(_ namespace: Namespace, _ datastoreId: String, _ imageSetId: String) throws -> Int64? {
        let statement = try database.cached(
            "SELECT pk FROM image_sets WHERE account = ? AND region = ? AND datastore_id = ? AND image_set_id = ?")
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, imageSetId)
        return try statement.first { $0.int64(0) } ?? nil
    }

    /// Up to `limit` versions older than `before` (all when nil), newest first. Keyset pagination on the
    /// primary key (image_set_pk, version): a page costs the same whatever the number of versions.
    public func versions(imageSet key: Int64, imageSetId: String, before: Int64?, limit: Int) throws -> [ImageSetVersion] {
        let statement = try database.cached("""
            SELECT version, state, workflow_status, created_at, updated_at, deleted_at, message, forced, is_primary
            FROM image_set_versions WHERE image_set_pk = ? AND version < ? ORDER BY version DESC LIMIT ?
            """)
        try statement.bind(1, key).bind(2, before ?? Int64.max).bind(3, limit)
        return try readVersions(statement, imageSetId: imageSetId, limit: limit)
    }

    /// The same page found by the image set's ids in one query (the list hot path): the unique index on
    /// image_sets, then the versions' primary key. Empty when the image set does not exist.
    public func versions(
        _ namespace: Namespace, datastoreId: String, imageSetId: String, before: Int64?, limit: Int
    ) throws -> [ImageSetVersion] {
        let statement = try database.cached("""
            SELECT v.version, v.state, v.workflow_status, v.created_at, v.updated_at, v.deleted_at, v.message, v.forced,
                v.is_primary
            FROM image_sets s JOIN image_set_versions v ON v.image_set_pk = s.pk
            WHERE s.account = ? AND s.region = ? AND s.datastore_id = ? AND s.image_set_id = ? AND v.version < ?
            ORDER BY v.version DESC LIMIT ?
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, imageSetId)
            .bind(5, before ?? Int64.max).bind(6, limit)
        return try readVersions(statement, imageSetId: imageSetId, limit: limit)
    }

    func readVersions(_ statement: Statement, imageSetId: String, limit: Int) throws -> [ImageSetVersion] {
        var result: [ImageSetVersion] = []
        result.reserveCapacity(min(limit, 64))
        while try statement.step() {
            result.append(ImageSetVersion(
                imageSetId: imageSetId,
                versionId: statement.int64(0) ?? 0,
                state: statement.enumeration(1) ?? .active,
                workflowStatus: statement.enumeration(2),
                createdAt: statement.int64(3),
                updatedAt: statement.int64(4),
                deletedAt: statement.int64(5),
                message: statement.text(6),
                forced: statement.bool(7),
                isPrimary: statement.bool(8)))
        }
        return result
    }

    public func insertDatastore(_ namespace: Namespace, _ datastore: Datastore) throws {
        try database.cached("""
            INSERT INTO datastores (account, region, datastore_id, name, status, created_at, updated_at, kms_key_arn,
                lambda_authorizer_arn, lossless_storage_format)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
            .bind(1, namespace.account).bind(2, namespace.region).bind(3, datastore.datastoreId)
            .bind(4, datastore.name).bind(5, datastore.status.rawValue).bind(6, datastore.createdAt)
            .bind(7, datastore.updatedAt).bind(8, datastore.kmsKeyArn).bind(9, datastore.lambdaAuthorizerArn)
            .bind(10, datastore.losslessStorageFormat).run()
    }

    /// Creates an image set row and returns its key. Creation is an access: `lastAccessedAt` is now unless given.
    public func insertImageSet(_ namespace: Namespace, datastoreId: String, imageSetId: String,
                               lastAccessedAt: Int64 = Timestamp.nowMillis()) throws -> Int64 {
        let statement = try database.cached("""
            INSERT INTO image_sets (account, region, datastore_id, image_set_id, last_accessed_at) VALUES (?, ?, ?, ?, ?)
            RETURNING pk
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, imageSetId)
            .bind(5, lastAccessedAt)
        guard let key = try statement.first({ $0.int64(0) }) ?? nil else {
            throw SQLiteError(code: 0, message: "INSERT … RETURNING gave no row", sql: statement.sql)
        }
        tallyImageSet(key, in: namespace)
        return key
    }

    /// Adds a version without a document (the emulator's default until one is set).
    public func insertVersion(imageSet key: Int64, _ version: ImageSetVersion) throws {
        try insertVersionRow(imageSet: key, version, metadata: nil)
        // A new latest version: the QIDO indexes follow it.
        try reindexDICOM(imageSet: key, written: (version.versionId, nil))
    }

    /// Adds a version with its document (nil: none), as `insertVersion` then `setMetadata` would, indexing the
    /// document once.
    public func insertVersion(imageSet key: Int64, _ version: ImageSetVersion, document: JSONValue?) throws {
        try insertVersionRow(imageSet: key, version, metadata: document?.serialized())
        try reindexDICOM(imageSet: key, written: (version.versionId, document))
        try indexStudy(imageSet: key, versionId: version.versionId, document)
    }

    private func insertVersionRow(imageSet key: Int64, _ version: ImageSetVersion, metadata: [UInt8]?) throws {
        try database.cached("""
            INSERT INTO image_set_versions (image_set_pk, version, state, workflow_status, created_at, updated_at,
                deleted_at, message, forced, is_primary, metadata)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
            .bind(1, key).bind(2, version.versionId).bind(3, version.state.rawValue)
            .bind(4, version.workflowStatus?.rawValue).bind(5, version.createdAt).bind(6, version.updatedAt)
            .bind(7, version.deletedAt).bind(8, version.message).bind(9, version.forced).bind(10, version.isPrimary)
            .bind(11, blob: metadata).run()
        try tallyVersion(of: key)
    }
}
