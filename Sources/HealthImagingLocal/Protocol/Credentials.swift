import HealthImagingHTTP
/// The namespace of a request, derived from its SigV4 credential the way LocalStack does:
/// - `Authorization: AWS4-HMAC-SHA256 Credential=<key id>/<date>/<region>/<service>/aws4_request, …`
///   (or the `X-Amz-Credential` query parameter of a presigned URL);
/// - the account: a 12-digit access key id *is* the account; an `AKIA…`/`ASIA…` key id carries its account
///   in its bits (as in real AWS); any other key id (e.g. `test`) and unsigned requests get the default account;
/// - the region: the credential scope's region, else the default region.
/// Signatures are checked only with `--verify-signatures` (see `SignatureVerifier`); otherwise any signature, or
/// none, is accepted.
enum Credentials {
    static func namespace(authorization: String?, presignedCredential: String?, default fallback: Namespace) -> Namespace {
        guard let credential = credential(authorization) ?? presignedCredential else { return fallback }
        let parts = credential.split(separator: "/", omittingEmptySubsequences: false)
        guard let keyId = parts.first, !keyId.isEmpty else { return fallback }
        var namespace = fallback
        if let account = account(accessKeyId: String(keyId)) { namespace.account = account }
        if parts.count >= 3, !parts[2].isEmpty { namespace.region = String(parts[2]) }
        return namespace
    }

    private static func credential(_ authorization: String?) -> String? {
        guard let authorization, authorization.hasPrefix("AWS4-HMAC-SHA256"),
            let range = authorization.range(of: "Credential=")
        else { return nil }
        let rest = authorization[range.upperBound...]
        return String(rest.prefix { $0 != "," && $0 != " " })
    }

    static func account(accessKeyId keyId: String) -> String? {
        if keyId.utf8.count == 12, keyId.utf8.allSatisfy({ (0x30...0x39).contains($0) }) { return keyId }
        guard keyId.utf8.count == 20, keyId.hasPrefix("AKIA") || keyId.hasPrefix("ASIA") else { return nil }
        // Base32-decode the 16 characters after the prefix; the account is bits 1…40 of the first 6 bytes.
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)
        var bits: UInt64 = 0
        var count = 0
        var value: UInt64 = 0
        for byte in keyId.utf8.dropFirst(4).prefix(10) {  // 10 characters = 50 bits ≥ the 48 needed
            guard let index = alphabet.firstIndex(of: byte) else { return nil }
            bits = bits << 5 | UInt64(index)
            count += 5
        }
        value = bits >> UInt64(count - 48)
        let account = (value & 0x7FFF_FFFF_FF80) >> 7
        let text = String(account)
        return String(repeating: "0", count: max(0, 12 - text.count)) + text
    }
}

extension Emulator {
    /// The namespace a request acts in (see `Credentials`).
    public func namespace(of request: Request) -> Namespace {
        Credentials.namespace(
            authorization: request.header("Authorization"), presignedCredential: request.query("X-Amz-Credential"),
            default: defaultNamespace)
    }
}
