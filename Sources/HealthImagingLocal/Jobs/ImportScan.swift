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

/// The work done off the loop: list the input prefix, read every object, parse it, encode its frames.
public enum ImportScanner {
    /// The largest Part 10 file a job accepts. HealthImaging's quotas page lists the maximum size of one DICOM P10
    /// file in an import job; over it the file is a customer error (see README, "Import limits").
    public static let defaultMaxFileBytes = 4 << 30

    /// Reads everything under `input` (a folder prefix). Throws only for what stops the whole job
    /// (source not configured, bucket missing, endpoint unreachable); a bad file is a `RejectedFile`.
    static func scan(_ objects: any ObjectStore, input: S3Location, format: LosslessStorageFormat,
                     maxFileBytes: Int) throws(ObjectStoreError) -> ImportScan {
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
            switch importFile(object.key, bytes, format: format) {
            case .success(let file): scan.imported.append(file)
            case .failure(let rejected): scan.rejected.append(rejected)
            }
        }
        return scan
    }

    /// Parses one Part 10 file and encodes its frames for storage.
    static func importFile(_ inputFile: String, _ bytes: [UInt8], format: LosslessStorageFormat) -> Result<ImportedFile, RejectedFile> {
        var instance: DICOMInstance
        do throws(DICOMFileError) {
            instance = try ImportCodec.read(bytes)
        } catch {
            return .failure(RejectedFile(inputFile: inputFile, error: error, serverError: false))
        }
        if let violation = ImportConstraints.violation(instance) {
            return .failure(RejectedFile(inputFile: inputFile, error: violation, serverError: false))
        }
        var frames: [(id: String, frame: StoredFrame)] = []
        var warnings: [ImportWarning] = []
        frames.reserveCapacity(instance.frames.count)
        for (index, frame) in instance.frames.enumerated() {
            do {
                frames.append((ResourceIds.make(), try ImportCodec.store(frame, format: format)))
            } catch let error as FrameCodecError {
                // The codec refuses the frame (sample depth, geometry) or fails on it: the instance is stored with
                // its pixel data untranscoded and warning 0xB100, as the service does.
                switch ImportCases.untranscoded(instance, bytes: bytes, refused: error, frameIndex: index) {
                case .success(let (kept, warning)):
                    frames = kept
                    warnings = [warning]
                    instance = ImportCases.withWarningReason(instance, warning)
                case .failure(let error):
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
        // The decoded samples are no longer needed: only the stored frames travel on.
        instance.frames = []
        return .success(ImportedFile(inputFile: inputFile, instance: instance, frames: frames, warnings: warnings))
    }
}
