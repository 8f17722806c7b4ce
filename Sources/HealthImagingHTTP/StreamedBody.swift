import CLibevent
#if canImport(Glibc)
import Glibc
#endif

/// One request body being read by its connection: into a temporary file as it arrives (a route
/// `HTTPServer.streamsBody` names), or into one array of the body's exact size. `Content-Length` bytes, or
/// (to a file only) a `Transfer-Encoding: chunked` body decoded on the way (RFC 9112 §7.1: chunk extensions
/// are skipped, trailer fields read and dropped). File bytes go from the connection's input buffer to the
/// file with `evbuffer_write_atmost`, never through Swift memory, so a 1 GB body costs no more memory than a
/// socket read; memory bytes are copied once, out of libevent's 4 KiB read chains (which are then freed)
/// into the array.
///
/// Not Sendable: owned by its connection, on the loop thread.
final class StreamedBody {
    enum Step {
        /// Everything available was consumed; the body is not complete.
        case needMore
        /// The body is complete and its file closed.
        case done
        case refuse(HTTPRefusal)
    }

    private enum Chunked {
        case size
        case data(remaining: Int)
        case dataEnd
        case trailers(bytes: Int)
    }

    /// A finished body, as the server hands it to the request.
    enum Finished {
        case file(BodyFile)
        case memory([UInt8])
    }

    let stream: RequestHead.Stream
    let path: String
    private var fd: Int32
    private var bytes: [UInt8] = []
    private(set) var count = 0
    /// Bytes of a `Content-Length` body still to come.
    private var remaining: Int
    private var chunked = Chunked.size
    let deadline: ContinuousClock.Instant
    private let maxLineBytes: Int

    /// The longest chunk-size line (with its extensions) accepted.
    static let maxChunkLineBytes = 4096

    private init(stream: RequestHead.Stream, path: String, fd: Int32, deadline: ContinuousClock.Instant, maxTrailerBytes: Int) {
        self.stream = stream
        self.path = path
        self.fd = fd
        self.deadline = deadline
        maxLineBytes = maxTrailerBytes
        if case .length(let length) = stream.framing { remaining = length } else { remaining = 0 }
        if !stream.toFile { bytes.reserveCapacity(remaining) }
    }

    /// Opens a new temporary file in `directory` for the body.
    static func open(_ stream: RequestHead.Stream, directory: String, deadline: ContinuousClock.Instant,
                     maxTrailerBytes: Int) -> Result<StreamedBody, HTTPRefusal> {
        guard stream.toFile else {
            return .success(StreamedBody(stream: stream, path: "", fd: -1, deadline: deadline, maxTrailerBytes: maxTrailerBytes))
        }
        var template = Array((directory.hasSuffix("/") ? directory : directory + "/").utf8) + Array("hil-body-XXXXXX".utf8) + [0]
        // > mkstemp: generates a unique temporary filename from template, creates and opens the file, and returns
        // > an open file descriptor for the file. ... The file is created with permissions 0600.  (mkstemp(3))
        let fd = template.withUnsafeMutableBufferPointer { buffer in
            buffer.withMemoryRebound(to: CChar.self) { mkstemp($0.baseAddress!) }
        }
        guard fd >= 0 else {
            return .failure(HTTPRefusal(.internalServer, "Cannot store the request body in \(directory): \(String(cString: strerror(errno)))"))
        }
        let path = String(decoding: template.dropLast(), as: UTF8.self)
        return .success(StreamedBody(stream: stream, path: path, fd: fd, deadline: deadline, maxTrailerBytes: maxTrailerBytes))
    }

    /// The finished body, handed to the request (once).
    func finish() -> Finished {
        guard stream.toFile else {
            defer { bytes = [] }
            return .memory(bytes)
        }
        return .file(BodyFile(path: path, count: count))
    }

    /// Gives up: closes and removes the file.
    func abandon() {
        guard stream.toFile else { return }
        closeFile()
        unlink(path)
    }

    private func closeFile() {
        if fd >= 0 { close(fd) }
        fd = -1
    }

    /// Consumes what `source` holds of the body.
    func consume(_ source: OpaquePointer) -> Step {
        switch stream.framing {
        case .length:
            let count = min(remaining, evbuffer_get_length(source))
            if let error = write(source, count) { return .refuse(error) }
            remaining -= count
            guard remaining == 0 else { return .needMore }
            closeFile()
            return .done
        case .chunked:
            return consumeChunked(source)
        }
    }

