#if canImport(Glibc)
import Glibc
#endif

/// An HTTP request as the application sees it: copied out of libevent once, so it can outlive the callback.
public struct Request: Sendable {
    public var method: String
    /// The raw path, still percent-encoded (the router splits on `/` first, then decodes each segment).
    public var path: String
    /// Decoded query parameters, in order; a name may repeat.
    public var query: [(name: String, value: String)]
    /// The query string as received (after `?`, still percent-encoded), for SigV4's canonical query.
    public var rawQuery: String = ""
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// A body streamed to a temporary file (routes the server was told to stream: `HTTPServer.streamsBody`);
    /// `body` is then empty. The server removes the file once the reply is sent.
    public var bodyFile: BodyFile?
    /// Length of the request target (path + query) as received.
    public var uriLength: Int
    /// Set when the connection refused the request's framing (`RequestHead`): the server answers it
    /// without calling the application.
    public var refusal: HTTPRefusal?

    public init(method: String, uri: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method
        self.uriLength = uri.utf8.count
        var target = uri.utf8[...]
        // Absolute form (`http://host/path`): keep the path only; the Host never routes.
        if target.first != UInt8(ascii: "/"), let scheme = target.firstIndex(of: UInt8(ascii: ":")),
            target[scheme...].starts(with: "://".utf8) {
            let afterScheme = target[target.index(scheme, offsetBy: 3)...]
            target = afterScheme.firstIndex(of: UInt8(ascii: "/")).map { afterScheme[$0...] } ?? "/".utf8[...]
        }
        if let mark = target.firstIndex(of: UInt8(ascii: "?")) {
            path = String(Substring(target[..<mark]))
            rawQuery = String(Substring(target[target.index(after: mark)...]))
            query = Self.parseQuery(Substring(rawQuery))
        } else {
            path = String(Substring(target))
            query = []
        }
        self.headers = headers
        self.body = body
    }

    /// The first value of a query parameter.
    public func query(_ name: String) -> String? {
        query.first { $0.name == name }?.value
    }

    public func queryValues(_ name: String) -> [String] {
        query.filter { $0.name == name }.map(\.value)
    }

    /// A header's value, matching the name case-insensitively.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) }?.value
    }

    public var headerBytes: Int {
        headers.reduce(0) { $0 + $1.name.utf8.count + $1.value.utf8.count + 4 }
    }

    package static func parseQuery(_ text: Substring) -> [(name: String, value: String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            if let equals = pair.firstIndex(of: "=") {
                return (percentDecode(pair[..<equals], plusIsSpace: true),
                        percentDecode(pair[pair.index(after: equals)...], plusIsSpace: true))
            }
            return (percentDecode(pair, plusIsSpace: true), "")
        }
    }
}

/// A request body on disk: `count` bytes in the file at `path` (a temporary file the server owns).
public struct BodyFile: Sendable, Equatable {
    public let path: String
    public let count: Int

    public init(path: String, count: Int) {
        self.path = path
        self.count = count
    }

    func remove() { unlink(path) }
}

/// Decodes `%XX` escapes (and `+` as space in query strings). Invalid escapes are kept as they are.
@inlinable
public func percentDecode<S: StringProtocol>(_ text: S, plusIsSpace: Bool = false) -> String {
    guard text.utf8.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
        return String(text)
    }
    return percentDecode(Array(text.utf8), plusIsSpace: plusIsSpace)
}

/// Decodes `%XX` escapes (and `+` as space in query strings) of UTF-8 bytes.
@inlinable
public func percentDecode<C: Collection<UInt8>>(_ text: C, plusIsSpace: Bool = false) -> String {
    guard text.contains(where: { $0 == UInt8(ascii: "%") || (plusIsSpace && $0 == UInt8(ascii: "+")) }) else {
        return String(decoding: text, as: UTF8.self)
    }
    var out: [UInt8] = []
    out.reserveCapacity(text.count)
    var bytes = Array(text)[...]
    func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
    while let byte = bytes.popFirst() {
        if byte == UInt8(ascii: "%"), bytes.count >= 2, let high = hexValue(bytes[bytes.startIndex]),
            let low = hexValue(bytes[bytes.startIndex + 1]) {
            out.append(high << 4 | low)
            bytes = bytes.dropFirst(2)
        } else if plusIsSpace && byte == UInt8(ascii: "+") {
            out.append(0x20)
        } else {
            out.append(byte)
        }
    }
    return String(decoding: out, as: UTF8.self)
}

extension String {
    /// Equal ignoring ASCII case (header names are ASCII tokens), byte by byte: no lowercased copies.
    package func caseInsensitiveCompare(_ other: String) -> Bool {
        let a = utf8, b = other.utf8
        guard a.count == b.count else { return false }
        return zip(a, b).allSatisfy { $0 == $1 || ($0 | 0x20 == $1 | 0x20 && ($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A) }
    }
}
