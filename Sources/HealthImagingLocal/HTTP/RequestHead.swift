/// The framing rules a request head must meet before libevent reads it as a request (RFC 9112, strictly):
/// one request line `METHOD SP target SP HTTP/1.x`, header lines `name: value` with a token name and no
/// whitespace before the colon, no obsolete line folding, at most one Content-Length value (repeats must be
/// equal), no Transfer-Encoding (except `chunked` on a streamed route), and a body within the limit. A head that breaks one is refused whole —
/// its body is never read and nothing after it on the connection is read as a request — so no request can
/// hide inside another one's body.
public struct RequestHead: Sendable {
    /// What the emulator accepts on one connection.
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
    public static let allowedMethods: Set<String> = ["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD"]

    public enum Verdict: Equatable, Sendable {
        /// Hand the head on (as `rewritten` when it had to change: HTTP/1.0 is passed on as 1.1 with its
        /// connection semantics spelled out), then `bodyLength` bytes of body.
        case pass(bodyLength: Int, rewritten: [UInt8]?, closeAfter: Bool)
        /// A route whose body is streamed to a file (`HTTPServer.streamsBody`): read the body as `stream`
        /// says, then hand on its `head`.
        case stream(Stream)
        /// Answer this error, read nothing more from the connection, and close it.
        case refuse(APIError)
    }

