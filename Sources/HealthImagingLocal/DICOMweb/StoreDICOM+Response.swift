import HealthImagingJSON
import HealthImagingDICOM
import HealthImagingHTTP
/// The Store Instances Response Module (DICOM PS3.18 §10.5.3, Annex I) as DICOM JSON, `application/dicom+json`:
/// ```
/// 00081190 RetrieveURL (UR)          the study's URL, when every stored instance is of one study (or StoreDICOMStudy)
/// 00081198 FailedSOPSequence (SQ)     00081150 ReferencedSOPClassUID, 00081155 ReferencedSOPInstanceUID,
///                                     00081190 RetrieveURL, 00081197 FailureReason (US)
/// 00081199 ReferencedSOPSequence (SQ) 00081150, 00081155, 00081190 RetrieveURL, 00081196 WarningReason (US, if any)
/// ```
/// Status: 200 every instance stored without warning; 202 some stored, with failures or warnings; 409 none stored.
/// RetrieveURL is absolute, from `Call.baseURL`; an instance stored in a non-primary image set gets `?imageSetId=`
/// (without it, WADO-RS reads primary image sets only). See docs/dicomweb.md, "STOW-RS", for every choice.
struct StoreDICOMResponse {
    /// FailureReason (0008,1197) values: the storage status codes PS3.18 Annex I names.
    enum FailureReason: UInt16 {
        /// A700 Refused: Out of Resources.
        case outOfResources = 0xA700
        /// A900 Error: Data Set Does Not Match SOP Class (a required attribute missing; for StoreDICOMStudy, the
        /// instance's StudyInstanceUID differs from the path's).
        case dataSetMismatch = 0xA900
        /// C000 Error: Cannot Understand (not a Part 10 file, malformed elements, pixel data that does not decode).
        case cannotUnderstand = 0xC000
        /// C122 Referenced Transfer Syntax not supported.
        case transferSyntaxNotSupported = 0xC122
        /// 0110 Processing failure (the emulator's own failure).
        case processingFailure = 0x0110

        static let studyMismatch = FailureReason.dataSetMismatch

        init(_ rejected: RejectedFile) {
            switch rejected.error.exceptionType {
            case DICOMFileError.unsupportedTransferSyntax: self = .transferSyntaxNotSupported
            case DICOMFileError.missingRequiredAttribute: self = .dataSetMismatch
            case DICOMFileError.internalServerError: self = .outOfResources
            default: self = rejected.serverError ? .processingFailure : .cannotUnderstand
            }
        }
    }

    /// WarningReason (0008,1196) values: HealthImaging's documented codes (developer guide, "Warning codes").
    enum WarningReason: UInt16 {
        /// B007 SOP_CLASS_DATA_MISMATCH: the File Meta's MediaStorageSOPClassUID is not the data set's SOPClassUID.
        case sopClassDataMismatch = 0xB007
        /// B100 TRANSCODING_EXCEPTION: the pixel data could not be transcoded and is kept as it came (the import's
        /// own warning, `ImportedFile.warnings`; frames retrievable with `transfer-syntax=*`).
        case transcodingException = 0xB100
        /// B120 UNSUPPORTED_TRANSFER_SYNTAX: the same for a transfer syntax the datastore does not transcode.
        case unsupportedTransferSyntax = 0xB120
    }

    struct Outcome {
        var sopClassUID: String?
        var sopInstanceUID: String?
        var studyUID: String?
        var seriesUID: String?
        var stored = false
        var imageSetId: String?
        var isPrimary = true
        var failure: FailureReason?
        var warnings: [WarningReason] = []
    }

    let baseURL: String
    let datastoreId: String
    let study: String?
    private(set) var outcomes: [Outcome] = []

    init(baseURL: String, datastoreId: String, study: String?) {
        self.baseURL = baseURL
        self.datastoreId = datastoreId
        self.study = study
    }

    private static func outcome(_ file: ImportedFile) -> Outcome {
        let attributes = file.instance.instance
        let sopClass = attributes.first { $0.key == "SOPClassUID" }?.value.stringValue
        let metaClass = attributes.first { $0.key == "MediaStorageSOPClassUID" }?.value.stringValue
        var outcome = Outcome(sopClassUID: sopClass ?? metaClass, sopInstanceUID: file.instance.sopInstanceUID,
                              studyUID: file.instance.studyInstanceUID, seriesUID: file.instance.seriesInstanceUID)
        if let sopClass, let metaClass, sopClass != metaClass { outcome.warnings.append(.sopClassDataMismatch) }
        outcome.warnings += file.warnings.compactMap { UInt16(exactly: $0.code).flatMap(WarningReason.init(rawValue:)) }
        return outcome
    }

