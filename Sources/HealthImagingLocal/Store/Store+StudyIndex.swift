import HealthImagingJSON
/// Which study and series each image set's newest stored document holds (tables `image_set_studies` and
/// `image_set_series`), kept by `setMetadata`: the one place a version's document is written. An import asks it
/// for the few image sets that can be the primary image set of a series, or a primary of the study that disagrees
/// with new instances, instead of reading every document of the datastore (which made an import of N series
/// O(N²)). The answers are candidates: the caller settles each one and checks its latest version and document
/// (ImportCommit.primary), so the index only has to hold a superset of the true answer:
/// - a row is written for the highest version whose document was set (setting an older version's document, as
///   preparing its frames does, leaves it alone); a newer version without a document is filtered out by the
///   queries (the row's version must be the image set's latest);
/// - documents the emulator makes up for versions without one (DICOMDocument.makeDefault) are not indexed: their
///   Study Instance UID lies under the emulator's own UID root, and imports naming such a UID scan instead.
extension Store {
    /// Records what `document` (nil: none) holds as the newest stored document of the image set, when `versionId`
    /// is at least the version recorded so far.
    func indexStudy(imageSet key: Int64, versionId: Int64, _ document: JSONValue?) throws {
        let current = try database.cached("SELECT version FROM image_set_studies WHERE image_set_pk = ?")
        try current.bind(1, key)
        if let recorded = try current.first({ $0.int64(0) }) ?? nil, recorded > versionId { return }
        try database.cached("DELETE FROM image_set_studies WHERE image_set_pk = ?").bind(1, key).run()
        try database.cached("DELETE FROM image_set_series WHERE image_set_pk = ?").bind(1, key).run()
        guard let document, let studyUID = document.value(at: ["Study", "DICOM", "StudyInstanceUID"])?.stringValue else {
            return
        }
        try database.cached("""
            INSERT INTO image_set_studies (image_set_pk, version, study_uid, study_key) VALUES (?, ?, ?, ?)
            """)
            .bind(1, key).bind(2, versionId).bind(3, studyUID).bind(4, ImportGrouping.studyKey(document)).run()
        for (seriesUID, _) in document.value(at: ["Study", "Series"])?.objectMembers ?? [] {
            try database.cached("INSERT OR IGNORE INTO image_set_series (image_set_pk, series_uid) VALUES (?, ?)")
                .bind(1, key).bind(2, seriesUID).run()
        }
    }

    /// Image sets of the datastore whose newest version is primary (as stored, before settling) and has a stored
    /// document of study `studyUID` holding series `seriesUID`; in image set id order. (CROSS JOIN fixes the join
    /// order: from the index outwards. Without statistics SQLite may otherwise start from every image set of the
    /// datastore.)
    func primaryCandidates(_ namespace: Namespace, _ datastoreId: String, studyUID: String,
                           seriesUID: String) throws -> [(key: Int64, imageSetId: String)] {
        let statement = try database.cached("""
            SELECT s.pk, s.image_set_id FROM image_set_series x
            CROSS JOIN image_set_studies t ON t.image_set_pk = x.image_set_pk
            CROSS JOIN image_sets s ON s.pk = x.image_set_pk
            CROSS JOIN image_set_versions v ON v.image_set_pk = t.image_set_pk AND v.version = t.version
            WHERE x.series_uid = ? AND t.study_uid = ? AND s.account = ? AND s.region = ? AND s.datastore_id = ?
              AND v.is_primary = 1
              AND NOT EXISTS (SELECT 1 FROM image_set_versions w WHERE w.image_set_pk = t.image_set_pk AND w.version > t.version)
            ORDER BY s.image_set_id
            """)
        try statement.bind(1, seriesUID).bind(2, studyUID).bind(3, namespace.account).bind(4, namespace.region)
            .bind(5, datastoreId)
        return try candidates(statement)
    }

    /// Image sets of the datastore whose newest version is primary (as stored) and has a stored document of study
    /// `studyUID` whose patient + study elements differ from `studyKey`; in image set id order. Two range scans
    /// of the index (below and above the key): the primaries that agree are never visited.
    func disagreeingCandidates(_ namespace: Namespace, _ datastoreId: String, studyUID: String,
                               studyKey: String) throws -> [(key: Int64, imageSetId: String)] {
        var found: [(key: Int64, imageSetId: String)] = []
        for statement in [
            try database.cached("""
                SELECT s.pk, s.image_set_id FROM image_set_studies t
                CROSS JOIN image_sets s ON s.pk = t.image_set_pk
                CROSS JOIN image_set_versions v ON v.image_set_pk = t.image_set_pk AND v.version = t.version
                WHERE t.study_uid = ? AND t.study_key < ? AND s.account = ? AND s.region = ? AND s.datastore_id = ?
                  AND v.is_primary = 1
                  AND NOT EXISTS (SELECT 1 FROM image_set_versions w WHERE w.image_set_pk = t.image_set_pk AND w.version > t.version)
                """),
            try database.cached("""
                SELECT s.pk, s.image_set_id FROM image_set_studies t
                CROSS JOIN image_sets s ON s.pk = t.image_set_pk
                CROSS JOIN image_set_versions v ON v.image_set_pk = t.image_set_pk AND v.version = t.version
                WHERE t.study_uid = ? AND t.study_key > ? AND s.account = ? AND s.region = ? AND s.datastore_id = ?
                  AND v.is_primary = 1
                  AND NOT EXISTS (SELECT 1 FROM image_set_versions w WHERE w.image_set_pk = t.image_set_pk AND w.version > t.version)
                """),
        ] {
            try statement.bind(1, studyUID).bind(2, studyKey).bind(3, namespace.account).bind(4, namespace.region)
                .bind(5, datastoreId)
            found += try candidates(statement)
        }
        return found.sorted { $0.imageSetId < $1.imageSetId }
    }

    private func candidates(_ statement: Statement) throws -> [(key: Int64, imageSetId: String)] {
        var result: [(key: Int64, imageSetId: String)] = []
        while try statement.step() { result.append((statement.int64(0) ?? 0, statement.text(1) ?? "")) }
        return result
    }

    /// Fills the index for image sets stored before it existed (a database from an older emulator), once: the
    /// migration that made the tables left the 'study-index-pending' mark.
    func indexStudiesIfPending() throws {
        let mark = try database.cached("SELECT 1 FROM meta WHERE key = 'study-index-pending'")
        guard try mark.first({ _ in true }) ?? false else { return }
        try database.transaction {
            let newest = try database.cached("""
                SELECT image_set_pk, max(version) FROM image_set_versions WHERE metadata IS NOT NULL GROUP BY image_set_pk
                """)
            var rows: [(Int64, Int64)] = []
            while try newest.step() { rows.append((newest.int64(0) ?? 0, newest.int64(1) ?? 0)) }
            for (key, version) in rows {
                guard let bytes = try metadata(imageSet: key, versionId: version), !bytes.isEmpty,
                    let document = try? JSONParser.parse(bytes)
                else { continue }
                try indexStudy(imageSet: key, versionId: version, document)
            }
            try database.execute("DELETE FROM meta WHERE key = 'study-index-pending'")
        }
    }
}
