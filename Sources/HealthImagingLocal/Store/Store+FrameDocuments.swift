import HealthImagingJSON
import HealthImagingDICOM
/// Every frame a document lists is servable: before a version's document is used, each `ImageFrames` entry
/// without a stored frame gets a synthetic one (deterministic pixels in the instance's geometry, encoded in the
/// datastore's storage format), and every entry's checksums, min/max and size are rewritten from the stored
/// frame. Done once per version (lazily, on first use), then remembered in `frames_ready`.
extension Store {
    /// The version's document with its frames prepared (see above).
    func preparedDocument(_ handle: ImageSetHandle, versionId: Int64, _ document: JSONValue) throws -> JSONValue {
        let ready = try database.cached(
            "SELECT frames_ready FROM image_set_versions WHERE image_set_pk = ? AND version = ?")
        try ready.bind(1, handle.key).bind(2, versionId)
        let isReady = try ready.step() && ready.int64(0) == 1
        try ready.run()
        if isReady { return document }

        try database.execute("SAVEPOINT prepare_frames")
        do {
            var changed = false
            let format = try storageFormat(imageSet: handle.key)
            let patched = try patchFrames(document, imageSet: handle.key, format: format, changed: &changed)
            if changed { try setMetadata(imageSet: handle.key, versionId: versionId, document: patched) }
            try database.cached("UPDATE image_set_versions SET frames_ready = 1 WHERE image_set_pk = ? AND version = ?")
                .bind(1, handle.key).bind(2, versionId).run()
            try database.execute("RELEASE prepare_frames")
            return patched
        } catch {
            try? database.execute("ROLLBACK TO prepare_frames")
            try? database.execute("RELEASE prepare_frames")
            throw error
        }
    }

    /// Makes the synthetic frames of the image set's latest version (GetImageFrame on a frame not stored yet).
    func prepareFrames(_ handle: ImageSetHandle) throws {
        _ = try document(handle, versionId: handle.latest.versionId)
    }

    /// Marks every version of an image set for preparing again (its frames changed, e.g. after a copy into it).
    func invalidatePreparedFrames(imageSet key: Int64) throws {
        try database.cached("UPDATE image_set_versions SET frames_ready = NULL WHERE image_set_pk = ?").bind(1, key).run()
    }

    /// The image set's datastore's `losslessStorageFormat` (HTJ2K when unset).
    func storageFormat(imageSet key: Int64) throws -> LosslessStorageFormat {
        let statement = try database.cached("""
            SELECT d.lossless_storage_format FROM image_sets s
            JOIN datastores d ON d.account = s.account AND d.region = s.region AND d.datastore_id = s.datastore_id
            WHERE s.pk = ?
            """)
        try statement.bind(1, key)
        let text = try statement.step() ? statement.text(0) : nil
        try statement.run()
        return text.flatMap(LosslessStorageFormat.init(rawValue:)) ?? .htj2k
    }

    private func patchFrames(_ document: JSONValue, imageSet key: Int64, format: LosslessStorageFormat,
                             changed: inout Bool) throws -> JSONValue {
        guard let series = document.value(at: ["Study", "Series"])?.objectMembers else { return document }
        var newSeries: [(key: String, value: JSONValue)] = []
        for (seriesUID, seriesValue) in series {
            guard let instances = seriesValue["Instances"]?.objectMembers else {
                newSeries.append((seriesUID, seriesValue))
                continue
            }
            var newInstances: [(key: String, value: JSONValue)] = []
            for (sopUID, instance) in instances {
                guard case .array(let frames)? = instance["ImageFrames"], !frames.isEmpty else {
                    newInstances.append((sopUID, instance))
                    continue
                }
                let geometry = SyntheticFrame.Geometry(dicom: instance["DICOM"])
                var newFrames: [JSONValue] = []
                var syntax: String?
                for entry in frames {
                    guard let frameId = entry["ID"]?.stringValue else {
                        newFrames.append(entry)
                        continue
                    }
                    var facts = try frameFacts(imageSet: key, frameId: frameId)
                    if facts == nil {
                        let stored = try FrameCodec.store(SyntheticFrame.make(frameId: frameId, geometry: geometry), format: format)
                        try insertFrame(imageSet: key, frameId: frameId, stored, synthetic: true)
                        facts = FrameFacts(stored)
                    }
                    guard let facts else { continue }
                    syntax = syntax ?? facts.transferSyntaxUID
                    let patched = Self.frameEntry(entry, facts)
                    if patched != entry { changed = true }
                    newFrames.append(patched)
                }
                var newInstance = instance.setting("ImageFrames", .array(newFrames))
                if let syntax, instance["StoredTransferSyntaxUID"]?.stringValue != syntax {
                    newInstance = newInstance.setting("StoredTransferSyntaxUID", .string(syntax))
                    changed = true
                }
                newInstances.append((sopUID, newInstance))
            }
            newSeries.append((seriesUID, seriesValue.setting("Instances", .object(newInstances))))
        }
        guard changed else { return document }
        let study = document["Study"] ?? .object([])
        return document.setting("Study", study.setting("Series", .object(newSeries)))
    }

    /// An `ImageFrames` entry with the stored frame's facts (other members kept, in their order).
    static func frameEntry(_ entry: JSONValue, _ facts: FrameFacts) -> JSONValue {
        let checksums: JSONValue = .array(facts.checksums.map { level in
            .object([("Width", .number(String(level.width))), ("Height", .number(String(level.height))),
                     ("Checksum", .number(String(level.checksum)))])
        })
        return entry
            .setting("PixelDataChecksumFromBaseToFullResolution", checksums)
            .setting("MinPixelValue", MetadataDocument.reportsPixelRange(storedTransferSyntaxUID: facts.transferSyntaxUID)
                     ? .number(String(facts.minPixelValue)) : .null)
            .setting("MaxPixelValue", MetadataDocument.reportsPixelRange(storedTransferSyntaxUID: facts.transferSyntaxUID)
                     ? .number(String(facts.maxPixelValue)) : .null)
            .setting("FrameSizeInBytes", .number(String(facts.sizeInBytes)))
    }
}

extension DICOMDocument {
    /// Every `ImageFrames[].ID` of a document, in document order.
    public static func frameIds(in document: JSONValue) -> [String] {
        var ids: [String] = []
        for (_, series) in document.value(at: ["Study", "Series"])?.objectMembers ?? [] {
            for (_, instance) in series["Instances"]?.objectMembers ?? [] {
                guard case .array(let frames)? = instance["ImageFrames"] else { continue }
                ids += frames.compactMap { $0["ID"]?.stringValue }
            }
        }
        return ids
    }
}
