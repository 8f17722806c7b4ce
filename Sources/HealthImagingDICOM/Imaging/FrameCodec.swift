import CImaging
import CZlib

/// Encodes frames the way the datastore stores them and computes the facts their metadata entry lists.
///
/// - HTJ2K (the default storage format): OpenJPH, reversible 5/3 wavelet, RPCL progression, 64×64 code blocks,
///   enough decompositions for the base resolution to be at most 64 pixels wide and high (DICOM PS3.5 §10.18 for
///   1.2.840.10008.1.2.4.202), a TLM marker segment; served as a JPH file (ISO/IEC 15444-15 boxes), `image/jph`.
/// - JPEG_2000_LOSSLESS: OpenJPEG, the same parameters; served as a bare codestream, `image/j2c`.
/// - A frame whose source was lossy-compressed keeps its original bytes and transfer syntax.
///
/// Checksums: the CRC-32 of each resolution as a decoder gives it. The full-resolution entry is the CRC-32 of the
/// source samples, which the reversible (lossless) encode reproduces exactly; each reduced level is computed
/// from the samples with the same wavelet (and colour transform) as the encoders use (`cim_reduced_resolutions`).
public enum FrameCodec {
    public static let htj2kRPCL = "1.2.840.10008.1.2.4.202"
    public static let jpeg2000Lossless = "1.2.840.10008.1.2.4.90"
    static let blockSize: UInt32 = 64
    static let baseResolutionLimit = 64

    /// The stored form of `frame` in a datastore whose `losslessStorageFormat` is `format`.
    public static func store(_ frame: PixelFrame, format: LosslessStorageFormat) throws -> StoredFrame {
        let (minimum, maximum) = try range(frame)
        if let original = frame.original {
            return StoredFrame(
                data: original.data, transferSyntaxUID: original.transferSyntaxUID,
                contentType: contentType(transferSyntaxUID: original.transferSyntaxUID),
                checksums: [ResolutionChecksum(width: frame.columns, height: frame.rows, checksum: crc32(frame.samples))],
                minPixelValue: minimum, maxPixelValue: maximum)
        }
        let levels = decompositionLevels(width: frame.columns, height: frame.rows)
        let codestream = try encode(frame, format: format, levels: levels, minimum: minimum, maximum: maximum)
        var checksums: [ResolutionChecksum] = []
        checksums.reserveCapacity(levels + 1)
        checksums = try reducedChecksums(frame, levels: levels, precision: precision(frame, minimum: minimum, maximum: maximum))
        // Full resolution: the reversible encode gives back the source samples exactly, so their CRC-32 is the
        // decoded image's (FrameCodecTests decodes every level with OpenJPEG and compares; a full decode here cost
        // a third of the store).
        checksums.append(ResolutionChecksum(width: frame.columns, height: frame.rows, checksum: crc32(frame.samples)))
        switch format {
        case .htj2k:
            let file = JPH.wrap(
                codestream: JPH.insertTLM(codestream), width: frame.columns, height: frame.rows,
                components: frame.samplesPerPixel, precision: precision(frame, minimum: minimum, maximum: maximum),
                isSigned: frame.isSigned)
            return StoredFrame(data: file, transferSyntaxUID: htj2kRPCL, contentType: "image/jph", checksums: checksums,
                               minPixelValue: minimum, maxPixelValue: maximum)
        case .jpeg2000Lossless:
            return StoredFrame(data: codestream, transferSyntaxUID: jpeg2000Lossless, contentType: "image/j2c",
                               checksums: checksums, minPixelValue: minimum, maxPixelValue: maximum)
        }
    }

    /// GetImageFrame's Content-Type for a stored transfer syntax (API reference, GetImageFrame `contentType`);
    /// syntaxes the reference does not list are documented choices in docs/import-and-frames.md.
    public static func contentType(transferSyntaxUID: String?) -> String {
        switch transferSyntaxUID {
        case nil, "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.201": "image/jph"
        case "1.2.840.10008.1.2.4.203": "image/jphc"
        case "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91": "image/j2c"
        case "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70":
            "image/jpeg"
        case "1.2.840.10008.1.2.4.100", "1.2.840.10008.1.2.4.100.1", "1.2.840.10008.1.2.4.101", "1.2.840.10008.1.2.4.101.1":
            "video/mpeg"
        case "1.2.840.10008.1.2.4.107", "1.2.840.10008.1.2.4.108": "video/H256"
        case let uid? where uid.hasPrefix("1.2.840.10008.1.2.4.10"): "video/mp4"
        default: "application/octet-stream"
        }
    }