    private func consumeChunked(_ source: OpaquePointer) -> Step {
        while true {
            switch chunked {
            case .size:
                guard let line = readLine(source, max: Self.maxChunkLineBytes) else {
                    if evbuffer_get_length(source) > Self.maxChunkLineBytes {
                        return .refuse(bad("a chunk-size line is longer than \(Self.maxChunkLineBytes) bytes"))
                    }
                    return .needMore
                }
                guard let size = Self.chunkSize(line) else {
                    return .refuse(bad("malformed chunk size \"\(Self.printable(line))\""))
                }
                if size > stream.limit - count {
                    return .refuse(HTTPRefusal(.payloadTooLarge, "The request body is larger than \(stream.limit) bytes"))
                }
                chunked = size == 0 ? .trailers(bytes: 0) : .data(remaining: size)
            case .data(let left):
                let available = evbuffer_get_length(source)
                guard available > 0 else { return .needMore }
                let count = min(left, available)
                if let error = write(source, count) { return .refuse(error) }
                chunked = count == left ? .dataEnd : .data(remaining: left - count)
            case .dataEnd:
                guard let line = readLine(source, max: 2) else {
                    if evbuffer_get_length(source) >= 2 { return .refuse(bad("chunk data is longer than its size")) }
                    return .needMore
                }
                guard line.isEmpty else { return .refuse(bad("chunk data is longer than its size")) }
                chunked = .size
            case .trailers(let bytes):
                guard let line = readLine(source, max: maxLineBytes - bytes) else {
                    if evbuffer_get_length(source) > maxLineBytes - bytes {
                        return .refuse(HTTPRefusal(.headersTooLarge, "The request trailers are larger than \(maxLineBytes) bytes"))
                    }
                    return .needMore
                }
                if line.isEmpty {
                    closeFile()
                    return .done
                }
                guard Self.isTrailerField(line) else {
                    return .refuse(bad("malformed trailer field \"\(Self.printable(line))\""))
                }
                chunked = .trailers(bytes: bytes + line.count + 2)
            }
        }
    }

    /// Moves `count` bytes from `source` to the file (or the array).
    private func write(_ source: OpaquePointer, _ count: Int) -> HTTPRefusal? {
        guard stream.toFile else {
            var left = count
            var vector = iovec()  // evbuffer_iovec is `#define evbuffer_iovec iovec` (event2/buffer.h)
            while left > 0 {
                // > evbuffer_peek: Function to peek at data inside an evbuffer without removing it or copying it
                // > out.  (buffer.h; here the first chain, which is then drained and freed)
                guard evbuffer_peek(source, -1, nil, &vector, 1) > 0, let base = vector.iov_base else { break }
                let piece = min(left, vector.iov_len)
                bytes.append(contentsOf: UnsafeRawBufferPointer(start: base, count: piece))
                evbuffer_drain(source, piece)
                left -= piece
                self.count += piece
            }
            return nil
        }
        var left = count
        while left > 0 {
            // > evbuffer_write_atmost: Write some of the contents of an evbuffer to a file descriptor. The
            // > evbuffer will be drained after the bytes have been successfully written.  Returns the number of
            // > bytes written, or -1 if an error occurred  (buffer.h)
            let written = evbuffer_write_atmost(source, fd, left)
            if written < 0 {
                if errno == EINTR { continue }
                return HTTPRefusal(.internalServer, "Cannot store the request body: \(String(cString: strerror(errno)))")
            }
            left -= Int(written)
            self.count += Int(written)
        }
        return nil
    }

    /// One line (without its CRLF or LF) once `source` holds a whole one within `max` bytes; nil otherwise.
    private func readLine(_ source: OpaquePointer, max: Int) -> [UInt8]? {
        var eolLength = 0
        let eol = evbuffer_search_eol(source, nil, &eolLength, EVBUFFER_EOL_CRLF)
        guard eol.pos >= 0, eol.pos <= max else { return nil }
        var line = [UInt8](repeating: 0, count: eol.pos)
        if eol.pos > 0 { _ = line.withUnsafeMutableBytes { evbuffer_remove(source, $0.baseAddress, eol.pos) } }
        evbuffer_drain(source, eolLength)
        return line
    }

    private func bad(_ message: String) -> HTTPRefusal { HTTPRefusal(.badRequest, "Malformed chunked body: \(message)") }

    /// `chunk-size [ chunk-ext ]` (RFC 9112 §7.1): hex digits, then optional `BWS ; name [= value]` pairs.
    static func chunkSize(_ line: [UInt8]) -> Int? {
        var size = 0
        var index = 0
        while index < line.count, let digit = hexValue(line[index]) {
            guard index < 15 else { return nil }  // 16+ hex digits: beyond any limit (and Int)
            size = size << 4 | Int(digit)
            index += 1
        }
        guard index > 0 else { return nil }
        var rest = line[index...].drop { $0 == 0x20 || $0 == 0x09 }
        guard !rest.isEmpty else { return size }
        guard rest.first == UInt8(ascii: ";") else { return nil }
        rest = rest.dropFirst()
        // Extensions are skipped; they must be visible text (no control characters).
        guard rest.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }),
              let name = rest.drop(while: { $0 == 0x20 || $0 == 0x09 }).first, RequestHead.isTokenByte(name) else { return nil }
        return size
    }

    private static func isTrailerField(_ line: [UInt8]) -> Bool {
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return false }
        return line[..<colon].allSatisfy(RequestHead.isTokenByte)
            && line[(colon + 1)...].allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    private static func printable(_ line: [UInt8]) -> String {
        let shown = line.prefix(100).map { (0x20...0x7E).contains($0) ? $0 : UInt8(ascii: "?") }
        return String(decoding: shown, as: UTF8.self) + (line.count > 100 ? "…" : "")
    }

    deinit { closeFile() }
}

@available(*, unavailable)
extension StreamedBody: Sendable {}
