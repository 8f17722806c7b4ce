import CZlib

public struct GzipError: Error, CustomStringConvertible {
    public let code: Int32
    public let operation: String
    public var description: String { "zlib \(operation) failed with code \(code)" }
}

/// gzip (RFC 1952) through the system zlib: GetImageSetMetadata answers a gzip body.
public enum Gzip {
    /// `bytes` compressed into one gzip member.
    public static func compress(_ bytes: [UInt8], level: Int32 = 6) throws -> [UInt8] {
        var stream = z_stream()
        // > deflateInit2 … windowBits can also be greater than 15 for optional gzip encoding. Add 16 to
        // > windowBits to write a simple gzip header and trailer around the compressed data.
        // https://zlib.net/manual.html
        try check(hil_deflate_init_gzip(&stream, level), "deflateInit2")
        defer { deflateEnd(&stream) }
        let bound = Int(deflateBound(&stream, uLong(bytes.count))) + 32
        var output = [UInt8](repeating: 0, count: bound)
        var input = bytes
        let code: Int32 = input.withUnsafeMutableBufferPointer { inBuffer in
            output.withUnsafeMutableBufferPointer { outBuffer in
                stream.next_in = inBuffer.baseAddress
                stream.avail_in = uInt(inBuffer.count)
                stream.next_out = outBuffer.baseAddress
                stream.avail_out = uInt(outBuffer.count)
                return deflate(&stream, Z_FINISH)
            }
        }
        guard code == Z_STREAM_END else { throw GzipError(code: code, operation: "deflate") }
        output.removeSubrange(Int(stream.total_out)...)
        return output
    }

    /// The content of a gzip member (for tests and fixtures).
    public static func decompress(_ bytes: [UInt8]) throws -> [UInt8] {
        var stream = z_stream()
        try check(hil_inflate_init_gzip(&stream), "inflateInit2")
        defer { inflateEnd(&stream) }
        var input = bytes
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        try input.withUnsafeMutableBufferPointer { inBuffer in
            stream.next_in = inBuffer.baseAddress
            stream.avail_in = uInt(inBuffer.count)
            while true {
                let (code, produced): (Int32, Int) = chunk.withUnsafeMutableBufferPointer { outBuffer in
                    stream.next_out = outBuffer.baseAddress
                    stream.avail_out = uInt(outBuffer.count)
                    let code = inflate(&stream, Z_NO_FLUSH)
                    return (code, outBuffer.count - Int(stream.avail_out))
                }
                result.append(contentsOf: chunk[..<produced])
                if code == Z_STREAM_END { return }
                guard code == Z_OK else { throw GzipError(code: code, operation: "inflate") }
            }
        }
        return result
    }

    private static func check(_ code: Int32, _ operation: String) throws {
        guard code == Z_OK else { throw GzipError(code: code, operation: operation) }
    }
}
