import Foundation
import Logging
import Testing
@testable import HealthImagingLocal
@testable import HealthImagingJSON
@testable import HealthImagingHTTP

/// In-process tests of the version lifecycle: `Emulator.handle(Request(...))` on an in-memory store.
@Suite struct LifecycleTests {
    let emulator: Emulator

    init() throws {
        var configuration = Emulator.Configuration()
        configuration.transitions = .immediate
        emulator = try Emulator(configuration: configuration, logger: Logger(label: "test"))
    }

    @discardableResult
    func call(_ method: String, _ uri: String, _ body: String = "", status: Int = 200,
              sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
        let reply = emulator.handle(Request(method: method, uri: uri, body: Array(body.utf8)))
        #expect(reply.response.status == status, "\(method) \(uri): \(String(decoding: reply.response.body, as: UTF8.self))",
                sourceLocation: sourceLocation)
        if reply.response.header("Content-Encoding") == "gzip" { return ["gzip": reply.response.body] }
        return (try? JSONSerialization.jsonObject(with: Data(reply.response.body))) as? [String: Any] ?? [:]
    }

    func createDatastore(_ token: String = "t1") -> String {
        let created = call("POST", "/datastore", #"{"datastoreName":"ds","clientToken":"\#(token)","tags":{"team":"x"}}"#)
        return created["datastoreId"] as? String ?? ""
    }

    func seed(_ datastoreId: String, _ body: String = "{}") -> String {
        call("POST", "/_healthimaging/datastores/\(datastoreId)/imageSets", body, status: 201)["imageSetId"] as? String ?? ""
    }

    func base64(_ json: String) -> String { Data(json.utf8).base64EncodedString() }

    @Test func everyModelOperationIsRouted() {
        let names = Set(Operations.all.map { $0.name })
        for name in ["CopyImageSet", "CreateDatastore", "DeleteDatastore", "DeleteImageSet", "GetDICOMImportJob", "GetDatastore",
                     "GetImageFrame", "GetImageSet", "GetImageSetMetadata", "ListDICOMImportJobs", "ListDatastores",
                     "ListImageSetVersions", "ListTagsForResource", "SearchImageSets", "StartDICOMImportJob", "TagResource",
                     "UntagResource", "UpdateImageSetMetadata"] {
            #expect(names.contains(name), "\(name) has no route")
        }
    }

    @Test func importJobOperationsAreImplemented() {
        let id = String(repeating: "a", count: 32)
        let reply = emulator.handle(Request(method: "GET", uri: "/listDICOMImportJobs/datastore/\(id)"))
        #expect(reply.response.status == 404)
        #expect(reply.response.header("x-amzn-ErrorType") == "ResourceNotFoundException")
    }

    @Test func datastoreLifecycleAndIdempotency() {
        let id = createDatastore()
        #expect(id.count == 32)
        #expect(createDatastore() == id, "the same clientToken gives the same datastore")
        call("POST", "/datastore", #"{"datastoreName":"other","clientToken":"t1"}"#, status: 409)
        let properties = call("GET", "/datastore/\(id)")["datastoreProperties"] as? [String: Any]
        #expect(properties?["datastoreStatus"] as? String == "ACTIVE")
        #expect(properties?["datastoreArn"] as? String == "arn:aws:medical-imaging:us-east-1:123456789012:datastore/\(id)")
        #expect(properties?["losslessStorageFormat"] as? String == "HTJ2K")
        let imageSet = seed(id)
        call("DELETE", "/datastore/\(id)", status: 409)
        call("POST", "/datastore/\(id)/imageSet/\(imageSet)/deleteImageSet")
        #expect(call("DELETE", "/datastore/\(id)")["datastoreStatus"] as? String == "DELETING")
        let after = call("GET", "/datastore/\(id)")["datastoreProperties"] as? [String: Any]
        #expect(after?["datastoreStatus"] as? String == "DELETED")
    }

    @Test func updateRevertCopyDeleteStory() throws {
        let ds = createDatastore()
        let study = #"{"Patient":{"DICOM":{"PatientID":"P1"}},"Study":{"DICOM":{"StudyInstanceUID":"1.2.3"},"Series":{"1.2.3.4":{"DICOM":{"Modality":"CT","SeriesInstanceUID":"1.2.3.4"},"Instances":{}}}}}"#
        let other = #"{"Patient":{"DICOM":{"PatientID":"P1"}},"Study":{"DICOM":{"StudyInstanceUID":"1.2.3"},"Series":{"1.2.3.4":{"DICOM":{"Modality":"MR","SeriesInstanceUID":"1.2.3.4"},"Instances":{}}}}}"#
        let source = seed(ds, #"{"metadata":\#(study)}"#)
        let target = seed(ds, #"{"metadata":\#(other)}"#)
        let base = "/datastore/\(ds)/imageSet/\(source)"

        let update = #"{"DICOMUpdates":{"updatableAttributes":"\#(base64(#"{"SchemaVersion":1.1,"Patient":{"DICOM":{"PatientName":"Doe^Jane"}}}"#))"}}"#
        let first = call("POST", "\(base)/updateImageSetMetadata?latestVersion=1", update)
        #expect(first["latestVersionId"] as? String == "2")
        #expect(first["imageSetState"] as? String == "LOCKED")
        #expect(first["imageSetWorkflowStatus"] as? String == "UPDATING")
        call("POST", "\(base)/updateImageSetMetadata?latestVersion=1", update, status: 409)
        call("POST", "\(base)/updateImageSetMetadata?latestVersion=2&force=true", update)
        call("POST", "\(base)/updateImageSetMetadata?latestVersion=3", #"{"revertToVersionId":"1","DICOMUpdates":{}}"#, status: 400)
        call("POST", "\(base)/updateImageSetMetadata?latestVersion=3", #"{"revertToVersionId":"1"}"#)
        let got = call("POST", "\(base)/getImageSet")
        #expect(got["versionId"] as? String == "4")
        #expect(got["imageSetState"] as? String == "ACTIVE")
        #expect(got["imageSetWorkflowStatus"] as? String == "UPDATED")
        #expect(got["imageSetArn"] as? String == "arn:aws:medical-imaging:us-east-1:123456789012:datastore/\(ds)/imageset/\(source)")
        let v3 = call("POST", "\(base)/getImageSet?version=3")
        #expect((v3["overrides"] as? [String: Any])?["forced"] as? Bool == true)

        let metadata = call("POST", "\(base)/getImageSetMetadata?version=2")["gzip"] as? [UInt8] ?? []
        let document = try JSONSerialization.jsonObject(with: Data(try Gzip.decompress(metadata))) as? [String: Any]
        #expect(((document?["Patient"] as? [String: Any])?["DICOM"] as? [String: Any])?["PatientName"] as? String == "Doe^Jane")

        let failed = call("POST", "\(base)/copyImageSet",
                          #"{"sourceImageSet":{"latestVersionId":"4"},"destinationImageSet":{"imageSetId":"\#(target)","latestVersionId":"1"}}"#)
        #expect((failed["destinationImageSetProperties"] as? [String: Any])?["latestVersionId"] as? String == "2")
        #expect((failed["sourceImageSetProperties"] as? [String: Any])?["imageSetWorkflowStatus"] as? String == "COPYING_WITH_READ_ONLY_ACCESS")
        let destination = call("POST", "/datastore/\(ds)/imageSet/\(target)/getImageSet")
        #expect(destination["imageSetWorkflowStatus"] as? String == "COPY_FAILED")
        #expect(destination["message"] as? String == "INVALID_REQUEST:  Series of SourceImageSet and DestinationImageSet don't match.")

        call("POST", "\(base)/copyImageSet?force=true",
             #"{"sourceImageSet":{"latestVersionId":"4"},"destinationImageSet":{"imageSetId":"\#(target)","latestVersionId":"2"}}"#)
        let forced = call("POST", "/datastore/\(ds)/imageSet/\(target)/getImageSet")
        #expect(forced["imageSetWorkflowStatus"] as? String == "COPIED")
        #expect(call("POST", "\(base)/getImageSet")["imageSetWorkflowStatus"] as? String == "COPIED")

        let copy = call("POST", "\(base)/copyImageSet", #"{"sourceImageSet":{"latestVersionId":"4"}}"#)
        let newId = (copy["destinationImageSetProperties"] as? [String: Any])?["imageSetId"] as? String ?? ""
        #expect(newId.count == 32 && newId != source)

        let deleted = call("POST", "\(base)/deleteImageSet")
        #expect(deleted["imageSetState"] as? String == "LOCKED")
        let gone = call("POST", "\(base)/getImageSet")
        #expect(gone["imageSetState"] as? String == "DELETED")
        #expect(gone["deletedAt"] != nil)
        call("POST", "\(base)/updateImageSetMetadata?latestVersion=4", update, status: 409)

        let versions = call("POST", "\(base)/listImageSetVersions")["imageSetPropertiesList"] as? [[String: Any]] ?? []
        #expect(versions.map { $0["versionId"] as? String } == ["4", "3", "2", "1"])
    }

    @Test func manualTransitionsWaitForReadsOrAdvance() {
        call("PUT", "/_healthimaging/transitions", #"{"imageSet":{"mode":"manual","reads":2},"datastore":"manual"}"#)
        call("PUT", "/_healthimaging/transitions", #"{"imageSet":"sometimes"}"#, status: 400)
        let ds = createDatastore()
        #expect((call("GET", "/datastore/\(ds)")["datastoreProperties"] as? [String: Any])?["datastoreStatus"] as? String == "CREATING")
        call("POST", "/_healthimaging/transitions/advance", "{}")
        #expect((call("GET", "/datastore/\(ds)")["datastoreProperties"] as? [String: Any])?["datastoreStatus"] as? String == "ACTIVE")
        let imageSet = seed(ds)
        let base = "/datastore/\(ds)/imageSet/\(imageSet)"
        call("POST", "\(base)/deleteImageSet")
        #expect(call("POST", "\(base)/getImageSet")["imageSetState"] as? String == "LOCKED")
        #expect(call("POST", "\(base)/getImageSet")["imageSetState"] as? String == "LOCKED")
        #expect(call("POST", "\(base)/getImageSet")["imageSetState"] as? String == "DELETED")
    }

    @Test func plannedOutcomeFailsTheNextUpdate() {
        let ds = createDatastore()
        let imageSet = seed(ds)
        call("POST", "/_healthimaging/outcomes", #"{"operation":"UpdateImageSetMetadata","datastoreId":"\#(ds)","imageSetId":"\#(imageSet)","message":"INTERNAL_ERROR: boom"}"#)
        call("POST", "/_healthimaging/outcomes", #"{"operation":"UpdateImageSetMetadata","datastoreId":"\#(ds)","outcome":"COPY_FAILED"}"#, status: 400)
        let base = "/datastore/\(ds)/imageSet/\(imageSet)"
        call("POST", "\(base)/updateImageSetMetadata?latestVersion=1", #"{"revertToVersionId":"1"}"#)
        let got = call("POST", "\(base)/getImageSet")
        #expect(got["imageSetWorkflowStatus"] as? String == "UPDATE_FAILED")
        #expect(got["message"] as? String == "INTERNAL_ERROR: boom")
        call("POST", "\(base)/updateImageSetMetadata?latestVersion=2", #"{"revertToVersionId":"1"}"#)
        #expect(call("POST", "\(base)/getImageSet")["imageSetWorkflowStatus"] as? String == "UPDATED")
    }

    @Test func tagsOnPercentEncodedArns() {
        let ds = createDatastore()
        let arn = "arn:aws:medical-imaging:us-east-1:123456789012:datastore/\(ds)"
        let encoded = arn.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
        #expect(encoded.contains("%2F"))
        #expect((call("GET", "/tags/\(encoded)")["tags"] as? [String: String]) == ["team": "x"])
        call("POST", "/tags/\(encoded)", #"{"tags":{"a":"1","b":"2"}}"#)
        call("DELETE", "/tags/\(encoded)?tagKeys=a&tagKeys=team")
        #expect((call("GET", "/tags/\(encoded)")["tags"] as? [String: String]) == ["b": "2"])
        call("POST", "/tags/\(encoded)", #"{"tags":{"aws:x":"1"}}"#, status: 400)
        let missing = "arn:aws:medical-imaging:us-east-1:123456789012:datastore/\(String(repeating: "0", count: 32))"
        call("GET", "/tags/\(missing.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)", status: 404)
    }

    @Test func searchFindsByPatientAndPaginates() {
        let ds = createDatastore()
        var ids: [String] = []
        for index in 0..<3 {
            ids.append(seed(ds, #"{"metadata":{"Patient":{"DICOM":{"PatientID":"P\#(index % 2)"}},"Study":{"DICOM":{"StudyInstanceUID":"1.\#(index)"}}}}"#))
        }
        let found = call("POST", "/datastore/\(ds)/searchImageSets",
                         #"{"filters":[{"operator":"EQUAL","values":[{"DICOMPatientId":"P0"}]}]}"#)
        let summaries = found["imageSetsMetadataSummaries"] as? [[String: Any]] ?? []
        #expect(Set(summaries.compactMap { $0["imageSetId"] as? String }) == [ids[0], ids[2]])
        #expect(summaries.first?["version"] as? Int == 1)
        let page = call("POST", "/datastore/\(ds)/searchImageSets?maxResults=2", "{}")
        let token = page["nextToken"] as? String ?? ""
        #expect(!token.isEmpty)
        let rest = call("POST", "/datastore/\(ds)/searchImageSets?maxResults=2&nextToken=\(token)", "{}")
        #expect((rest["imageSetsMetadataSummaries"] as? [Any])?.count == 1)
        #expect(rest["nextToken"] == nil)
    }

    @Test func transitionModesParse() {
        #expect(TransitionMode("immediate") == .immediate)
        #expect(TransitionMode("manual") == .manual(reads: nil))
        #expect(TransitionMode("manual:3") == .manual(reads: 3))
        #expect(TransitionMode("timed:250") == .timed(millis: 250))
        #expect(TransitionMode("timed") == nil)
        #expect(TransitionMode("later") == nil)
    }

    @Test func gzipRoundTrip() throws {
        let text = Array(String(repeating: "{\"SchemaVersion\":\"1.1\"}", count: 100).utf8)
        let packed = try Gzip.compress(text)
        #expect(packed.prefix(2) == [0x1F, 0x8B])
        #expect(try Gzip.decompress(packed) == text)
    }

    @Test func jsonMergeAndRemove() throws {
        let doc = try JSONParser.parse(Array(#"{"A":{"x":1,"y":2},"B":3}"#.utf8))
        let merged = doc.merging(try JSONParser.parse(Array(#"{"A":{"y":5,"z":6}}"#.utf8)))
        #expect(String(decoding: merged.serialized(), as: UTF8.self) == #"{"A":{"x":1,"y":5,"z":6},"B":3}"#)
        let removed = merged.removing(try JSONParser.parse(Array(#"{"A":{"x":""},"B":{}}"#.utf8)))
        #expect(String(decoding: removed.serialized(), as: UTF8.self) == #"{"A":{"y":5,"z":6}}"#)
    }
}