    /// An instance that parsed and goes to the commit.
    mutating func pending(_ file: ImportedFile) {
        var outcome = Self.outcome(file)
        outcome.failure = .processingFailure  // until `stored` says otherwise
        outcomes.append(outcome)
    }

    mutating func stored(_ index: Int, imageSetId: String, isPrimary: Bool) {
        outcomes[index].stored = true
        outcomes[index].failure = nil
        outcomes[index].imageSetId = imageSetId
        outcomes[index].isPrimary = isPrimary
    }

    mutating func commitFailed(_ index: Int) {
        outcomes[index].stored = false
        outcomes[index].failure = .processingFailure
    }

    /// An instance that parsed but is refused.
    mutating func fail(_ file: ImportedFile, reason: FailureReason) {
        var outcome = Self.outcome(file)
        outcome.warnings = []
        outcome.failure = reason
        outcomes.append(outcome)
    }

    /// A part that did not parse: what its File Meta names, if anything.
    mutating func fail(meta: Part10Meta, reason: FailureReason) {
        outcomes.append(Outcome(sopClassUID: meta.sopClassUID, sopInstanceUID: meta.sopInstanceUID, failure: reason))
    }

    var status: Int {
        let stored = outcomes.filter(\.stored).count
        if stored == 0 { return 409 }
        if stored < outcomes.count || outcomes.contains(where: { !$0.warnings.isEmpty }) { return 202 }
        return 200
    }

    func instanceURL(_ outcome: Outcome) -> String? {
        guard let studyUID = outcome.studyUID, let seriesUID = outcome.seriesUID, let sop = outcome.sopInstanceUID else { return nil }
        var url = "\(baseURL)/datastore/\(datastoreId)/studies/\(studyUID)/series/\(seriesUID)/instances/\(sop)"
        if outcome.stored, !outcome.isPrimary, let imageSetId = outcome.imageSetId { url += "?imageSetId=\(imageSetId)" }
        return url
    }

    /// The study's URL: the path's study for StoreDICOMStudy, else the one study every stored instance belongs to.
    var studyURL: String? {
        let studies = Set(outcomes.filter(\.stored).compactMap(\.studyUID))
        guard let uid = study ?? (studies.count == 1 ? studies.first : nil) else { return nil }
        return "\(baseURL)/datastore/\(datastoreId)/studies/\(uid)"
    }

    func response() -> Response {
        var json = JSONWriter(capacity: 256 + outcomes.count * 400)
        let failed = outcomes.filter { !$0.stored }
        let referenced = outcomes.filter(\.stored)
        json.object { top in
            if let studyURL { Self.element(&top, "00081190", "UR", string: studyURL) }
            if !failed.isEmpty {
                Self.sequence(&top, "00081198", failed) { item, outcome in
                    Self.element(&item, "00081150", "UI", string: outcome.sopClassUID)
                    Self.element(&item, "00081155", "UI", string: outcome.sopInstanceUID)
                    Self.element(&item, "00081190", "UR", string: instanceURL(outcome))
                    Self.element(&item, "00081197", "US", numbers: [outcome.failure ?? .processingFailure].map(\.rawValue))
                }
            }
            if !referenced.isEmpty {
                Self.sequence(&top, "00081199", referenced) { item, outcome in
                    Self.element(&item, "00081150", "UI", string: outcome.sopClassUID)
                    Self.element(&item, "00081155", "UI", string: outcome.sopInstanceUID)
                    Self.element(&item, "00081190", "UR", string: instanceURL(outcome))
                    if !outcome.warnings.isEmpty {
                        Self.element(&item, "00081196", "US", numbers: outcome.warnings.map(\.rawValue))
                    }
                }
            }
        }
        return Response(status: status, headers: [("Content-Type", "application/dicom+json")], body: json.bytes)
    }

    /// `"tag": {"vr": VR, "Value": [text]}`; without `Value` when the text is unknown (an empty attribute).
    private static func element(_ json: inout JSONWriter, _ tag: String, _ vr: String, string: String?) {
        json.field(tag, object: { element in
            element.field("vr", vr)
            if let string, !string.isEmpty { element.field("Value", array: { $0.string(string) }) }
        })
    }

    private static func element(_ json: inout JSONWriter, _ tag: String, _ vr: String, numbers: [UInt16]) {
        json.field(tag, object: { element in
            element.field("vr", vr)
            element.field("Value", array: { list in for number in numbers { list.integer(Int64(number)) } })
        })
    }

    private static func sequence(_ json: inout JSONWriter, _ tag: String, _ items: [Outcome],
                                 _ body: (inout JSONWriter, Outcome) -> Void) {
        json.field(tag, object: { element in
            element.field("vr", "SQ")
            element.field("Value", array: { list in
                for outcome in items { list.object { item in body(&item, outcome) } }
            })
        })
    }
}
