import HealthImagingHTTP
/// Failure injection over HTTP: list, add, replace, delete one, clear all — of the target namespace's rules
/// (`?account=&region=`, else the caller's, else the default one). A rule fires only on API calls of its
/// namespace; each namespace has its own seed and draws, so parallel workers don't shift each other's.
///   GET    /_healthimaging/faults               → {"seed": N, "rules": [...]}
///   POST   /_healthimaging/faults               ← one rule, or {"rules": [...]}: appended, all or nothing
///   PUT    /_healthimaging/faults               ← {"seed"?: N, "rules": [...]}: replaces every rule (the --faults file format)
///   DELETE /_healthimaging/faults               → clears every rule
///   DELETE /_healthimaging/faults/{ruleId}      → deletes one
/// A rule with `detailType` + `effect` instead of `operation` acts on published events (FaultRule.swift `EventFault`).
enum FaultEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", "/_healthimaging/faults", list),
        .init("POST", "/_healthimaging/faults", add),
        .init("PUT", "/_healthimaging/faults", replace),
        .init("DELETE", "/_healthimaging/faults", clear),
        .init("DELETE", "/_healthimaging/faults/{ruleId}", delete),
    ]

    static func list(_ call: ControlCall) throws(APIError) -> Response {
        rulesResponse(call)
    }

    static func add(_ call: ControlCall) throws(APIError) -> Response {
        let body = try call.body()
        let rules: [FaultRule] = try JSONReader.validated(body) { reader in
            if reader.value["rules"] != nil {
                guard reader.object(allowed: ["rules"]) else { return nil }
                return reader.member("rules")?.elements()?.compactMap(FaultRule.read)
            }
            return FaultRule.read(reader).map { [$0] }
        }
        let added = call.emulator.faults[call.namespace, default: FaultEngine()].add(rules)
        return .json(status: 201) { body in
            body.field("account", call.namespace.account)
            body.field("region", call.namespace.region)
            body.field("rules", array: { list in for rule in added { rule.write(to: &list) } })
        }
    }

    static func replace(_ call: ControlCall) throws(APIError) -> Response {
        let document = try JSONReader.validated(try call.body(), FaultDocument.read)
        call.emulator.faults[call.namespace] = document.engine()
        return rulesResponse(call)
    }

    static func clear(_ call: ControlCall) throws(APIError) -> Response {
        call.emulator.faults[call.namespace]?.clear()
        return rulesResponse(call)
    }

    static func delete(_ call: ControlCall) throws(APIError) -> Response {
        let id = call.path("ruleId")
        guard call.emulator.faults[call.namespace]?.remove(id: id) == true else {
            throw .notFound("No fault rule \(id) in \(call.namespace)")
        }
        return rulesResponse(call)
    }

    static func rulesResponse(_ call: ControlCall) -> Response {
        let engine = call.emulator.faults[call.namespace] ?? FaultEngine()
        return .json { body in
            body.field("account", call.namespace.account)
            body.field("region", call.namespace.region)
            body.field("seed", Int64(bitPattern: engine.seed))
            body.field("rules", array: { list in for rule in engine.rules { rule.write(to: &list) } })
        }
    }
}

/// The fault file format (`--faults FILE`, `PUT /_healthimaging/faults`): `{"seed": 42, "rules": [rule, …]}`.
public struct FaultDocument: Sendable {
    public var seed: UInt64
    public var rules: [FaultRule]

    static func read(_ reader: JSONReader) -> FaultDocument? {
        guard reader.object(allowed: ["seed", "rules"]) else { return nil }
        let seed = reader.member("seed")?.integer(range: 0...Int.max) ?? 0
        let rules = reader.member("rules", required: true)?.elements()?.compactMap(FaultRule.read) ?? []
        return FaultDocument(seed: UInt64(seed), rules: rules)
    }

    /// Parses and validates a fault file; a FixtureError names the JSON path and reason of every problem.
    public static func decode(_ bytes: [UInt8], source: String) throws(FixtureError) -> FaultDocument {
        try JSONReader.document(bytes, source: source, read)
    }

    public func engine() -> FaultEngine {
        var engine = FaultEngine()
        engine.reseed(seed)
        _ = engine.add(rules)
        return engine
    }
}