    /// Wavelet levels: the fewest for the base resolution to be at most 64×64, but never more than the smaller
    /// dimension allows (every level keeps at least one pixel), 32 at most.
    public static func decompositionLevels(width: Int, height: Int) -> Int {
        var levels = 0
        while levels < 32 && (((width - 1) >> levels) + 1 > baseResolutionLimit || ((height - 1) >> levels) + 1 > baseResolutionLimit) {
            guard min(width, height) >> (levels + 1) >= 1 else { break }
            levels += 1
        }
        return levels
    }

    /// The checksums of the reduced resolutions of a frame, smallest first, from its samples: each level's LL band
    /// of the reversible 5/3 wavelet (after the reversible colour transform for colour, undone afterwards), which
    /// is what decoding the codestream at that reduction gives (FrameCodecTests decodes every level with OpenJPEG
    /// and compares). Decoding the three reductions of a 512×512 frame with OpenJPH took 0.76 ms, a tenth of an
    /// import worker's time per frame.
    static func reducedChecksums(_ frame: PixelFrame, levels: Int, precision: Int) throws -> [ResolutionChecksum] {
        guard levels > 0 else { return [] }
        var info = cim_frame_info(
            width: UInt32(frame.columns), height: UInt32(frame.rows), components: UInt32(frame.samplesPerPixel),
            precision: UInt32(precision),
            bytes_per_sample: UInt32(frame.bytesPerSample), is_signed: frame.isSigned ? 1 : 0)
        let bands = try call { out, error, size in
            frame.samples.withUnsafeBufferPointer { samples in
                cim_reduced_resolutions(samples.baseAddress, samples.count, &info, UInt32(levels), out, error, size)
            }
        }.bytes
        var checksums: [ResolutionChecksum] = []
        var width = frame.columns, height = frame.rows, offset = 0
        for _ in 0..<levels {
            width = (width + 1) / 2
            height = (height + 1) / 2
            let count = width * height * frame.samplesPerPixel * frame.bytesPerSample
            let checksum = bands.withUnsafeBufferPointer { buffer in
                UInt32(CZlib.crc32(0, buffer.baseAddress.map { $0 + offset }, uInt(count)))
            }
            checksums.append(ResolutionChecksum(width: width, height: height, checksum: checksum))
            offset += count
        }
        return checksums.reversed()
    }

    /// CRC-32 (zlib) of `bytes`.
    public static func crc32(_ bytes: [UInt8]) -> UInt32 {
        bytes.withUnsafeBufferPointer { buffer in
            UInt32(CZlib.crc32(0, buffer.baseAddress, uInt(buffer.count)))
        }
    }

    // MARK: codecs

    /// The frame's bare codestream in `format`.
    public static func encode(_ frame: PixelFrame, format: LosslessStorageFormat, levels: Int? = nil) throws -> [UInt8] {
        let (minimum, maximum) = try range(frame)
        return try encode(frame, format: format, levels: levels ?? decompositionLevels(width: frame.columns, height: frame.rows),
                          minimum: minimum, maximum: maximum)
    }

    static func encode(_ frame: PixelFrame, format: LosslessStorageFormat, levels: Int, minimum: Int, maximum: Int) throws -> [UInt8] {
        var info = cim_frame_info(
            width: UInt32(frame.columns), height: UInt32(frame.rows), components: UInt32(frame.samplesPerPixel),
            precision: UInt32(precision(frame, minimum: minimum, maximum: maximum)),
            bytes_per_sample: UInt32(frame.bytesPerSample), is_signed: frame.isSigned ? 1 : 0)
        var parameters = cim_encode_params(decompositions: UInt32(levels), block_width: blockSize, block_height: blockSize,
                                           color_transform: 1)
        return try call { out, error, size in
            frame.samples.withUnsafeBufferPointer { samples in
                switch format {
                case .htj2k: cim_encode_htj2k(samples.baseAddress, samples.count, &info, &parameters, out, error, size)
                case .jpeg2000Lossless: cim_encode_j2k(samples.baseAddress, samples.count, &info, &parameters, out, error, size)
                }
            }
        }.bytes
    }

