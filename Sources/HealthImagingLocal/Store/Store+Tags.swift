/// Tags of datastores (`imageSetId` empty) and image sets.
extension Store {
    public func tags(_ namespace: Namespace, datastoreId: String, imageSetId: String) throws -> [(key: String, value: String)] {
        let statement = try database.cached("""
            SELECT key, value FROM tags WHERE account = ? AND region = ? AND datastore_id = ? AND image_set_id = ? ORDER BY key
            """)
        try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, imageSetId)
        var result: [(String, String)] = []
        while try statement.step() { result.append((statement.text(0) ?? "", statement.text(1) ?? "")) }
        return result
    }

    public func setTags(_ namespace: Namespace, datastoreId: String, imageSetId: String, _ tags: [(key: String, value: String)]) throws {
        let statement = try database.cached("""
            INSERT OR REPLACE INTO tags (account, region, datastore_id, image_set_id, key, value) VALUES (?, ?, ?, ?, ?, ?)
            """)
        for tag in tags {
            try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, imageSetId)
                .bind(5, tag.key).bind(6, tag.value).run()
            statement.reset()
        }
    }

    public func removeTags(_ namespace: Namespace, datastoreId: String, imageSetId: String, keys: [String]) throws {
        let statement = try database.cached("""
            DELETE FROM tags WHERE account = ? AND region = ? AND datastore_id = ? AND image_set_id = ? AND key = ?
            """)
        for key in keys {
            try statement.bind(1, namespace.account).bind(2, namespace.region).bind(3, datastoreId).bind(4, imageSetId)
                .bind(5, key).run()
            statement.reset()
        }
    }
}
