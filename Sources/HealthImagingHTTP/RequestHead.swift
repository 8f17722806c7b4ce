/// The framing rules a request head must meet before the server reads it as a request (RFC 9112, strictly):
/// one request line `METHOD SP target SP HTTP/1.x`, header lines `name: value` with a token name and no
/// whitespace before the colon, no obsolete line folding, at most one Content-Length value (repeats must be
/// equal), no Transfer-Encoding (except `chunked` on a streamed route), and a body within the limit. The
/// connection reads every body itself (`Verdict.stream`), as the head says. A head that breaks one is refused whole —
/// its body is never read and nothing after it on the connection is read as a request — so no request can
/// hide inside another one's body.
public struct RequestHead: Sendable {
    /// What the server accepts on one connection.
    public struct Limits: Sendable {
        public var maxURILength = 16 * 1024
        public var maxHeaderBytes = 64 * 1024
        public var maxBodyBytes = 16 * 1024 * 1024
        /// How long a client may take to send a whole request head, and how long an idle keep-alive
        /// connection stays open (libevent's read/write timeout).
        public var headerTimeoutSeconds = 30.0
        /// How long a client may take to send a whole body, from the end of its head.
        public var bodyTimeoutSeconds = 60.0

        public init() {}

        /// The most bytes a head may take before it is refused unread (the application's own limits
        /// answer 414 / 431 with the precise wording below this).
        public var maxHeadBytes: Int { maxURILength + maxHeaderBytes + 8 * 1024 }
    }

