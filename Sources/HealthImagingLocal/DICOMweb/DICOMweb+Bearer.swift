import Foundation
import HealthImagingJSON
import HealthImagingHTTP

/// OIDC bearer tokens on DICOMweb requests (docs/dicomweb.md "Auth"): a datastore created with `lambdaAuthorizerArn`
/// accepts `Authorization: Bearer <JWT>`. The service's own claim checks are real (`exp` in the future, `iat` in the
/// past and at most 12 h old, `nbf` if present in the past); the "Lambda" is the control plane's setting
/// (`PUT /_healthimaging/dicomweb/authorizer`): a decision per token, else the default. Every invocation is recorded
/// with the event the service sends, `{datastoreId, operation, bearerToken}`.
public struct BearerAuthorizer: Sendable {
    public enum Decision: String, Sendable { case allow = "ALLOW", deny = "DENY" }

    public struct Invocation: Sendable {
        public var time: Int64
        public var namespace: Namespace
        public var datastoreId: String
        public var operation: String
        public var bearerToken: String
        public var decision: Decision
    }

    public var defaultDecision: Decision = .allow
    public var tokens: [String: Decision] = [:]
    public private(set) var invocations: [Invocation] = []
    public static let capacity = 1000
    /// The longest a token may have been issued before use (`iat`), seconds.
    public static let maxTokenAge: Int64 = 12 * 3600

    public init() {}

    public mutating func reset() {
        defaultDecision = .allow
        tokens = [:]
        invocations = []
    }

    /// A namespace's reset forgets its invocations; a reset of every namespace (nil) also the setting.
    public mutating func reset(_ namespace: Namespace?) {
        guard let namespace else { return reset() }
        invocations.removeAll { $0.namespace == namespace }
    }

    /// The bearer token of a request, nil when it carries none.
    static func token(_ request: Request) -> String? {
        guard let header = request.header("Authorization") else { return nil }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        return parts[1].trimmed
    }

    /// Checks a bearer request to a DICOMweb operation; nil when it may go on, else the 403 answer.
    mutating func check(_ token: String, datastore: Datastore?, namespace: Namespace, datastoreId: String, operation: String,
                        now: Int64 = Timestamp.nowMillis() / 1000) -> APIError? {
        guard let datastore else { return nil }  // the operation answers ResourceNotFoundException
        guard datastore.lambdaAuthorizerArn != nil else {
            return APIError(.accessDenied, "Datastore \(datastoreId) has no Lambda authorizer (lambdaAuthorizerArn); bearer tokens are not accepted, sign the request with SigV4")
        }
        if let problem = Self.claimProblem(token, now: now) {
            return APIError(.accessDenied, "The bearer token is not valid: \(problem)")
        }
        let decision = tokens[token] ?? defaultDecision
        invocations.append(Invocation(time: now * 1000, namespace: namespace, datastoreId: datastoreId, operation: operation,
                                      bearerToken: token, decision: decision))
        if invocations.count > Self.capacity { invocations.removeFirst(invocations.count - Self.capacity) }
        guard decision == .allow else {
            return APIError(.accessDenied, "The Lambda authorizer denied the token for \(operation)")
        }
        return nil
    }

    /// What is wrong with a JWT's claims at `now` (epoch seconds), nil when they pass the service's pre-checks.
    static func claimProblem(_ token: String, now: Int64) -> String? {
        let segments = token.split(separator: ".", omittingEmptySubsequences: false)
        guard segments.count == 3, let payload = base64URL(segments[1]),
            let claims = try? JSONParser.parse(payload), claims.objectMembers != nil else {
            return "not a JWT (header.payload.signature, base64url JSON payload)"
        }
        func seconds(_ name: String) -> Int64? {
            guard case .number(let text)? = claims[name] else { return nil }
            return Int64(text) ?? Double(text).map { Int64($0) }
        }
        guard let exp = seconds("exp") else { return "no exp claim" }
        guard exp > now else { return "expired (exp \(exp) is not after now, \(now))" }
        guard let iat = seconds("iat") else { return "no iat claim" }
        guard iat <= now else { return "issued in the future (iat \(iat) is after now, \(now))" }
        guard now - iat <= maxTokenAge else { return "issued more than 12 hours ago (iat \(iat))" }
        if claims["nbf"] != nil {
            guard let nbf = seconds("nbf") else { return "nbf is not a number" }
            guard nbf <= now else { return "not yet valid (nbf \(nbf) is after now, \(now))" }
        }
        return nil
    }

    static func base64URL(_ text: Substring) -> [UInt8]? {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.utf8.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64).map { [UInt8]($0) }
    }
}
