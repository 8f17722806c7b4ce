import CDICOM
import HealthImagingJSON

/// Reads one DICOM Part 10 file with DCMTK (through the CDICOM shim) into a `DICOMInstance`: attributes sorted into
/// the document's levels and encoded per VR the way the service writes them (docs/import-and-frames.md, "DICOM metadata"), every frame
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
    public static func read(_ bytes: [UInt8], limits: DICOMLimits = .standard) throws(DICOMFileError) -> DICOMInstance {
        try open(bytes, limits: limits).readAll()
    }

    /// Parses bytes [offset, offset + length) of the file at `path` (length 0: to its end) and decodes its frames.
    public static func read(path: String, offset: Int = 0, length: Int = 0,
                            limits: DICOMLimits = .standard) throws(DICOMFileError) -> DICOMInstance {
        try open(path: path, offset: offset, length: length, limits: limits).readAll()
    }

    /// Parses `bytes` (one whole Part 10 file); its frames are then decoded one at a time.
    public static func open(_ bytes: [UInt8], limits: DICOMLimits = .standard) throws(DICOMFileError) -> DICOMFrameSource {
        try DICOMFrameSource(try DICOMFile(bytes, limits: limits))
    }

    /// Parses bytes [offset, offset + length) of the file at `path` (length 0: to its end) without reading the file
    /// whole: values over 8 KiB (Pixel Data, its fragments) stay on disk until a frame needs them, and each frame's
    /// bytes are let go once it is decoded. Peak memory is the metadata plus about one frame, whatever the file's
    /// size. The file must stay in place until the source is gone.
    public static func open(path: String, offset: Int = 0, length: Int = 0,
                            limits: DICOMLimits = .standard) throws(DICOMFileError) -> DICOMFrameSource {
        try DICOMFrameSource(try DICOMFile(path: path, offset: offset, length: length, limits: limits))
    }

    /// The instance's attributes, sorted into levels and encoded (no frames).
    static func instance(_ file: DICOMFile) throws(DICOMFileError) -> DICOMInstance {
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
        return DICOMInstance(
            studyInstanceUID: studyUID, seriesInstanceUID: seriesUID, sopInstanceUID: sopUID,
            transferSyntaxUID: transferSyntax,
            patient: patient.sorted { $0.key < $1.key }, study: study.sorted { $0.key < $1.key },
            series: series.sorted { $0.key < $1.key }, instance: instance,
            vrs: walker.privateVRs, frames: [])
    }
}

/// A parsed Part 10 file whose frames are decoded one at a time (`DICOMReader.open`). Its attributes are read and
/// its pixel module checked (sizes against the Pixel Data and `DICOMLimits`) when it is made; a frame is decoded
/// only when asked for.
///
/// Not `Sendable`: it owns a CDICOM handle, which is not thread-safe; use it on one thread.
public final class DICOMFrameSource {
    /// The instance's attributes; `frames` is empty (see `frame(_:)`).
    public let instance: DICOMInstance
    /// Number of frames (0 for an instance without Pixel Data).
    public let frameCount: Int
    private let file: DICOMFile
    private let info: hil_dicom_pixel_info
    private let keepOriginal: Bool

    init(_ file: DICOMFile) throws(DICOMFileError) {
        self.file = file
        instance = try DICOMReader.instance(file)
        info = try file.pixelInfo()
        frameCount = info.has_pixel_data != 0 ? Int(info.number_of_frames) : 0
        keepOriginal = DICOMReader.originalEncodingTransferSyntaxes.contains(instance.transferSyntaxUID)
    }

    /// Frame `index` (0-based), decoded (its codestream header checked against the pixel module first).
    public func frame(_ index: Int) throws(DICOMFileError) -> PixelFrame {
        guard index >= 0 && index < frameCount else {
            throw DICOMFileError(exceptionType: DICOMFileError.invalidPixelData, message: "frame \(index) is out of range (\(frameCount) frames)")
        }
        // Binary segmentations are stored as they are, in Explicit VR Little Endian (ImportCases.swift).
        return ImportCases.keepBinarySegmentation(try file.frame(index, info: info, keepOriginal: keepOriginal))
    }

    /// The colour model of the samples the last decoded frame holds (after the decoder's own conversions), for
    /// `DICOMReader.describeDecodedPixels`; empty before a frame is decoded.
    public var decodedPhotometric: String { file.decodedPhotometric }

    /// The source's encoded bytes of frame `index` of encapsulated Pixel Data (pixel data kept untranscoded).
    public func encodedFrame(_ index: Int) throws(DICOMFileError) -> [UInt8] {
        guard index >= 0 && index < frameCount else {
            throw DICOMFileError(exceptionType: DICOMFileError.invalidPixelData, message: "frame \(index) is out of range (\(frameCount) frames)")
        }
        return try file.encodedFrame(index)
    }

    /// The instance with every frame decoded.
    public func readAll() throws(DICOMFileError) -> DICOMInstance {
        var result = instance
        result.frames.reserveCapacity(frameCount)
        for index in 0..<frameCount { result.frames.append(try frame(index)) }
        return result
    }
}

@available(*, unavailable) extension DICOMFrameSource: Sendable {}

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
    /// Over one of the documented `DICOMLimits` (the message names the flag where there is one).
    public static let limitExceeded = "ValidationException"
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
        case HIL_DICOM_LIMIT: Self.limitExceeded
        default: Self.invalidDICOMFile
        }
        self.init(exceptionType: type, message: message.isEmpty ? "unreadable DICOM file" : message)
    }
}
