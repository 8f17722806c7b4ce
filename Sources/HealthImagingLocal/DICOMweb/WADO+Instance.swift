import CDICOM
import Foundation
import HealthImagingJSON
import HealthImagingHTTP

/// GetDICOMInstance: a Part 10 file rebuilt with DCMTK from the instance's stored attributes and frames, in the
/// negotiated transfer syntax (native Explicit VR Little Endian by default, the stored encapsulated syntax for `*`).
extension WADO {
    static func instance(_ call: Call) throws(APIError) -> Response {
        let target = try target(call, instance: true)
        guard let row = try rows(call, target).first else { throw .notFound("No such instance") }
        let choice = try negotiate(MediaRange.parse(call.request.header("Accept")), stored: row.storedSyntax,
                                   asStoredOnly: row.asStoredOnly, single: "application/dicom")
        let frames = try storedFrames(call, row, numbers: Array(1..<row.frameIds.count + 1))
        let pixels = try frames.map { frame throws(APIError) in try transcode(frame, row: row, to: choice.syntax) }
        let file = try PartTen.write(attributes: attributes(row), vrs: row.instance["DICOMVRs"], frames: pixels,
                                     native: [DICOMweb.explicitLittleEndian, "1.2.840.10008.1.2"].contains(choice.syntax),
                                     bitsAllocated: Int(DICOMIndexRows.integer(row.dicom["BitsAllocated"]) ?? 16),
                                     transferSyntax: choice.syntax)
        if choice.multipart {
            return RelatedParts.response(parts: [file], type: "application/dicom", transferSyntax: choice.syntax)
        }
        return Response(status: 200, headers: [("Content-Type", "application/dicom; transfer-syntax=\(choice.syntax)")], body: file)
    }
}

/// Builds a Part 10 file through the CDICOM writer (include/cdicom_write.h).
enum PartTen {
    /// The file of `attributes` (document levels merged, in tag order) with `frames` as native Pixel Data
    /// (concatenated) or encapsulated (one fragment per frame).
    static func write(attributes: [DICOMAttribute], vrs: JSONValue?, frames: [[UInt8]], native: Bool, bitsAllocated: Int,
                      transferSyntax: String) throws(APIError) -> [UInt8] {
        // > hil_dicom_writer_new: the writer owns everything put into it; free with hil_dicom_writer_free.
        guard let writer = hil_dicom_writer_new() else { throw APIError(.internalServer, "out of memory") }
        defer { hil_dicom_writer_free(writer) }
        var error = hil_dicom_error()
        let utf8 = attributes.contains { $0.tag == 0x0008_0005 }
        do {
            for attribute in attributes {
                var attribute = attribute
                // The document's strings are UTF-8 whatever the source's character set was.
                if attribute.tag == 0x0008_0005, utf8 { attribute.value = .string("ISO_IR 192") }
                try put(attribute, vrs: vrs, writer: writer, error: &error)
            }
            if native {
                var all: [UInt8] = []
                all.reserveCapacity(frames.reduce(0) { $0 + $1.count })
                for frame in frames { all += frame }
                if !frames.isEmpty {
                    try check(all.withUnsafeBufferPointer {
                        hil_dicom_writer_native_pixels(writer, $0.baseAddress, $0.count, Int32(bitsAllocated), &error)
                    }, error)
                }
            } else {
                for frame in frames {
                    try check(frame.withUnsafeBufferPointer { hil_dicom_writer_add_frame(writer, $0.baseAddress, $0.count, &error) }, error)
                }
            }
            var out: UnsafeMutablePointer<UInt8>?
            var length = 0
            // > hil_dicom_writer_finish: "On success returns 0 and a caller-owned buffer (free with hil_dicom_free)".
            try check(hil_dicom_writer_finish(writer, transferSyntax, &out, &length, &error), error)
            defer { hil_dicom_free(out) }
            guard let out else { return [] }
            return Array(UnsafeBufferPointer(start: out, count: length))
        } catch let failure as APIError {
            throw failure
        } catch {
            throw APIError(.internalServer, "The instance could not be rebuilt: \(error)")
        }
    }

    private static func check(_ code: Int32, _ error: hil_dicom_error) throws {
        guard code == 0 else {
            var copy = error
            let message = withUnsafeBytes(of: &copy.message) { String(decoding: $0.prefix(while: { $0 != 0 }), as: UTF8.self) }
            throw APIError(.internalServer, "The instance could not be rebuilt: \(message)")
        }
    }

    private static func put(_ attribute: DICOMAttribute, vrs: JSONValue?, writer: OpaquePointer, error: inout hil_dicom_error) throws {
        let group = UInt16(attribute.tag >> 16), element = UInt16(attribute.tag & 0xFFFF)
        if attribute.vr == "SQ" {
            try check(hil_dicom_writer_begin_sequence(writer, group, element, &error), error)
            if case .array(let items) = attribute.value {
                for item in items {
                    try check(hil_dicom_writer_begin_item(writer, &error), error)
                    for nested in DICOMJSON.attributes(item, vrs: vrs) { try put(nested, vrs: vrs, writer: writer, error: &error) }
                    try check(hil_dicom_writer_end_item(writer, &error), error)
                }
            }
            try check(hil_dicom_writer_end_sequence(writer, &error), error)
            return
        }
        if DICOMJSON.binaryVRs.contains(attribute.vr) {
            var bytes: [UInt8] = []
            if case .string(let base64) = attribute.value, let data = Data(base64Encoded: base64) { bytes = [UInt8](data) }
            try check(bytes.withUnsafeBufferPointer {
                hil_dicom_writer_put_bytes(writer, group, element, attribute.vr, $0.baseAddress, $0.count, &error)
            }, error)
            return
        }
        let values: [JSONValue] = if case .array(let list) = attribute.value { list } else { [attribute.value] }
        let text = values.map { value -> String in
            switch value {
            case .string(let text): text
            case .number(let text): text
            case .bool(let flag): flag ? "1" : "0"
            case .object(let members): members.first { $0.key == "Alphabetic" }?.value.stringValue ?? ""
            default: ""
            }
        }.joined(separator: "\\")
        let bytes = Array(text.utf8)
        try check(bytes.withUnsafeBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) {
                hil_dicom_writer_put_text(writer, group, element, attribute.vr, $0.baseAddress, $0.count, &error)
            }
        }, error)
    }
}