    /// How a streamed body arrives, and what evhttp is handed once it has.
    public struct Stream: Equatable, Sendable {
        public enum Framing: Equatable, Sendable {
            case length(Int)
            case chunked
        }
        public var framing: Framing
        /// The most body bytes accepted (the route's limit).
        public var limit: Int
        /// The head to hand on once the body is on disk, without its final empty line: the request line (as
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
            return .refuse(APIError(.uriTooLong, "The request URI is longer than \(limits.maxURILength) bytes"))
        }
        let parts = split(head, requestLine, on: 0x20)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else {
            return .refuse(bad("malformed request line \"\(printable(head, requestLine))\"; expected METHOD /path HTTP/1.1"))
        }
        let method = String(decoding: UnsafeRawBufferPointer(rebasing: head[parts[0]]), as: UTF8.self)
        let target = parts[1]
        let version = String(decoding: UnsafeRawBufferPointer(rebasing: head[parts[2]]), as: UTF8.self)
        guard parts[0].allSatisfy({ isTokenByte(head[$0]) }) else {
            return .refuse(bad("malformed request method \"\(printable(head, parts[0]))\""))
        }
        guard version == "HTTP/1.1" || version == "HTTP/1.0" else {
            return .refuse(bad("unsupported protocol version \"\(printable(head, parts[2]))\"; use HTTP/1.1"))
        }
        guard target.allSatisfy({ (0x21...0x7E).contains(head[$0]) }) else {
            return .refuse(bad("the request target contains a byte that is not printable ASCII"))
        }
        guard allowedMethods.contains(method) else {
            return .refuse(APIError(.notImplemented, "The method \(printable(head, parts[0])) is not supported; the API uses GET, POST, PUT, DELETE, PATCH (and HEAD)"))
        }
        let first = head[target.lowerBound]
        let second = target.count > 1 ? head[target.lowerBound + 1] : 0
        if first == UInt8(ascii: "/") && second == UInt8(ascii: "/") {
            return .refuse(APIError(.unknownOperation, "No operation matches \(method) \(printable(head, target))"))
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
                return .refuse(APIError(.headersTooLarge, "The request headers are larger than \(limits.maxHeaderBytes) bytes"))
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
            switch lowercased(head, name) {
            case "content-length":
                guard !value.isEmpty, value.count <= 18, value.allSatisfy({ (0x30...0x39).contains(head[$0]) }),
                      let length = Int(String(decoding: UnsafeRawBufferPointer(rebasing: head[value]), as: UTF8.self)) else {
                    return .refuse(bad("invalid Content-Length \"\(printable(head, value))\"; expected digits only"))
                }
                if let contentLength, contentLength != length {
                    return .refuse(bad("conflicting Content-Length headers (\(contentLength) and \(length))"))
                }
                contentLength = length
                framingLines.append((line, name, value))
            case "transfer-encoding":
                if transferEncoding != nil { transferEncoding = line.lowerBound..<line.lowerBound }  // repeated: never plain "chunked"
                else { transferEncoding = value }
                framingLines.append((line, name, value))
            case "connection":
                for token in lowercased(head, value).split(separator: ",") {
                    let option = token.trimmingSpaces
                    if option == "close" { closeRequested = true }
                    if option == "keep-alive" { keepAliveRequested = true }
                }
            case "expect":
                guard lowercased(head, value) == "100-continue" else {
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
        // A streamed route: the body (Content-Length or chunked) goes to a file, within the route's limit.
        if let streams, transferEncoding != nil || (contentLength ?? 0) > 0,
           let limit = streams(method, originPath(head, target)) {
            let framing: Stream.Framing
            if let transferEncoding {
                // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message is faulty framing.
                guard version == "HTTP/1.1" else { return .refuse(bad("Transfer-Encoding is not defined for HTTP/1.0")) }
                guard lowercased(head, transferEncoding) == "chunked" else {
                    return .refuse(APIError(.notImplemented, "Transfer-Encoding \"\(printable(head, transferEncoding))\" is not supported; send chunked or a Content-Length"))
                }
                framing = .chunked
            } else {
                let length = contentLength ?? 0
                if length > limit {
                    return .refuse(APIError(.payloadTooLarge, "The request body is larger than \(limit) bytes"))
                }
                framing = .length(length)
            }
            let closeAfter = closeRequested || (version == "HTTP/1.0" && !keepAliveRequested)
            var rewritten: [UInt8] = []
            rewritten.reserveCapacity(head.count + 24)
            rewritten.append(contentsOf: head[parts[0].lowerBound..<parts[1].upperBound])
            rewritten.append(contentsOf: " HTTP/1.1\r\n".utf8)
            let dropped = Set(framingLines.map(\.line.lowerBound))
            for line in lines.dropFirst() where !dropped.contains(line.lowerBound) {
                rewritten.append(contentsOf: head[line])
                rewritten.append(contentsOf: [0x0D, 0x0A])
            }
            if closeAfter && !closeRequested { rewritten.append(contentsOf: "Connection: close\r\n".utf8) }
            rewritten.append(contentsOf: "Content-Length: 0\r\n".utf8)
            let headers = framingLines.map {
                Header(name: String(decoding: UnsafeRawBufferPointer(rebasing: head[$0.name]), as: UTF8.self),
                       value: String(decoding: UnsafeRawBufferPointer(rebasing: head[$0.value]), as: UTF8.self))
            }
            return .stream(Stream(framing: framing, limit: limit, head: rewritten, framingHeaders: headers,
                                  expectsContinue: expectsContinue, closeAfter: closeAfter))
        }
        if transferEncoding != nil {
            return .refuse(APIError(.notImplemented, "Transfer-Encoding is not supported; send the body with a Content-Length"))
        }
        let bodyLength = contentLength ?? 0
        if method == "HEAD" && bodyLength > 0 {
            return .refuse(bad("a HEAD request cannot carry a body"))
        }
        if bodyLength > limits.maxBodyBytes {
            return .refuse(APIError(.payloadTooLarge, "The request body is larger than \(limits.maxBodyBytes) bytes"))
        }

        // HTTP/1.0 is handed on as 1.1 (the answer is 1.1, as RFC 9110 §6.2 recommends), closing after the
        // answer unless the client asked to keep the connection.
        guard version == "HTTP/1.0" else { return .pass(bodyLength: bodyLength, rewritten: nil, closeAfter: closeRequested) }
        let closeAfter = closeRequested || !keepAliveRequested
        var rewritten: [UInt8] = []
        rewritten.reserveCapacity(head.count + 24)
        rewritten.append(contentsOf: head[parts[0].lowerBound..<parts[1].upperBound])
        rewritten.append(contentsOf: " HTTP/1.1\r\n".utf8)
        for line in lines.dropFirst() {
            rewritten.append(contentsOf: head[line])
            rewritten.append(contentsOf: [0x0D, 0x0A])
        }
        if closeAfter && !closeRequested { rewritten.append(contentsOf: "Connection: close\r\n".utf8) }
        rewritten.append(contentsOf: [0x0D, 0x0A])
        return .pass(bodyLength: bodyLength, rewritten: rewritten, closeAfter: closeAfter)
    }

    private static func bad(_ message: String) -> APIError { APIError(.badRequest, "Malformed HTTP request: \(message)") }

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

    private static func split(_ head: UnsafeRawBufferPointer, _ range: Range<Int>, on separator: UInt8) -> [Range<Int>] {
        var parts: [Range<Int>] = []
        var start = range.lowerBound
        for index in range where head[index] == separator {
            parts.append(start..<index)
            start = index + 1
        }
        parts.append(start..<range.upperBound)
        return parts
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

    /// The path of a request target (origin or absolute form), without the query.
    static func originPath(_ head: UnsafeRawBufferPointer, _ target: Range<Int>) -> String {
        var start = target.lowerBound
        if head[start] != UInt8(ascii: "/") {
            // `http://authority/path`: skip the scheme's "//" and the authority.
            var slashes = 0
            start = target.upperBound
            for index in target where head[index] == UInt8(ascii: "/") {
                slashes += 1
                if slashes == 3 { start = index; break }
            }
            if start == target.upperBound { return "/" }
        }
        var end = start
        while end < target.upperBound, head[end] != UInt8(ascii: "?") { end += 1 }
        return String(decoding: UnsafeRawBufferPointer(rebasing: head[start..<end]), as: UTF8.self)
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
    var trimmingSpaces: Substring {
        var text = Substring(self)
        while text.first == " " || text.first == "\t" { text = text.dropFirst() }
        while text.last == " " || text.last == "\t" { text = text.dropLast() }
        return text
    }
}
