import HealthImagingDICOM
/// The developer guide's "DICOM element constraints": maximum lengths enforced at import. A file whose element
/// is longer is rejected (a customer error in failure.ndjson), as the guide says the import would not succeed.
enum ImportConstraints {
    /// Keyword → maximum length, from the guide's table (the DICOMTags shape of the API reference gives the same
    /// bounds for the series-level ones).
    static let maxLengths: [String: Int] = [
        "PatientName": 256, "PatientID": 256, "PatientBirthDate": 18, "PatientSex": 16,
        "StudyInstanceUID": 256, "StudyID": 16, "StudyDescription": 64, "AccessionNumber": 256,
        "StudyDate": 18, "StudyTime": 28,
        "SeriesInstanceUID": 256, "Modality": 16, "BodyPartExamined": 64,
    ]

    static func violation(_ instance: DICOMInstance) -> DICOMFileError? {
        for level in [instance.patient, instance.study, instance.series] {
            for (key, value) in level {
                guard let limit = maxLengths[key] else { continue }
                let length: Int
                switch value {
                case .string(let text): length = text.utf8.count
                case .object(let members):
                    // A PN as an object of component groups (Alphabetic, …): the longest one counts.
                    length = members.compactMap { $0.value.stringValue?.utf8.count }.max() ?? 0
                default: continue
                }
                if length > limit {
                    return DICOMFileError(exceptionType: "ValidationException",
                                          message: "DICOM element \(key) is \(length) characters long, more than the maximum of \(limit)")
                }
            }
        }
        return nil
    }
}
