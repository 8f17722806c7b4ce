import Crypto
#if canImport(Glibc)
import Glibc
#endif

/// AWS Signature Version 4 for S3 requests (header-signed, payload hashed), with swift-crypto.
/// > The signing key is derived from the secret access key: kDate = HMAC("AWS4" + kSecret, Date), kRegion =
/// > HMAC(kDate, Region), kService = HMAC(kRegion, Service), kSigning = HMAC(kService, "aws4_request").
/// > https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
enum SigV4 {
    /// URI-encodes per SigV4: unreserved characters kept, everything else `%XX` (upper case); `/` kept in keys.
    static func encode(_ text: String, keepSlash: Bool) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"),
                 UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            case UInt8(ascii: "/") where keepSlash:
                out += "/"
            default:
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(2)
            }
        }
        return out
    }

    /// Query parameters encoded and sorted by name (the same text goes on the wire and into the signature).
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (encode($0.0, keepSlash: false), encode($0.1, keepSlash: false)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        bytes.map { String($0, radix: 16).leftPadded(2) }.joined()
    }

    /// The headers to add: `x-amz-date`, `x-amz-content-sha256`, the session token, and `Authorization` when
    /// credentials are given (without them the request goes unsigned, which moto's default mode accepts).
    static func signedHeaders(method: String, path: String, query: String, host: String, body: [UInt8], region: String,
                              credentials: S3Client.Credentials?, now: time_t) -> [(String, String)] {
        var seconds = now
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let date = String(parts.tm_year + 1900).leftPadded(4) + String(parts.tm_mon + 1).leftPadded(2) + String(parts.tm_mday).leftPadded(2)
        let stamp = date + "T" + String(parts.tm_hour).leftPadded(2) + String(parts.tm_min).leftPadded(2) + String(parts.tm_sec).leftPadded(2) + "Z"
        let payloadHash = hex(SHA256.hash(data: body))
        var headers = [("x-amz-content-sha256", payloadHash), ("x-amz-date", stamp)]
        guard let credentials else { return headers }
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        var canonicalHeaders = [("host", host)] + headers.map { ($0.0.lowercased(), $0.1) }
        canonicalHeaders.sort { $0.0 < $1.0 }
        let signedNames = canonicalHeaders.map(\.0).joined(separator: ";")
        let canonicalRequest = [
            method, path.isEmpty ? "/" : path, query,
            canonicalHeaders.map { "\($0.0):\($0.1.trimmingSpaces)\n" }.joined(),
            signedNames, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(date)/\(region)/s3/aws4_request"
        let stringToSign = ["AWS4-HMAC-SHA256", stamp, scope, hex(SHA256.hash(data: Array(canonicalRequest.utf8)))]
            .joined(separator: "\n")
        func hmac(_ key: [UInt8], _ text: String) -> [UInt8] {
            Array(HMAC<SHA256>.authenticationCode(for: Array(text.utf8), using: SymmetricKey(data: key)))
        }
        let signingKey = hmac(hmac(hmac(hmac(Array("AWS4\(credentials.secretAccessKey)".utf8), date), region), "s3"), "aws4_request")
        let signature = hex(hmac(signingKey, stringToSign))
        headers.append(("Authorization",
                        "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"))
        return headers
    }
}

extension String {
    func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }

    var trimmingSpaces: String {
        var text = Substring(self)
        while text.first == " " { text = text.dropFirst() }
        while text.last == " " { text = text.dropLast() }
        return String(text)
    }
}
