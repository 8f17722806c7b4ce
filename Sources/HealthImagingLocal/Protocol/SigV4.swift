import Crypto
import Foundation
import HealthImagingHTTP

/// Optional SigV4 verification of API requests (`--verify-signatures`), answering a bad signature the way AWS
/// does: status, `x-amzn-ErrorType` and message.
///
/// Both forms are checked — the `Authorization: AWS4-HMAC-SHA256 Credential=…, SignedHeaders=…, Signature=…`
/// header and the presigned query (`X-Amz-Algorithm`, `X-Amz-Credential`, `X-Amz-Date`, `X-Amz-Expires`,
/// `X-Amz-SignedHeaders`, `X-Amz-Signature`): the access key must be known, the credential scope must be
/// `<date of X-Amz-Date>/<a region>/medical-imaging/aws4_request`, the request time within 15 minutes of
/// the emulator's clock (a presigned URL: not past `X-Amz-Date + X-Amz-Expires`), and the signature must be the
/// HMAC the secret key gives over the canonical request (method, path, query, signed headers, payload hash).
/// See https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
public struct SignatureVerifier: Sendable {
    /// Access key id → secret access key.
    public var secrets: [String: String]
    public var service: String
    /// How far the request time may be from the emulator's clock (AWS: 15 minutes).
    public var maxSkewSeconds: Int64 = 15 * 60

    public init(secrets: [String: String], service: String = "medical-imaging") {
        self.secrets = secrets
        self.service = service
    }

    /// Nil when the request is signed correctly; else the error AWS answers.
    public func verify(_ request: Request, now: Int64 = Int64(Date().timeIntervalSince1970)) -> APIError? {
        let parsed: SignedRequest
        switch SignedRequest.parse(request) {
        case .unsigned:
            return APIError(.missingAuthenticationToken, "Missing Authentication Token")
        case .malformed(let message):
            return APIError(.incompleteSignature, message)
        case .signed(let found):
            parsed = found
        }
        guard let secret = secrets[parsed.accessKeyId] else {
            return APIError(.unrecognizedClient, "The security token included in the request is invalid.")
        }
        if let problem = scopeProblem(parsed) { return APIError(.invalidSignature, problem) }
        if let problem = timeProblem(parsed, now: now) { return APIError(.invalidSignature, problem) }
        if let declared = parsed.declaredPayloadHash, declared.count == 64, declared != SigV4.hex(SHA256.hash(data: request.body)) {
            return APIError(.invalidSignature, SigV4.mismatch)
        }
        let expected = SigV4.signature(
            secret: secret, date: parsed.scope.date, region: parsed.scope.region, service: parsed.scope.service,
            stringToSign: SigV4.stringToSign(amzDate: parsed.amzDate, scope: parsed.scope.text,
                                             canonicalRequest: SigV4.canonicalRequest(request, parsed)))
        guard SigV4.constantTimeEqual(expected, parsed.signature.lowercased()) else {
            return APIError(.invalidSignature, SigV4.mismatch)
        }
        return nil
    }

    private func scopeProblem(_ parsed: SignedRequest) -> String? {
        let scope = parsed.scope
        if scope.date != String(parsed.amzDate.prefix(8)) {
            return "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '\(scope.date)' != '\(parsed.amzDate.prefix(8))', from '\(parsed.amzDate)'."
        }
        if !Regions.isRegionName(scope.region) {
            return "Credential should be scoped to a valid region. "
        }
        if scope.service != service {
            return "Credential should be scoped to correct service: '\(service)'. "
        }
        if scope.terminator != "aws4_request" {
            return "Credential should be scoped with a valid terminator: 'aws4_request', not '\(scope.terminator)'. "
        }
        return nil
    }

    private func timeProblem(_ parsed: SignedRequest, now: Int64) -> String? {
        guard let signedAt = SigV4.epochSeconds(amzDate: parsed.amzDate) else {
            return "Date must be in ISO-8601 'basic format'. Got '\(parsed.amzDate)'. See http://en.wikipedia.org/wiki/ISO_8601"
        }
        if let expires = parsed.expires {
            if now > signedAt + expires {
                return "Signature expired: \(SigV4.amzDate(signedAt + expires)) is now earlier than \(SigV4.amzDate(now)) (\(parsed.amzDate) + \(expires) sec.)"
            }
        } else if signedAt < now - maxSkewSeconds {
            return "Signature expired: \(parsed.amzDate) is now earlier than \(SigV4.amzDate(now - maxSkewSeconds)) (\(SigV4.amzDate(now)) - \(maxSkewSeconds / 60) min.)"
        }
        if signedAt > now + maxSkewSeconds {
            return "Signature not yet current: \(parsed.amzDate) is still later than \(SigV4.amzDate(now + maxSkewSeconds)) (\(SigV4.amzDate(now)) + \(maxSkewSeconds / 60) min.)"
        }
        return nil
    }
}

/// Region names as AWS spells them: `us-east-1`, `eu-central-2`, `us-gov-west-1`, `us-isob-east-1`
/// (`^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$`).
public enum Regions {
    public static func isRegionName(_ text: String) -> Bool {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false).map { Array($0.utf8) }
        func letters(_ part: [UInt8]) -> Bool { !part.isEmpty && part.allSatisfy { (0x61...0x7A).contains($0) } }
        guard parts.count == 3 || parts.count == 4, parts[0].count == 2, letters(parts[0]),
            let last = parts.last, last.count == 1, (0x30...0x39).contains(last[0]), letters(parts[parts.count - 2])
        else { return false }
        if parts.count == 4 {
            let qualifier = String(decoding: parts[1], as: UTF8.self)
            return qualifier == "gov" || (qualifier.hasPrefix("iso") && qualifier.count <= 4 && letters(parts[1]))
        }
        return true
    }

    /// A 12-digit AWS account id.
    public static func isAccountId(_ text: String) -> Bool {
        text.utf8.count == 12 && text.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }
}
