/// A media type as a Content-Type header or one Accept range writes it (RFC 9110 §8.3.1):
/// `type/subtype *(OWS ";" OWS name=value)`, the value a token or a quoted string (`\` escapes undone).
/// Type and parameter names are compared case-insensitively (kept lowercased); values keep their case.
public struct MediaType: Sendable, Equatable {
    /// `type/subtype`, lowercased (`multipart/related`).
    public var name: String
    public var parameters: [(name: String, value: String)]

    public init(name: String, parameters: [(name: String, value: String)] = []) {
        self.name = name
        self.parameters = parameters
    }

    /// The first value of a parameter (name matched case-insensitively).
    public func parameter(_ name: String) -> String? {
        let wanted = name.lowercased()
        return parameters.first { $0.name == wanted }?.value
    }

    public static func == (lhs: MediaType, rhs: MediaType) -> Bool {
        lhs.name == rhs.name && lhs.parameters.map(\.name) == rhs.parameters.map(\.name)
            && lhs.parameters.map(\.value) == rhs.parameters.map(\.value)
    }

    /// Parses one media type; nil when there is no `type/subtype`. Malformed parameters are skipped.
    public static func parse(_ text: some StringProtocol) -> MediaType? {
        var scanner = Substring(text)[...].utf8[...]
        func skipSpace() { while let c = scanner.first, c == 0x20 || c == 0x09 { scanner.removeFirst() } }
        func token() -> String {
            var out: [UInt8] = []
            while let c = scanner.first, c != UInt8(ascii: ";"), c != UInt8(ascii: "="), c != 0x20, c != 0x09 {
                out.append(c)
                scanner.removeFirst()
            }
            return String(decoding: out, as: UTF8.self)
        }
        skipSpace()
        let name = token().lowercased()
        let pieces = name.split(separator: "/", omittingEmptySubsequences: false)
        guard pieces.count == 2, !pieces[0].isEmpty, !pieces[1].isEmpty else { return nil }
        var parameters: [(name: String, value: String)] = []
        while true {
            skipSpace()
            guard scanner.first == UInt8(ascii: ";") else { break }
            scanner.removeFirst()
            skipSpace()
            let key = token().lowercased()
            skipSpace()
            guard scanner.first == UInt8(ascii: "=") else {
                // `;` with no `name=value` after it: skip to the next `;`.
                while let c = scanner.first, c != UInt8(ascii: ";") { scanner.removeFirst() }
                continue
            }
            scanner.removeFirst()
            skipSpace()
            var value: [UInt8] = []
            if scanner.first == UInt8(ascii: "\"") {
                scanner.removeFirst()
                while let c = scanner.popFirst(), c != UInt8(ascii: "\"") {
                    if c == UInt8(ascii: "\\"), let escaped = scanner.popFirst() { value.append(escaped) } else { value.append(c) }
                }
            } else {
                while let c = scanner.first, c != UInt8(ascii: ";"), c != 0x20, c != 0x09 {
                    value.append(c)
                    scanner.removeFirst()
                }
            }
            if !key.isEmpty { parameters.append((key, String(decoding: value, as: UTF8.self))) }
        }
        return MediaType(name: name, parameters: parameters)
    }
}
