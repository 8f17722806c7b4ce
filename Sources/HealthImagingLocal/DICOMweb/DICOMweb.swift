import HealthImagingHTTP
/// A DICOMweb operation (docs/dicomweb.md): an `Operation` named by its IAM action, routed under
/// `/datastore/{datastoreId}` like the REST-JSON API, so faults, latency, the journal and the web view cover it.
public protocol DICOMwebOperation: Operation {
    /// The IAM action a request authorizes as (the Lambda authorizer's `operation`); the relational searches, which
    /// have no action of their own, authorize as SearchDICOMSeries / SearchDICOMInstances.
    static var iamAction: String { get }
}

/// What the DICOMweb operations share: path and query checks, the image sets a request may read.
enum DICOMweb {
    static let explicitLittleEndian = "1.2.840.10008.1.2.1"

    /// A UID path or query value: 1–64 characters of digits and dots, no empty component, no leading zero in a
    /// multi-digit component; else ValidationException (400).
    static func uid(_ value: String, member: String) throws(APIError) -> String {
        guard isUID(value) else {
            throw .invalid(value, at: member, "Member must be a DICOM UID (digits and dots, at most 64 characters)")
        }
        return value
    }

    static func isUID(_ value: String) -> Bool {
        let bytes = Array(value.utf8)
        guard (1...64).contains(bytes.count) else { return false }
        var componentStart = 0
        for (index, byte) in bytes.enumerated() {
            if byte == UInt8(ascii: ".") {
                guard index > componentStart else { return false }
                componentStart = index + 1
            } else {
                guard (0x30...0x39).contains(byte) else { return false }
                if byte == UInt8(ascii: "0"), index == componentStart, index + 1 < bytes.count, bytes[index + 1] != UInt8(ascii: ".") {
                    return false
                }
            }
        }
        return componentStart < bytes.count
    }

    /// The datastore of the path (validated, existing), or ValidationException / ResourceNotFoundException.
    static func datastore(_ call: Call) throws(APIError) -> String {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        _ = try call.store { try $0.requireDatastore(call.namespace, datastoreId, read: true) }
        return datastoreId
    }

    /// The `imageSetId` query parameter, validated; nil when absent.
    static func imageSetId(_ call: Call) throws(APIError) -> String? {
        guard let value = call.request.query("imageSetId") else { return nil }
        return try Validate.resourceId(value, member: "imageSetId")
    }

    /// The absolute URL of the datastore's DICOMweb root, from the listening address (never the Host header).
    static func datastoreURL(_ call: Call, _ datastoreId: String) -> String {
        call.baseURL + "/datastore/" + datastoreId
    }

    static let dicomJSON = "application/dicom+json"

    /// A DICOM JSON answer with the exact Content-Type clients compare against.
    static func jsonResponse(_ bytes: [UInt8]) -> Response {
        Response(status: 200, headers: [("Content-Type", dicomJSON)], body: bytes)
    }
}

/// One media range of an Accept header: `type/subtype` and its parameters (`type`, `transfer-syntax`, `q`), names
/// lower-cased, values unquoted.
struct MediaRange: Equatable {
    var mediaType: String
    var parameters: [String: String]

    var transferSyntax: String? { parameters["transfer-syntax"] }
    var quality: Double { parameters["q"].flatMap(Double.init) ?? 1 }

    /// The ranges of an Accept header: comma-separated (commas inside quotes kept), `;`-separated parameters, quoted
    /// or bare values; ranges with q=0 dropped; order kept (ties), higher q first.
    static func parse(_ header: String?) -> [MediaRange] {
        guard let header else { return [] }
        var ranges: [MediaRange] = []
        for part in split(header, on: ",") {
            let pieces = split(part, on: ";")
            guard let first = pieces.first?.trimmed, !first.isEmpty else { continue }
            var parameters: [String: String] = [:]
            for piece in pieces.dropFirst() {
                guard let equals = piece.firstIndex(of: "=") else { continue }
                let name = piece[..<equals].trimmed.lowercased()
                var value = piece[piece.index(after: equals)...].trimmed
                if value.count >= 2, value.hasPrefix("\""), value.hasSuffix("\"") { value = String(value.dropFirst().dropLast()) }
                parameters[name] = value
            }
            let range = MediaRange(mediaType: first.lowercased(), parameters: parameters)
            if range.quality > 0 { ranges.append(range) }
        }
        return ranges.enumerated().sorted { a, b in
            a.element.quality != b.element.quality ? a.element.quality > b.element.quality : a.offset < b.offset
        }.map(\.element)
    }

    private static func split(_ text: some StringProtocol, on separator: Character) -> [Substring] {
        var parts: [Substring] = []
        var quoted = false
        var start = text.startIndex
        var index = text.startIndex
        let whole = Substring(text)
        while index < whole.endIndex {
            let character = whole[index]
            if character == "\"" { quoted.toggle() }
            if character == separator && !quoted {
                parts.append(whole[start..<index])
                start = whole.index(after: index)
            }
            index = whole.index(after: index)
        }
        parts.append(whole[start...])
        return parts
    }
}

extension StringProtocol {
    var trimmed: String { String(self).dicomTrimmed(" \t") }
}
