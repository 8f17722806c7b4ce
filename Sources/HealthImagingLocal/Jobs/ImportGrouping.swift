import HealthImagingJSON
import HealthImagingDICOM
/// How imported instances become image sets (see docs/import-and-frames.md, "How instances become image sets", for the passages
/// each rule rests on):
/// - instances are grouped by Study Instance UID + Series Instance UID (an image set resembles a DICOM series);
/// - the elements HealthImaging lists as "used to create image sets" decide whether instances agree: Patient ID,
///   Study Date, Accession Number, Study Instance UID, Study ID (study level) and Series Instance UID, Series
///   Number (series level); a missing element, null and "" count as the same value;
/// - a series' instances that agree with the series' existing primary image set join it (a new version);
///   without one, they form a new primary image set (version 1) unless a primary image set of the same study
///   disagrees on the study-level elements;
/// - instances that disagree (with the primary image set, with another primary of the study, or with the first
///   instances of their series in the same job) go to non-primary image sets, one per distinct set of values.
enum ImportGrouping {
    static let patientElements = ["PatientID"]
    static let studyElements = ["StudyInstanceUID", "StudyDate", "AccessionNumber", "StudyID"]
    static let seriesElements = ["SeriesInstanceUID", "SeriesNumber"]

    /// The grouping elements of an instance, in a fixed order; absent, null and "" read as nil.
    static func identity(_ instance: DICOMInstance) -> [String?] {
        func pick(_ level: [(key: String, value: JSONValue)], _ names: [String]) -> [String?] {
            names.map { name in normalize(level.first { $0.key == name }?.value) }
        }
        return pick(instance.patient, patientElements) + pick(instance.study, studyElements) + pick(instance.series, seriesElements)
    }

    /// The same elements read from an image set's document for one series.
    static func identity(_ document: JSONValue, seriesUID: String) -> [String?] {
        let patient = document.value(at: ["Patient", "DICOM"])
        let study = document.value(at: ["Study", "DICOM"])
        let series = document.value(at: ["Study", "Series", seriesUID, "DICOM"])
        return patientElements.map { normalize(patient?[$0]) } + studyElements.map { normalize(study?[$0]) }
            + seriesElements.map { normalize(series?[$0]) }
    }

    /// The patient + study part of an identity.
    static func studyPart(_ identity: [String?]) -> ArraySlice<String?> {
        identity.prefix(patientElements.count + studyElements.count)
    }

    /// The patient + study part of an identity as one string (the study index's `study_key`): equal parts give
    /// equal keys; absent elements are written as NUL, elements separated by U+0001.
    static func studyKey(_ identity: [String?]) -> String {
        studyPart(identity).map { $0 ?? "\u{0}" }.joined(separator: "\u{1}")
    }

    /// The study key of a document.
    static func studyKey(_ document: JSONValue) -> String {
        let patient = document.value(at: ["Patient", "DICOM"])
        let study = document.value(at: ["Study", "DICOM"])
        return studyKey(patientElements.map { normalize(patient?[$0]) } + studyElements.map { normalize(study?[$0]) })
    }

    static func normalize(_ value: JSONValue?) -> String? {
        switch value {
        case nil, .null?: return nil
        case .string(let text)?: return text.isEmpty ? nil : text
        case .array(let items)? where items.count == 1: return normalize(items[0])
        case let other?: return String(decoding: other.serialized(), as: UTF8.self)
        }
    }

    /// A group of files headed for one image set.
    struct Group {
        var studyUID: String
        var seriesUID: String
        var identity: [String?]
        var files: [ImportedFile]
    }

    /// Splits files by series, then by identity, keeping the order in which each group first appears.
    static func groups(_ files: [ImportedFile]) -> [Group] {
        var grouper = Grouper()
        for file in files { grouper.add(file) }
        return grouper.groups
    }

    /// The same, a file at a time (a job's files are grouped over several turns of the loop): O(1) per file.
    struct Grouper {
        private(set) var groups: [Group] = []
        private var index: [String: Int] = [:]

        mutating func add(_ file: ImportedFile) {
            let identity = ImportGrouping.identity(file.instance)
            let key = file.instance.studyInstanceUID + "|" + file.instance.seriesInstanceUID + "|"
                + identity.map { $0 ?? "\u{0}" }.joined(separator: "\u{1}")
            if let at = index[key] {
                groups[at].files.append(file)
            } else {
                index[key] = groups.count
                groups.append(Group(studyUID: file.instance.studyInstanceUID, seriesUID: file.instance.seriesInstanceUID,
                                    identity: identity, files: [file]))
            }
        }
    }
}
