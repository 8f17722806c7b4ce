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

extension ImportScanner {
    /// One task's file, parsed and encoded: a `.file` source is read from disk by the file-based reader (seam S4),
    /// never whole; `.bytes` from memory. What a worker process (or an in-process pool slot) runs.
    static func importFile(_ task: ImportTask, limits: DICOMLimits) -> Result<ImportedFile, RejectedFile> {
        switch task.source {
        case .bytes(let bytes):
            return importFile(task.inputFile, bytes, format: task.format, limits: limits)
        case .file(let path, let offset, let length):
            guard offset >= 0, length >= 0 else {
                return .failure(RejectedFile(
                    inputFile: task.inputFile,
                    error: DICOMFileError(exceptionType: "InternalServerException", message: "The file range is invalid"),
                    serverError: true))
            }
            // An empty range is an empty file (the reader's length 0 would mean "to the end").
            if length == 0 { return importFile(task.inputFile, [], format: task.format, limits: limits) }
            return importFile(task.inputFile, path: path, offset: offset, length: length, format: task.format, limits: limits)
        }
    }
}
