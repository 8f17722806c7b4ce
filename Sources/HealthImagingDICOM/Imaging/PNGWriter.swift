import CZlib

/// A minimal PNG encoder for the web view's frame previews: 8-bit greyscale or RGB, no interlace, filter 0 on
/// every row, one zlib-compressed IDAT (PNG spec, ISO/IEC 15948: signature, IHDR, IDAT, IEND, CRC-32 per chunk).
public enum PNGWriter {
    public struct Failure: Error, CustomStringConvertible {
        public var description: String

        package init(description: String) { self.description = description }
    }

    /// `pixels`: `height` rows of `width × channels` bytes (channels 1 = grey, 3 = RGB).
    public static func encode(width: Int, height: Int, channels: Int, pixels: [UInt8]) throws -> [UInt8] {
        guard width > 0, height > 0, channels == 1 || channels == 3, pixels.count == width * height * channels else {
            throw Failure(description: "cannot write a \(width)×\(height)×\(channels) PNG from \(pixels.count) bytes")
        }
        let stride = width * channels
        var raw = [UInt8](repeating: 0, count: (stride + 1) * height)
        for row in 0..<height {
            // byte 0 of each row: filter type 0 (None)
            raw.replaceSubrange((row * (stride + 1) + 1)..<((row + 1) * (stride + 1)), with: pixels[(row * stride)..<((row + 1) * stride)])
        }
        var compressedSize = compressBound(uLong(raw.count))
        var compressed = [UInt8](repeating: 0, count: Int(compressedSize))
        let code = compressed.withUnsafeMutableBufferPointer { out in
            raw.withUnsafeBufferPointer { input in
                compress2(out.baseAddress, &compressedSize, input.baseAddress, uLong(input.count), 6)
            }
        }
        guard code == Z_OK else { throw Failure(description: "zlib compress2 failed with \(code)") }
        compressed.removeSubrange(Int(compressedSize)...)

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        append32(&header, UInt32(width))
        append32(&header, UInt32(height))
        header += [8, channels == 1 ? 0 : 2, 0, 0, 0]  // bit depth 8; colour type grey/truecolour; deflate; filter 0; no interlace
        chunk(&png, "IHDR", header)
        chunk(&png, "IDAT", compressed)
        chunk(&png, "IEND", [])
        return png
    }

    private static func append32(_ out: inout [UInt8], _ value: UInt32) {
        out += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    private static func chunk(_ out: inout [UInt8], _ type: String, _ data: [UInt8]) {
        append32(&out, UInt32(data.count))
        let typed = Array(type.utf8) + data
        out += typed
        append32(&out, FrameCodec.crc32(typed))
    }
}
