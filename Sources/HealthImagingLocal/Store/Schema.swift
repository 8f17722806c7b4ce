/// The database schema as an ordered list of migrations. `PRAGMA user_version` records how many have run;
/// opening a database runs the missing ones in one transaction. Append only: never edit a shipped step.
enum Schema {
    static let migrations: [String] = [
        // 1: datastores, image sets and versions, keyed by account + region from the start.
        """
        CREATE TABLE meta (
            key   TEXT PRIMARY KEY,
            value BLOB NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE datastores (
            account      TEXT NOT NULL,
            region       TEXT NOT NULL,
            datastore_id TEXT NOT NULL,
            name         TEXT,
            status       TEXT NOT NULL,
            created_at   INTEGER,
            updated_at   INTEGER,
            PRIMARY KEY (account, region, datastore_id)
        ) WITHOUT ROWID;
        CREATE TABLE image_sets (
            pk           INTEGER PRIMARY KEY,
            account      TEXT NOT NULL,
            region       TEXT NOT NULL,
            datastore_id TEXT NOT NULL,
            image_set_id TEXT NOT NULL,
            UNIQUE (account, region, datastore_id, image_set_id),
            FOREIGN KEY (account, region, datastore_id)
                REFERENCES datastores (account, region, datastore_id) ON DELETE CASCADE
        );
        CREATE TABLE image_set_versions (
            image_set_pk    INTEGER NOT NULL REFERENCES image_sets (pk) ON DELETE CASCADE,
            version         INTEGER NOT NULL,
            state           TEXT NOT NULL,
            workflow_status TEXT,
            created_at      INTEGER,
            updated_at      INTEGER,
            deleted_at      INTEGER,
            message         TEXT,
            forced          INTEGER,
            is_primary      INTEGER,
            PRIMARY KEY (image_set_pk, version)
        ) WITHOUT ROWID;
        """,
        // 2: the version lifecycle — datastore settings, per-version DICOM metadata, tags, pending state
        // transitions, transition modes and one-shot failure outcomes.
        """
        ALTER TABLE datastores ADD COLUMN kms_key_arn TEXT;
        ALTER TABLE datastores ADD COLUMN lambda_authorizer_arn TEXT;
        ALTER TABLE datastores ADD COLUMN lossless_storage_format TEXT;
        ALTER TABLE datastores ADD COLUMN client_token TEXT;
        ALTER TABLE datastores ADD COLUMN request_digest TEXT;
        ALTER TABLE image_set_versions ADD COLUMN metadata BLOB;
        CREATE TABLE tags (
            account      TEXT NOT NULL,
            region       TEXT NOT NULL,
            datastore_id TEXT NOT NULL,
            image_set_id TEXT NOT NULL,
            key          TEXT NOT NULL,
            value        TEXT NOT NULL,
            PRIMARY KEY (account, region, datastore_id, image_set_id, key)
        ) WITHOUT ROWID;
        CREATE TABLE transitions (
            id              INTEGER PRIMARY KEY,
            account         TEXT NOT NULL,
            region          TEXT NOT NULL,
            datastore_id    TEXT NOT NULL,
            image_set_pk    INTEGER REFERENCES image_sets (pk) ON DELETE CASCADE,
            version         INTEGER,
            state           TEXT NOT NULL,
            workflow_status TEXT,
            message         TEXT,
            mark_deleted    INTEGER NOT NULL DEFAULT 0,
            due_at          INTEGER,
            reads_left      INTEGER
        );
        CREATE INDEX transitions_by_image_set ON transitions (image_set_pk);
        CREATE INDEX transitions_by_datastore ON transitions (account, region, datastore_id);
        CREATE TABLE transition_modes (
            resource_type TEXT PRIMARY KEY,
            mode          TEXT NOT NULL
        ) WITHOUT ROWID;
        CREATE TABLE outcomes (
            account      TEXT NOT NULL,
            region       TEXT NOT NULL,
            datastore_id TEXT NOT NULL,
            image_set_id TEXT NOT NULL,
            operation    TEXT NOT NULL,
            outcome      TEXT NOT NULL,
            message      TEXT NOT NULL,
            PRIMARY KEY (account, region, datastore_id, image_set_id, operation)
        ) WITHOUT ROWID;
        """,
        // 3: transition modes per namespace; the row with account = '' and region = '' is the startup mode
        // (`--transitions`) every namespace uses until it sets its own.
        """
        DROP TABLE transition_modes;
        CREATE TABLE transition_modes (
            account       TEXT NOT NULL,
            region        TEXT NOT NULL,
            resource_type TEXT NOT NULL,
            mode          TEXT NOT NULL,
            PRIMARY KEY (account, region, resource_type)
        ) WITHOUT ROWID;
        """,
        // 4: the members the service always reports, for datastores fixtures loaded without them; an index
        // for CreateDatastore's client-token lookup (a scan of the namespace's datastores on every call before).
        """
        CREATE INDEX datastores_by_client_token ON datastores (account, region, client_token);
        UPDATE datastores SET created_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)
            WHERE created_at IS NULL;
        UPDATE datastores SET updated_at = created_at WHERE updated_at IS NULL;
        UPDATE datastores SET lossless_storage_format = 'HTJ2K' WHERE lossless_storage_format IS NULL;
        """,
        // 5: stored image frames. Bytes live in frame_blobs (a rowid table: big blobs go to overflow pages),
        // referenced by frames rows, so CopyImageSet copies references (AUTOINCREMENT: a blob id is never reused,
        // so the in-memory frame cache can key on it); a trigger drops a blob with its last reference.
        // synthetic: made by the emulator for a document without pixels (not exported: loading regenerates it).
        // frames_ready marks versions whose document's ImageFrames all have a stored frame (synthetic ones made).
        """
        CREATE TABLE frame_blobs (
            id   INTEGER PRIMARY KEY AUTOINCREMENT,
            data BLOB NOT NULL
        );
        CREATE TABLE frames (
            image_set_pk    INTEGER NOT NULL REFERENCES image_sets (pk) ON DELETE CASCADE,
            frame_id        TEXT NOT NULL,
            blob_id         INTEGER NOT NULL,
            transfer_syntax TEXT NOT NULL,
            content_type    TEXT NOT NULL,
            checksums       TEXT NOT NULL,
            min_value       INTEGER NOT NULL,
            max_value       INTEGER NOT NULL,
            size            INTEGER NOT NULL,
            synthetic       INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (image_set_pk, frame_id)
        ) WITHOUT ROWID;
        CREATE INDEX frames_by_blob ON frames (blob_id);
        CREATE TRIGGER frames_release AFTER DELETE ON frames BEGIN
            DELETE FROM frame_blobs WHERE id = OLD.blob_id AND NOT EXISTS (SELECT 1 FROM frames WHERE blob_id = OLD.blob_id);
        END;
        ALTER TABLE image_set_versions ADD COLUMN frames_ready INTEGER;
        """,
        // 6: DICOM import jobs (StartDICOMImportJob), and transitions that end them.
        """
        CREATE TABLE import_jobs (
            account                TEXT NOT NULL,
            region                 TEXT NOT NULL,
            datastore_id           TEXT NOT NULL,
            job_id                 TEXT NOT NULL,
            job_name               TEXT,
            status                 TEXT NOT NULL,
            data_access_role_arn   TEXT NOT NULL,
            input_s3_uri           TEXT NOT NULL,
            output_s3_uri          TEXT NOT NULL,
            input_owner_account_id TEXT,
            import_configuration   BLOB,
            submitted_at           INTEGER NOT NULL,
            ended_at               INTEGER,
            message                TEXT,
            client_token           TEXT,
            request_digest         TEXT,
            PRIMARY KEY (account, region, datastore_id, job_id),
            FOREIGN KEY (account, region, datastore_id)
                REFERENCES datastores (account, region, datastore_id) ON DELETE CASCADE
        ) WITHOUT ROWID;
        CREATE INDEX import_jobs_by_token ON import_jobs (account, region, datastore_id, client_token);
        ALTER TABLE transitions ADD COLUMN job_id TEXT;
        """,
        // pool: import jobs whose work is queued or running in this process (Store+ImportRuns): a row left by a
        // server that stopped (kill -9) marks a job to end FAILED at the next startup.
        """
        CREATE TABLE import_runs (
            account      TEXT NOT NULL,
            region       TEXT NOT NULL,
            datastore_id TEXT NOT NULL,
            job_id       TEXT NOT NULL,
            PRIMARY KEY (account, region, datastore_id, job_id),
            FOREIGN KEY (account, region, datastore_id, job_id)
                REFERENCES import_jobs (account, region, datastore_id, job_id) ON DELETE CASCADE
        ) WITHOUT ROWID;
        """,
        // time: when each image set was last accessed (storage tiers, Store+Clock.swift). Image sets of an older
        // database count as accessed when their latest version was last written.
        """
        ALTER TABLE image_sets ADD COLUMN last_accessed_at INTEGER;
        UPDATE image_sets SET last_accessed_at =
            (SELECT max(coalesce(updated_at, created_at)) FROM image_set_versions WHERE image_set_pk = image_sets.pk);
        """,
        // events: a transition that settles without announcing an event (Store+Events.swift).
        """
        ALTER TABLE transitions ADD COLUMN quiet INTEGER NOT NULL DEFAULT 0;
        """,
        // DICOMweb QIDO-RS indexes (Store+DICOMIndex.swift): one row per series and per instance of the latest version
        // of every image set, written where a version's metadata is written; filtered by the version's state and
        // primary flag at query time. The level JSON columns hold the document's own (keyword-keyed) attributes.
        // Filled for existing databases at open (`backfillDICOMIndex`, marked by meta key 'dicom-index').
        """
        CREATE TABLE dicom_series_index (
            image_set_pk     INTEGER NOT NULL REFERENCES image_sets (pk) ON DELETE CASCADE,
            version          INTEGER NOT NULL,
            account          TEXT NOT NULL,
            region           TEXT NOT NULL,
            datastore_id     TEXT NOT NULL,
            study_uid        TEXT NOT NULL,
            series_uid       TEXT NOT NULL,
            study_date       TEXT,
            study_time       TEXT,
            accession_number TEXT,
            referring_physician_name TEXT,
            referring_physician_words TEXT,
            study_description TEXT,
            patient_name     TEXT,
            patient_name_words TEXT,
            patient_id       TEXT,
            patient_birth_date TEXT,
            patient_birth_time TEXT,
            study_id         TEXT,
            modality         TEXT,
            series_number    INTEGER,
            pps_start_date   TEXT,
            pps_start_time   TEXT,
            instance_count   INTEGER NOT NULL,
            study_json       BLOB NOT NULL,
            series_json      BLOB NOT NULL,
            PRIMARY KEY (image_set_pk, series_uid)
        ) WITHOUT ROWID;
        CREATE INDEX dicom_series_by_study ON dicom_series_index (account, region, datastore_id, study_uid);
        CREATE INDEX dicom_series_by_uid ON dicom_series_index (account, region, datastore_id, series_uid);
        CREATE TABLE dicom_instance_index (
            image_set_pk     INTEGER NOT NULL REFERENCES image_sets (pk) ON DELETE CASCADE,
            version          INTEGER NOT NULL,
            account          TEXT NOT NULL,
            region           TEXT NOT NULL,
            datastore_id     TEXT NOT NULL,
            study_uid        TEXT NOT NULL,
            series_uid       TEXT NOT NULL,
            sop_uid          TEXT NOT NULL,
            sop_class_uid    TEXT,
            instance_number  INTEGER,
            warning_reason   TEXT,
            instance_json    BLOB NOT NULL,
            PRIMARY KEY (image_set_pk, series_uid, sop_uid)
        ) WITHOUT ROWID;
        CREATE INDEX dicom_instances_by_series ON dicom_instance_index (account, region, datastore_id, study_uid, series_uid);
        CREATE INDEX dicom_instances_by_sop ON dicom_instance_index (account, region, datastore_id, sop_uid);
        """,
        // commit: the study and series that each image set's newest stored document holds (Store+StudyIndex.swift), so
        // that an import finds the primary image set of a series, and the other primaries of a study, without
        // reading every document of the datastore. `study_key` is the patient + study grouping elements. Filled
        // for existing image sets at the next open (the 'study-index-pending' mark).
        """
        CREATE TABLE image_set_studies (
            image_set_pk INTEGER PRIMARY KEY REFERENCES image_sets (pk) ON DELETE CASCADE,
            version      INTEGER NOT NULL,
            study_uid    TEXT NOT NULL,
            study_key    TEXT NOT NULL
        );
        CREATE INDEX image_set_studies_by_study ON image_set_studies (study_uid, study_key);
        CREATE TABLE image_set_series (
            image_set_pk INTEGER NOT NULL REFERENCES image_sets (pk) ON DELETE CASCADE,
            series_uid   TEXT NOT NULL,
            PRIMARY KEY (image_set_pk, series_uid)
        ) WITHOUT ROWID;
        CREATE INDEX image_set_series_by_uid ON image_set_series (series_uid);
        INSERT OR REPLACE INTO meta (key, value) VALUES ('study-index-pending', 1);
        """,
    ]

    static var currentVersion: Int { migrations.count }

    /// Brings `database` up to `currentVersion`. Refuses a database written by a newer emulator.
    static func migrate(_ database: SQLiteDatabase) throws {
        let found = Int(try database.scalarText("PRAGMA user_version") ?? "0") ?? 0
        guard found <= currentVersion else {
            throw StoreError.newerSchema(found: found, supported: currentVersion)
        }
        guard found < currentVersion else { return }
        try database.transaction {
            for step in migrations[found...] {
                try database.execute(step)
            }
            try database.execute("PRAGMA user_version = \(currentVersion)")
        }
    }
}

public enum StoreError: Error, CustomStringConvertible {
    case newerSchema(found: Int, supported: Int)

    public var description: String {
        switch self {
        case .newerSchema(let found, let supported):
            "the database has schema version \(found), newer than this emulator supports (\(supported))"
        }
    }
}
