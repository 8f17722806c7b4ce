import HealthImagingHTTP
/// The DICOMweb bearer-token authorizer (BearerAuthorizer): `GET /_healthimaging/dicomweb/authorizer` shows the
/// setting and every invocation (`{datastoreId, operation, bearerToken}`, oldest first); `PUT` sets
/// `{"default": "ALLOW"|"DENY", "tokens": {"<token>": "ALLOW"|"DENY"}}` (members left out keep their value);
/// `DELETE` restores the default (allow every token that passes the claim checks) and forgets the invocations.
enum AuthorizerEndpoints {
    static let path = "/_healthimaging/dicomweb/authorizer"
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", path, show),
        .init("PUT", path, set),
        .init("DELETE", path, reset),
    ]

    static func show(_ call: ControlCall) throws(APIError) -> Response {
        let authorizer = call.emulator.authorizer
        return .json { body in
            body.field("default", authorizer.defaultDecision.rawValue)
            body.field("tokens", object: { object in
                for token in authorizer.tokens.keys.sorted() { object.field(token, authorizer.tokens[token]?.rawValue) }
            })
            body.field("invocations", array: { list in
                for invocation in authorizer.invocations {
                    list.object { item in
                        item.field("time", timestampMillis: invocation.time)
                        item.field("account", invocation.namespace.account)
                        item.field("region", invocation.namespace.region)
                        item.field("event", object: { event in
                            event.field("datastoreId", invocation.datastoreId)
                            event.field("operation", invocation.operation)
                            event.field("bearerToken", invocation.bearerToken)
                        })
                        item.field("decision", invocation.decision.rawValue)
                    }
                }
            })
        }
    }

    static func set(_ call: ControlCall) throws(APIError) -> Response {
        let body = try call.body()
        let (decision, tokens) = try JSONReader.validated(body) { reader -> (BearerAuthorizer.Decision?, [String: BearerAuthorizer.Decision])? in
            guard reader.object(allowed: ["default", "tokens"]) else { return nil }
            let parse: (String) -> String? = { BearerAuthorizer.Decision(rawValue: $0) == nil ? "must be ALLOW or DENY" : nil }
            let decision = reader.member("default")?.string(parse).flatMap(BearerAuthorizer.Decision.init(rawValue:))
            var tokens: [String: BearerAuthorizer.Decision] = [:]
            if let member = reader.member("tokens") {
                guard case .object(let pairs) = member.value else {
                    member.fail("expected an object of token → ALLOW or DENY")
                    return nil
                }
                for (token, _) in pairs {
                    if let value = member.member(token)?.string(parse).flatMap(BearerAuthorizer.Decision.init(rawValue:)) {
                        tokens[token] = value
                    }
                }
            }
            return (decision, tokens)
        }
        if let decision { call.emulator.authorizer.defaultDecision = decision }
        for (token, value) in tokens { call.emulator.authorizer.tokens[token] = value }
        return try show(call)
    }

    static func reset(_ call: ControlCall) throws(APIError) -> Response {
        call.emulator.authorizer.reset()
        return try show(call)
    }
}
