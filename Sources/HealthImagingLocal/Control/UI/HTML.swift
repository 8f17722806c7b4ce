import HealthImagingJSON
/// A tiny HTML builder for the web view. Every piece of text goes through `text(_:)` / `escape(_:)`: nothing
/// that came from a request, a fixture or the store is ever written raw.
struct HTML {
    private(set) var bytes: [UInt8] = []

    init() { bytes.reserveCapacity(16 * 1024) }

    /// Markup written by this module (tag names, attributes with constant values). Never user data.
    mutating func raw(_ markup: StaticString) {
        markup.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Text content or an attribute value, escaped.
    mutating func text(_ value: String) {
        Self.escape(value, into: &bytes)
    }

    mutating func text(_ value: Int) { text(String(value)) }

    /// `<tag class="…">escaped text</tag>`, with the tag and class constant.
    mutating func element(_ open: StaticString, _ value: String, _ close: StaticString) {
        raw(open)
        text(value)
        raw(close)
    }

    /// `<a href="escaped">escaped</a>`.
    mutating func link(_ href: String, _ label: String) {
        raw("<a href=\"")
        text(href)
        raw("\">")
        text(label)
        raw("</a>")
    }

    /// Escapes the five characters that matter in text and in quoted attribute values.
    static func escape(_ value: String, into out: inout [UInt8]) {
        for byte in value.utf8 {
            switch byte {
            case UInt8(ascii: "&"): out.append(contentsOf: "&amp;".utf8)
            case UInt8(ascii: "<"): out.append(contentsOf: "&lt;".utf8)
            case UInt8(ascii: ">"): out.append(contentsOf: "&gt;".utf8)
            case UInt8(ascii: "\""): out.append(contentsOf: "&quot;".utf8)
            case UInt8(ascii: "'"): out.append(contentsOf: "&#39;".utf8)
            default: out.append(byte)
            }
        }
    }

    static func escape(_ value: String) -> String {
        var out: [UInt8] = []
        escape(value, into: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// A path segment or query value, percent-encoded (then still escaped when written into an attribute).
    static func component(_ value: String) -> String { SigV4.uriEncode(value, keepSlash: false) }

    /// Epoch milliseconds as `2023-03-28 18:10:36.304 UTC` (proleptic Gregorian, no locale involved).
    static func date(millis: Int64?) -> String {
        guard let millis else { return "—" }
        return Timestamp.utcText(millis: millis, separator: " ", withMillis: true, suffix: " UTC")
    }
}

extension JSONValue {
    /// Indented JSON for reading (the metadata document page).
    func pretty(indent: String = "") -> String {
        switch self {
        case .null: return "null"
        case .bool(let value): return value ? "true" : "false"
        case .number(let text): return text
        case .string: return String(decoding: serialized(), as: UTF8.self)
        case .array(let items):
            if items.isEmpty { return "[]" }
            let inner = indent + "  "
            return "[\n" + items.map { inner + $0.pretty(indent: inner) }.joined(separator: ",\n") + "\n" + indent + "]"
        case .object(let members):
            if members.isEmpty { return "{}" }
            let inner = indent + "  "
            return "{\n" + members.map { inner + String(decoding: JSONValue.string($0.key).serialized(), as: UTF8.self) + ": " + $0.value.pretty(indent: inner) }
                .joined(separator: ",\n") + "\n" + indent + "}"
        }
    }
}
