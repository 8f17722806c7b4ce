import Crypto
#if canImport(Glibc)
import Glibc
#endif
import HealthImagingHTTP

/// Signing S3 requests (header-signed, payload hashed) with the SigV4 pieces the server verifies API requests with
/// (`Protocol/SigV4+Canonical.swift`): S3 encodes the path once, where other services encode it twice.
/// > https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
extension SigV4 {
    /// Query parameters encoded and sorted by name (the same text goes on the wire and into the signature).
    static func canonicalQuery(_ query: [(String, String)]) -> String {
        query.map { (uriEncode($0.0, keepSlash: false), uriEncode($0.1, keepSlash: false)) }
            .sorted { $0.0 == $1.0 ? $0.1 < $1.1 : $0.0 < $1.0 }
            .map { "\($0.0)=\($0.1)" }.joined(separator: "&")
    }

    /// The headers to add: `x-amz-date`, `x-amz-content-sha256`, the session token, and `Authorization` when
    /// credentials are given (without them the request goes unsigned, which moto's default mode accepts).
    /// `extra` headers (already in the request) are signed too; `service` names the scope (`s3`, `events`).
    static func signedHeaders(method: String, path: String, query: String, host: String, body: [UInt8], region: String,
                              credentials: S3Client.Credentials?, now: time_t, service: String = "s3",
                              extra: [(String, String)] = []) -> [(String, String)] {
        let stamp = amzDate(Int64(now))
        let date = String(stamp.prefix(8))
        let payloadHash = hex(SHA256.hash(data: body))
        var headers = [("x-amz-content-sha256", payloadHash), ("x-amz-date", stamp)]
        guard let credentials else { return headers }
        if let token = credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
        var canonicalHeaders = [("host", host)] + (extra + headers).map { ($0.0.lowercased(), $0.1) }
        canonicalHeaders.sort { $0.0 < $1.0 }
        let signedNames = canonicalHeaders.map(\.0).joined(separator: ";")
        let canonicalRequest = [
            method, path.isEmpty ? "/" : path, query,
            canonicalHeaders.map { "\($0.0):\($0.1.trimmingSpaces)\n" }.joined(),
            signedNames, payloadHash,
        ].joined(separator: "\n")
        let scope = "\(date)/\(region)/\(service)/aws4_request"
        let signature = signature(secret: credentials.secretAccessKey, date: date, region: region, service: service,
                                  stringToSign: stringToSign(amzDate: stamp, scope: scope, canonicalRequest: canonicalRequest))
        headers.append(("Authorization",
                        "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signedNames), Signature=\(signature)"))
        return headers
    }
}

extension S3Client {
    /// One request to the endpoint, signed, on a private event base: `Host`, `headers` (sent, not signed),
    /// `signed` (sent and signed), then SigV4's headers for `service` in `region` (nil: the client's). `path` is
    /// signed as it is and sent with `query` after it.
    func signedExchange(_ method: String, path: String, query: String = "", headers: [(String, String)] = [],
                        signed: [(String, String)] = [], body: [UInt8], region: String? = nil, service: String = "s3",
                        timeoutSeconds: Int32? = nil) throws(HTTPClient.Failure) -> (status: Int, body: [UInt8]) {
        var all: [(String, String)] = [("Host", hostHeader)] + headers + signed
        all += SigV4.signedHeaders(method: method, path: path, query: query, host: hostHeader, body: body,
                                   region: region ?? self.region, credentials: credentials, now: time(nil),
                                   service: service, extra: signed)
        return try HTTPClient.exchange(host: host, port: port, method: method, uri: query.isEmpty ? path : "\(path)?\(query)",
                                       headers: all, body: body, timeoutSeconds: timeoutSeconds ?? self.timeoutSeconds)
    }
}
