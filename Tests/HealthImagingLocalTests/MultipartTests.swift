import Foundation
import Testing
@testable import HealthImagingLocal

@Suite struct MultipartTests {
    static func body(_ parts: [[UInt8]], boundary: String = "B", leadingCRLF: Bool = true, finalCRLF: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        for (index, part) in parts.enumerated() {
            if leadingCRLF || index > 0 { out += Array("\r\n".utf8) }
            out += Array("--\(boundary)\r\nContent-Type: application/dicom\r\n\r\n".utf8) + part
        }
        out += Array("\r\n--\(boundary)--".utf8)
        if finalCRLF { out += Array("\r\n".utf8) }
        return out
    }

    static func contents(_ source: MultipartSource, _ parts: [Multipart.Part]) -> [[UInt8]] {
        parts.map { source.read($0.range) }
    }

    @Test func mediaTypesWithQuotedAndUnquotedParameters() {
        let quoted = MediaType.parse(#"Multipart/Related; type="application/dicom"; boundary="a;b c""#)
        #expect(quoted?.name == "multipart/related")
        #expect(quoted?.parameter("TYPE") == "application/dicom")
        #expect(quoted?.parameter("boundary") == "a;b c")
        let bare = MediaType.parse("multipart/related;boundary=XyZ ; type=application/dicom")
        #expect(bare?.parameter("boundary") == "XyZ")
        #expect(bare?.parameter("type") == "application/dicom")
        #expect(MediaType.parse("dicom") == nil)
        #expect(MediaType.parse("") == nil)
    }

    @Test func dicomwebClientFramingSplitsIntoParts() throws {
        let parts: [[UInt8]] = [Array("first".utf8), Array("sec\r\n--Bx ond".utf8), []]
        let source = MultipartSource(bytes: Self.body(parts))
        let found = try Multipart.parts(source, boundary: "B")
        #expect(Self.contents(source, found) == parts)
        #expect(found[0].header("content-type") == "application/dicom")
    }

    @Test func preambleEpilogueAndHeaderlessParts() throws {
        let text = "preamble\r\n--B \t\r\n\r\nA\r\n--B\r\nX-One: 1\r\n\r\nBB\r\n--B--\r\nepilogue"
        let source = MultipartSource(bytes: Array(text.utf8))
        let found = try Multipart.parts(source, boundary: "B")
        #expect(Self.contents(source, found) == [Array("A".utf8), Array("BB".utf8)])
        #expect(found[0].headers.isEmpty)
        #expect(found[1].header("X-One") == "1")
    }

    @Test func badFramingIsAnError() {
        for text in ["nothing", "--B\r\n\r\nunterminated", "--B\r\nno-empty-line", "--B\r\n\r\nA\r\n--B", "--Bjunk\r\n"] {
            #expect(throws: Multipart.FramingError.self, "\(text)") {
                try Multipart.parts(MultipartSource(bytes: Array(text.utf8)), boundary: "B")
            }
        }
        #expect(throws: Multipart.FramingError.self) { try Multipart.parts(MultipartSource(bytes: []), boundary: "") }
    }

    /// A body in a file, bigger than the search window, with delimiters across window edges.
    @Test func aFileBodyIsSplitTheSameWay() throws {
        var parts: [[UInt8]] = []
        for size in [MultipartSource.window - 40, 3, MultipartSource.window + 7, 0, 1000] {
            parts.append((0..<size).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) | 0x80 })
        }
        let bytes = Self.body(parts, boundary: "0f3cf5c0-70e0-41ef-baef-c6f9f65ec3e1")
        let path = NSTemporaryDirectory() + "multipart-\(UUID().uuidString)"
        FileManager.default.createFile(atPath: path, contents: Data(bytes))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let file = try #require(MultipartSource(path: path, count: bytes.count))
        let inMemory = MultipartSource(bytes: bytes)
        let fromFile = try Multipart.parts(file, boundary: "0f3cf5c0-70e0-41ef-baef-c6f9f65ec3e1")
        let fromMemory = try Multipart.parts(inMemory, boundary: "0f3cf5c0-70e0-41ef-baef-c6f9f65ec3e1")
        #expect(fromFile.map(\.range) == fromMemory.map(\.range))
        #expect(Self.contents(file, fromFile) == parts)
    }

    @Test func part10MetaNamesTheInstance() {
        var bytes = [UInt8](repeating: 0, count: 128) + Array("DICM".utf8)
        func element(_ element: UInt16, _ vr: String, _ value: String) -> [UInt8] {
            var v = Array(value.utf8)
            if v.count % 2 == 1 { v.append(0) }
            return [0x02, 0x00, UInt8(element & 0xFF), UInt8(element >> 8)] + Array(vr.utf8) + [UInt8(v.count & 0xFF), UInt8(v.count >> 8)] + v
        }
        bytes += [0x02, 0x00, 0x01, 0x00] + Array("OB".utf8) + [0, 0, 2, 0, 0, 0, 0, 1]
        bytes += element(2, "UI", "1.2.840.10008.5.1.4.1.1.2") + element(3, "UI", "1.2.3")
        bytes += [0x08, 0x00, 0x16, 0x00]
        #expect(Part10Meta.read(bytes) == Part10Meta(sopClassUID: "1.2.840.10008.5.1.4.1.1.2", sopInstanceUID: "1.2.3"))
        #expect(Part10Meta.read(Array("short".utf8)) == Part10Meta())
    }
}
