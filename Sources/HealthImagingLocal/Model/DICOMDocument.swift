import HealthImagingJSON
/// The image-set metadata document (GetImageSetMetadata, SchemaVersion 1.1):
/// `{"SchemaVersion","DatastoreID","ImageSetID","Patient":{"DICOM"},"Study":{"DICOM","Series":{uid:{"DICOM","Instances":{sop:{…}}}}}}`.
public enum DICOMDocument {
    /// The root prefix of the UIDs the emulator makes up (a documented example root, not a real one).
    static let uidRoot = "1.2.826.0.1.3680043.8.498"

    /// A plausible one-series, one-instance CT document for an image set whose fixture gave none.
    /// Deterministic: the same ids give the same document.
    public static func makeDefault(datastoreId: String, imageSetId: String) -> JSONValue {
        // FNV-1a of the id, cut to 13 digits: a UID component without a leading zero.
        let hash = imageSetId.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        let number = String(1_000_000_000_000 + hash % 9_000_000_000_000)
        let study = "\(uidRoot).1.\(number)"
        let series = "\(uidRoot).2.\(number)"
        let sop = "\(uidRoot).3.\(number)"
        let frame = String(imageSetId.reversed())
        func s(_ text: String) -> JSONValue { .string(text) }
        func n(_ value: Int) -> JSONValue { .number(String(value)) }
        let instance: JSONValue = .object([
            ("DICOM", .object([
                ("SOPClassUID", s("1.2.840.10008.5.1.4.1.1.2")), ("SOPInstanceUID", s(sop)),
                ("InstanceNumber", n(1)), ("Rows", n(512)), ("Columns", n(512)), ("BitsAllocated", n(16)),
                ("BitsStored", n(12)), ("HighBit", n(11)), ("PixelRepresentation", n(0)),
                ("PhotometricInterpretation", s("MONOCHROME2")), ("SamplesPerPixel", n(1)),
            ])),
            ("DICOMVRs", .object([])),
            ("StoredTransferSyntaxUID", s("1.2.840.10008.1.2.4.202")),
            ("ImageFrames", .array([.object([
                ("ID", s(frame)),
                ("PixelDataChecksumFromBaseToFullResolution", .array([.object([
                    ("Width", n(512)), ("Height", n(512)), ("Checksum", n(Int(number.suffix(9)) ?? 0)),
                ])])),
                ("MinPixelValue", n(0)), ("MaxPixelValue", n(4095)), ("FrameSizeInBytes", n(524_288)),
            ])])),
        ])
        return .object([
            ("SchemaVersion", s("1.1")),
            ("DatastoreID", s(datastoreId)),
            ("ImageSetID", s(imageSetId)),
            ("Patient", .object([("DICOM", .object([
                ("PatientBirthDate", s("19700101")), ("PatientSex", s("O")),
                ("PatientID", s("PAT-\(imageSetId.prefix(8))")), ("PatientName", s("Doe^\(imageSetId.prefix(4))")),
            ]))])),
            ("Study", .object([
                ("DICOM", .object([
                    ("StudyTime", s("120000")), ("StudyDate", s("20230328")), ("StudyDescription", s("Emulated study")),
                    ("AccessionNumber", s("ACC-\(imageSetId.prefix(8))")), ("StudyID", s("1")),
                    ("StudyInstanceUID", s(study)),
                ])),
                ("Series", .object([(series, .object([
                    ("DICOM", .object([
                        ("Modality", s("CT")), ("SeriesInstanceUID", s(series)), ("SeriesNumber", n(1)),
                        ("BodyPartExamined", s("CHEST")),
                    ])),
                    ("Instances", .object([(sop, instance)])),
                ]))])),
            ])),
        ])
    }

    /// The searchable and summarised DICOM attributes of a document.
    public struct Summary: Sendable {
        public var patientId, patientName, patientBirthDate, patientSex: String?
        public var studyInstanceUID, studyId, studyDescription, accessionNumber, studyDate, studyTime: String?
        public var seriesInstanceUIDs: [String] = []
        public var seriesModality, seriesBodyPart: String?
        public var seriesNumber: Int?
        public var numberOfSeries = 0
        public var numberOfInstances = 0
    }

