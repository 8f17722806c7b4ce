import Foundation
import Logging
import Testing
@testable import HealthImagingLocal
@testable import HealthImagingJSON
@testable import HealthImagingHTTP

/// Import jobs in process: the worker thread, the loop side pumped by requests, a folder object store.
@Suite struct ImportJobTests {
    let emulator: Emulator
    let root: String
    let datastore = "12345678901234567890123456789012"

    init() throws {
        root = NSTemporaryDirectory() + "hil-import-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: root + "/inbox/in", withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: root + "/inbox/in/not-dicom.txt", contents: Data("hello".utf8))
        var configuration = Emulator.Configuration()
        configuration.fixtures = [try Fixture.decode(Array(FixtureTests.valid.utf8), source: "test.json")]
        configuration.objectStore = FolderObjectStore(root: root)
        emulator = try Emulator(configuration: configuration, logger: Logger(label: "test"))
        try emulator.loadStartupFixtures()
    }

    func send(_ method: String, _ uri: String, body: String = "") throws -> JSONValue {
        try JSONParser.parse(emulator.handle(Request(method: method, uri: uri, body: Array(body.utf8))).response.body)
    }

    func start(_ token: String = "t1") throws -> String {
        let body = """
            {"dataAccessRoleArn": "arn:aws:iam::123456789012:role/R", "clientToken": "\(token)",
             "inputS3Uri": "s3://inbox/in/", "outputS3Uri": "s3://inbox/out"}
            """
        let answer = try send("POST", "/startDICOMImportJob/datastore/\(datastore)", body: body)
        #expect(answer["jobStatus"] == .string("SUBMITTED"))
        return answer["jobId"]?.stringValue ?? ""
    }

    func waitForEnd(_ jobId: String) throws -> JSONValue {
        for _ in 0..<500 {
            let job = try send("GET", "/getDICOMImportJob/datastore/\(datastore)/job/\(jobId)")["jobProperties"]
            if job?["jobStatus"] == .string("COMPLETED") || job?["jobStatus"] == .string("FAILED") { return job ?? .null }
            Thread.sleep(forTimeInterval: 0.01)
        }
        Issue.record("job never ended")
        return .null
    }

    @Test func aJobOfBadFilesCompletesAndWritesItsOutput() throws {
        let jobId = try start()
        #expect(jobId.count == 32)
        let job = try waitForEnd(jobId)
        #expect(job["jobStatus"] == .string("COMPLETED"))
        let folder = "\(root)/inbox/out/\(datastore)-DicomImport-\(jobId)/"
        #expect(job["outputS3Uri"] == .string("s3://inbox/out/\(datastore)-DicomImport-\(jobId)/"))
        let manifest = try JSONParser.parse(Array(try Data(contentsOf: URL(fileURLWithPath: folder + "job-output-manifest.json"))))
        #expect(manifest["jobSummary"]?["numberOfScannedFiles"] == .number("1"))
        #expect(manifest["jobSummary"]?["numberOfFilesWithCustomerError"] == .number("1"))
        let failure = String(decoding: try Data(contentsOf: URL(fileURLWithPath: folder + "FAILURE/failure.ndjson")), as: UTF8.self)
        #expect(failure.contains("\"inputFile\":\"in/not-dicom.txt\""))
    }

    @Test func theSameClientTokenAnswersTheSameJob() throws {
        let first = try start("same")
        let again = try start("same")
        #expect(first == again)
    }

    @Test func aManualModeHoldsTheEnd() throws {
        try emulator.store.setTransitionMode(emulator.defaultNamespace, .importJob, .manual(reads: nil))
        let jobId = try start()
        // Without a server loop, requests pump the worker's messages: scanned → committed → output written → the
        // end is scheduled (and held).
        for _ in 0..<500 where try emulator.store.pendingTransitionCount() == 0 {
            _ = try send("GET", "/getDICOMImportJob/datastore/\(datastore)/job/\(jobId)")
            Thread.sleep(forTimeInterval: 0.01)
        }
        let held = try send("GET", "/getDICOMImportJob/datastore/\(datastore)/job/\(jobId)")["jobProperties"]
        #expect(held?["jobStatus"] == .string("IN_PROGRESS"))
        let applied = try emulator.store.advance(emulator.defaultNamespace, datastoreId: datastore, imageSetKey: nil, jobId: jobId)
        #expect(applied == 1)
        let done = try send("GET", "/getDICOMImportJob/datastore/\(datastore)/job/\(jobId)")["jobProperties"]
        #expect(done?["jobStatus"] == .string("COMPLETED"))
        #expect(FileManager.default.fileExists(atPath: "\(root)/inbox/out/\(datastore)-DicomImport-\(jobId)/job-output-manifest.json"))
    }

    @Test func s3URIsAndRoleArnsFollowTheModel() {
        #expect(Validate.isS3Uri("s3://my-bucket/prefix/"))
        #expect(Validate.isS3Uri("s3://abc"))
        #expect(!Validate.isS3Uri("s3://ab"))
        #expect(!Validate.isS3Uri("s3://-bucket/"))
        #expect(!Validate.isS3Uri("s3://Bucket/"))
        #expect(Validate.isRoleArn("arn:aws:iam::123456789012:role/x"))
        #expect(Validate.isRoleArn("arn:aws-cn:iam::123456789012:role/path/x"))
        #expect(!Validate.isRoleArn("arn:aws:iam::12345678901:role/x"))
        #expect(Validate.messageText("bad {chars} here?") == "bad  chars  here ")
        #expect(S3Location("s3://b/k/x")?.bucket == "b")
        #expect(S3Location("s3://b/k/x")?.key == "k/x")
        #expect(S3Location("s3://b")?.folder.key == "")
    }

    @Test func sigV4EncodingKeepsUnreservedCharacters() {
        #expect(SigV4.uriEncode("a b/c~d", keepSlash: true) == "a%20b/c~d")
        #expect(SigV4.uriEncode("a/b", keepSlash: false) == "a%2Fb")
        #expect(SigV4.canonicalQuery([("prefix", "x y"), ("list-type", "2")]) == "list-type=2&prefix=x%20y")
    }
}
