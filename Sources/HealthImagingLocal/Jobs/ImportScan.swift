import HealthImagingDICOM
/// One file read, decoded and its frames encoded, ready to be grouped into an image set on the loop.
public struct ImportedFile: Sendable {
    /// The object key (the manifests' `inputFile`, as the service writes it: the key, without `s3://bucket/`).
    public var inputFile: String
    /// The instance, its decoded frames dropped once encoded (`frames` below holds what is stored).
    public var instance: DICOMInstance
    public var frames: [(id: String, frame: StoredFrame)]
    /// Warnings the file was imported with (`success.ndjson`, `WARNING/warning.ndjson`; ImportCases.swift).
    public var warnings: [ImportWarning] = []
}

/// One file that could not be imported: a line of `failure.ndjson`.
public struct RejectedFile: Error, Sendable {
    public var inputFile: String
    public var error: DICOMFileError
    /// Counted in `numberOfFilesWithServerError` rather than `numberOfFilesWithCustomerError`.
    public var serverError: Bool
}

/// The worker's result for one job.
public struct ImportScan: Sendable {
    public var imported: [ImportedFile] = []
    public var rejected: [RejectedFile] = []
    public var scanned = 0
}

/// The per-file work done off the loop: read an object, parse it, encode its frames.
public enum ImportScanner {
    /// The largest Part 10 file a job accepts. HealthImaging's quotas page lists the maximum size of one DICOM P10
    /// file in an import job; over it the file is a customer error (`--max-import-file-bytes`, docs/flags.md).
    public static let defaultMaxFileBytes = 4 << 30

    /// The pool's units for a job's listed objects: an object over `maxFileBytes` is a customer error without
    /// being read; an object the listing named but that cannot be fetched is a server error of that file, unless
    /// the store itself is gone (not configured, unreachable), which stops the job.
    static func units(_ listed: [ObjectInfo], input: S3Location, objects: any ObjectStore, format: LosslessStorageFormat,
                      maxFileBytes: Int) -> [ImportPool.Unit] {
        listed.map { object in
            let key = object.key
            let size = object.size
            return ImportPool.Unit(inputFile: key, format: format, fetch: { () -> Result<ImportSource, ImportPool.FetchFailure> in
                guard size <= maxFileBytes else {
                    return .failure(.rejected(RejectedFile(
                        inputFile: key,
                        error: DICOMFileError(exceptionType: "ValidationException",
                                              message: "File size \(size) bytes exceeds the maximum DICOM P10 file size of \(maxFileBytes) bytes"),
                        serverError: false)))
                }
                do throws(ObjectStoreError) {
                    return .success(.bytes(try objects.get(bucket: input.bucket, key: key)))
                } catch {
                    if error.kind == .unreachable || error.kind == .notConfigured { return .failure(.stop(error.message)) }
                    return .failure(.rejected(RejectedFile(
                        inputFile: key, error: DICOMFileError(exceptionType: "InternalServerException", message: error.message),
                        serverError: true)))
                }
            })
        }
    }

    /// Parses one Part 10 file and encodes its frames for storage.
    static func importFile(_ inputFile: String, _ bytes: [UInt8], format: LosslessStorageFormat,
                           limits: DICOMLimits = .standard) -> Result<ImportedFile, RejectedFile> {
        importFile(inputFile, format: format) { () throws(DICOMFileError) in try ImportCodec.open(bytes, limits: limits) }
    }

    /// One task's file, parsed and encoded: `.bytes` from memory; a `.file` source, bytes [offset, offset + length)
    /// of the file at `path`, by the file-based reader, never read whole: large values stay on disk and one frame at
    /// a time is decoded, encoded and let go (seam S4). What a worker process (or an in-process pool slot) runs.
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
            return importFile(task.inputFile, format: task.format) { () throws(DICOMFileError) in
                try ImportCodec.open(path: path, offset: offset, length: length, limits: limits)
            }
        }
    }

    /// Opens the file, checks the service's constraints, then decodes and encodes one frame at a time, so that only
    /// one decoded frame is held besides the stored ones.
    private static func importFile(_ inputFile: String, format: LosslessStorageFormat,
                                   open: () throws(DICOMFileError) -> DICOMFrameSource) -> Result<ImportedFile, RejectedFile> {
        let source: DICOMFrameSource
        do throws(DICOMFileError) {
            source = try open()
        } catch {
            return .failure(RejectedFile(inputFile: inputFile, error: error, serverError: error.isServerError))
        }
        if let violation = ImportConstraints.violation(source.instance) {
            return .failure(RejectedFile(inputFile: inputFile, error: violation, serverError: false))
        }
        var frames: [(id: String, frame: StoredFrame)] = []
        var warnings: [ImportWarning] = []
        var instance = source.instance
        /// Whether the stored frames are transcoded (not kept in their source encoding), and the decoded colour model.
        var transcoded: (Bool, photometric: String)?
        frames.reserveCapacity(source.frameCount)
        for index in 0..<source.frameCount {
            let frame: PixelFrame
            do throws(DICOMFileError) {
                frame = try source.frame(index)
            } catch {
                return .failure(RejectedFile(inputFile: inputFile, error: error, serverError: error.isServerError))
            }
            if transcoded == nil { transcoded = (frame.original == nil, source.decodedPhotometric) }
            do {
                frames.append((ResourceIds.make(), try ImportCodec.store(frame, format: format)))
            } catch let error as FrameCodecError {
                // The codec refuses the frame (sample depth, geometry) or fails on it: the instance is stored with
                // its pixel data untranscoded and warning 0xB100, as the service does.
                // Every frame again, one at a time: decoded for its geometry and checksum, encoded bytes from the source.
                do throws(DICOMFileError) {
                    let kept = try ImportCases.untranscoded(
                        transferSyntax: instance.transferSyntaxUID, frameCount: source.frameCount, refused: error,
                        frameIndex: index, frame: { (index: Int) throws(DICOMFileError) in try source.frame(index) },
                        encoded: { (index: Int) throws(DICOMFileError) in try source.encodedFrame(index) })
                    frames = kept.frames.map { (ResourceIds.make(), $0) }
                    warnings = [kept.warning]
                    instance = ImportCases.withWarningReason(instance, kept.warning)
                } catch {
                    return .failure(RejectedFile(inputFile: inputFile, error: error, serverError: error.isServerError))
                }
                break
            } catch {
                return .failure(RejectedFile(
                    inputFile: inputFile,
                    error: DICOMFileError(exceptionType: "InternalServerException", message: "Frame \(index + 1) could not be encoded for storage: \(error)"),
                    serverError: true))
            }
        }
        // Transcoded frames: the pixel module describes the samples they decode to (a rebuilt Part 10 must agree);
        // frames kept as they were (original encoding, or untranscoded with a warning) keep the source's values.
        if let (isTranscoded, photometric) = transcoded, isTranscoded, warnings.isEmpty {
            DICOMReader.describeDecodedPixels(&instance.instance, photometric: photometric)
        }
        // Only the stored frames travel on; the instance carries no decoded samples.
        return .success(ImportedFile(inputFile: inputFile, instance: instance, frames: frames, warnings: warnings))
    }
}
