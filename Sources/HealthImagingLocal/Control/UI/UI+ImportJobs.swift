import HealthImagingJSON
/// The import jobs of a datastore on the namespace page: the store's row (id, name, status, dates, message, URIs)
/// and, for a finished job, what its output folder holds — the counts of `job-output-manifest.json` and the first
/// `failureLineLimit` lines of `FAILURE/failure.ndjson` — read through the configured `ObjectStore` off the loop
/// (`ImportCoordinator.offLoop`: a folder read with `--s3-dir`, an HTTP GET with `--s3-endpoint`), the page
/// answered when the reads are done. Only the newest `jobLimit` jobs of a datastore have their output read.
extension UIEndpoints {
    static let jobLimit = 20
    static let failureLineLimit = 50

    /// What a job's output folder said, or why it could not be read.
    struct JobOutput: Sendable {
        var counts: [(name: String, value: String)] = []
        var failures: [(file: String, type: String, message: String)] = []
        var moreFailures = 0
        var problem: String?
    }

    static let countNames = ["numberOfScannedFiles", "numberOfImportedFiles", "numberOfFilesWithCustomerError",
                             "numberOfFilesWithServerError", "numberOfGeneratedImageSets"]

    static func jobOutput(_ job: ImportJob, objects: (any ObjectStore)?) -> JobOutput? {
        guard job.status == .completed || job.status == .failed, let folder = S3Location(job.outputS3Uri)?.folder else { return nil }
        guard let objects else { return JobOutput(problem: "no object store is configured (--s3-dir / --s3-endpoint)") }
        var output = JobOutput()
        do throws(ObjectStoreError) {
            let manifest = try objects.get(bucket: folder.bucket, key: folder.key + "job-output-manifest.json")
            let summary = try? JSONParser.parse(manifest)
            for name in countNames {
                if case .number(let text)? = summary?.value(at: ["jobSummary", name]) { output.counts.append((name, text)) }
            }
            let failure = try objects.get(bucket: folder.bucket, key: folder.key + "FAILURE/failure.ndjson")
            let lines = failure.split(separator: 0x0A, omittingEmptySubsequences: true)
            for line in lines.prefix(failureLineLimit) {
                let item = try? JSONParser.parse(Array(line))
                output.failures.append((item?["inputFile"]?.stringValue ?? "?",
                                        item?.value(at: ["exception", "exceptionType"])?.stringValue ?? "?",
                                        item?.value(at: ["exception", "message"])?.stringValue ?? String(decoding: line, as: UTF8.self)))
            }
            output.moreFailures = max(0, lines.count - failureLineLimit)
        } catch {
            output.problem = "the job output in \(folder.uri) could not be read: \(error.message)"
        }
        return output
    }

    static func importJobSection(_ html: inout HTML, _ datastoreId: String, _ jobs: [(ImportJob, JobOutput?)], total: Int) {
        html.raw("<h3>Import jobs</h3>")
        if jobs.isEmpty {
            html.raw("<p class=\"muted no-import-jobs\">No import job.</p>")
            return
        }
        html.raw("<table class=\"import-jobs\"><tr><th>job</th><th>name</th><th>status</th><th>submitted</th><th>ended</th><th>message</th><th>input</th><th>output</th><th>counts</th></tr>")
        for (job, output) in jobs {
            html.element("<tr class=\"import-job\"><td><code>", job.jobId, "</code></td>")
            html.element("<td>", job.jobName ?? "", "</td><td>")
            badge(&html, job.status.rawValue)
            html.element("</td><td>", HTML.date(millis: job.submittedAt), "</td>")
            html.element("<td>", HTML.date(millis: job.endedAt), "</td>")
            html.element("<td class=\"message\">", job.message ?? "", "</td>")
            html.element("<td><code>", job.inputS3Uri, "</code></td>")
            html.element("<td><code>", job.outputS3Uri, "</code></td><td class=\"counts\">")
            if let output {
                for count in output.counts {
                    html.element("<span class=\"count\">", "\(count.name.dropFirst("numberOf".count)): \(count.value)", "</span><br>")
                }
                if let problem = output.problem { html.element("<span class=\"muted\">", problem, "</span>") }
            } else {
                html.raw("<span class=\"muted\">not finished</span>")
            }
            html.raw("</td></tr>")
            if let output, !output.failures.isEmpty {
                html.raw("<tr class=\"failures\"><td colspan=\"9\"><details open><summary>failure.ndjson</summary><table class=\"failure-lines\"><tr><th>input file</th><th>exception</th><th>message</th></tr>")
                for failure in output.failures {
                    html.element("<tr class=\"failure\"><td><code>", failure.file, "</code></td>")
                    html.element("<td>", failure.type, "</td>")
                    html.element("<td>", failure.message, "</td></tr>")
                }
                html.raw("</table>")
                if output.moreFailures > 0 {
                    html.element("<p class=\"muted\">", "\(output.moreFailures) more failure lines are not shown.", "</p>")
                }
                html.raw("</details></td></tr>")
            }
        }
        html.raw("</table>")
        if total > jobs.count {
            html.element("<p class=\"muted\">", "\(total - jobs.count) older import jobs are not shown.", "</p>")
        }
    }
}
