import Crypto
import Foundation
import HealthImagingHTTP

/// The parts of a SigV4-signed request, from its Authorization header or its presigned query.
struct SignedRequest {
    struct Scope {
        var date: String
        var region: String
        var service: String
        var terminator: String
        var text: String { "\(date)/\(region)/\(service)/\(terminator)" }
    }

    var accessKeyId: String
    var scope: Scope
    var amzDate: String
    var signedHeaders: [String]
    var signature: String
    /// Presigned: the X-Amz-Expires seconds; nil for a header signature.
    var expires: Int64?
    var presigned: Bool
    /// X-Amz-Content-SHA256 when the client sent one.
    var declaredPayloadHash: String?

    enum Parsed {
        case unsigned
        case malformed(String)
        case signed(SignedRequest)
    }

    static func parse(_ request: Request) -> Parsed {
        if let authorization = request.header("Authorization") { return parseHeader(authorization, request) }
        let presignedNames = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"]
        if presignedNames.contains(where: { request.query($0) != nil }) { return parseQuery(request) }
        return .unsigned
    }

    private static func parseHeader(_ authorization: String, _ request: Request) -> Parsed {
        let trimmed = authorization.trimmingCharacters(in: .whitespaces)
        var fields: [String: String] = [:]
        if trimmed.hasPrefix("AWS4-HMAC-SHA256 ") {
            let rest = trimmed.dropFirst("AWS4-HMAC-SHA256 ".count)
            // AWS splits the parameters on commas and spaces alike: a space inside one shows up as a part
            // without '=' (a pasted access key with a trailing space).
            for part in rest.split(whereSeparator: { $0 == "," || $0 == " " }) {
                let pair = String(part)
                guard let equals = pair.firstIndex(of: "=") else {
                    return .malformed("'\(pair)' not a valid key=value pair (missing equal-sign) in Authorization header: '\(authorization)'.")
                }
                fields[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
            }
        }
        let date = request.header("X-Amz-Date") ?? request.header("Date").flatMap(SigV4.amzDate(httpDate:))
        var missing: [String] = []
        if fields["Credential"] == nil { missing.append("Authorization header requires 'Credential' parameter.") }
        if fields["Signature"] == nil { missing.append("Authorization header requires 'Signature' parameter.") }
        if fields["SignedHeaders"] == nil { missing.append("Authorization header requires 'SignedHeaders' parameter.") }
        if date == nil {
            missing.append("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
        }
        guard missing.isEmpty, let credential = fields["Credential"], let signature = fields["Signature"],
            let signedHeaders = fields["SignedHeaders"], let date
        else { return .malformed(missing.joined(separator: " ") + " Authorization=\(authorization)") }
        return make(credential: credential, amzDate: date, signedHeaders: signedHeaders, signature: signature,
                    expires: nil, presigned: false, request)
    }

    private static func parseQuery(_ request: Request) -> Parsed {
        let required = ["X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-SignedHeaders", "X-Amz-Date"]
        let missing = required.filter { request.query($0) == nil }
        guard missing.isEmpty else {
            return .malformed(missing.map { "AWS query-string parameters must include '\($0)'." }.joined(separator: " ")
                              + " Re-examine the query-string parameters.")
        }
        let algorithm = request.query("X-Amz-Algorithm") ?? ""
        guard algorithm == "AWS4-HMAC-SHA256" else {
            return .malformed("Unsupported AWS 'algorithm': '\(algorithm)'.")
        }
        var expires: Int64 = 604_800
        if let text = request.query("X-Amz-Expires") {
            guard let value = Int64(text), value >= 0 else {
                return .malformed("X-Amz-Expires should be a number")
            }
            guard value <= 604_800 else {
                return .malformed("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds")
            }
            expires = value
        }
        return make(credential: request.query("X-Amz-Credential") ?? "", amzDate: request.query("X-Amz-Date") ?? "",
                    signedHeaders: request.query("X-Amz-SignedHeaders") ?? "", signature: request.query("X-Amz-Signature") ?? "",
                    expires: expires, presigned: true, request)
    }

    private static func make(credential: String, amzDate: String, signedHeaders: String, signature: String,
                             expires: Int64?, presigned: Bool, _ request: Request) -> Parsed {
        // The access key id may itself hold no '/', so the last four parts are the scope.
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 5, !parts[0].isEmpty else {
            return .malformed("Credential should be scoped to a valid region, not ''. Credential should be scoped to correct service: ''. Credential should be scoped with a valid terminator: 'aws4_request', not ''. Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '' != '\(amzDate.prefix(8))', from '\(amzDate)'.")
        }
        let n = parts.count
        let scope = Scope(date: parts[n - 4], region: parts[n - 3], service: parts[n - 2], terminator: parts[n - 1])
        let headers = signedHeaders.split(separator: ";").map { $0.lowercased() }
        guard headers.contains("host") else {
            return .malformed("'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")
        }
        return .signed(SignedRequest(
            accessKeyId: parts[0..<(n - 4)].joined(separator: "/"), scope: scope, amzDate: amzDate,
            signedHeaders: headers, signature: signature, expires: expires, presigned: presigned,
            declaredPayloadHash: request.header("X-Amz-Content-SHA256")))
    }
}

/// The SigV4 algorithm's pieces: canonical request, string to sign, signing key, dates.
enum SigV4 {
    static let mismatch = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."

    static func canonicalRequest(_ request: Request, _ signed: SignedRequest) -> String {
        var lines = [request.method.uppercased(), canonicalURI(request.path), canonicalQuery(request.rawQuery, presigned: signed.presigned)]
        for name in signed.signedHeaders {
            let values = request.headers.filter { $0.name.lowercased() == name }
                .map { $0.value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ") }
            lines.append("\(name):\(values.joined(separator: ","))")
        }
        lines.append("")
        lines.append(signed.signedHeaders.joined(separator: ";"))
        lines.append(signed.declaredPayloadHash ?? hex(SHA256.hash(data: request.body)))
        return lines.joined(separator: "\n")
    }

    static func stringToSign(amzDate: String, scope: String, canonicalRequest: String) -> String {
        "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(hex(SHA256.hash(data: Array(canonicalRequest.utf8))))"
    }

    static func signature(secret: String, date: String, region: String, service: String, stringToSign: String) -> String {
        var key = SymmetricKey(data: Array("AWS4\(secret)".utf8))
        for part in [date, region, service, "aws4_request"] {
            key = SymmetricKey(data: Array(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// Non-S3 services encode each path segment twice: the path as sent (already percent-encoded) is encoded
    /// once more, after removing `.` and `..` segments.
    static func canonicalURI(_ rawPath: String) -> String {
        var segments: [Substring] = []
        let parts = rawPath.split(separator: "/", omittingEmptySubsequences: false)
        for (index, segment) in parts.enumerated() {
            if segment == "." { continue }
            if segment == ".." { if segments.count > 1 { segments.removeLast() }; continue }
            if segment.isEmpty && index != 0 && index != parts.count - 1 { continue }
            segments.append(segment)
        }
        let path = segments.joined(separator: "/")
        return uriEncode(path.isEmpty ? "/" : path, keepSlash: true)
    }

    /// Every name and value decoded and encoded again (RFC 3986 unreserved kept), sorted by name then value;
    /// a presigned request leaves out X-Amz-Signature.
    static func canonicalQuery(_ rawQuery: String, presigned: Bool) -> String {
        var pairs: [(String, String)] = []
        for pair in rawQuery.split(separator: "&", omittingEmptySubsequences: true) {
            let equals = pair.firstIndex(of: "=")
            let name = percentDecode(equals.map { pair[..<$0] } ?? pair)
            let value = equals.map { percentDecode(pair[pair.index(after: $0)...]) } ?? ""
            if presigned && name == "X-Amz-Signature" { continue }
            pairs.append((uriEncode(name, keepSlash: false), uriEncode(value, keepSlash: false)))
        }
        pairs.sort { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
        return pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    static func uriEncode(_ text: String, keepSlash: Bool) -> String {
        let hexDigits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        for byte in text.utf8 {
            switch byte {
            case 0x41...0x5A, 0x61...0x7A, 0x30...0x39, UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.append(byte)
            case UInt8(ascii: "/") where keepSlash:
                out.append(byte)
            default:
                out += [UInt8(ascii: "%"), hexDigits[Int(byte >> 4)], hexDigits[Int(byte & 0xF)]]
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func hex<D: Sequence>(_ digest: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in digest { out += [digits[Int(byte >> 4)], digits[Int(byte & 0xF)]] }
        return String(decoding: out, as: UTF8.self)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var difference: UInt8 = 0
        for index in x.indices { difference |= x[index] ^ y[index] }
        return difference == 0
    }

    /// `20240101T000000Z` → epoch seconds.
    static func epochSeconds(amzDate text: String) -> Int64? {
        let bytes = Array(text.utf8)
        guard bytes.count == 16, bytes[8] == UInt8(ascii: "T"), bytes[15] == UInt8(ascii: "Z") else { return nil }
        func number(_ range: Range<Int>) -> Int64? {
            var value: Int64 = 0
            for byte in bytes[range] {
                guard (0x30...0x39).contains(byte) else { return nil }
                value = value * 10 + Int64(byte - 0x30)
            }
            return value
        }
        guard let year = number(0..<4), let month = number(4..<6), let day = number(6..<8), let hour = number(9..<11),
            let minute = number(11..<13), let second = number(13..<15), (1...12).contains(month), (1...31).contains(day),
            hour < 24, minute < 60, second < 61
        else { return nil }
        return CivilCalendar.daysFromCivil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
    }

    /// Epoch seconds → `20240101T000000Z`.
    static func amzDate(_ seconds: Int64) -> String {
        let days = Int64((Double(seconds) / 86_400).rounded(.down))
        let rest = seconds - days * 86_400
        let (year, month, day) = CivilCalendar.civilFromDays(days)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(year)\(two(month))\(two(day))T\(two(rest / 3600))\(two(rest % 3600 / 60))\(two(rest % 60))Z"
    }

    /// An RFC 7231 `Date` header (`Mon, 01 Jan 2024 00:00:00 GMT`) → `20240101T000000Z`.
    static func amzDate(httpDate text: String) -> String? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text).map { amzDate(Int64($0.timeIntervalSince1970)) }
    }
}
