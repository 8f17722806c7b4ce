import CZlib
import HealthImagingJSON

/// Builds and extends the GetImageSetMetadata document of an imported image set (SchemaVersion 1.1):
/// `{SchemaVersion, DatastoreID, ImageSetID, Patient: {DICOM}, Study: {DICOM, Series: {uid: {DICOM, Instances:
/// {sop: {DICOM, DICOMVRs, StoredTransferSyntaxUID, ChecksumType, ImageFrames}}}}}}`.
public enum MetadataDocument {
    public static let schemaVersion = "1.1"

    /// `document` (or a new one) with `instances` added. Patient, Study and Series attributes merge key by key (the
    /// newer instance's value wins; each level's keys kept in alphabetical order, as in the service's documents);
    /// an instance whose SOPInstanceUID is already there is replaced whole (re-import). Linear in the number of
    /// instances: series and instances are found through dictionaries, and each level is sorted once at the end.
    public static func adding(_ instances: [(instance: DICOMInstance, frames: [(id: String, frame: StoredFrame)])],
                              to document: JSONValue?, datastoreId: String, imageSetId: String) -> JSONValue {
        var patient = Level(document?.value(at: ["Patient", "DICOM"])?.objectMembers ?? [])
        var study = Level(document?.value(at: ["Study", "DICOM"])?.objectMembers ?? [])
        var seriesList = document?.value(at: ["Study", "Series"])?.objectMembers ?? []
        var seriesIndex = Dictionary(seriesList.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
        /// The series changed so far, by their index in `seriesList`: their DICOM level and instances.
        var touched: [Int: (dicom: Level, instances: Level)] = [:]
        for (instance, frames) in instances {
            patient.merge(instance.patient)
            study.merge(instance.study)
            let index: Int
            if let found = seriesIndex[instance.seriesInstanceUID] {
                index = found
            } else {
                seriesList.append((instance.seriesInstanceUID, .object([("DICOM", .object([])), ("Instances", .object([]))])))
                index = seriesList.count - 1
                seriesIndex[instance.seriesInstanceUID] = index
            }
            var series = touched[index] ?? (Level(seriesList[index].value["DICOM"]?.objectMembers ?? []),
                                             Level(seriesList[index].value["Instances"]?.objectMembers ?? []))
            touched[index] = nil  // keeps `series` uniquely referenced while it changes
            series.dicom.merge(instance.series)
            series.instances.set(instance.sopInstanceUID, instanceObject(instance, frames: frames))
            touched[index] = series
        }
        for (index, series) in touched {
            seriesList[index].value = seriesList[index].value.setting("DICOM", .object(series.dicom.sortedMembers))
                .setting("Instances", .object(series.instances.members))
        }
        return .object([
            ("SchemaVersion", .string(schemaVersion)),
            ("DatastoreID", .string(datastoreId)),
            ("ImageSetID", .string(imageSetId)),
            ("Patient", .object([("DICOM", .object(patient.sortedMembers))])),
            ("Study", .object([("DICOM", .object(study.sortedMembers)), ("Series", .object(seriesList))])),
        ])
    }

    /// The members of one object being built: a key's first member is found by a dictionary, and set in place.
    private struct Level {
        private(set) var members: [(key: String, value: JSONValue)]
        private var index: [String: Int]
        private var merged = false

        init(_ members: [(key: String, value: JSONValue)]) {
            self.members = members
            index = Dictionary(members.enumerated().map { ($1.key, $0) }, uniquingKeysWith: { first, _ in first })
        }

        mutating func set(_ key: String, _ value: JSONValue) {
            if let at = index[key] {
                members[at].value = value
            } else {
                index[key] = members.count
                members.append((key, value))
            }
        }

        mutating func merge(_ attributes: [(key: String, value: JSONValue)]) {
            for (key, value) in attributes { set(key, value) }
            merged = true
        }

        /// The members in key order once anything was merged into them (as they were otherwise).
        var sortedMembers: [(key: String, value: JSONValue)] {
            merged ? members.sorted { $0.key < $1.key } : members
        }
    }

    /// The instance's member of `Instances`.
    static func instanceObject(_ instance: DICOMInstance, frames: [(id: String, frame: StoredFrame)]) -> JSONValue {
        let stored = frames.first?.frame.transferSyntaxUID ?? instance.transferSyntaxUID
        let imageFrames: [JSONValue] = frames.map { id, frame in
            // "For images stored in their original transfer syntax … the MinPixelValue and MaxPixelValue will not
            // be available" (developer guide, "Verifying pixel data"): every frame not transcoded to the lossless
            // storage format (lossy originals, binary segmentations in ELE, pixel data kept with warning 0xB100).
            let original = !reportsPixelRange(storedTransferSyntaxUID: frame.transferSyntaxUID)
            return .object([
                ("ID", .string(id)),
                ("PixelDataChecksumFromBaseToFullResolution", .array(frame.checksums.map {
                    .object([("Width", number($0.width)), ("Height", number($0.height)),
                             ("Checksum", .number(String($0.checksum)))])
                })),
                ("MinPixelValue", original ? .null : number(frame.minPixelValue)),
                ("MaxPixelValue", original ? .null : number(frame.maxPixelValue)),
                ("FrameSizeInBytes", number(frame.sizeInBytes)),
            ])
        }
        return .object([
            ("DICOM", .object(instance.instance)),
            ("DICOMVRs", .object(instance.vrs)),
            ("StoredTransferSyntaxUID", .string(stored)),
            ("ChecksumType", .string("DECOMPRESSED")),
            ("ImageFrames", .array(imageFrames)),
        ])
    }

    /// Whether `MinPixelValue` / `MaxPixelValue` are given for a frame stored in this transfer syntax: only for
    /// frames transcoded to a lossless storage format (HTJ2K .4.202, JPEG 2000 .4.90).
    package static func reportsPixelRange(storedTransferSyntaxUID: String) -> Bool {
        storedTransferSyntaxUID == FrameCodec.htj2kRPCL || storedTransferSyntaxUID == FrameCodec.jpeg2000Lossless
    }

    private static func number(_ value: Int) -> JSONValue { .number(String(value)) }

    /// CRC-32 (zlib) of the frame's samples: the full-resolution `Checksum` when the stored frame decodes to exactly
    /// these samples (lossless storage).
    public static func fullResolutionChecksum(_ frame: PixelFrame) -> UInt32 {
        frame.samples.withUnsafeBufferPointer { buffer in
            // > crc32(crc, buf, len): "Update a running CRC-32 with the bytes buf[0..len-1]"; crc32(0, Z_NULL, 0)
            // is the initial value (zlib.h).
            var crc = crc32(0, nil, 0)
            var offset = 0
            while offset < buffer.count {
                let chunk = min(buffer.count - offset, Int(UInt32.max))
                crc = crc32(crc, buffer.baseAddress! + offset, UInt32(chunk))
                offset += chunk
            }
            return UInt32(truncatingIfNeeded: crc)
        }
    }

    /// The smallest and largest sample of the frame (all colour samples together), read as the little-endian
    /// integers `samples` holds, two's complement when `isSigned`. (0, 0) for an empty frame.
    public static func pixelRange(_ frame: PixelFrame) -> (min: Int, max: Int) {
        let size = frame.bytesPerSample
        let count = frame.samples.count / size
        guard count > 0 else { return (0, 0) }
        var low = Int.max
        var high = Int.min
        frame.samples.withUnsafeBytes { raw in
            for i in 0..<count {
                let value: Int
                switch (size, frame.isSigned) {
                case (1, false): value = Int(raw[i])
                case (1, true): value = Int(Int8(bitPattern: raw[i]))
                case (2, false): value = Int(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: UInt16.self)))
                case (2, true): value = Int(Int16(littleEndian: raw.loadUnaligned(fromByteOffset: i * 2, as: Int16.self)))
                case (_, false): value = Int(UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: UInt32.self)))
                case (_, true): value = Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: i * 4, as: Int32.self)))
                }
                if value < low { low = value }
                if value > high { high = value }
            }
        }
        return (low, high)
    }
}
