import Foundation
import HealthImagingJSON
import HealthImagingDICOM

/// A fixture image set's `frames` member: stored frames carried in the document, so that export → reset → load
/// keeps frames that cannot be regenerated (imported ones; synthetic frames are made again from the document).
///
///     "frames": [{"imageFrameId": "<[0-9a-z]{32}>", "storedTransferSyntaxUID": "1.2.840.10008.1.2.4.202",
///                 "contentType": "image/jph", "data": "<base64 of the GetImageFrame body>",
///                 "pixelDataChecksumFromBaseToFullResolution": [{"Width": 64, "Height": 64, "Checksum": 123}, …],
///                 "minPixelValue": 0, "maxPixelValue": 4095}]
extension Fixture {
    static let frameMembers = [
        "imageFrameId", "storedTransferSyntaxUID", "contentType", "data", "pixelDataChecksumFromBaseToFullResolution",
        "minPixelValue", "maxPixelValue",
    ]

    static func frames(_ reader: JSONReader) -> [(id: String, frame: StoredFrame)]? {
        guard let list = reader.elements() else { return nil }
        var result: [(id: String, frame: StoredFrame)] = []
        var seen: Set<String> = []
        for item in list {
            guard item.object(allowed: frameMembers) else { continue }
            let id = item.member("imageFrameId", required: true)?.string(resourceIdProblem)
            let syntax = item.member("storedTransferSyntaxUID", required: true)?.string {
                (1...64).contains($0.utf8.count) && $0.utf8.allSatisfy { (0x30...0x39).contains($0) || $0 == 0x2E }
                    ? nil : "must be a UID (digits and dots)"
            }
            let contentType = item.member("contentType")?.string { $0.isEmpty || $0.utf8.count > 128 ? "must be 1–128 characters" : nil }
            var data: [UInt8]?
            if let text = item.member("data", required: true)?.string() {
                if let decoded = Data(base64Encoded: text) { data = [UInt8](decoded) } else {
                    item.fail("is not base64", at: "\(item.path).data")
                }
            }
            var checksums: [ResolutionChecksum] = []
            for level in item.member("pixelDataChecksumFromBaseToFullResolution", required: true)?.elements() ?? [] {
                guard level.object(allowed: ["Width", "Height", "Checksum"]) else { continue }
                let width = level.member("Width", required: true)?.integer(range: 1...65535)
                let height = level.member("Height", required: true)?.integer(range: 1...65535)
                let checksum = level.member("Checksum", required: true)?.integer(range: 0...Int(UInt32.max))
                if let width, let height, let checksum {
                    checksums.append(ResolutionChecksum(width: width, height: height, checksum: UInt32(checksum)))
                }
            }
            let minimum = item.member("minPixelValue")?.integer(range: Int(Int32.min)...Int(UInt32.max)) ?? 0
            let maximum = item.member("maxPixelValue")?.integer(range: Int(Int32.min)...Int(UInt32.max)) ?? 0
            guard let id, let syntax, let data else { continue }
            if !seen.insert(id).inserted { item.fail("frame \(id) appears twice in this image set", at: "\(item.path).imageFrameId") }
            result.append((id, StoredFrame(
                data: data, transferSyntaxUID: syntax,
                contentType: contentType ?? FrameCodec.contentType(transferSyntaxUID: syntax), checksums: checksums,
                minPixelValue: minimum, maxPixelValue: maximum)))
        }
        return result
    }

    static func writeFrames(_ frames: [(id: String, frame: StoredFrame)], to json: inout JSONWriter) {
        guard !frames.isEmpty else { return }
        json.field("frames", array: { list in
            for (id, frame) in frames {
                list.object { item in
                    item.field("imageFrameId", id)
                    item.field("storedTransferSyntaxUID", frame.transferSyntaxUID)
                    item.field("contentType", frame.contentType)
                    item.field("data", Data(frame.data).base64EncodedString())
                    item.field("pixelDataChecksumFromBaseToFullResolution", array: { levels in
                        for level in frame.checksums {
                            levels.object { entry in
                                entry.field("Width", Int64(level.width))
                                entry.field("Height", Int64(level.height))
                                entry.field("Checksum", Int64(level.checksum))
                            }
                        }
                    })
                    item.field("minPixelValue", Int64(frame.minPixelValue))
                    item.field("maxPixelValue", Int64(frame.maxPixelValue))
                }
            }
        })
    }
}
