/// The job's output folder, `<outputS3Uri><datastoreId>-DicomImport-<jobId>/`, as the developer guide's
/// "Understanding import jobs" shows it: `job-output-manifest.json` (`{"jobSummary": {…}}`),
/// `SUCCESS/success.ndjson` (`{"inputFile", "importResponse": {"imageSetId", "imageSetVersion", "isPrimary"}}`
/// per imported file) and `FAILURE/failure.ndjson` (`{"inputFile", "exception": {"exceptionType", "message"}}`
/// per rejected file). `inputFile` is the object key, as in the guide's examples.
public struct ImportOutput: Sendable {
    public var manifest: [UInt8]
    public var success: [UInt8]
    public var failure: [UInt8]

    static func make(job: ImportJob, scanned: Int, imageSets: [ImportedImageSet], rejected: [RejectedFile]) -> ImportOutput {
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
        for imageSet in imageSets {
            for file in imageSet.inputFiles {
                var line = JSONWriter()
                line.object { item in
                    item.field("inputFile", file)
                    item.field("importResponse", object: { response in
                        response.field("imageSetId", imageSet.imageSetId)
                        response.field("imageSetVersion", imageSet.versionId)
                        response.field("isPrimary", imageSet.isPrimary)
                    })
                }
                success += line.bytes + [0x0A]
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
        return ImportOutput(manifest: manifest.bytes, success: success, failure: failure)
    }

    /// Writes the three objects; the message of the first failure, nil when all were written.
    func write(to objects: any ObjectStore, folder: S3Location) -> String? {
        do throws(ObjectStoreError) {
            try objects.put(bucket: folder.bucket, key: folder.folder.key + "SUCCESS/success.ndjson", success, contentType: "application/x-ndjson")
            try objects.put(bucket: folder.bucket, key: folder.folder.key + "FAILURE/failure.ndjson", failure, contentType: "application/x-ndjson")
            // The manifest last: a client that sees it finds the other two.
            try objects.put(bucket: folder.bucket, key: folder.folder.key + "job-output-manifest.json", manifest, contentType: "application/json")
            return nil
        } catch {
            return "The job output could not be written to \(folder.uri): \(error.message)"
        }
    }
}
