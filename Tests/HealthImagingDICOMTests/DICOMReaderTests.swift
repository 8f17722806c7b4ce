import Foundation
import Testing
@testable import HealthImagingJSON
@testable import HealthImagingDICOM

/// DICOMReader against pydicom's reading of the same files (expectations written by scripts/dicom-expectations.py):
/// the shipped samples always; pydicom's own test files when they are installed (PYDICOM_TEST_FILES, or the
/// conformance venv's pydicom).
@Suite struct DICOMReaderTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let samples = root.appendingPathComponent("fixtures/s3/healthimaging-local-samples/dicom")

    static func expectations(_ name: String) throws -> [JSONValue] {
        let data = try Data(contentsOf: root.appendingPathComponent("Tests/dicom/\(name)"))
        guard case .array(let items) = try JSONParser.parse(Array(data)) else { return [] }
        return items
    }

    static func bytes(_ url: URL) throws -> [UInt8] { Array(try Data(contentsOf: url)) }

    static var pydicomTestFiles: URL? {
        if let path = ProcessInfo.processInfo.environment["PYDICOM_TEST_FILES"] { return URL(fileURLWithPath: path) }
        let lib = root.appendingPathComponent(".venv/lib")
        for python in (try? FileManager.default.contentsOfDirectory(atPath: lib.path)) ?? [] {
            let dir = lib.appendingPathComponent("\(python)/site-packages/pydicom/data/test_files")
            if FileManager.default.fileExists(atPath: dir.path) { return dir }
        }
        return nil
    }

    static func string(_ value: JSONValue?) -> String? { value?.stringValue }

    static func int(_ value: JSONValue?) -> Int? {
        if case .number(let text) = value { return Int(text) }
        return nil
    }

    /// Differences between our reading and pydicom's expectation, one line each.
    static func differences(_ instance: DICOMInstance, _ expected: JSONValue) -> [String] {
        var out: [String] = []
        let file = string(expected["file"]) ?? "?"
        func check(_ what: String, _ ours: String?, _ theirs: String?) {
            if ours != theirs { out.append("\(file): \(what) \(ours ?? "nil") ≠ pydicom \(theirs ?? "nil")") }
        }
        check("transfer syntax", instance.transferSyntaxUID, string(expected["transferSyntax"]))
        check("StudyInstanceUID", instance.studyInstanceUID, string(expected["StudyInstanceUID"]))
        check("SeriesInstanceUID", instance.seriesInstanceUID, string(expected["SeriesInstanceUID"]))
        check("SOPInstanceUID", instance.sopInstanceUID, string(expected["SOPInstanceUID"]))
        let all = instance.patient + instance.study + instance.series + instance.instance
        for (key, theirs) in expected["attributes"]?.objectMembers ?? [] {
            guard let ours = all.first(where: { $0.key == key })?.value else {
                out.append("\(file): \(key) missing")
                continue
            }
            // Ours keep the padding the file has; pydicom strips it.
            func norm(_ v: JSONValue) -> JSONValue {
                switch v {
                case .string(let s): .string(s.trimmingCharacters(in: .whitespaces))
                case .array(let items): .array(items.map(norm))
                default: v
                }
            }
            var mine = norm(ours)
            if case .array(let items) = mine, items.count == 1, !(theirs.typeName == "array") { mine = items[0] }
            if mine != norm(theirs) {
                out.append("\(file): \(key) \(String(decoding: ours.serialized(), as: UTF8.self)) ≠ pydicom \(String(decoding: theirs.serialized(), as: UTF8.self))")
            }
        }
        return out + frameDifferences(instance.frames, syntax: instance.transferSyntaxUID, expected)
    }

    static func frameDifferences(_ ours: [PixelFrame], syntax: String, _ expected: JSONValue) -> [String] {
        var out: [String] = []
        let file = string(expected["file"]) ?? "?"
        guard case .array(let frames) = expected["frames"] else { return out }
        if frames.count != ours.count {
            out.append("\(file): \(ours.count) frames ≠ pydicom \(frames.count)")
            return out
        }
        // Lossy JPEG (DCT) decoders are not bit-exact: DCMTK's IJG code and pylibjpeg's libjpeg round their inverse
        // DCTs differently, so only the shape is compared for those.
        let dct = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51"].contains(syntax)
        for (index, (frame, theirs)) in zip(ours, frames).enumerated() {
            if frame.rows != int(theirs["rows"]) || frame.columns != int(theirs["columns"])
                || frame.samplesPerPixel != int(theirs["samplesPerPixel"]) {
                out.append("\(file): frame \(index) shape \(frame.rows)x\(frame.columns)x\(frame.samplesPerPixel) differs")
            }
            if dct { continue }
            let crc = MetadataDocument.fullResolutionChecksum(frame)
            if Int(crc) != int(theirs["crc32"]) {
                let range = MetadataDocument.pixelRange(frame)
                out.append("\(file): frame \(index) CRC-32 \(crc) ≠ pydicom \(int(theirs["crc32"]) ?? -1) (ours \(frame.columns)x\(frame.rows)x\(frame.samplesPerPixel) \(frame.bitsAllocated)-bit min \(range.min) max \(range.max); pydicom min \(int(theirs["min"]) ?? 0) max \(int(theirs["max"]) ?? 0))")
            }
            let range = MetadataDocument.pixelRange(frame)
            if range.min != int(theirs["min"]) || range.max != int(theirs["max"]) {
                out.append("\(file): frame \(index) min/max \(range.min)/\(range.max) ≠ pydicom \(int(theirs["min"]) ?? 0)/\(int(theirs["max"]) ?? 0)")
            }
        }
        return out
    }

    @Test func readsEverySampleLikePydicom() throws {
        let expected = try Self.expectations("expectations-samples.json")
        #expect(expected.count == 11)
        var problems: [String] = []
        for item in expected {
            let name = try #require(Self.string(item["file"]))
            do {
                let instance = try DICOMReader.read(try Self.bytes(Self.samples.appendingPathComponent(name)))
                problems += Self.differences(instance, item)
            } catch {
                problems.append("\(name): \(error)")
            }
        }
        #expect(problems == [])
    }

    @Test func keepsTheOriginalBytesOfLossyFramesOnly() throws {
        let lossy = try DICOMReader.read(try Self.bytes(Self.samples.appendingPathComponent("sc-03-rgb-jpeg-baseline.dcm")))
        let original = try #require(lossy.frames.first?.original)
        #expect(original.transferSyntaxUID == "1.2.840.10008.1.2.4.50")
        #expect(original.data.prefix(2) == [0xFF, 0xD8])
        let lossless = try DICOMReader.read(try Self.bytes(Self.samples.appendingPathComponent("ct-04-jpeg-lossless.dcm")))
        #expect(lossless.frames.first?.original == nil)
    }

    @Test func encodesValuesPerVR() throws {
        let instance = try DICOMReader.read(try Self.bytes(Self.samples.appendingPathComponent("ct-01-explicit-le.dcm")))
        func value(_ level: [(key: String, value: JSONValue)], _ key: String) -> JSONValue? {
            level.first { $0.key == key }?.value
        }
        #expect(value(instance.patient, "PatientName") == .string("Müller^Anna"))
        #expect(value(instance.study, "ReferringPhysicianName") == .null)
        #expect(value(instance.study, "PatientWeight") == .string("61.5"))
        #expect(value(instance.series, "PositionReferenceIndicator") == .null)
        #expect(value(instance.series, "SeriesNumber") == .string("1 "))
        #expect(value(instance.instance, "Rows") == .number("64"))
        #expect(value(instance.instance, "ImageType") == .array([.string("ORIGINAL"), .string("PRIMARY"), .string("AXIAL")]))
        #expect(value(instance.instance, "WindowCenter") == .array([.string("40")]))
        #expect(value(instance.instance, "PixelData") == .null)
        #expect(value(instance.instance, "FileMetaInformationVersion") == .string("AAE="))
        #expect(value(instance.instance, "TransferSyntaxUID") == .string("1.2.840.10008.1.2.1"))
        // Private elements: keyed by tag, VRs in DICOMVRs (creator included).
        #expect(value(instance.instance, "00090010") == .string("HIL_SAMPLES"))
        #expect(value(instance.instance, "00091001") == .string("97"))
        #expect(value(instance.instance, "00091002") == .array([.number("1"), .number("2")]))
        #expect(instance.vrs.map(\.key) == ["00090010", "00091001", "00091002"])
        #expect(instance.vrs.map(\.value) == [.string("LO"), .string("DS"), .string("US")])
        let implicit = try DICOMReader.read(try Self.bytes(Self.samples.appendingPathComponent("ct-02-implicit-le.dcm")))
        #expect(implicit.vrs.isEmpty)
    }

    @Test(arguments: [
        ([UInt8](), "InvalidDICOMFile"),
        (Array("not a dicom file at all".utf8), "InvalidDICOMFile"),
    ])
    func refusesWhatIsNotDICOM(_ bytes: [UInt8], _ type: String) {
        #expect { _ = try DICOMReader.read(bytes) } throws: { ($0 as? DICOMFileError)?.exceptionType == type }
    }

    @Test func refusesATruncatedFile() throws {
        let whole = try Self.bytes(Self.samples.appendingPathComponent("ct-01-explicit-le.dcm"))
        for cut in [140, 600, whole.count - 100] {
            #expect(throws: DICOMFileError.self) { _ = try DICOMReader.read(Array(whole.prefix(cut))) }
        }
    }

    /// Import decodes off the event loop on several threads: concurrent reads give the serial answers.
    @Test func readsConcurrently() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.samples.path).filter { $0.hasSuffix(".dcm") }.sorted()
        let files = try names.map { try Self.bytes(Self.samples.appendingPathComponent($0)) }
        let serial = try files.map { try DICOMReader.read($0).frames.map(MetadataDocument.fullResolutionChecksum) }
        let parallel = try await withThrowingTaskGroup(of: (Int, [UInt32]).self) { group in
            for round in 0..<4 {
                for (index, file) in files.enumerated() {
                    group.addTask { (index, try DICOMReader.read(file).frames.map(MetadataDocument.fullResolutionChecksum)) }
                    _ = round
                }
            }
            var results: [(Int, [UInt32])] = []
            for try await result in group { results.append(result) }
            return results
        }
        #expect(parallel.count == files.count * 4)
        for (index, checksums) in parallel { #expect(checksums == serial[index]) }
    }

    @Test func refusesAnElementOverTheServicesMaximumLength() throws {
        // The sample's StudyID "1" (SH, padded "1 ") becomes 17 characters by rewriting the value in place.
        var bytes = try Self.bytes(Self.samples.appendingPathComponent("ct-01-explicit-le.dcm"))
        let needle: [UInt8] = [0x20, 0x00, 0x10, 0x00, 0x53, 0x48, 0x02, 0x00]  // (0020,0010) SH length 2
        let at = try #require((0..<(bytes.count - needle.count)).first { Array(bytes[$0..<$0 + needle.count]) == needle })
        bytes.replaceSubrange(at + 6..<at + 10, with: [18, 0] + Array("12345678901234567 ".utf8))
        #expect { _ = try DICOMReader.read(bytes) } throws: {
            ($0 as? DICOMFileError)?.exceptionType == DICOMFileError.elementLengthViolation
        }
    }

    @Test(.enabled(if: pydicomTestFiles != nil, "pydicom's test files are not installed (set PYDICOM_TEST_FILES)"))
    func readsPydicomsTestFilesLikePydicom() throws {
        let dir = try #require(Self.pydicomTestFiles)
        var problems: [String] = []
        var decodedFrames = 0
        for item in try Self.expectations("expectations-pydicom.json") {
            let name = try #require(Self.string(item["file"]))
            // Expectations were written with pydicom 3.0.2's files; another pydicom may ship a different set.
            let url = dir.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { continue }
            let bytes = try Self.bytes(url)
            let result = Result { () throws(DICOMFileError) in try DICOMReader.read(bytes) }
            switch result {
            case .success(let instance):
                if item["readError"] != nil { problems.append("\(name): read, pydicom refused it"); continue }
                if item["pixelError"] != nil { continue }  // pydicom cannot decode it: nothing to compare pixels with
                problems += Self.differences(instance, item)
                decodedFrames += instance.frames.count
            case .failure(let error):
                if item["readError"] != nil || item["pixelError"] != nil { continue }
                let missingUID = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID"].contains { item[$0] == .null }
                if missingUID && error.exceptionType == DICOMFileError.missingRequiredAttribute {
                    // Refused for its missing UIDs; its frames still decode like pydicom's.
                    let file = try DICOMFile(bytes)
                    let frames = try file.frames(keepOriginal: false)
                    problems += Self.frameDifferences(frames, syntax: file.transferSyntax, item)
                    decodedFrames += frames.count
                    continue
                }
                if Self.knownRefusals[name] == error.exceptionType { continue }
                problems.append("\(name): \(error)")
            }
        }
        #expect(decodedFrames > 50)
        #expect(problems == [])
    }

    /// Files pydicom reads that the reader refuses on purpose, with the reason (docs/import-and-frames.md, "DICOM metadata").
    static let knownRefusals: [String: String] = [
        // An element after the meta header has a garbage tag and a length past the end of the file; pydicom stops
        // reading there and keeps what it has, DCMTK (and the service's "bad input is a per-file error") refuses.
        "SC_rgb_jpeg.dcm": DICOMFileError.invalidDICOMFile,
        // Truncated in the middle of an element: refused rather than half-imported (the prescan names the element
        // whose length runs past the end of the data, docs/hardening.md).
        "rtplan_truncated.dcm": DICOMFileError.elementLengthViolation,
    ]
}
