/// Datastores: create (idempotent on the client token), read, list, delete.
extension Store {
    /// Reads the columns `datastore_id, name, status, created_at, updated_at, kms_key_arn, lambda_authorizer_arn,
    /// lossless_storage_format`, in that order, which every datastore query below selects.
    private func readDatastore(_ statement: Statement) -> Datastore {
        Datastore(
            datastoreId: statement.text(0) ?? "", name: statement.text(1),
            status: statement.enumeration(2) ?? .active,
            createdAt: statement.int64(3), updatedAt: statement.int64(4), kmsKeyArn: statement.text(5),
            lambdaAuthorizerArn: statement.text(6), losslessStorageFormat: statement.text(7))
    }

    public func datastore(_ namespace: Namespace, _ datastoreId: String) throws -> Datastore? {
        let statement = try database.cached("""
            SELECT datastore_id, name, status, created_at, updated_at, kms_key_arn, lambda_authorizer_arn,
                lossless_storage_format
            FROM datastores WHERE account = ? AND region = ? AND datastore_id = ?
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId)
        return try statement.first(readDatastore)
    }

    /// The datastore an earlier CreateDatastore made with `clientToken`, and the digest of that request.
    public func datastore(_ namespace: Namespace, clientToken: String) throws -> (Datastore, digest: String?)? {
        let statement = try database.cached("""
            SELECT datastore_id, name, status, created_at, updated_at, kms_key_arn, lambda_authorizer_arn,
                lossless_storage_format, request_digest
            FROM datastores
            WHERE account = ? AND region = ? AND client_token = ?
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, clientToken)
        return try statement.first { (readDatastore($0), $0.text(8)) }
    }

    public func recordClientToken(_ namespace: Namespace, _ datastoreId: String, token: String, digest: String) throws {
        try database.cached("""
            UPDATE datastores SET client_token = ?, request_digest = ? WHERE account = ? AND region = ? AND datastore_id = ?
            """)
            .bind(1, token).bind(2, digest).bind(3, namespace.account).bind(4, namespace.region).bind(5, datastoreId).run()
    }

    /// Up to `limit` datastores after `after` in id order, optionally of one status.
    public func datastores(_ namespace: Namespace, status: DatastoreStatus?, after: String?, limit: Int) throws -> [Datastore] {
        let statement = try database.cached("""
            SELECT datastore_id, name, status, created_at, updated_at, kms_key_arn, lambda_authorizer_arn,
                lossless_storage_format
            FROM datastores
            WHERE account = ? AND region = ? AND datastore_id > ? AND (?4 IS NULL OR status = ?4)
            ORDER BY datastore_id LIMIT ?5
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, after ?? "")
            .bind(4, status?.rawValue).bind(5, limit)
        var result: [Datastore] = []
        while try statement.step() { result.append(readDatastore(statement)) }
        return result
    }

    /// Ids of every datastore of a namespace (to settle their transitions before a listing).
    public func datastoreIds(_ namespace: Namespace) throws -> [String] {
        let statement = try database.cached("SELECT datastore_id FROM datastores WHERE account = ? AND region = ?")
        try statement.bind(1, namespace.account).bind(2, namespace.region)
        var result: [String] = []
        while try statement.step() { if let id = statement.text(0) { result.append(id) } }
        return result
    }

    public func setDatastoreStatus(_ namespace: Namespace, _ datastoreId: String, _ status: DatastoreStatus, at now: Int64) throws {
        try database.cached("""
            UPDATE datastores SET status = ?, updated_at = ? WHERE account = ? AND region = ? AND datastore_id = ?
            """)
            .bind(1, status.rawValue).bind(2, now).bind(3, namespace.account).bind(4, namespace.region).bind(5, datastoreId)
            .run()
    }

    /// How many image sets of a datastore are not deleted (their latest version is not DELETED).
    public func liveImageSetCount(_ namespace: Namespace, _ datastoreId: String) throws -> Int {
        let statement = try database.cached("""
            SELECT count(*) FROM image_sets s
            WHERE s.account = ? AND s.region = ? AND s.datastore_id = ?
              AND (SELECT v.state FROM image_set_versions v WHERE v.image_set_pk = s.pk ORDER BY v.version DESC LIMIT 1)
                  IS NOT 'DELETED'
            """)
        return try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).count()
    }
}
