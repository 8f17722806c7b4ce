/// The framing rules a request head must meet before libevent reads it as a request (RFC 9112, strictly):
/// one request line `METHOD SP target SP HTTP/1.x`, header lines `name: value` with a token name and no
/// whitespace before the colon, no obsolete line folding, at most one Content-Length value (repeats must be
/// equal), no Transfer-Encoding, and a body within the limit. A head that breaks one is refused whole —
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
        /// Answer this error, read nothing more from the connection, and close it.
        case refuse(APIError)
    }

    /// Inspects one complete head: the bytes up to and including the empty line that ends it.
    public static func inspect(_ head: UnsafeRawBufferPointer, limits: Limits) -> Verdict {
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
        var transferEncoding = false
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
            case "transfer-encoding":
                transferEncoding = true
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
            default:
                break
            }
        }
        if transferEncoding {
            if contentLength != nil { return .refuse(bad("both Transfer-Encoding and Content-Length are given")) }
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
