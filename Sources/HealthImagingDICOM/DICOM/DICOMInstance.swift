import HealthImagingJSON
/// One DICOM Part 10 file as read by DCMTK (`DICOMReader`), its attributes already sorted into the levels of the
/// metadata document (Patient / Study / Series / Instance) and encoded per VR the way the service writes them.
public struct DICOMInstance: Sendable {
    public var studyInstanceUID: String
    public var seriesInstanceUID: String
    public var sopInstanceUID: String
    /// The transfer syntax the source file was written in.
    public var transferSyntaxUID: String
    /// Keyword → value, in dataset order, for each level of the document.
    public var patient: [(key: String, value: JSONValue)]
    public var study: [(key: String, value: JSONValue)]
    public var series: [(key: String, value: JSONValue)]
    public var instance: [(key: String, value: JSONValue)]
    /// Keyword → VR for the instance's `DICOMVRs` member.
    public var vrs: [(key: String, value: JSONValue)]
    /// The decoded frames, in frame order (empty for an instance without Pixel Data).
    public var frames: [PixelFrame]

    public init(studyInstanceUID: String, seriesInstanceUID: String, sopInstanceUID: String, transferSyntaxUID: String,
                patient: [(key: String, value: JSONValue)], study: [(key: String, value: JSONValue)],
                series: [(key: String, value: JSONValue)], instance: [(key: String, value: JSONValue)],
                vrs: [(key: String, value: JSONValue)], frames: [PixelFrame]) {
        self.studyInstanceUID = studyInstanceUID
        self.seriesInstanceUID = seriesInstanceUID
        self.sopInstanceUID = sopInstanceUID
        self.transferSyntaxUID = transferSyntaxUID
        self.patient = patient
        self.study = study
        self.series = series
        self.instance = instance
        self.vrs = vrs
        self.frames = frames
    }
}

/// Why one file could not be imported: a line of the job's `FAILURE/failure.ndjson`
/// (`{"inputFile": …, "exception": {"exceptionType": …, "message": …}}`).
public struct DICOMFileError: Error, Sendable, Equatable, CustomStringConvertible {
    public var exceptionType: String
    public var message: String

    public init(exceptionType: String, message: String) {
        self.exceptionType = exceptionType
        self.message = message
    }

    public var description: String { "\(exceptionType): \(message)" }
}
