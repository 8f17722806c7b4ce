import HealthImagingJSON
/// A failure-injection rule: which calls it matches, what it does to them, and how often. An event rule
/// (`event` set, `operation` empty) matches published events instead of calls (`FaultEngine.fire(event:)`).
public struct FaultRule: Sendable, Equatable {
    public var id: String
    public var operation: String
    /// What the rule does to events of one detail-type; nil for a rule on API calls.
    public var event: EventFault?
    public var datastoreId: String?
    public var imageSetId: String?
    /// An error the service model defines for `operation`; nil for latency only.
    public var error: APIError?
    public var latencyMillis: Int
    /// How many more times it may fire; nil for unbounded.
    public var remaining: Int?
    /// The chance it fires on a matching call, drawn from the engine's seeded generator.
    public var probability: Double?
    public var fired: Int = 0

    func matches(operation: String, parameters: [String: String]) -> Bool {
        guard event == nil, operation == self.operation, remaining.map({ $0 > 0 }) ?? true else { return false }
        if let datastoreId, parameters["datastoreId"] != datastoreId { return false }
        if let imageSetId, (parameters["imageSetId"] ?? parameters["sourceImageSetId"]) != imageSetId { return false }
        return true
    }

    func matches(event published: ServiceEvent) -> Bool {
        guard let event, event.detailType == published.detailType, remaining.map({ $0 > 0 }) ?? true else { return false }
        if let datastoreId, published.datastoreId != datastoreId { return false }
        if let imageSetId, published.imageSetId != imageSetId { return false }
        return true
    }

    func write(to json: inout JSONWriter) {
        json.object {
            $0.field("id", id)
            if let event {
                $0.field("detailType", event.detailType.rawValue)
                $0.field("effect", event.effect.rawValue)
                if event.effect == .delay { $0.field("delayMs", Int64(event.delayMillis)) }
            } else {
                $0.field("operation", operation)
            }
            $0.field("datastoreId", datastoreId)
            $0.field("imageSetId", imageSetId)
            if let error {
                $0.field("error", object: {
                    $0.field("code", error.code.rawValue)
                    $0.field("message", error.message)
                    $0.field("status", Int64(error.code.status))
                })
            }
            if latencyMillis > 0 { $0.field("latencyMs", Int64(latencyMillis)) }
            $0.field("remaining", remaining.map(Int64.init))
            if let probability { $0.field("probability", raw: Array(String(probability).utf8)) }
            $0.field("fired", Int64(fired))
        }
    }
}

extension FaultRule {
    static let members = ["operation", "datastoreId", "imageSetId", "error", "latencyMs", "times", "probability"]

    /// Reads one rule from JSON, checking each field against the service model; `id` is assigned by the engine.
    static func read(_ reader: JSONReader) -> FaultRule? {
        if reader.value["detailType"] != nil || reader.value["effect"] != nil { return readEvent(reader) }
        guard reader.object(allowed: members) else { return nil }
        let operation = reader.member("operation", required: true)?.string { name in
            ServiceModel.operation(named: name) == nil
                ? "unknown operation \"\(name)\"; expected one of \(ServiceModel.allOperations.map(\.name).joined(separator: ", "))" : nil
        }
        let datastoreId = reader.member("datastoreId")?.string(Fixture.resourceIdProblem)
        let imageSetId = reader.member("imageSetId")?.string(Fixture.resourceIdProblem)
        var error: APIError?
        if let errorReader = reader.member("error"), errorReader.object(allowed: ["code", "message"]) {
            let allowed = operation.flatMap(ServiceModel.operation(named:))?.errors ?? []
            let code = errorReader.member("code", required: true)?.string { name in
                guard let code = ErrorCode(rawValue: name), code.isModelError else {
                    return "unknown error \"\(name)\"; the service model defines \(ErrorCode.allCases.filter(\.isModelError).map(\.rawValue).joined(separator: ", "))"
                }
                if operation != nil, !allowed.contains(code) {
                    return "\(name) is not an error of \(operation!); it may answer \(allowed.map(\.rawValue).joined(separator: ", "))"
                }
                return nil
            }.flatMap(ErrorCode.init(rawValue:))
            let message = errorReader.member("message")?.string { $0.isEmpty || $0.utf8.count > 2048 ? "must be 1–2048 characters" : nil }
            if let code { error = APIError(code, message ?? "Injected \(code.rawValue)") }
        }
        let latency = reader.member("latencyMs")?.integer(range: 0...600_000)
        let times = reader.member("times")?.integer(range: 1...1_000_000)
        let probability = reader.member("probability")?.number(range: 0...1)
        if reader.value["error"] == nil && reader.value["latencyMs"] == nil {
            reader.fail("a rule needs an effect: \"error\", \"latencyMs\" or both")
        }
        guard let operation else { return nil }
        return FaultRule(id: "", operation: operation, datastoreId: datastoreId, imageSetId: imageSetId, error: error,
                         latencyMillis: latency ?? 0, remaining: times, probability: probability)
    }
}

