import Testing
@testable import HealthImagingDICOM
@testable import HealthImagingLocal

/// Files imported with warnings: the warnings cross the import worker protocol and reach the job output.
@Suite struct ImportCasesTests {
    let warning = ImportWarning(code: ImportWarning.transcodingException, type: "TRANSCODING_EXCEPTION", message: "kept as it is")

    func file(_ name: String, warnings: [ImportWarning]) -> ImportedFile {
        let instance = DICOMInstance(studyInstanceUID: "1.2", seriesInstanceUID: "1.2.3", sopInstanceUID: "1.2.3.4",
                                     transferSyntaxUID: "1.2.840.10008.1.2", patient: [], study: [], series: [],
                                     instance: [("WarningReason", .number("45312"))], vrs: [], frames: [])
        let frame = StoredFrame(data: [1, 2, 3, 4], transferSyntaxUID: "1.2.840.10008.1.2", contentType: "application/octet-stream",
                                checksums: [ResolutionChecksum(width: 1, height: 1, checksum: 7)], minPixelValue: 0, maxPixelValue: 0)
        return ImportedFile(inputFile: name, instance: instance, frames: [(id: "f", frame: frame)], warnings: warnings)
    }

    @Test func warningsCrossTheWorkerProtocol() throws {
        for warnings in [[], [warning]] {
            let message = ImportWire.reply(.success(file("in/a.dcm", warnings: warnings)))
            guard case .success(let back) = try ImportWire.result(message) else {
                Issue.record("the reply did not decode to a success")
                continue
            }
            #expect(back.warnings == warnings)
            #expect(back.frames.map(\.frame) == [file("x", warnings: []).frames[0].frame])
        }
    }

    @Test func theJobOutputCarriesWarnings() throws {
        let job = ImportJob(datastoreId: String(repeating: "d", count: 32), jobId: String(repeating: "a", count: 32),
                            jobName: nil, status: .inProgress, dataAccessRoleArn: "arn:aws:iam::123456789012:role/r",
                            inputS3Uri: "s3://b/in/", outputS3Uri: "s3://b/out/x/", submittedAt: 0)
        let imageSet = ImportedImageSet(imageSetId: String(repeating: "e", count: 32), versionId: 1, isPrimary: true,
                                        matchedInstances: 2, inputFiles: ["in/a.dcm", "in/b.dcm"])
        let files = [file("in/a.dcm", warnings: [warning]), file("in/b.dcm", warnings: [])]
        let output = ImportOutput.make(job: job, scanned: 2, imageSets: [imageSet], rejected: [],
                                       warnings: ImportOutput.warnings(of: files))
        let success = String(decoding: output.success, as: UTF8.self).split(separator: "\n")
        #expect(success.count == 2)
        #expect(success[0].contains(#""warnings":[{"warning_reason_code":45312,"type":"TRANSCODING_EXCEPTION","message":"kept as it is"}]"#))
        #expect(!success[1].contains("warnings"))
        #expect(String(decoding: output.warning, as: UTF8.self) == success[0] + "\n")
        #expect(String(decoding: output.manifest, as: UTF8.self).contains(#""warningsOutputS3Uri":"s3://b/out/x/WARNING/""#))
        let clean = ImportOutput.make(job: job, scanned: 1, imageSets: [imageSet], rejected: [])
        #expect(clean.warning.isEmpty)
    }
}
