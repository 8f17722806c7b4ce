import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The bytes of a request body, in memory (a buffered Content-Length body) or in a temporary file (a streamed
/// body, seam S2's `Request.bodyFile`). The multipart parser works on offsets into it, so a 1 GB body is walked
/// in windows and each part read alone, never the whole body at once.
final class MultipartSource {
    private enum Storage {
        case bytes([UInt8])
        case file(Int32)
    }

    private let storage: Storage
    let count: Int
    /// The file's path, for a body in a file.
    let path: String?
    /// How much of a file is read at a time while searching.
    static let window = 1 << 20

    init(bytes: [UInt8]) {
        storage = .bytes(bytes)
        count = bytes.count
        path = nil
    }

    /// Opens `path` read-only; nil when it cannot be opened.
    init?(path: String, count: Int) {
        // > open(2): "returns the new file descriptor … On error, -1 is returned, and errno is set".
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        storage = .file(fd)
        self.count = count
        self.path = path
    }

    deinit {
        if case .file(let fd) = storage { close(fd) }
    }

    /// The bytes in `range` (clamped to the body).
    func read(_ range: Range<Int>) -> [UInt8] {
        let range = range.clamped(to: 0..<count)
        switch storage {
        case .bytes(let bytes):
            return Array(bytes[range])
        case .file(let fd):
            var out = [UInt8](repeating: 0, count: range.count)
            var done = 0
            while done < range.count {
                // > pread(2): "reads up to count bytes from file descriptor fd at offset offset … returns the
                // number of bytes read"; 0 at end of file, -1 with errno on error.
                let got = out.withUnsafeMutableBytes { raw in
                    pread(fd, raw.baseAddress! + done, range.count - done, off_t(range.lowerBound + done))
                }
                if got < 0 && errno == EINTR { continue }
                if got <= 0 { return Array(out[..<done]) }
                done += got
            }
            return out
        }
    }

    /// The import pool's source for the bytes in `range`: the file range itself for a body in a file (the worker
    /// reads it, the server never holds it), a copy of the bytes otherwise.
    func importSource(_ range: Range<Int>) -> ImportSource {
        if let path { return .file(path: path, offset: range.lowerBound, length: range.count) }
        return .bytes(read(range))
    }

    /// Whether the body holds `needle` at `offset`.
    func matches(_ needle: [UInt8], at offset: Int) -> Bool {
        guard offset >= 0, offset + needle.count <= count else { return false }
        switch storage {
        case .bytes(let bytes):
            return bytes[offset..<offset + needle.count].elementsEqual(needle)
        case .file:
            return read(offset..<offset + needle.count) == needle
        }
    }

    /// The offset of the first `needle` at or after `start`, if any.
    func find(_ needle: [UInt8], from start: Int) -> Int? {
        guard !needle.isEmpty, start >= 0, start + needle.count <= count else { return nil }
        switch storage {
        case .bytes(let bytes):
            return bytes.withUnsafeBytes { raw in Self.search(raw, needle, from: start).map { $0 } }
        case .file:
            // Windows overlap by needle.count - 1 bytes, so a needle across a window edge is still found.
            var offset = start
            while offset + needle.count <= count {
                let chunk = read(offset..<min(count, offset + Self.window + needle.count - 1))
                guard chunk.count >= needle.count else { return nil }
                if let found = chunk.withUnsafeBytes({ Self.search($0, needle, from: 0) }) { return offset + found }
                offset += chunk.count - needle.count + 1
            }
            return nil
        }
    }

    /// The first offset of `needle` in `bytes` (nil: none, or an empty needle); the one byte search of the DICOMweb
    /// room (multipart bodies read and written).
    static func firstIndex(of needle: [UInt8], in bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBytes { search($0, needle, from: 0) }
    }

    private static func search(_ haystack: UnsafeRawBufferPointer, _ needle: [UInt8], from start: Int) -> Int? {
        guard let base = haystack.baseAddress, !needle.isEmpty, start + needle.count <= haystack.count else { return nil }
        let last = haystack.count - needle.count  // the last offset a match can start at
        return needle.withUnsafeBytes { pattern -> Int? in
            var offset = start
            while offset <= last {
                // > memchr(3): "returns a pointer to the matching byte or NULL if the character does not occur".
                guard let hit = memchr(base + offset, Int32(needle[0]), last - offset + 1) else { return nil }
                let at = base.distance(to: UnsafeRawPointer(hit))
                // > memcmp(3): "returns … zero if the first n bytes of s1 and s2 are equal".
                if memcmp(base + at, pattern.baseAddress!, needle.count) == 0 { return at }
                offset = at + 1
            }
            return nil
        }
    }
}

@available(*, unavailable)
extension MultipartSource: Sendable {}
