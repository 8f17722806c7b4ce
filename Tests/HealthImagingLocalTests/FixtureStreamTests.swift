import Foundation
import Testing
@testable import HealthImagingLocal

/// The streaming fixture reader (FixtureStream) against the whole-document one (Fixture.decode): for valid
/// documents, truncated ones at every byte, and mutated ones, both give the same error, word for word (or
/// both none), from memory and from a file read in small windows; and a streamed load stores what a whole
/// load stores.
@Suite struct FixtureStreamTests {
    /// Two datastores with image sets, tags, shared and per-version metadata, import jobs, and members in both
    /// orders (`datastoreId` after `imageSets` in the second: its image sets are parsed whole).
    static let document = """
        {"datastores": [
          {"datastoreId": "12345678901234567890123456789012", "datastoreName": "one", "tags": {"team": "a"},
           "createdAt": 1680027126.436,
           "imageSets": [
             {"imageSetId": "ea92b0d8838c72a3f25d00d13616f87e", "tags": {"k": "v"},
              "metadata": {"Study": {"DICOM": {"StudyInstanceUID": "1.2.3"}, "Series": {"1.2.3.4": {}}}},
              "versions": [
               {"imageSetId": "ea92b0d8838c72a3f25d00d13616f87e", "versionId": "2", "imageSetState": "ACTIVE",
                "ImageSetWorkflowStatus": "UPDATED", "createdAt": 1680027126.436, "isPrimary": true},
               {"imageSetId": "ea92b0d8838c72a3f25d00d13616f87e", "versionId": "1", "imageSetState": "ACTIVE",
                "metadata": {"Patient": {"DICOM": {"PatientID": "p\\u00e9"}}}}]},
             {"imageSetId": "0000000000000000000000000000000b", "versions": [
               {"imageSetId": "0000000000000000000000000000000b", "versionId": "1", "imageSetState": "LOCKED"}]}],
           "importJobs": []},
          {"imageSets": [{"imageSetId": "0000000000000000000000000000000c", "versions": [
             {"imageSetId": "0000000000000000000000000000000c", "versionId": "1", "imageSetState": "ACTIVE"}]}],
           "datastoreId": "00000000000000000000000000000002", "datastoreStatus": "ACTIVE", "createdAt": 1680027126}]}
        """

    func whole(_ bytes: [UInt8]) -> String {
        do {
            _ = try Fixture.decode(bytes, source: "doc")
            return "ok"
        } catch {
            return "\(error.issues) +\(error.omitted)"
        }
    }

    func streamed(_ bytes: [UInt8]) -> String {
        do {
            _ = try FixtureStream.run(bodies: [(bytes, "doc")], load: nil)
            return "ok"
        } catch let error as FixtureError {
            return "\(error.issues) +\(error.omitted)"
        } catch {
            return "other: \(error)"
        }
    }

    @Test func validDocumentGivesNoIssue() {
        #expect(streamed(Array(Self.document.utf8)) == "ok")
    }

    @Test func everyTruncationGivesTheSameError() {
        let bytes = Array(Self.document.utf8)
        for end in 0..<bytes.count {
            let cut = Array(bytes[..<end])
            #expect(streamed(cut) == whole(cut), "cut at \(end)")
        }
    }

    @Test func mutationsGiveTheSameErrors() {
        let bytes = Array(Self.document.utf8)
        var generator = SplitMix(seed: 42)
        let replacements: [UInt8] = Array("{}[],:\"\\ 0-.etrunlfx\n\u{7}".utf8) + [0xC3, 0xFF]
        for round in 0..<3000 {
            var mutated = bytes
            for _ in 0...(round % 3) {
                let at = Int(generator.next() % UInt64(mutated.count))
                switch generator.next() % 3 {
                case 0: mutated[at] = replacements[Int(generator.next() % UInt64(replacements.count))]
                case 1: mutated.remove(at: at)
                default: mutated.insert(replacements[Int(generator.next() % UInt64(replacements.count))], at: at)
                }
            }
            #expect(streamed(mutated) == whole(mutated), "round \(round): \(String(decoding: mutated, as: UTF8.self))")
        }
    }