    /// A decoded image: its size and samples in the checksum layout.
    public struct Decoded: Sendable {
        public var width: Int
        public var height: Int
        public var components: Int
        public var precision: Int
        public var isSigned: Bool
        public var bytesPerSample: Int
        public var samples: [UInt8]
    }

    /// Decodes a bare codestream (HTJ2K with OpenJPH, JPEG 2000 with OpenJPEG) or a JP2/JPH file (OpenJPEG),
    /// skipping `reduce` resolutions.
    public static func decode(_ data: [UInt8], format: LosslessStorageFormat?, reduce: Int, bytesPerSample: Int) throws -> Decoded {
        var info = cim_frame_info()
        let result = try call { out, error, size in
            data.withUnsafeBufferPointer { bytes in
                if format == .htj2k {
                    cim_decode_htj2k(bytes.baseAddress, bytes.count, UInt32(reduce), UInt32(bytesPerSample), &info, out, error, size)
                } else {
                    cim_decode_openjpeg(bytes.baseAddress, bytes.count, UInt32(reduce), UInt32(bytesPerSample), &info, out, error, size)
                }
            }
        }
        return Decoded(width: Int(info.width), height: Int(info.height), components: Int(info.components),
                       precision: Int(info.precision), isSigned: info.is_signed != 0, bytesPerSample: Int(info.bytes_per_sample),
                       samples: result.bytes)
    }

    /// Runs one CImaging call: takes ownership of the buffer it fills, turns a code + message into an error.
    private static func call(
        _ body: (UnsafeMutablePointer<cim_buffer>, UnsafeMutablePointer<CChar>, Int) -> Int32
    ) throws -> (bytes: [UInt8], unused: Void) {
        var buffer = cim_buffer(data: nil, size: 0)
        var message = [CChar](repeating: 0, count: 512)
        let code = message.withUnsafeMutableBufferPointer { body(&buffer, $0.baseAddress!, $0.count) }
        // > every cim_buffer a function fills holds memory allocated with malloc by this library; the caller owns it
        defer { cim_buffer_free(&buffer) }
        guard code == CIM_OK else {
            let text = message.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
            throw FrameCodecError(code: Int(code), message: text)
        }
        guard let data = buffer.data else { return ([], ()) }
        return (Array(UnsafeBufferPointer(start: data, count: buffer.size)), ())
    }

    /// The bytes of a valid frame in the same format whose pixels differ from `frame`'s (a block of samples
    /// inverted): what the control plane's CORRUPT_FRAME outcome serves, so that a client's decode succeeds and
    /// its checksum comparison fails. Formats the emulator does not encode get a few bytes flipped instead.
    public static func corrupted(_ frame: StoredFrame) -> [UInt8] {
        let format: LosslessStorageFormat? = switch frame.transferSyntaxUID {
        case htj2kRPCL: .htj2k
        case jpeg2000Lossless: .jpeg2000Lossless
        default: nil
        }
        if let format, let bytes = try? recode(frame, format: format) { return bytes }
        var bytes = frame.data
        let start = bytes.count / 2
        for index in start..<min(bytes.count - 2, start + 16) where index >= 0 { bytes[index] ^= 0x5A }
        return bytes
    }

