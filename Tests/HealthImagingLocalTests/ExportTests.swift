import Foundation
import Logging
import Testing
@testable import HealthImagingLocal
@testable import HealthImagingHTTP

/// Export → reset → load, in-process: every read operation answers byte for byte as before, and a second
/// export equals the first.
@Suite struct ExportTests {
    let emulator: Emulator

    init() throws {
        var configuration = Emulator.Configuration()
        configuration.transitions = .immediate
        emulator = try Emulator(configuration: configuration, logger: Logger(label: "test"))
    }

    /// The status and body of one call.
    func raw(_ method: String, _ uri: String, _ body: String = "") -> (status: Int, body: [UInt8]) {
        let reply = emulator.handle(Request(method: method, uri: uri, body: Array(body.utf8)))
        return (Int(reply.response.status), reply.response.body)
    }

    @discardableResult
    func call(_ method: String, _ uri: String, _ body: String = "", status: Int = 200,
              sourceLocation: SourceLocation = #_sourceLocation) -> [String: Any] {
        let reply = raw(method, uri, body)
        #expect(reply.status == status, "\(method) \(uri): \(String(decoding: reply.body, as: UTF8.self))",
                sourceLocation: sourceLocation)
        return (try? JSONSerialization.jsonObject(with: Data(reply.body))) as? [String: Any] ?? [:]
    }

    func base64(_ json: String) -> String { Data(json.utf8).base64EncodedString() }

    func arn(_ path: String) -> String {
        "arn:aws:medical-imaging:us-east-1:123456789012:datastore/\(path)"
            .addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
    }

    static let study = #"{"SchemaVersion":"1.1","Patient":{"DICOM":{"PatientID":"P1","PatientName":"Roe^Ann"}},"Study":{"DICOM":{"StudyInstanceUID":"1.2.3","StudyDate":"20240102","StudyTime":"101500"},"Series":{"1.2.3.4":{"DICOM":{"Modality":"CT","SeriesInstanceUID":"1.2.3.4","SeriesNumber":1},"Instances":{"1.2.3.4.1":{"DICOM":{"SOPInstanceUID":"1.2.3.4.1"},"ImageFrames":[]}}}}}}"#

    /// A state touching every stored field: datastore settings and tags, a nameless datastore, metadata
    /// updated and copied, forced overrides, isPrimary, a failed copy's message, a deleted image set, image-set tags.
    func buildState() -> (datastores: [String], imageSets: [String: [String]]) {
        let created = call("POST", "/datastore", #"""
            {"datastoreName":"export-ds","clientToken":"t1","tags":{"team":"x","env":"dev","a:b/c":""},
             "kmsKeyArn":"arn:aws:kms:us-east-1:123456789012:key/12345678-90ab-cdef-1234-567890abcdef",
             "lambdaAuthorizerArn":"arn:aws:lambda:us-east-1:123456789012:function:auth",
             "losslessStorageFormat":"JPEG_2000_LOSSLESS"}
            """#)
        let ds = created["datastoreId"] as? String ?? ""
        let nameless = call("POST", "/datastore", #"{"clientToken":"t2"}"#)["datastoreId"] as? String ?? ""
        func seed(_ body: String) -> String {
            call("POST", "/_healthimaging/datastores/\(ds)/imageSets", body, status: 201)["imageSetId"] as? String ?? ""
        }
        let source = seed(#"{"metadata":\#(Self.study),"isPrimary":true}"#)
        let other = Self.study.replacingOccurrences(of: #""Modality":"CT""#, with: #""Modality":"MR""#)
        let target = seed(#"{"metadata":\#(other),"tags":{"kind":"target"}}"#)
        let plain = seed("{}")
        let base = "/datastore/\(ds)/imageSet/\(source)"
        let update = #"{"DICOMUpdates":{"updatableAttributes":"\#(base64(#"{"SchemaVersion":1.1,"Patient":{"DICOM":{"PatientName":"Doe^Jane"}}}"#))"}}"#
        call("POST", "\(base)/updateImageSetMetadata?latestVersion=1", update)
        call("POST", "\(base)/updateImageSetMetadata?latestVersion=2&force=true", update)
        // A mismatched copy (COPY_FAILED with a message), then a forced one, then a copy to a new image set.
        call("POST", "\(base)/copyImageSet",
             #"{"sourceImageSet":{"latestVersionId":"3"},"destinationImageSet":{"imageSetId":"\#(target)","latestVersionId":"1"}}"#)
        call("POST", "\(base)/copyImageSet?force=true",
             #"{"sourceImageSet":{"latestVersionId":"3"},"destinationImageSet":{"imageSetId":"\#(target)","latestVersionId":"2"}}"#)
        let copy = call("POST", "\(base)/copyImageSet", #"{"sourceImageSet":{"latestVersionId":"3"}}"#)
        let copied = (copy["destinationImageSetProperties"] as? [String: Any])?["imageSetId"] as? String ?? ""
        call("POST", "/tags/\(arn("\(ds)/imageset/\(copied)"))", #"{"tags":{"origin":"copy","z":"1"}}"#)
        call("POST", "/datastore/\(ds)/imageSet/\(plain)/deleteImageSet")
        var imageSets: [String: [String]] = [:]
        for imageSet in [source, target, plain, copied] {
            let list = call("POST", "/datastore/\(ds)/imageSet/\(imageSet)/listImageSetVersions")
            imageSets[imageSet] = (list["imageSetPropertiesList"] as? [[String: Any]] ?? []).compactMap { $0["versionId"] as? String }
        }
        #expect(imageSets[source] == ["3", "2", "1"])
        #expect(imageSets[target] == ["3", "2", "1"])
        return ([ds, nameless], imageSets)
    }

    /// The answers of every read operation over the state, keyed by request.
    func readAll(datastores: [String], imageSets: [String: [String]]) -> [(String, Int, [UInt8])] {
        var requests: [(String, String, String)] = [
            ("GET", "/datastore", ""),
            ("GET", "/datastore?maxResults=1", ""),
            ("GET", "/datastore?datastoreStatus=ACTIVE", ""),
        ]
        let ds = datastores[0]
        for id in datastores {
            requests.append(("GET", "/datastore/\(id)", ""))
            requests.append(("GET", "/tags/\(arn(id))", ""))
        }
        for (imageSet, versions) in imageSets.sorted(by: { $0.key < $1.key }) {
            let base = "/datastore/\(ds)/imageSet/\(imageSet)"
            requests.append(("POST", "\(base)/getImageSet", ""))
            requests.append(("POST", "\(base)/getImageSetMetadata", ""))
            requests.append(("POST", "\(base)/listImageSetVersions", ""))
            requests.append(("POST", "\(base)/listImageSetVersions?maxResults=1", ""))
            requests.append(("GET", "/tags/\(arn("\(ds)/imageset/\(imageSet)"))", ""))
            for version in versions {
                requests.append(("POST", "\(base)/getImageSet?version=\(version)", ""))
                requests.append(("POST", "\(base)/getImageSetMetadata?version=\(version)", ""))
            }
        }
        for criteria in [
            "{}",
            #"{"filters":[{"operator":"EQUAL","values":[{"DICOMPatientId":"P1"}]}]}"#,
            #"{"sort":{"sortOrder":"ASC","sortField":"createdAt"}}"#,
            #"{"filters":[{"operator":"EQUAL","values":[{"isPrimary":true}]}]}"#,
        ] {
            requests.append(("POST", "/datastore/\(ds)/searchImageSets", criteria))
            requests.append(("POST", "/datastore/\(ds)/searchImageSets?maxResults=1", criteria))
        }
        return requests.map { method, uri, body in
            let reply = raw(method, uri, body)
            return ("\(method) \(uri) \(body)", reply.status, reply.body)
        }
    }

    @Test func exportResetLoadGivesByteIdenticalAnswers() throws {
        let (datastores, imageSets) = buildState()
        let before = readAll(datastores: datastores, imageSets: imageSets)
        for (request, status, body) in before {
            #expect(status == 200, "\(request): \(String(decoding: body, as: UTF8.self))")
        }

        let exported = raw("GET", "/_healthimaging/fixtures")
        #expect(exported.status == 200)
        let text = String(decoding: exported.body, as: UTF8.self)
        for member in ["kmsKeyArn", "lambdaAuthorizerArn", "JPEG_2000_LOSSLESS", #""tags":{"a:b/c":"","env":"dev","team":"x"}"#,
                       #""origin":"copy""#, #""metadata":{"#, "Doe^Jane"] {
            #expect(text.contains(member), "the export lacks \(member)")
        }

        call("POST", "/_healthimaging/reset", #"{"to":"empty"}"#)
        call("GET", "/datastore/\(datastores[0])", status: 404)
        #expect((call("GET", "/datastore")["datastoreSummaries"] as? [Any])?.isEmpty == true)
        let loaded = raw("POST", "/_healthimaging/fixtures", String(decoding: exported.body, as: UTF8.self))
        #expect(loaded.status == 201, "\(String(decoding: loaded.body, as: UTF8.self))")

        // GetImageSetMetadata reads are accesses (storage tiers): the reads before the export moved lastAccessedAt,
        // so the reads after the load see those moves. Compared without it (ClockAndTierTests covers it).
        let after = readAll(datastores: datastores, imageSets: imageSets).map { ($0.0, $0.1, withoutAccessTimes($0.2)) }
        let comparable = before.map { ($0.0, $0.1, withoutAccessTimes($0.2)) }
        #expect(after.count == comparable.count)
        for (old, new) in zip(comparable, after) {
            #expect(old.0 == new.0)
            #expect(new.1 == old.1, "\(new.0)")
            #expect(new.2 == old.2, """
                \(new.0)
                before: \(String(decoding: old.2, as: UTF8.self))
                after:  \(String(decoding: new.2, as: UTF8.self))
                """)
        }
        let again = raw("GET", "/_healthimaging/fixtures")
        #expect(withoutAccessTimes(again.body) == withoutAccessTimes(exported.body), "a second export differs from the first")
    }

    @Test func exportedDocumentsDecodeWithPerVersionMetadata() throws {
        let document = #"""
            {"datastores":[{"datastoreId":"00000000000000000000000000000001","imageSets":[
              {"imageSetId":"00000000000000000000000000000002","metadata":{"Shared":true},"versions":[
                {"imageSetId":"00000000000000000000000000000002","versionId":"2","imageSetState":"ACTIVE","metadata":{"Own":2}},
                {"imageSetId":"00000000000000000000000000000002","versionId":"1","imageSetState":"ACTIVE"}]}]}]}
            """#
        let fixture = try Fixture.decode(Array(document.utf8), source: "test")
        let imageSet = try #require(fixture.datastores.first?.imageSets.first)
        #expect(imageSet.versionMetadata[2] == .object([("Own", .number("2"))]))
        #expect(imageSet.versionMetadata[1] == nil)
        #expect(imageSet.metadata == .object([("Shared", .bool(true))]))

        let bad = document.replacingOccurrences(of: #""metadata":{"Own":2}"#, with: #""metadata":[1]"#)
        #expect(throws: FixtureError.self) { try Fixture.decode(Array(bad.utf8), source: "test") }
        do {
            _ = try Fixture.decode(Array(bad.utf8), source: "test")
        } catch {
            #expect(error.issues.map(\.path) == ["$.datastores[0].imageSets[0].versions[0].metadata"])
        }
    }
}
