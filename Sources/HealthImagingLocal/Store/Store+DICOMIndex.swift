import HealthImagingJSON
/// The QIDO-RS indexes (seam S7): one `dicom_series_index` row per series and one `dicom_instance_index` row per
/// instance of the LATEST version of every image set. Written where a version's document changes — `setMetadata`
/// (`writeMetadata`), and `insertVersion` (a new latest version) — so imports, STOW, updates, copies, reverts, fixtures
/// and control-plane seeding all keep them true; a version's state and primary flag are read at query time (a delete
/// or lock changes no index row). Searches read these rows only, never metadata documents.
extension Store {
    /// Rewrites the index rows of an image set from its latest version's document (the stored one, else the
    /// emulator's default, as GetImageSetMetadata serves it). `written`: the version whose document (nil: none)
    /// was just stored, and that document, indexed as it is instead of being read back and parsed again; when that
    /// version is not the latest, nothing changes (the rows hold the latest version's document, which did not).
    func reindexDICOM(imageSet key: Int64, written: (versionId: Int64, document: JSONValue?)? = nil) throws {
        let owner = try database.cached("""
            SELECT s.account, s.region, s.datastore_id, s.image_set_id,
                (SELECT max(version) FROM image_set_versions WHERE image_set_pk = s.pk)
            FROM image_sets s WHERE s.pk = ?
            """)
        try owner.bind(1, key)
        guard try owner.step(), let account = owner.text(0), let region = owner.text(1), let datastoreId = owner.text(2),
            let imageSetId = owner.text(3)
        else {
            try owner.run()
            return
        }
        let version = owner.int64(4)
        try owner.run()
        if let written, written.versionId != version { return }
        try database.cached("DELETE FROM dicom_series_index WHERE image_set_pk = ?").bind(1, key).run()
        try database.cached("DELETE FROM dicom_instance_index WHERE image_set_pk = ?").bind(1, key).run()
        guard let version else { return }
        var document: JSONValue?
        if let written {
            document = written.document
        } else if let bytes = try metadata(imageSet: key, versionId: version), !bytes.isEmpty {
            document = try? JSONParser.parse(bytes)
        }
        let rows = DICOMIndexRows(document ?? DICOMDocument.makeDefault(datastoreId: datastoreId, imageSetId: imageSetId))
        for series in rows.series {
            try database.cached("""
                INSERT OR REPLACE INTO dicom_series_index (image_set_pk, version, account, region, datastore_id, study_uid,
                    series_uid, study_date, study_time, accession_number, referring_physician_name,
                    referring_physician_words, study_description, patient_name, patient_name_words, patient_id,
                    patient_birth_date, patient_birth_time, study_id, modality, series_number, pps_start_date,
                    pps_start_time, instance_count, study_json, series_json)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """)
                .bind(1, key).bind(2, version).bind(3, account).bind(4, region).bind(5, datastoreId)
                .bind(6, rows.studyUID).bind(7, series.uid).bind(8, rows.text("StudyDate")).bind(9, rows.text("StudyTime"))
                .bind(10, rows.text("AccessionNumber")).bind(11, rows.text("ReferringPhysicianName"))
                .bind(12, DICOMIndexRows.words(rows.text("ReferringPhysicianName")))
                .bind(13, rows.text("StudyDescription")).bind(14, rows.text("PatientName"))
                .bind(15, DICOMIndexRows.words(rows.text("PatientName"))).bind(16, rows.text("PatientID"))
                .bind(17, rows.text("PatientBirthDate")).bind(18, rows.text("PatientBirthTime")).bind(19, rows.text("StudyID"))
                .bind(20, series.text("Modality")).bind(21, series.integer("SeriesNumber"))
                .bind(22, series.text("PerformedProcedureStepStartDate")).bind(23, series.text("PerformedProcedureStepStartTime"))
                .bind(24, series.instances.count).bind(25, blob: rows.studyJSON).bind(26, blob: series.json).run()
            for instance in series.instances {
                try database.cached("""
                    INSERT OR REPLACE INTO dicom_instance_index (image_set_pk, version, account, region, datastore_id,
                        study_uid, series_uid, sop_uid, sop_class_uid, instance_number, warning_reason, instance_json)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """)
                    .bind(1, key).bind(2, version).bind(3, account).bind(4, region).bind(5, datastoreId)
                    .bind(6, rows.studyUID).bind(7, series.uid).bind(8, instance.uid).bind(9, instance.text("SOPClassUID"))
                    .bind(10, instance.integer("InstanceNumber")).bind(11, instance.warnings).bind(12, blob: instance.json).run()
            }
        }
    }