    @Test func validationIssuesKeepTheirOrderAndPaths() {
        // Issues before, inside and after a streamed `imageSets` array, and an unknown root member after `datastores`.
        let text = Self.document
            .replacingOccurrences(of: "\"LOCKED\"", with: "\"FROZEN\"")
            .replacingOccurrences(of: "\"importJobs\": []", with: "\"importJobs\": 3, \"colour\": 1")
            .replacingOccurrences(of: "\"datastoreName\": \"one\"", with: "\"datastoreName\": 7")
            .replacingOccurrences(of: "]}]}]}", with: "]}]}], \"extra\": true}")
        let bytes = Array(text.utf8)
        #expect(whole(bytes) != "ok")
        #expect(streamed(bytes) == whole(bytes))
    }

    @Test func aFileIsReadInWindows() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("stream-\(UUID().uuidString).json").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Big enough to cross several 1 MiB windows: 3,000 image sets of 3 versions.
        var text = #"{"datastores": [{"datastoreId": "12345678901234567890123456789012", "imageSets": ["#
        for index in 0..<3000 {
            let id = String(format: "%032x", index)
            text += (index == 0 ? "" : ",") + #"{"imageSetId": "\#(id)", "versions": ["#
            text += (1...3).map { #"{"imageSetId": "\#(id)", "versionId": "\#($0)", "imageSetState": "ACTIVE", "message": "\#(String(repeating: "x", count: 100))"}"# }
                .joined(separator: ",") + "]}"
        }
        text += "]}]}"
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        let store = try Store(path: nil)
        let counts = try store.database.transaction {
            try FixtureStream.run(paths: [path], load: FixtureLoad(store: store, namespace: Namespace(account: "1", region: "r"), existing: .fail))
        }
        #expect(counts == FixtureStream.Counts(datastores: 1, imageSets: 3000, versions: 9000))
        #expect(try store.counts() == Store.Counts(datastores: 1, imageSets: 3000, versions: 9000))
        // A syntax error near the end of the file: the same line and column as the whole parse.
        let bad = String(text.dropLast(3)) + "x]}"
        try bad.write(toFile: path, atomically: true, encoding: .utf8)
        let expected = whole(Array(bad.utf8))
        #expect(expected.contains("invalid JSON"))
        do {
            _ = try FixtureStream.run(paths: [path], load: nil)
            Issue.record("no error")
        } catch let error as FixtureError {
            #expect("\(error.issues) +\(error.omitted)" == expected)
        }
    }

    @Test func aStreamedLoadStoresWhatAWholeLoadStores() throws {
        let namespace = Namespace(account: "123456789012", region: "us-east-1")
        let bytes = Array(Self.document.utf8)
        let wholeStore = try Store(path: nil)
        try wholeStore.load([try Fixture.decode(bytes, source: "doc")], into: namespace)
        let streamStore = try Store(path: nil)
        let counts = try streamStore.database.transaction {
            try FixtureStream.run(bodies: [(bytes, "doc")], load: FixtureLoad(store: streamStore, namespace: namespace, existing: .fail))
        }
        #expect(counts == FixtureStream.Counts(datastores: 2, imageSets: 3, versions: 4))
        let a = try wholeStore.export(namespace)
        let b = try streamStore.export(namespace)
        // Each load records its own moment as the image sets' last access: equal but for those times.
        let (wholeText, streamText) = (String(decoding: Fixture.encode(a), as: UTF8.self), String(decoding: Fixture.encode(b), as: UTF8.self))
        #expect(wholeText.components(separatedBy: "\"lastAccessedAt\"").count == streamText.components(separatedBy: "\"lastAccessedAt\"").count)
        #expect(String(decoding: withoutAccessTimes(Fixture.encode(a)), as: UTF8.self)
            == String(decoding: withoutAccessTimes(Fixture.encode(b)), as: UTF8.self))
        // Loading it again fails as a whole load does (already exists), and leaves the store as it was.
        #expect(throws: FixtureError.self) {
            try streamStore.database.transaction {
                try FixtureStream.run(bodies: [(bytes, "doc")], load: FixtureLoad(store: streamStore, namespace: namespace, existing: .fail))
            }
        }
        #expect(try streamStore.counts() == Store.Counts(datastores: 2, imageSets: 3, versions: 4))
    }
}

/// A small seeded generator (SplitMix64), so a failing mutation is found again.
struct SplitMix {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
