import HealthImagingDICOM
/// Where the bytes of one file to import are (seam S3, docs/hardening.md "Import worker pool").
public enum ImportSource: Sendable {
    /// The whole Part 10 file in memory (a `/dicom` body, an object fetched from S3).
    case bytes([UInt8])
    /// `length` bytes at `offset` of the file at `path` (a streamed request body, a multipart part, an
    /// `--s3-dir` object): read by whoever does the work, so the server never holds the file whole.
    case file(path: String, offset: Int, length: Int)
}

/// The unit of import work: one file. Import jobs, the `/dicom` shortcut and STOW-RS all hand these to
/// `ImportCoordinator.process(_:completion:)`.
public struct ImportTask: Sendable {
    /// The name the manifests and errors give the file (an object key, `?inputFile=`, a part's name).
    public var inputFile: String
    public var source: ImportSource
    public var format: LosslessStorageFormat

    public init(inputFile: String, source: ImportSource, format: LosslessStorageFormat) {
        self.inputFile = inputFile
        self.source = source
        self.format = format
    }
}