    public static func summary(_ document: JSONValue) -> Summary {
        let patient = document.value(at: ["Patient", "DICOM"])
        let study = document.value(at: ["Study", "DICOM"])
        var summary = Summary()
        summary.patientId = patient?["PatientID"]?.stringValue
        summary.patientName = patient?["PatientName"]?.stringValue
        summary.patientBirthDate = patient?["PatientBirthDate"]?.stringValue
        summary.patientSex = patient?["PatientSex"]?.stringValue
        summary.studyInstanceUID = study?["StudyInstanceUID"]?.stringValue
        summary.studyId = study?["StudyID"]?.stringValue
        summary.studyDescription = study?["StudyDescription"]?.stringValue
        summary.accessionNumber = study?["AccessionNumber"]?.stringValue
        summary.studyDate = study?["StudyDate"]?.stringValue
        summary.studyTime = study?["StudyTime"]?.stringValue
        let series = document.value(at: ["Study", "Series"])?.objectMembers ?? []
        summary.numberOfSeries = series.count
        for (uid, value) in series {
            summary.seriesInstanceUIDs.append(value.value(at: ["DICOM", "SeriesInstanceUID"])?.stringValue ?? uid)
            summary.numberOfInstances += value["Instances"]?.objectMembers?.count ?? 0
        }
        if let first = series.first?.value["DICOM"] {
            summary.seriesModality = first["Modality"]?.stringValue
            summary.seriesBodyPart = first["BodyPartExamined"]?.stringValue
            if case .number(let text)? = first["SeriesNumber"] { summary.seriesNumber = Int(text) }
        }
        return summary
    }

    /// Why a copy from `source` into `destination` is refused without `force`, as the service words it
    /// (note the double space after the colon), or nil when they are consistent: the Patient and Study
    /// attributes both carry must agree, and so must the Series attributes of every series in both.
    public static func copyConflict(source: JSONValue, destination: JSONValue) -> String? {
        func conflicts(_ a: JSONValue?, _ b: JSONValue?) -> Bool {
            guard let a = a?.objectMembers, let b = b else { return false }
            return a.contains { member in b[member.key].map { $0 != member.value } ?? false }
        }
        if conflicts(source.value(at: ["Patient", "DICOM"]), destination.value(at: ["Patient", "DICOM"])) {
            return "INVALID_REQUEST:  Patient of SourceImageSet and DestinationImageSet don't match."
        }
        if conflicts(source.value(at: ["Study", "DICOM"]), destination.value(at: ["Study", "DICOM"])) {
            return "INVALID_REQUEST:  Study of SourceImageSet and DestinationImageSet don't match."
        }
        let destinationSeries = destination.value(at: ["Study", "Series"])
        for (uid, series) in source.value(at: ["Study", "Series"])?.objectMembers ?? [] {
            if conflicts(series["DICOM"], destinationSeries?[uid]?["DICOM"]) {
                return "INVALID_REQUEST:  Series of SourceImageSet and DestinationImageSet don't match."
            }
        }
        return nil
    }

    /// The destination's document after a copy: the source's series (and their instances) merged into the
    /// destination's Study; the destination keeps its own Patient and Study attributes. With `force` (a copy that
    /// completes despite mismatched metadata) a series the destination already has keeps its own Series attributes
    /// too: only the instances are added ("the destination's Patient, Study and Series metadata stay unchanged").
    public static func merge(source: JSONValue, into destination: JSONValue, force: Bool = false) -> JSONValue {
        guard let series = source.value(at: ["Study", "Series"]) else { return destination }
        let study = (destination["Study"] ?? .object([]))
        let existing = study["Series"] ?? .object([])
        var incoming = series
        if force {
            incoming = .object((series.objectMembers ?? []).map { uid, value in
                guard existing[uid] != nil else { return (uid, value) }
                return (uid, .object([("Instances", value["Instances"] ?? .object([]))]))
            })
        }
        return destination.setting("Study", study.setting("Series", existing.merging(incoming)))
    }
}