    /// Indexes every image set of a database written before the indexes existed (once; meta key 'dicom-index').
    func backfillDICOMIndex() throws {
        let marker = try database.cached("SELECT 1 FROM meta WHERE key = 'dicom-index'")
        if try marker.first({ _ in true }) == true { return }
        try database.transaction {
            let all = try database.cached("SELECT pk FROM image_sets ORDER BY pk")
            var keys: [Int64] = []
            while try all.step() { if let key = all.int64(0) { keys.append(key) } }
            for key in keys { try reindexDICOM(imageSet: key) }
            try database.cached("INSERT OR REPLACE INTO meta (key, value) VALUES ('dicom-index', X'01')").run()
        }
    }
}

/// The index rows of one document: its study (Patient + Study attributes), series and instances.
struct DICOMIndexRows {
    struct Instance {
        var uid: String
        var attributes: JSONValue
        /// The instance member with `ImageFrames` reduced to `FrameIDs` (the frame ids in frame order), serialized.
        var json: [UInt8]
        /// WarningReason (0008,1196) codes, backslash-separated, for instance-level matching.
        var warnings: String?

        func text(_ keyword: String) -> String? { DICOMIndexRows.text(attributes[keyword]) }
        func integer(_ keyword: String) -> Int64? { DICOMIndexRows.integer(attributes[keyword]) }
    }

    struct Series {
        var uid: String
        var attributes: JSONValue
        var json: [UInt8]
        var instances: [Instance]

        func text(_ keyword: String) -> String? { DICOMIndexRows.text(attributes[keyword]) }
        func integer(_ keyword: String) -> Int64? { DICOMIndexRows.integer(attributes[keyword]) }
    }

    var studyUID: String
    var study: JSONValue
    var studyJSON: [UInt8]
    var series: [Series] = []

    init(_ document: JSONValue) {
        let patient = document.value(at: ["Patient", "DICOM"])?.objectMembers ?? []
        let studyMembers = document.value(at: ["Study", "DICOM"])?.objectMembers ?? []
        study = .object(patient + studyMembers)
        studyJSON = study.serialized()
        studyUID = Self.text(study["StudyInstanceUID"]) ?? ""
        for (seriesKey, seriesValue) in document.value(at: ["Study", "Series"])?.objectMembers ?? [] {
            let attributes = seriesValue["DICOM"] ?? .object([])
            var instances: [Instance] = []
            for (sopKey, instance) in seriesValue["Instances"]?.objectMembers ?? [] {
                let dicom = instance["DICOM"] ?? .object([])
                var frameIds: [JSONValue] = []
                if case .array(let frames)? = instance["ImageFrames"] {
                    frameIds = frames.map { $0["ID"] ?? .null }
                }
                var members = (instance.objectMembers ?? []).filter { $0.key != "ImageFrames" }
                members.append(("FrameIDs", .array(frameIds)))
                var warnings: String?
                switch dicom["WarningReason"] {
                case .number(let code)?: warnings = code
                case .array(let codes)?: warnings = codes.compactMap { Self.text($0) }.joined(separator: "\\")
                default: break
                }
                instances.append(Instance(uid: Self.text(dicom["SOPInstanceUID"]) ?? sopKey, attributes: dicom,
                                          json: JSONValue.object(members).serialized(), warnings: warnings))
            }
            series.append(Series(uid: Self.text(attributes["SeriesInstanceUID"]) ?? seriesKey, attributes: attributes,
                                 json: attributes.serialized(), instances: instances))
        }
    }

    func text(_ keyword: String) -> String? { Self.text(study[keyword]) }

    /// A single-valued attribute as text (the first value of a multi-valued one), padding trimmed.
    static func text(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: return text.dicomTrimmed(" \0")
        case .number(let text)?: return text
        case .array(let values)?: return values.first.flatMap { text($0) }
        case .object(let members)?: return members.first { $0.key == "Alphabetic" }.flatMap { text($0.value) }
        default: return nil
        }
    }

    static func integer(_ value: JSONValue?) -> Int64? {
        text(value).flatMap { Int64($0.dicomTrimmed(" +")) ?? Double($0).map { Int64($0) } }
    }

    /// A person name's words for fuzzy matching: lower case, each preceded by a space (" doe john").
    static func words(_ name: String?) -> String? {
        guard let name else { return nil }
        let parts = name.lowercased().split(whereSeparator: { "^= ,".contains($0) })
        return parts.isEmpty ? nil : parts.map { " " + $0 }.joined()
    }
}

extension String {
    func dicomTrimmed(_ set: String) -> String {
        var scalars = Substring(self)
        while let first = scalars.first, set.contains(first) { scalars.removeFirst() }
        while let last = scalars.last, set.contains(last) { scalars.removeLast() }
        return String(scalars)
    }
}
