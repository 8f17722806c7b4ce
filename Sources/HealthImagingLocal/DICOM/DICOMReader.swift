import CDICOM

/// Reads one DICOM Part 10 file with DCMTK (through the CDICOM shim) into a `DICOMInstance`: attributes sorted into
/// the document's levels and encoded per VR the way the service writes them (README "DICOM metadata"), every frame
/// decoded into a `PixelFrame`.
public enum DICOMReader {
    /// Transfer syntaxes whose frames the service keeps in their original encoding instead of transcoding them
    /// (developer guide, "Supported transfer syntaxes": the entries marked with an asterisk; the IFRC passage of
    /// "Verifying pixel data" names the same three). Their `PixelFrame.original` carries the source frame bytes.
    public static let originalEncodingTransferSyntaxes: Set<String> = [
        "1.2.840.10008.1.2.4.50",  // JPEG Baseline (Process 1)
        "1.2.840.10008.1.2.4.91",  // JPEG 2000 Image Compression
        "1.2.840.10008.1.2.4.203",  // High-Throughput JPEG 2000 Image Compression
    ]

    /// Parses `bytes` (one whole Part 10 file) and decodes its frames.
    /// Throws `DICOMFileError` with an `exceptionType` naming the cause (see `DICOMFileError` members below).
    public static func read(_ bytes: [UInt8]) throws(DICOMFileError) -> DICOMInstance {
        let file = try DICOMFile(bytes)
        var walker = DICOMElementWalker(file: file)
        let elements = walker.elements()
        let transferSyntax = file.transferSyntax

        var patient: [(key: String, value: JSONValue)] = []
        var study: [(key: String, value: JSONValue)] = []
        var series: [(key: String, value: JSONValue)] = []
        var instance: [(key: String, value: JSONValue)] = []
        for element in elements {
            switch element.isMeta ? .instance : DICOMLevel.of(group: element.group, element: element.element) {
            case .patient: patient.append((element.key, element.value))
            case .study: study.append((element.key, element.value))
            case .series: series.append((element.key, element.value))
            case .instance: instance.append((element.key, element.value))
            }
        }
        func required(_ keyword: String, _ level: [(key: String, value: JSONValue)]) throws(DICOMFileError) -> String {
            guard let value = level.first(where: { $0.key == keyword })?.value, case .string(let text) = value,
                  !text.isEmpty else {
                throw DICOMFileError(exceptionType: DICOMFileError.missingRequiredAttribute,
                                     message: "the file has no \(keyword)")
            }
            return text
        }
        try checkLengths(patient + study)
        let studyUID = try required("StudyInstanceUID", study)
        let seriesUID = try required("SeriesInstanceUID", series)
        let sopUID = try required("SOPInstanceUID", instance)

        let frames = try file.frames(keepOriginal: originalEncodingTransferSyntaxes.contains(transferSyntax))
        if let first = frames.first, first.original == nil {
            describeDecodedPixels(&instance, photometric: file.decodedPhotometric)
        }
        return DICOMInstance(
            studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, sopInstanceUID: sopUID,
            transferSyntaxUID: transferSyntax,
            patient: patient.sorted { $0.key < $1.key }, study: study.sorted { $0.key < $1.key },
            series: series.sorted { $0.key < $1.key }, instance: instance,
            vrs: walker.privateVRs, frames: frames)
    }
}

extension DICOMReader {
    /// Maximum lengths from the developer guide's "DICOM element constraints" ("the following DICOM elements have
    /// maximum length constraints … make sure your data does not exceed the maximum limit length").
    static let maximumLengths: [String: Int] = [
        "PatientName": 256, "PatientID": 256, "PatientBirthDate": 18, "PatientSex": 16, "StudyInstanceUID": 256,
        "StudyID": 16, "StudyDescription": 64, "AccessionNumber": 256, "StudyDate": 18, "StudyTime": 28,
    ]

    static func checkLengths(_ attributes: [(key: String, value: JSONValue)]) throws(DICOMFileError) {
        for (key, value) in attributes {
            guard let limit = maximumLengths[key], case .string(let text) = value else { continue }
            let length = text.trimmingTrailingSpaces.count
            if length > limit {
                throw DICOMFileError(exceptionType: DICOMFileError.elementLengthViolation,
                                     message: "\(key) is \(length) characters long; the maximum is \(limit)")
            }
        }
    }
}

extension String {
    fileprivate var trimmingTrailingSpaces: Substring {
        var end = endIndex
        while end > startIndex, self[index(before: end)] == " " { end = index(before: end) }
        return self[..<end]
    }
}

extension DICOMFileError {
    /// Not a Part 10 file, or truncated / malformed beyond what DCMTK reads.
    public static let invalidDICOMFile = "InvalidDICOMFile"
    /// A transfer syntax DCMTK does not know, or a compressed one no codec here decodes.
    public static let unsupportedTransferSyntax = "UnsupportedTransferSyntax"
    /// StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, or a pixel-module attribute the frames need.
    public static let missingRequiredAttribute = "MissingRequiredAttribute"
    /// An element's length runs past its container or contradicts its VR, or exceeds the service's documented
    /// maximum ("DICOM element constraints").
    public static let elementLengthViolation = "ElementLengthViolation"
    /// Pixel Data that does not decode (codec error, fragments that do not map to frames, a short value).
    public static let invalidPixelData = "InvalidPixelData"
    /// A Specific Character Set that cannot be converted to UTF-8.
    public static let unsupportedCharacterSet = "UnsupportedCharacterSet"
    /// The emulator's own failure (out of memory): a server error, not the file's fault.
    public static let internalServerError = "InternalServerError"

    /// Counted in the manifest's `numberOfFilesWithServerError` rather than `…CustomerError`.
    public var isServerError: Bool { exceptionType == Self.internalServerError }

    init(_ error: hil_dicom_error) {
        let message = withUnsafeBytes(of: error.message) { raw in
            String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
        }
        let type: String = switch hil_dicom_code(rawValue: UInt32(error.code)) {
        case HIL_DICOM_UNSUPPORTED_TRANSFER_SYNTAX: Self.unsupportedTransferSyntax
        case HIL_DICOM_MISSING_ATTRIBUTE: Self.missingRequiredAttribute
        case HIL_DICOM_ELEMENT_LENGTH: Self.elementLengthViolation
        case HIL_DICOM_DECODE_FAILED: Self.invalidPixelData
        case HIL_DICOM_CHARSET: Self.unsupportedCharacterSet
        case HIL_DICOM_OUT_OF_MEMORY: Self.internalServerError
        default: Self.invalidDICOMFile
        }
        self.init(exceptionType: type, message: message.isEmpty ? "unreadable DICOM file" : message)
    }
}
