import Foundation
import Testing
@testable import HealthImagingJSON
@testable import HealthImagingDICOM

/// The reader's limits (docs/hardening.md, "DICOM input limits"): sizes checked against the bytes present before any
/// allocation, nesting bounded, codestream headers checked before a codec runs; and the file-based entry point (S4).
@Suite struct DICOMLimitsTests {
    // ---- a tiny explicit VR little endian writer ------------------------------------------------------------------

    static let longVRs: Set<String> = ["OB", "OD", "OF", "OL", "OV", "OW", "SQ", "SV", "UC", "UN", "UR", "UT", "UV"]
    static let undefined: UInt32 = 0xFFFF_FFFF

    static func le16(_ v: UInt16) -> [UInt8] { [UInt8(v & 0xFF), UInt8(v >> 8)] }
    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8((v >> (8 * $0)) & 0xFF) } }

    static func element(_ group: UInt16, _ element: UInt16, _ vr: String, _ value: [UInt8], length: UInt32? = nil) -> [UInt8] {
        var value = value
        if length == nil && value.count % 2 == 1 { value.append(vr == "UI" || vr == "OB" ? 0 : 0x20) }
        let declared = length ?? UInt32(value.count)
        var out = le16(group) + le16(element) + Array(vr.utf8)
        out += longVRs.contains(vr) ? [0, 0] + le32(declared) : le16(UInt16(truncatingIfNeeded: declared))
        return out + value
    }

    static func text(_ group: UInt16, _ element: UInt16, _ vr: String, _ value: String) -> [UInt8] {
        self.element(group, element, vr, Array(value.utf8))
    }

    static func us(_ group: UInt16, _ element: UInt16, _ value: UInt16) -> [UInt8] { self.element(group, element, "US", le16(value)) }

    static func part10(_ dataset: [UInt8], transferSyntax: String = "1.2.840.10008.1.2.1") -> [UInt8] {
        let meta = element(0x0002, 0x0001, "OB", [0, 1]) + text(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.2")
            + text(0x0002, 0x0003, "UI", "1.2.3.4.5") + text(0x0002, 0x0010, "UI", transferSyntax)
        return [UInt8](repeating: 0, count: 128) + Array("DICM".utf8) + element(0x0002, 0x0000, "UL", le32(UInt32(meta.count))) + meta
            + dataset
    }

    static let identity = text(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.2") + text(0x0008, 0x0018, "UI", "1.2.3.4.5")
        + text(0x0008, 0x0060, "CS", "CT")
    static let uids = text(0x0020, 0x000D, "UI", "1.2.3.4.1") + text(0x0020, 0x000E, "UI", "1.2.3.4.2")

    /// A rows × columns 16-bit CT; `frames` and `pixels` may lie.
    static func ct(rows: UInt16 = 8, columns: UInt16 = 8, frames: String? = nil, pixels: [UInt8]? = nil) -> [UInt8] {
        var module = us(0x0028, 0x0002, 1) + text(0x0028, 0x0004, "CS", "MONOCHROME2")
        if let frames { module += text(0x0028, 0x0008, "IS", frames) }
        module += us(0x0028, 0x0010, rows) + us(0x0028, 0x0011, columns) + us(0x0028, 0x0100, 16) + us(0x0028, 0x0101, 16)
            + us(0x0028, 0x0102, 15) + us(0x0028, 0x0103, 0)
        let count = Int(rows) * Int(columns) * 2 * Int(frames.flatMap { Int($0) } ?? 1)
        let data = pixels ?? (0..<count).map { UInt8(truncatingIfNeeded: $0 * 7) }
        return part10(identity + uids + module + element(0x7FE0, 0x0010, "OW", data))
    }

    /// Content Sequence nested `depth` levels, undefined lengths.
    static func nested(_ depth: Int) -> [UInt8] {
        let open = le16(0x0040) + le16(0xA730) + Array("SQ".utf8) + [0, 0] + le32(undefined) + le16(0xFFFE) + le16(0xE000) + le32(undefined)
        let close = le16(0xFFFE) + le16(0xE00D) + le32(0) + le16(0xFFFE) + le16(0xE0DD) + le32(0)
        var body = identity + uids
        body.reserveCapacity(body.count + depth * (open.count + close.count))
        for _ in 0..<depth { body += open }
        for _ in 0..<depth { body += close }
        return part10(body)
    }

    static func refusal(_ bytes: [UInt8], limits: DICOMLimits = .standard) -> DICOMFileError? {
        do throws(DICOMFileError) {
            _ = try DICOMReader.read(bytes, limits: limits)
            return nil
        } catch {
            return error
        }
    }

    // ---- sizes before allocations -----------------------------------------------------------------------------------

    @Test func anHonestFileReads() throws {
        let instance = try DICOMReader.read(Self.ct(frames: "2"))
        #expect(instance.frames.count == 2)
        #expect(instance.frames[0].samples.count == 8 * 8 * 2)
    }

    @Test func numberOfFramesBeyondThePixelDataIsRefusedBeforeAllocating() throws {
        let error = try #require(Self.refusal(Self.ct(frames: "2147483647", pixels: [UInt8](repeating: 0, count: 128))))
        #expect(error.exceptionType == DICOMFileError.limitExceeded)
        #expect(error.message.contains("--max-decoded-file-bytes"))
        let short = try #require(Self.refusal(Self.ct(frames: "3", pixels: [UInt8](repeating: 0, count: 256))))
        #expect(short.exceptionType == DICOMFileError.elementLengthViolation)
        #expect(short.message.contains("Pixel Data holds 256 bytes"))
    }

    @Test func rowsAndColumnsBeyondThePixelDataAreRefused() throws {
        let huge = try #require(Self.refusal(Self.ct(rows: 65535, columns: 65535, pixels: [UInt8](repeating: 0, count: 128))))
        #expect(huge.message.contains("--max-frame-bytes"))
        let large = try #require(Self.refusal(Self.ct(rows: 8192, columns: 8192, pixels: [UInt8](repeating: 0, count: 128))))
        #expect(large.exceptionType == DICOMFileError.elementLengthViolation)
    }

    @Test func theCeilingsAreTheConfiguredOnes() throws {
        let file = Self.ct(rows: 16, columns: 16, frames: "4")
        #expect(Self.refusal(file) == nil)
        let perFrame = try #require(Self.refusal(file, limits: DICOMLimits(maxFrameBytes: 511)))
        #expect(perFrame.message.contains("--max-frame-bytes") && perFrame.message.contains("511"))
        #expect(Self.refusal(file, limits: DICOMLimits(maxFrameBytes: 512)) == nil)
        let perFile = try #require(Self.refusal(file, limits: DICOMLimits(maxDecodedFileBytes: 2047)))
        #expect(perFile.message.contains("--max-decoded-file-bytes"))
    }

    @Test func aLengthPastTheEndIsRefusedForEveryVRClass() throws {
        let cases: [[UInt8]] = [
            Self.element(0x0010, 0x0010, "PN", Array("A^B".utf8), length: 0xFFF0),       // 2-byte length
            Self.element(0x0009, 0x0010, "OB", [0, 0, 0, 0], length: 0x7FFF_FFF0),     // 4-byte length
            // an item longer than its (defined-length) sequence
            Self.element(0x0008, 0x1115, "SQ", Self.le16(0xFFFE) + Self.le16(0xE000) + Self.le32(0x1000_0000), length: 8),
        ]
        for lie in cases {
            let error = try #require(Self.refusal(Self.part10(Self.identity + lie + Self.uids)))
            #expect(error.exceptionType == DICOMFileError.elementLengthViolation, "\(error)")
        }
        let undefinedOB = Self.element(0x0009, 0x0010, "OB", [0, 0], length: Self.undefined)
        let error = try #require(Self.refusal(Self.part10(Self.identity + undefinedOB + Self.uids)))
        #expect(error.message.contains("undefined length"))
    }

    @Test func aDeflatedDatasetIsInflatedNoFurtherThanTheLimit() throws {
        let bytes = try DICOMReaderTests.bytes(DICOMReaderTests.samples.appendingPathComponent("sc-01-rgb-deflated.dcm"))
        #expect(Self.refusal(bytes) == nil)
        let error = try #require(Self.refusal(bytes, limits: DICOMLimits(maxInflatedBytes: 1024)))
        #expect(error.exceptionType == DICOMFileError.limitExceeded && error.message.contains("inflates past the limit"), "\(error)")
    }

    // ---- no recursion a file can drive --------------------------------------------------------------------------------

    @Test func nestingIsBoundedAt64Levels() throws {
        #expect(Self.refusal(Self.nested(64)) == nil)
        let error = try #require(Self.refusal(Self.nested(65)))
        #expect(error.exceptionType == DICOMFileError.limitExceeded)
        #expect(error.message.contains("64 levels"))
        // 200,000 levels: refused by the iterative prescan, no stack involved.
        let deep = try #require(Self.refusal(Self.nested(200_000)))
        #expect(deep.message.contains("64 levels"))
    }

    @Test func aDocumentWith64LevelsRoundTripsThroughJSON() throws {
        let instance = try DICOMReader.read(Self.nested(64))
        let document = JSONValue.object([("DICOM", .object(instance.instance))])
        let reparsed = try JSONParser.parse(document.serialized())
        #expect(reparsed == document)
    }

    // ---- S4: the file-based entry point ---------------------------------------------------------------------------

    @Test func aRangeOfAFileReadsLikeTheBytes() throws {
        let file = Self.ct(rows: 64, columns: 64, frames: "3")
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hil-limits-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        // The Part 10 file sits between 1000 bytes of junk and a trailer that must not be read.
        let junk = [UInt8](repeating: 0xAB, count: 1000)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(junk + file + junk)))
        let fromBytes = try DICOMReader.read(file)
        let fromFile = try DICOMReader.read(path: path, offset: junk.count, length: file.count)
        #expect(fromFile.frames == fromBytes.frames)
        #expect(fromFile.instance.map(\.key) == fromBytes.instance.map(\.key))
        let source = try DICOMReader.open(path: path, offset: junk.count, length: file.count)
        #expect(source.frameCount == 3)
        #expect(try source.frame(2) == fromBytes.frames[2])
        // A range outside the file, and a file that lies, are customer errors too.
        #expect(throws: DICOMFileError.self) { try DICOMReader.read(path: path, offset: 10_000, length: 10) }
        let liar = Self.ct(frames: "2147483647", pixels: [UInt8](repeating: 0, count: 128))
        #expect(FileManager.default.createFile(atPath: path, contents: Data(liar)))
        #expect(throws: DICOMFileError.self) { try DICOMReader.read(path: path) }
    }

    static func peakRSS() -> Int {
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let line = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") } ?? ""
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    /// S4 measured: a valid 1 GiB file (2048 frames of 512 × 512 × 16 bits) read frame by frame from disk. Opt-in
    /// (`HIL_LARGE_DICOM=1 swift test --filter aOneGiBFile`): it writes 1 GiB to $TMPDIR.
    @Test(.enabled(if: ProcessInfo.processInfo.environment["HIL_LARGE_DICOM"] != nil))
    func aOneGiBFileIsReadFrameByFrame() throws {
        let rows: UInt16 = 512, columns: UInt16 = 512, frames = 2048
        let frameBytes = Int(rows) * Int(columns) * 2
        var module = Self.us(0x0028, 0x0002, 1) + Self.text(0x0028, 0x0004, "CS", "MONOCHROME2")
            + Self.text(0x0028, 0x0008, "IS", String(frames)) + Self.us(0x0028, 0x0010, rows) + Self.us(0x0028, 0x0011, columns)
            + Self.us(0x0028, 0x0100, 16) + Self.us(0x0028, 0x0101, 16) + Self.us(0x0028, 0x0102, 15) + Self.us(0x0028, 0x0103, 0)
        module += Self.le16(0x7FE0) + Self.le16(0x0010) + Array("OW".utf8) + [0, 0] + Self.le32(UInt32(frameBytes * frames))
        let head = Self.part10(Self.identity + Self.uids + module)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("hil-1gib-\(UUID().uuidString).dcm").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data(head)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        handle.seekToEndOfFile()
        var pixels = Data((0..<frameBytes).map { UInt8(truncatingIfNeeded: $0 &* 7) })
        for frame in 0..<frames {
            pixels[0] = UInt8(truncatingIfNeeded: frame)  // each frame tells which it is
            handle.write(pixels)
        }
        try handle.close()
        let before = Self.peakRSS()
        let started = Date()
        let source = try DICOMReader.open(path: path)
        #expect(source.frameCount == frames)
        var checked = 0
        for index in stride(from: 0, to: frames, by: 1) {
            let frame = try source.frame(index)
            #expect(frame.samples.count == frameBytes)
            if frame.samples[0] == UInt8(truncatingIfNeeded: index) { checked += 1 }
        }
        let grown = Self.peakRSS() - before
        print("1 GiB file, \(frames) frames read from disk in \(Date().timeIntervalSince(started)) s; peak RSS grew \(grown >> 20) MiB")
        #expect(checked == frames)
        #expect(grown < 64 << 20)
    }
}