    /// The methods the routes use; any other is answered 501 before its body is read.
    public static let allowedMethods: [String] = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]

    /// The method's name when the routes use it (one of `allowedMethods`, compared byte by byte).
    static func knownMethod(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) -> String? {
        allowedMethods.first { equals(head, range, $0) }
    }

    /// Whether the bytes in `range` are `literal` (ASCII), optionally ignoring ASCII case (`literal` then
    /// lowercase).
    static func equals(_ head: UnsafeRawBufferPointer, _ range: Range<Int>, _ literal: StaticString,
                       ignoringCase: Bool = false) -> Bool {
        guard range.count == literal.utf8CodeUnitCount else { return false }
        let bytes = literal.utf8Start
        for offset in 0..<range.count {
            var byte = head[range.lowerBound + offset]
            if ignoringCase, byte >= 0x41, byte <= 0x5A { byte |= 0x20 }
            if byte != bytes[offset] { return false }
        }
        return true
    }

    private static func equals(_ head: UnsafeRawBufferPointer, _ range: Range<Int>, _ text: String) -> Bool {
        range.count == text.utf8.count && zip(range, text.utf8).allSatisfy { head[$0] == $1 }
    }

    public enum Verdict: Equatable, Sendable {
        /// A request without a body: hand the head on (as `rewritten` when it had to change: HTTP/1.0 is
        /// passed on as 1.1 with its connection semantics spelled out, an absolute-form target in origin form).
        case pass(rewritten: [UInt8]?, closeAfter: Bool)
        /// A request with a body: read the body as `stream` says (into memory, or into a file for a route
        /// `HTTPServer.streamsBody` names), then hand on its `head`.
        case stream(Stream)
        /// Answer this error, read nothing more from the connection, and close it.
        case refuse(HTTPRefusal)
    }

    /// How a streamed body arrives, and the head its request is made from once it has.
    public struct Stream: Equatable, Sendable {
        public enum Framing: Equatable, Sendable {
            case length(Int)
            case chunked
        }
        public typealias HeadParts = (head: [UInt8], framingHeaders: [Header])
        public var framing: Framing
        /// The most body bytes accepted (the route's limit).
        public var limit: Int
        /// Whether the body goes to a temporary file (a streamed route) or into memory.
        public var toFile: Bool
        /// The head to hand on once the body is read, without its final empty line: the request line (as
        /// HTTP/1.1) and header lines, less the framing headers (Content-Length, Transfer-Encoding, Expect), plus
        /// `Content-Length: 0`.
        public var head: [UInt8]
        /// The framing headers taken out of `head`, given back to the application with the request.
        public var framingHeaders: [Header]
        /// The client waits for `100 Continue` before sending the body.
        public var expectsContinue: Bool
        public var closeAfter: Bool
    }

    public struct Header: Equatable, Sendable {
        public var name: String
        public var value: String
    }

    /// Which requests stream their body to a file: given the method and the path (without the query, still
    /// percent-encoded), the body limit in bytes, or nil for an ordinary body held in memory.
    public typealias StreamsBody = (_ method: String, _ path: String) -> Int?

    /// Inspects one complete head: the bytes up to and including the empty line that ends it.
    public static func inspect(_ head: UnsafeRawBufferPointer, limits: Limits, streams: StreamsBody? = nil) -> Verdict {
        var lines: [Range<Int>] = []
        lines.reserveCapacity(16)
        var start = 0
        for index in 0..<head.count where head[index] == 0x0A {
            var end = index
            if end > start, head[end - 1] == 0x0D { end -= 1 }
            lines.append(start..<end)
            start = index + 1
        }
        guard lines.count >= 2, lines.last!.isEmpty else { return .refuse(bad("incomplete request head")) }
        lines.removeLast()

        // Request line.
        let requestLine = lines[0]
        if requestLine.count > limits.maxURILength + 32 {
            return .refuse(HTTPRefusal(.uriTooLong, "The request URI is longer than \(limits.maxURILength) bytes"))
        }
        // METHOD SP target SP version: exactly two spaces, three non-empty parts (no array of parts is made).
        guard let space1 = requestLine.first(where: { head[$0] == 0x20 }),
              let space2 = (space1 + 1..<requestLine.upperBound).first(where: { head[$0] == 0x20 }),
              !(space2 + 1..<requestLine.upperBound).contains(where: { head[$0] == 0x20 }),
              space1 > requestLine.lowerBound, space2 > space1 + 1, space2 + 1 < requestLine.upperBound else {
            return .refuse(bad("malformed request line \"\(printable(head, requestLine))\"; expected METHOD /path HTTP/1.1"))
        }
        let parts = [requestLine.lowerBound..<space1, space1 + 1..<space2, space2 + 1..<requestLine.upperBound]
        let target = parts[1]
        guard parts[0].allSatisfy({ isTokenByte(head[$0]) }) else {
            return .refuse(bad("malformed request method \"\(printable(head, parts[0]))\""))
        }
        let http11 = equals(head, parts[2], "HTTP/1.1")
        guard http11 || equals(head, parts[2], "HTTP/1.0") else {
            return .refuse(bad("unsupported protocol version \"\(printable(head, parts[2]))\"; use HTTP/1.1"))
        }
        guard target.allSatisfy({ (0x21...0x7E).contains(head[$0]) }) else {
            return .refuse(bad("the request target contains a byte that is not printable ASCII"))
        }
        guard let method = knownMethod(head, parts[0]) else {
            return .refuse(HTTPRefusal(.notImplemented, "The method \(printable(head, parts[0])) is not supported; the API uses GET, POST, PUT, DELETE, PATCH (and HEAD)"))
        }
        let version = http11 ? "HTTP/1.1" : "HTTP/1.0"
        let first = head[target.lowerBound]
        let second = target.count > 1 ? head[target.lowerBound + 1] : 0
        if first == UInt8(ascii: "/") && second == UInt8(ascii: "/") {
            return .refuse(HTTPRefusal(.notFound, "No operation matches \(method) \(printable(head, target))"))
        }
        if first != UInt8(ascii: "/") && !startsWithHTTPScheme(head, target) {
            return .refuse(bad("the request target must be a path starting with /"))
        }

        // Header lines.
        var contentLength: Int?
        var transferEncoding: Range<Int>?
        var expectsContinue = false
        /// Header lines a streamed body's head leaves out (framing).
        var framingLines: [(line: Range<Int>, name: Range<Int>, value: Range<Int>)] = []
        var closeRequested = false
        var keepAliveRequested = false
        var headerBytes = 0
        for line in lines.dropFirst() {
            headerBytes += line.count + 2
            if headerBytes > limits.maxHeaderBytes + 4 * 1024 {
                return .refuse(HTTPRefusal(.headersTooLarge, "The request headers are larger than \(limits.maxHeaderBytes) bytes"))
            }
            guard let firstByte = line.first.map({ head[$0] }), firstByte != 0x20, firstByte != 0x09 else {
                return .refuse(bad("a header line starts with whitespace (obsolete line folding is not accepted)"))
            }
            guard let colon = line.first(where: { head[$0] == UInt8(ascii: ":") }) else {
                return .refuse(bad("malformed header line \"\(printable(head, line))\" (no colon)"))
            }
            let name = line.lowerBound..<colon
            guard !name.isEmpty, name.allSatisfy({ isTokenByte(head[$0]) }) else {
                return .refuse(bad("malformed header name \"\(printable(head, name))\" (no whitespace is allowed before the colon)"))
            }
            let value = trimmed(head, (colon + 1)..<line.upperBound)
            guard value.allSatisfy({ head[$0] == 0x09 || head[$0] >= 0x20 && head[$0] != 0x7F }) else {
                return .refuse(bad("the value of header \(printable(head, name)) contains a control character"))
            }
            // Header names compared byte by byte, ignoring ASCII case (no lowercased copies).
            switch name.count {
            case 14 where equals(head, name, "content-length", ignoringCase: true):
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ (0x30...0x39).contains(head[$0]) }),
                      let length = Int(String(decoding: UnsafeRawBufferPointer(rebasing: head[value]), as: UTF8.self)) else {
                    return .refuse(bad("invalid Content-Length \"\(printable(head, value))\"; expected digits only"))
                }
                if let contentLength, contentLength != length {
                    return .refuse(bad("conflicting Content-Length headers (\(contentLength) and \(length))"))
                }
                contentLength = length
                framingLines.append((line, name, value))
            case 17 where equals(head, name, "transfer-encoding", ignoringCase: true):
                if transferEncoding != nil { transferEncoding = line.lowerBound..<line.lowerBound }  // repeated: never plain "chunked"
                else { transferEncoding = value }
                framingLines.append((line, name, value))
            case 10 where equals(head, name, "connection", ignoringCase: true):
                var tokenStart = value.lowerBound
                for index in value.lowerBound...value.upperBound where index == value.upperBound || head[index] == UInt8(ascii: ",") {
                    let option = trimmed(head, tokenStart..<index)
                    if equals(head, option, "close", ignoringCase: true) { closeRequested = true }
                    if equals(head, option, "keep-alive", ignoringCase: true) { keepAliveRequested = true }
                    tokenStart = index + 1
                }
            case 6 where equals(head, name, "expect", ignoringCase: true):
                guard equals(head, value, "100-continue", ignoringCase: true) else {
                    return .refuse(bad("unsupported expectation \"\(printable(head, value))\"; only 100-continue is understood"))
                }
                expectsContinue = true
                framingLines.append((line, name, value))
            default:
                break
            }
        }
        if transferEncoding != nil && contentLength != nil {
            return .refuse(bad("both Transfer-Encoding and Content-Length are given"))
        }
        let closeAfter = closeRequested || (version == "HTTP/1.0" && !keepAliveRequested)
        /// The head a body's request is made from: without the framing headers (given back apart), and
        /// `Content-Length: 0`.
        func bodylessHead() -> Stream.HeadParts {
            var rewritten: [UInt8] = []
            rewritten.reserveCapacity(head.count + 24)
            appendRequestLine(&rewritten, head, method: parts[0], target: target)
            for line in lines.dropFirst() where !framingLines.contains(where: { $0.line == line }) {
                rewritten.append(contentsOf: head[line])
                rewritten.append(contentsOf: [0x0D, 0x0A])
            }
            if closeAfter && !closeRequested { rewritten.append(contentsOf: "Connection: close\r\n".utf8) }
            rewritten.append(contentsOf: "Content-Length: 0\r\n".utf8)
            let headers = framingLines.map {
                Header(name: String(decoding: UnsafeRawBufferPointer(rebasing: head[$0.name]), as: UTF8.self),
                       value: String(decoding: UnsafeRawBufferPointer(rebasing: head[$0.value]), as: UTF8.self))
            }
            return (rewritten, headers)
        }

        // A streamed route: the body (Content-Length or chunked) goes to a file, within the route's limit.
        if let streams, transferEncoding != nil || (contentLength ?? 0) > 0,
           let limit = streams(method, originPath(head, target)) {
            let framing: Stream.Framing
            if let transferEncoding {
                // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
                guard version == "HTTP/1.1" else { return .refuse(bad("Transfer-Encoding is not defined for HTTP/1.0")) }
                guard lowercased(head, transferEncoding) == "chunked" else {
                    return .refuse(HTTPRefusal(.notImplemented, "Transfer-Encoding \"\(printable(head, transferEncoding))\" is not supported; send chunked or a Content-Length"))
                }
                framing = .chunked
            } else {
                let length = contentLength ?? 0
                if length > limit {
                    return .refuse(HTTPRefusal(.payloadTooLarge, "The request body is larger than \(limit) bytes"))
                }
                framing = .length(length)
            }
            let (rewritten, headers) = bodylessHead()
            return .stream(Stream(framing: framing, limit: limit, toFile: true, head: rewritten, framingHeaders: headers,
                                  expectsContinue: expectsContinue, closeAfter: closeAfter))
        }
        if transferEncoding != nil {
            return .refuse(HTTPRefusal(.notImplemented, "Transfer-Encoding is not supported; send the body with a Content-Length"))
        }
        let bodyLength = contentLength ?? 0
        if method == "HEAD" && bodyLength > 0 {
            return .refuse(bad("a HEAD request cannot carry a body"))
        }
        if bodyLength > limits.maxBodyBytes {
            return .refuse(HTTPRefusal(.payloadTooLarge, "The request body is larger than \(limits.maxBodyBytes) bytes"))
        }
        // Any other body is read by the connection into one array of its exact size (never held twice, nor in
        // half-filled buffer chains), then handed to the server with its head.
        if bodyLength > 0 {
            let (rewritten, headers) = bodylessHead()
            return .stream(Stream(framing: .length(bodyLength), limit: limits.maxBodyBytes, toFile: false, head: rewritten,
                                  framingHeaders: headers, expectsContinue: expectsContinue, closeAfter: closeAfter))
        }

        // HTTP/1.0 is handed on as 1.1 (the answer is 1.1, as RFC 9110 §6.2 recommends), closing after the
        // answer unless the client asked to keep the connection.
        // An absolute-form target (`http://host/path`, RFC 9112 §3.2.2) is handed on in origin form: the Host
        // never routes.
        let absolute = head[target.lowerBound] != UInt8(ascii: "/")
        guard version == "HTTP/1.0" || absolute else { return .pass(rewritten: nil, closeAfter: closeRequested) }
        var rewritten: [UInt8] = []
        rewritten.reserveCapacity(head.count + 24)
        appendRequestLine(&rewritten, head, method: parts[0], target: target)
        for line in lines.dropFirst() {
            rewritten.append(contentsOf: head[line])
            rewritten.append(contentsOf: [0x0D, 0x0A])
        }
        if closeAfter && !closeRequested { rewritten.append(contentsOf: "Connection: close\r\n".utf8) }
        rewritten.append(contentsOf: [0x0D, 0x0A])
        return .pass(rewritten: rewritten, closeAfter: closeAfter)
    }

    private static func bad(_ message: String) -> HTTPRefusal { HTTPRefusal(.badRequest, "Malformed HTTP request: \(message)") }

    /// RFC 9110 `tchar`.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
            UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
            UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
        default: false
        }
    }

    private static func trimmed(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var lower = range.lowerBound
        var upper = range.upperBound
        while lower < upper, head[lower] == 0x20 || head[lower] == 0x09 { lower += 1 }
        while upper > lower, head[upper - 1] == 0x20 || head[upper - 1] == 0x09 { upper -= 1 }
        return lower..<upper
    }

    private static func lowercased(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        String(decoding: UnsafeRawBufferPointer(rebasing: head[range]), as: UTF8.self).lowercased()
    }

    /// Where the origin form (path and query) of a request target starts: the target itself, or after the
    /// scheme and authority of an absolute-form target (`http://authority/path?query`); nil when an absolute
    /// target has no path (`http://host`, `http://host?q`), which means `/`.
    static func originStart(_ head: UnsafeRawBufferPointer, _ target: Range<Int>) -> Int? {
        guard head[target.lowerBound] != UInt8(ascii: "/") else { return target.lowerBound }
        var slashes = 0
        for index in target {
            if head[index] == UInt8(ascii: "?") && slashes >= 2 { return nil }
            if head[index] == UInt8(ascii: "/") {
                slashes += 1
                if slashes == 3 { return index }
            }
        }
        return nil
    }

    /// The path of a request target (origin or absolute form), without the query.
    static func originPath(_ head: UnsafeRawBufferPointer, _ target: Range<Int>) -> String {
        guard let start = originStart(head, target) else { return "/" }
        var end = start
        while end < target.upperBound, head[end] != UInt8(ascii: "?") { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: head[start..<end]), as: UTF8.self)
    }

    /// `METHOD SP origin-form SP HTTP/1.1 CRLF`.
    private static func appendRequestLine(_ out: inout [UInt8], _ head: UnsafeRawBufferPointer, method: Range<Int>,
                                          target: Range<Int>) {
        out.append(contentsOf: head[method])
        out.append(0x20)
        if let start = originStart(head, target) {
            out.append(contentsOf: head[start..<target.upperBound])
        } else {
            out.append(UInt8(ascii: "/"))
            // `http://host?q`: the query follows the empty path.
            if let mark = target.first(where: { head[$0] == UInt8(ascii: "?") }) {
                out.append(contentsOf: head[mark..<target.upperBound])
            }
        }
        out.append(contentsOf: " HTTP/1.1\r\n".utf8)
    }

    private static func startsWithHTTPScheme(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        let text = lowercased(head, range.lowerBound..<min(range.upperBound, range.lowerBound + 8))
        return text.hasPrefix("http://") || text.hasPrefix("https://")
    }

    /// Up to 100 bytes of the range, printable ASCII only (for messages, which travel in a header).
    static func printable(_ head: UnsafeRawBufferPointer, _ range: Range<Int>) -> String {
        let shown = range.prefix(100).map { (0x20...0x7E).contains(head[$0]) ? head[$0] : UInt8(ascii: "?") }
        return String(decoding: shown, as: UTF8.self) + (range.count > 100 ? "…" : "")
    }
}

extension StringProtocol {
    /// Without leading and trailing spaces and tabs (HTTP's optional white space).
    package var trimmingSpaces: Substring {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}
