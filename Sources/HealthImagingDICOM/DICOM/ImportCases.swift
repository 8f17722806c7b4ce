/// Import cases the service stores without transcoding to the datastore's lossless format (docs/import.md,
/// "Import cases"):
/// - binary segmentations (BitsAllocated 1) keep Explicit VR Little Endian — the "Supported transfer syntaxes" table
///   stars 1.2.840.10008.1.2.1 "for binary segmentations only" — as packed bits, one frame per stored frame;
/// - pixel data the frame codecs refuse (32-bit samples, sample counts or geometry OpenJPH / OpenJPEG do not take)
///   is kept in its original encoding with warning 0xB100 TRANSCODING_EXCEPTION ("the pixel data is stored as a
///   blob") instead of refusing the file.
package enum ImportCases {
    static let explicitLittleEndian = "1.2.840.10008.1.2.1"
    static let implicitLittleEndian = "1.2.840.10008.1.2"
    static let explicitBigEndian = "1.2.840.10008.1.2.2"
    static let deflatedExplicitLittleEndian = "1.2.840.10008.1.2.1.99"

    /// Marks a frame of a binary segmentation to be stored as it is in Explicit VR Little Endian: its samples
    /// (0/1, one byte each, as decoded) packed back into bits, least significant bit first, the frame starting on
    /// a byte boundary (PS3.5 §8.1.1). Other frames are returned as they are.
    static func keepBinarySegmentation(_ frame: PixelFrame) -> PixelFrame {
        guard frame.bitsAllocated == 1 else { return frame }
        var kept = frame
        kept.original = EncodedFrame(transferSyntaxUID: explicitLittleEndian, data: packBits(frame.samples))
        return kept
    }

    static func packBits(_ samples: [UInt8]) -> [UInt8] {
        var packed = [UInt8](repeating: 0, count: (samples.count + 7) / 8)
        for (index, sample) in samples.enumerated() where sample & 1 != 0 {
            packed[index >> 3] |= 1 << UInt8(index & 7)
        }
        return packed
    }

    /// The instance's frames stored untranscoded, after the codec refused one (`error`, at `frameIndex`), with the
    /// warning saying so. Frames come one at a time (`frame(i)`: decoded, for its geometry and checksum; `encoded(i)`:
    /// the source's encoded bytes of an encapsulated frame), so that a frame-at-a-time reader holds one frame only.
    /// Encapsulated sources keep each frame's encoded bytes; native sources keep each frame's samples in the source's
    /// byte order under its transfer syntax (a deflated source's frames are stored inflated, as Explicit VR Little
    /// Endian).
    package static func untranscoded(transferSyntax syntax: String, frameCount: Int, refused error: FrameCodecError, frameIndex: Int,
                             frame: (Int) throws(DICOMFileError) -> PixelFrame,
                             encoded: (Int) throws(DICOMFileError) -> [UInt8]) throws(DICOMFileError)
        -> (frames: [StoredFrame], warning: ImportWarning) {
        let native = [implicitLittleEndian, explicitLittleEndian, explicitBigEndian, deflatedExplicitLittleEndian].contains(syntax)
        let stored = syntax == deflatedExplicitLittleEndian ? explicitLittleEndian : syntax
        var frames: [StoredFrame] = []
        frames.reserveCapacity(frameCount)
        for index in 0..<frameCount {
            let decoded = try frame(index)
            let data: [UInt8]
            if !native {
                data = try encoded(index)
            } else if decoded.bitsAllocated == 1 {
                data = packBits(decoded.samples)
            } else if syntax == explicitBigEndian {
                data = byteSwapped(decoded.samples, size: decoded.bytesPerSample)
            } else {
                data = decoded.samples
            }
            frames.append(StoredFrame(
                data: data, transferSyntaxUID: stored, contentType: FrameCodec.contentType(transferSyntaxUID: stored),
                checksums: [ResolutionChecksum(width: decoded.columns, height: decoded.rows, checksum: FrameCodec.crc32(decoded.samples))],
                minPixelValue: 0, maxPixelValue: 0))
        }
        let warning = ImportWarning(
            code: ImportWarning.transcodingException, type: "TRANSCODING_EXCEPTION",
            message: "Frame \(frameIndex + 1) could not be transcoded (\(error.message)); the pixel data is stored in its original transfer syntax \(syntax)")
        return (frames, warning)
    }

    static func byteSwapped(_ samples: [UInt8], size: Int) -> [UInt8] {
        guard size > 1 else { return samples }
        var swapped = samples
        var start = 0
        while start + size <= swapped.count {
            swapped[start..<start + size].reverse()
            start += size
        }
        return swapped
    }

    /// The instance's DICOM attributes with Warning Reason (0008,1196), as the service keeps a warning per instance
    /// (searchable with SearchDICOMInstances): a US value, so a JSON number.
    package static func withWarningReason(_ instance: DICOMInstance, _ warning: ImportWarning) -> DICOMInstance {
        var marked = instance
        marked.instance.removeAll { $0.key == "WarningReason" }
        marked.instance.append(("WarningReason", .number(String(warning.code))))
        return marked
    }
}

/// One warning of an imported file, as `success.ndjson` / `WARNING/warning.ndjson` write it
/// (`{"warning_reason_code", "type", "message"}`; codes from the guide's "HealthImaging warning codes" table).
public struct ImportWarning: Sendable, Equatable {
    /// The decimal Warning Reason (0xB100 = 45312).
    public var code: Int
    public var type: String
    public var message: String

    package init(code: Int, type: String, message: String) {
        self.code = code
        self.type = type
        self.message = message
    }

    public static let transcodingException = 0xB100
    public static let unsupportedTransferSyntax = 0xB120
}
