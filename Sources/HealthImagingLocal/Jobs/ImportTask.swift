#if canImport(Glibc)
import Glibc
#endif

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

extension ImportSource {
    /// The bytes of the source; a `.file` range that cannot be read whole is a server-side failure of that file.
    /// (Until the file-based reader of seam S4 lands, a `.file` source is read into memory here.)
    func load(inputFile: String) -> Result<[UInt8], RejectedFile> {
        switch self {
        case .bytes(let bytes):
            return .success(bytes)
        case .file(let path, let offset, let length):
            func failure(_ what: String) -> Result<[UInt8], RejectedFile> {
                .failure(RejectedFile(inputFile: inputFile,
                                      error: DICOMFileError(exceptionType: "InternalServerException", message: "The file could not be read: \(what)"),
                                      serverError: true))
            }
            guard offset >= 0, length >= 0 else { return failure("a negative offset or length") }
            // open(2): returns a descriptor or -1 with errno; O_CLOEXEC keeps it out of spawned workers.
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { return failure("cannot open it (errno \(errno))") }
            defer { close(fd) }
            var bytes = [UInt8](repeating: 0, count: length)
            var done = 0
            while done < length {
                // pread(2): reads up to count bytes at offset; 0 at end of file, -1 with errno on error.
                let got = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, length - done, off_t(offset + done)) }
                if got < 0 && errno == EINTR { continue }
                guard got > 0 else { return failure(got == 0 ? "it ends before byte \(offset + length)" : "errno \(errno)") }
                done += got
            }
            return .success(bytes)
        }
    }
}
