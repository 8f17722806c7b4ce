/// One file read, decoded and its frames encoded, ready to be grouped into an image set on the loop.
public struct ImportedFile: Sendable {
    /// The object key (the manifests' `inputFile`, as the service writes it: the key, without `s3://bucket/`).
    public var inputFile: String
    /// The instance, its decoded frames dropped once encoded (`frames` below holds what is stored).
    public var instance: DICOMInstance
    public var frames: [(id: String, frame: StoredFrame)]
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

/// The work done off the loop: list the input prefix, read every object, parse it, encode its frames.
public enum ImportScanner {
    /// The largest Part 10 file a job accepts. HealthImaging's quotas page lists the maximum size of one DICOM P10
    /// file in an import job; over it the file is a customer error (see README, "Import limits").
    public static let defaultMaxFileBytes = 4 << 30

    /// Reads everything under `input` (a folder prefix). Throws only for what stops the whole job
    /// (source not configured, bucket missing, endpoint unreachable); a bad file is a `RejectedFile`.
    static func scan(_ objects: any ObjectStore, input: S3Location, format: LosslessStorageFormat,
                     maxFileBytes: Int, limits: DICOMLimits = .standard) throws(ObjectStoreError) -> ImportScan {
        var scan = ImportScan()
        let listed = try objects.list(bucket: input.bucket, prefix: input.key).filter { !$0.key.hasSuffix("/") }
        for object in listed {
            scan.scanned += 1
            guard object.size <= maxFileBytes else {
                scan.rejected.append(RejectedFile(
                    inputFile: object.key,
                    error: DICOMFileError(exceptionType: "ValidationException",
                                          message: "File size \(object.size) bytes exceeds the maximum DICOM P10 file size of \(maxFileBytes) bytes"),
                    serverError: false))
                continue
            }
            let bytes: [UInt8]
            do throws(ObjectStoreError) {
                bytes = try objects.get(bucket: input.bucket, key: object.key)
            } catch {
                // The listing named it but it cannot be fetched: not the file's fault.
                if error.kind == .unreachable || error.kind == .notConfigured { throw error }
                scan.rejected.append(RejectedFile(
                    inputFile: object.key, error: DICOMFileError(exceptionType: "InternalServerException", message: error.message),
                    serverError: true))
                continue
            }
            switch importFile(object.key, bytes, format: format, limits: limits) {
            case .success(let file): scan.imported.append(file)
            case .failure(let rejected): scan.rejected.append(rejected)
            }
        }
        return scan
    }

    /// Parses one Part 10 file and encodes its frames for storage.
    static func importFile(_ inputFile: String, _ bytes: [UInt8], format: LosslessStorageFormat,
                           limits: DICOMLimits = .standard) -> Result<ImportedFile, RejectedFile> {
        importFile(inputFile, format: format) { () throws(DICOMFileError) in try ImportCodec.open(bytes, limits: limits) }
    }

    /// The same for bytes [offset, offset + length) of the file at `path` (length 0: to its end), never read whole:
    /// large values stay on disk and one frame at a time is decoded, encoded and let go (the S4 seam).
    public static func importFile(_ inputFile: String, path: String, offset: Int = 0, length: Int = 0,
                                  format: LosslessStorageFormat, limits: DICOMLimits = .standard) -> Result<ImportedFile, RejectedFile> {
        importFile(inputFile, format: format) { () throws(DICOMFileError) in
            try ImportCodec.open(path: path, offset: offset, length: length, limits: limits)
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
        frames.reserveCapacity(source.frameCount)
        for index in 0..<source.frameCount {
            let frame: PixelFrame
            do throws(DICOMFileError) {
                frame = try source.frame(index)
            } catch {
                return .failure(RejectedFile(inputFile: inputFile, error: error, serverError: error.isServerError))
            }
            do {
                frames.append((ResourceIds.make(), try ImportCodec.store(frame, format: format)))
            } catch let error as FrameCodecError where error.code == 1 {
                // The codec refuses the frame's geometry or sample depth: the file's pixel data is not supported.
                return .failure(RejectedFile(
                    inputFile: inputFile,
                    error: DICOMFileError(exceptionType: "UnsupportedException", message: "Frame \(index + 1) has pixel data the datastore cannot store: \(error.message)"),
                    serverError: false))
            } catch {
                return .failure(RejectedFile(
                    inputFile: inputFile,
                    error: DICOMFileError(exceptionType: "InternalServerException", message: "Frame \(index + 1) could not be encoded for storage: \(error)"),
                    serverError: true))
            }
        }
        // Only the stored frames travel on; the instance carries no decoded samples.
        return .success(ImportedFile(inputFile: inputFile, instance: source.instance, frames: frames))
    }
}