    private static func recode(_ frame: StoredFrame, format: LosslessStorageFormat) throws -> [UInt8] {
        let codestream = format == .htj2k ? JPH.codestream(in: frame.data).map(Array.init) ?? frame.data : frame.data
        let decoded = try decode(codestream, format: format, reduce: 0, bytesPerSample: 0)
        var samples = decoded.samples
        let maximum = (1 << decoded.precision) - 1
        let rows = min(decoded.height, max(1, decoded.height / 4)), columns = min(decoded.width, max(1, decoded.width / 4))
        for y in 0..<rows {
            for x in 0..<(columns * decoded.components) {
                let index = (y * decoded.width * decoded.components + x) * decoded.bytesPerSample
                if decoded.bytesPerSample == 1 {
                    samples[index] = UInt8(truncatingIfNeeded: Int(samples[index]) ^ maximum)
                } else {
                    let value = (Int(samples[index]) | Int(samples[index + 1]) << 8) ^ maximum
                    samples[index] = UInt8(truncatingIfNeeded: value)
                    samples[index + 1] = UInt8(truncatingIfNeeded: value >> 8)
                }
            }
        }
        let altered = PixelFrame(columns: decoded.width, rows: decoded.height, samplesPerPixel: decoded.components,
                                 bitsAllocated: decoded.bytesPerSample * 8, bitsStored: decoded.precision,
                                 isSigned: decoded.isSigned, samples: samples)
        let levels = decompositionLevels(width: decoded.width, height: decoded.height)
        let encoded = try encode(altered, format: format, levels: levels)
        guard format == .htj2k else { return encoded }
        return JPH.wrap(codestream: JPH.insertTLM(encoded), width: decoded.width, height: decoded.height,
                        components: decoded.components, precision: decoded.precision, isSigned: decoded.isSigned)
    }

    // MARK: samples

    /// Smallest and largest sample value (colour samples included).
    public static func range(_ frame: PixelFrame) throws -> (Int, Int) {
        let count = frame.columns * frame.rows * frame.samplesPerPixel
        guard frame.columns > 0, frame.rows > 0, [1, 3].contains(frame.samplesPerPixel), frame.bytesPerSample <= 2,
            frame.samples.count == count * frame.bytesPerSample
        else {
            throw FrameCodecError(code: Int(CIM_E_ARGUMENT), message:
                "unsupported frame: \(frame.columns)×\(frame.rows), \(frame.samplesPerPixel) samples of \(frame.bitsAllocated) bits, \(frame.samples.count) bytes")
        }
        return frame.samples.withUnsafeBytes { bytes in
            switch (frame.bytesPerSample, frame.isSigned) {
            case (1, false): extremes(bytes, as: UInt8.self)
            case (1, true): extremes(bytes, as: Int8.self)
            case (_, false): extremes(bytes, as: UInt16.self)
            case (_, true): extremes(bytes, as: Int16.self)
            }
        }
    }

    /// The smallest and largest of `bytes` read as little-endian `T`s: one loop per sample type, in the type's own
    /// width, which the compiler vectorizes (it was a tenth of an import worker's time per frame when each sample
    /// went through `Int` with the type decided per sample).
    private static func extremes<T: FixedWidthInteger>(_ bytes: UnsafeRawBufferPointer, as _: T.Type) -> (Int, Int) {
        var minimum = T.max, maximum = T.min
        let count = bytes.count / MemoryLayout<T>.size
        if let base = bytes.baseAddress, Int(bitPattern: base) % MemoryLayout<T>.alignment == 0 {
            UnsafeRawBufferPointer(start: base, count: count * MemoryLayout<T>.size).withMemoryRebound(to: T.self) { values in
                for value in values {
                    let value = T(littleEndian: value)
                    minimum = min(minimum, value)
                    maximum = max(maximum, value)
                }
            }
        } else {
            for index in 0..<count {
                let value = T(littleEndian: bytes.loadUnaligned(fromByteOffset: index * MemoryLayout<T>.size, as: T.self))
                minimum = min(minimum, value)
                maximum = max(maximum, value)
            }
        }
        return (Int(minimum), Int(maximum))
    }

    /// The codestream's component precision: BitsStored when every sample fits in it, else BitsAllocated.
    static func precision(_ frame: PixelFrame, minimum: Int, maximum: Int) -> Int {
        let allocated = frame.bytesPerSample * 8
        let stored = min(max(frame.bitsStored, 1), allocated)
        let fits = frame.isSigned
            ? minimum >= -(1 << (stored - 1)) && maximum <= (1 << (stored - 1)) - 1
            : minimum >= 0 && maximum <= (1 << stored) - 1
        return fits ? stored : allocated
    }
}

/// A codec failure: CImaging's code and message.
public struct FrameCodecError: Error, CustomStringConvertible, Sendable {
    public var code: Int
    public var message: String
    public var description: String { "frame codec error \(code): \(message)" }
}
