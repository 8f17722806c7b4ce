extension Store {
    /// How much one namespace holds (health, reset and load answers of the control plane).
    public func counts(_ namespace: Namespace) throws -> Counts {
        let statement = try database.cached("""
            SELECT (SELECT count(*) FROM datastores WHERE account = ?1 AND region = ?2),
                   (SELECT count(*) FROM image_sets WHERE account = ?1 AND region = ?2),
                   (SELECT count(*) FROM image_set_versions WHERE image_set_pk IN
                       (SELECT pk FROM image_sets WHERE account = ?1 AND region = ?2))
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region)
        _ = try statement.step()
        defer { statement.reset() }  // no read snapshot left open after the last row
        return Counts(datastores: Int(statement.int64(0) ?? 0), imageSets: Int(statement.int64(1) ?? 0),
                      versions: Int(statement.int64(2) ?? 0))
    }

    /// How many namespaces hold at least one datastore.
    public func namespaceCount() throws -> Int {
        let statement = try database.cached("SELECT count(*) FROM (SELECT DISTINCT account, region FROM datastores)")
        _ = try statement.step()
        defer { statement.reset() }
        return Int(statement.int64(0) ?? 0)
    }
}