/// The active rules, checked in order; the first that matches, has times left and wins its probability
/// draw fires. Draws come from a SplitMix64 generator seeded by `seed`, so a run repeats exactly.
public struct FaultEngine: Sendable {
    public private(set) var rules: [FaultRule] = []
    public private(set) var seed: UInt64 = 0
    private var state: UInt64 = 0
    private var nextId = 1

    public init() {}

    public mutating func reseed(_ seed: UInt64) {
        self.seed = seed
        state = seed
    }

    public mutating func add(_ rules: [FaultRule]) -> [FaultRule] {
        var added: [FaultRule] = []
        for var rule in rules {
            rule.id = "rule-\(nextId)"
            nextId += 1
            self.rules.append(rule)
            added.append(rule)
        }
        return added
    }

    public mutating func remove(id: String) -> Bool {
        guard let index = rules.firstIndex(where: { $0.id == id }) else { return false }
        rules.remove(at: index)
        return true
    }

    public mutating func clear() { rules.removeAll() }

    /// The rule that fires for this call, if any (its counters updated).
    public mutating func fire(operation: String, parameters: [String: String]) -> FaultRule? {
        fire { $0.matches(operation: operation, parameters: parameters) }
    }

    /// The first rule that `matches`, has times left and wins its probability draw (its counters updated).
    mutating func fire(where matches: (FaultRule) -> Bool) -> FaultRule? {
        for index in rules.indices where matches(rules[index]) {
            if let probability = rules[index].probability, nextUnit() >= probability { continue }
            rules[index].fired += 1
            if let remaining = rules[index].remaining { rules[index].remaining = remaining - 1 }
            return rules[index]
        }
        return nil
    }

    private mutating func nextUnit() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}

/// What an event rule does to the next events of its detail-type (docs/events-and-time.md, "Faults for events"):
/// - `drop`: never delivered (the ring keeps it, marked dropped);
/// - `duplicate`: delivered twice (two PutEvents calls with the same entry);
/// - `delay`: delivered `delayMillis` later, while the events after it go on;
/// - `reorder`: held back and delivered right after the next event of its namespace (or after 2 s if none comes).
public struct EventFault: Sendable, Equatable {
    public enum Effect: String, Sendable, CaseIterable {
        case drop, duplicate, delay, reorder
    }

    public var detailType: EventDetailType
    public var effect: Effect
    public var delayMillis: Int = 0
}

extension FaultRule {
    static let eventMembers = ["detailType", "effect", "delayMs", "datastoreId", "imageSetId", "times", "probability"]

    /// `{"detailType": "Image Set Created", "effect": "drop"|"duplicate"|"delay"|"reorder", "delayMs"?, "times"?,
    /// "probability"?, "datastoreId"?, "imageSetId"?}`.
    static func readEvent(_ reader: JSONReader) -> FaultRule? {
        guard reader.object(allowed: eventMembers) else { return nil }
        let type = reader.member("detailType", required: true)?.string { name in
            EventDetailType(rawValue: name) == nil
                ? "unknown detail-type \"\(name)\"; expected one of \(EventDetailType.allCases.map(\.rawValue).joined(separator: ", "))" : nil
        }.flatMap(EventDetailType.init(rawValue:))
        let effect = reader.member("effect", required: true)?.string { name in
            EventFault.Effect(rawValue: name) == nil
                ? "unknown effect \"\(name)\"; expected one of \(EventFault.Effect.allCases.map(\.rawValue).joined(separator: ", "))" : nil
        }.flatMap(EventFault.Effect.init(rawValue:))
        let delay = reader.member("delayMs")?.integer(range: 1...600_000)
        if effect == .delay, delay == nil, reader.value["delayMs"] == nil { reader.fail("a delay needs \"delayMs\"", at: "\(reader.path).delayMs") }
        if effect != nil, effect != .delay, reader.value["delayMs"] != nil { reader.fail("delayMs only goes with the effect delay", at: "\(reader.path).delayMs") }
        let datastoreId = reader.member("datastoreId")?.string(Fixture.resourceIdProblem)
        let imageSetId = reader.member("imageSetId")?.string(Fixture.resourceIdProblem)
        let times = reader.member("times")?.integer(range: 1...1_000_000)
        let probability = reader.member("probability")?.number(range: 0...1)
        guard let type, let effect else { return nil }
        return FaultRule(id: "", operation: "", event: EventFault(detailType: type, effect: effect, delayMillis: delay ?? 0),
                         datastoreId: datastoreId, imageSetId: imageSetId, error: nil, latencyMillis: 0,
                         remaining: times, probability: probability)
    }
}

extension FaultEngine {
    /// The event rule that fires for this event, if any (its counters updated).
    public mutating func fire(event: ServiceEvent) -> FaultRule? {
        fire { $0.matches(event: event) }
    }
}
