import Foundation
import HealthImagingHTTP

/// A `multipart/related` body (RFC 2046 §5.1.1, RFC 2387) split into parts, each an offset range of the body
/// plus its headers. Lenient where real STOW clients differ, strict where the framing would be ambiguous:
/// - the first delimiter may open the body or follow a preamble ending in CRLF (dicomweb-client starts with
///   `\r\n--boundary`);
/// - transport padding (spaces, tabs) after a delimiter is skipped;
/// - a part may have no headers (an empty line right after the delimiter);
/// - the close delimiter `--boundary--` may end the body with or without CRLF, and an epilogue is ignored;
/// - a `\r\n--boundary` inside a part that is not followed by `--`, padding or CRLF is content, not a delimiter;
/// - no delimiter at all, a part without the empty line ending its headers, or a body that ends before the close
///   delimiter is a framing error (400).
enum Multipart {
    struct Part {
        var headers: [(name: String, value: String)]
        /// The part's content: offsets into the body.
        var range: Range<Int>

        func header(_ name: String) -> String? {
            headers.first { $0.name.caseInsensitiveCompare(name) }?.value
        }
    }

    struct FramingError: Error, Equatable {
        var message: String
    }

    /// The most bytes one part's headers may take.
    static let maxHeaderBytes = 16 * 1024
    static let crlf: [UInt8] = [0x0D, 0x0A]

    static func parts(_ body: MultipartSource, boundary: String) throws(FramingError) -> [Part] {
        guard !boundary.isEmpty, boundary.utf8.count <= 200 else {
            throw FramingError(message: "the multipart boundary must be 1 to 200 characters long")
        }
        let delimiter = Array("--\(boundary)".utf8)
        let delimiterAfterBreak = crlf + delimiter
        // The first delimiter.
        var position: Int
        if body.matches(delimiter, at: 0) {
            position = 0
        } else if let found = nextDelimiter(body, delimiterAfterBreak, from: 0) {
            position = found + 2
        } else {
            throw FramingError(message: "the body holds no multipart delimiter --\(boundary)")
        }
        var parts: [Part] = []
        while true {
            var cursor = position + delimiter.count
            if body.matches([0x2D, 0x2D], at: cursor) { return parts }  // close delimiter
            while cursor < body.count, let byte = body.read(cursor..<cursor + 1).first, byte == 0x20 || byte == 0x09 {
                cursor += 1
            }
            guard body.matches(crlf, at: cursor) else {
                throw FramingError(message: cursor >= body.count
                    ? "the body ends without the close delimiter --\(boundary)--"
                    : "a multipart delimiter is not followed by CRLF")
            }
            cursor += 2
            // Headers up to the empty line.
            let headers: [(name: String, value: String)]
            let contentStart: Int
            if body.matches(crlf, at: cursor) {
                headers = []
                contentStart = cursor + 2
            } else {
                let window = body.read(cursor..<min(body.count, cursor + maxHeaderBytes + 4))
                guard let end = MultipartSource.firstIndex(of: [0x0D, 0x0A, 0x0D, 0x0A], in: window) else {
                    throw FramingError(message: "part \(parts.count + 1) has no empty line ending its headers within \(maxHeaderBytes) bytes")
                }
                headers = try parseHeaders(window[..<end], part: parts.count + 1)
                contentStart = cursor + end + 4
            }
            guard let next = nextDelimiter(body, delimiterAfterBreak, from: contentStart - 2) else {
                throw FramingError(message: "part \(parts.count + 1) is not closed by a delimiter --\(boundary)")
            }
            // A part may be empty: the delimiter's CRLF is then the headers' last CRLF.
            parts.append(Part(headers: headers, range: contentStart..<max(contentStart, next)))
            position = next + 2
        }
    }

    /// The next `CRLF--boundary` at or after `start` that really is a delimiter: followed by `--`, padding or CRLF.
    private static func nextDelimiter(_ body: MultipartSource, _ needle: [UInt8], from start: Int) -> Int? {
        var from = start
        while let found = body.find(needle, from: from) {
            let after = found + needle.count
            let next = body.read(after..<min(body.count, after + 2))
            if next.isEmpty || next.first == 0x20 || next.first == 0x09 || next == crlf || next == [0x2D, 0x2D]
                || next == [0x0D] {
                return found
            }
            from = found + 1
        }
        return nil
    }

    private static func parseHeaders(_ block: ArraySlice<UInt8>, part: Int) throws(FramingError) -> [(name: String, value: String)] {
        var headers: [(name: String, value: String)] = []
        var lineStart = block.startIndex
        while lineStart < block.endIndex {
            var lineEnd = lineStart
            while lineEnd < block.endIndex && !(block[lineEnd] == 0x0D && lineEnd + 1 < block.endIndex && block[lineEnd + 1] == 0x0A) {
                lineEnd += 1
            }
            let line = block[lineStart..<lineEnd]
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex else {
                throw FramingError(message: "part \(part) has a header line without a name and colon")
            }
            let name = String(decoding: line[..<colon], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            let value = String(decoding: line[(colon + 1)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            headers.append((name, value))
            lineStart = min(block.endIndex, lineEnd + 2)
        }
        return headers
    }
}
