import HealthImagingJSON
import HealthImagingDICOM
/// The job's output folder, `<outputS3Uri><datastoreId>-DicomImport-<jobId>/`, as the developer guide's
/// "Understanding import jobs" shows it: `job-output-manifest.json` (`{"jobSummary": {…}}`),
/// `SUCCESS/success.ndjson` (`{"inputFile", "importResponse": {"imageSetId", "imageSetVersion", "isPrimary"}}`
/// per imported file) and `FAILURE/failure.ndjson` (`{"inputFile", "exception": {"exceptionType", "message"}}`
/// per rejected file). `inputFile` is the object key, as in the guide's examples. A file imported with warnings
/// (ImportCases.swift) has `importResponse.warnings` in its success line and a line of its own in
/// `WARNING/warning.ndjson` (manifest `warningsOutputS3Uri`), as the guide's import-job page describes; that object
/// is written only when some file has a warning.
public struct ImportOutput: Sendable {
    public var manifest: [UInt8]
    public var success: [UInt8]
    public var failure: [UInt8]
    public var warning: [UInt8] = []

    /// Input file → its warnings, for the files that have any.
    static func warnings(of files: [ImportedFile]) -> [String: [ImportWarning]] {
        var found: [String: [ImportWarning]] = [:]
        for file in files where !file.warnings.isEmpty { found[file.inputFile, default: []] += file.warnings }
        return found
    }

    /// `"warnings": [{"warning_reason_code": 45312, "type": "TRANSCODING_EXCEPTION", "message": …}]`.
    static func write(_ warnings: [ImportWarning], to json: inout JSONWriter) {
        json.field("warnings", array: { list in
            for warning in warnings {
                list.object { item in
                    item.field("warning_reason_code", Int64(warning.code))
                    item.field("type", warning.type)
                    item.field("message", warning.message)
                }
            }
        })
    }

    static func make(job: ImportJob, scanned: Int, imageSets: [ImportedImageSet], rejected: [RejectedFile],
                     warnings: [String: [ImportWarning]] = [:]) -> ImportOutput {
        let folder = job.outputS3Uri
        var manifest = JSONWriter(capacity: 1024 + 160 * imageSets.count)
        manifest.object { root in
            root.field("jobSummary", object: { summary in
                summary.field("jobId", job.jobId)
                summary.field("datastoreId", job.datastoreId)
                summary.field("inputS3Uri", job.inputS3Uri)
                summary.field("outputS3Uri", folder)
                summary.field("successOutputS3Uri", folder + "SUCCESS/")
                summary.field("failureOutputS3Uri", folder + "FAILURE/")
                summary.field("warningsOutputS3Uri", folder + "WARNING/")
                summary.field("numberOfScannedFiles", Int64(scanned))
                summary.field("numberOfImportedFiles", Int64(imageSets.reduce(0) { $0 + $1.inputFiles.count }))
                summary.field("numberOfFilesWithCustomerError", Int64(rejected.filter { !$0.serverError }.count))
                summary.field("numberOfFilesWithServerError", Int64(rejected.filter(\.serverError).count))
                summary.field("numberOfGeneratedImageSets", Int64(imageSets.count))
                summary.field("imageSetsSummary", array: { list in
                    for imageSet in imageSets {
                        list.object { item in
                            item.field("imageSetId", imageSet.imageSetId)
                            item.field("imageSetVersion", imageSet.versionId)
                            item.field("isPrimary", imageSet.isPrimary)
                            item.field("numberOfMatchedSOPInstances", Int64(imageSet.matchedInstances))
                        }
                    }
                })
            })
        }
        var success: [UInt8] = []
        var warning: [UInt8] = []
        for imageSet in imageSets {
            for file in imageSet.inputFiles {
                var line = JSONWriter()
                line.object { item in
                    item.field("inputFile", file)
                    item.field("importResponse", object: { response in
                        response.field("imageSetId", imageSet.imageSetId)
                        response.field("imageSetVersion", imageSet.versionId)
                        response.field("isPrimary", imageSet.isPrimary)
                        if let found = warnings[file] { write(found, to: &response) }
                    })
                }
                success += line.bytes + [0x0A]
                if warnings[file] != nil { warning += line.bytes + [0x0A] }
            }
        }
        var failure: [UInt8] = []
        for file in rejected {
            var line = JSONWriter()
            line.object { item in
                item.field("inputFile", file.inputFile)
                item.field("exception", object: { exception in
                    exception.field("exceptionType", file.error.exceptionType)
                    exception.field("message", file.error.message)
                })
            }
            failure += line.bytes + [0x0A]
        }
        return ImportOutput(manifest: manifest.bytes, success: success, failure: failure, warning: warning)
    }

    /// Writes the three objects; the message of the first failure, nil when all were written.
    func write(to objects: any ObjectStore, folder: S3Location) -> String? {
        do throws(ObjectStoreError) {
            try objects.put(bucket: folder.bucket, key: folder.folder.key + "SUCCESS/success.ndjson", success, contentType: "application/x-ndjson")
            try objects.put(bucket: folder.bucket, key: folder.folder.key + "FAILURE/failure.ndjson", failure, contentType: "application/x-ndjson")
            if !warning.isEmpty {
                try objects.put(bucket: folder.bucket, key: folder.folder.key + "WARNING/warning.ndjson", warning, contentType: "application/x-ndjson")
            }
            // The manifest last: a client that sees it finds the other two.
            try objects.put(bucket: folder.bucket, key: folder.folder.key + "job-output-manifest.json", manifest, contentType: "application/json")
            return nil
        } catch {
            return "The job output could not be written to \(folder.uri): \(error.message)"
        }
    }
}
