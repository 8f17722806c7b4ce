import HealthImagingJSON
import HealthImagingHTTP
/// The event ring over HTTP (docs/events-and-time.md, "Events"):
///   GET    /_healthimaging/events?detailType=&datastoreId=&imageSetId=&since=&limit=   → the target namespace's
///          events (`?scope=all`: every namespace's), oldest first, each with its delivery status and the fault
///          rule that fired on it; `since=N` keeps those with a sequence above N, `limit=N` the newest N of them.
///          `lastSequence` is the newest sequence over the whole server, to poll on from.
///   DELETE /_healthimaging/events                                                  → empties the ring
/// Event fault rules are fault rules (`POST /_healthimaging/faults` with `detailType` + `effect`).
enum EventEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", "/_healthimaging/events", query: ["detailType", "datastoreId", "imageSetId", "since", "limit", "scope"], list),
        .init("DELETE", "/_healthimaging/events", query: ["scope"], clear),
    ]

    struct Filter {
        var detailType: EventDetailType?
        var datastoreId: String?
        var imageSetId: String?
        var since: Int?

        func matches(_ event: ServiceEvent) -> Bool {
            (detailType == nil || event.detailType == detailType) && (datastoreId == nil || event.datastoreId == datastoreId)
                && (imageSetId == nil || event.imageSetId == imageSetId) && (since.map { event.sequence > $0 } ?? true)
        }
    }

    static func list(_ call: ControlCall) throws(APIError) -> Response {
        var filter = Filter()
        if let name = call.request.query("detailType") {
            guard let type = EventDetailType(rawValue: name) else {
                throw .validation("detailType: unknown detail-type \"\(name.prefix(64))\"; expected one of \(EventDetailType.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            filter.detailType = type
        }
        if let id = call.request.query("datastoreId") { filter.datastoreId = try Validate.resourceId(id, member: "datastoreId") }
        if let id = call.request.query("imageSetId") { filter.imageSetId = try Validate.resourceId(id, member: "imageSetId") }
        filter.since = try Validate.integer(call.request.query("since"), member: "since", range: 0...Int.max)
        let limit = try Validate.integer(call.request.query("limit"), member: "limit", range: 1...1_000_000)
        let log = call.emulator.events
        var entries = log.entries(call.allNamespaces ? nil : call.namespace).filter { filter.matches($0.event) }
        if let limit, entries.count > limit { entries = Array(entries.suffix(limit)) }
        return .json { body in
            body.field("lastSequence", Int64(log.lastSequence))
            body.field("delivery", log.delivery?.endpoint ?? "not-configured")
            body.field("events", array: { list in
                for entry in entries { write(entry, status: log.ledger.status(entry.event.sequence), to: &list) }
            })
        }
    }

    static func write(_ entry: EventLog.Entry, status: DeliveryStatus?, to list: inout JSONWriter) {
        list.object { item in
            item.field("sequence", Int64(entry.event.sequence))
            item.field("event", raw: {
                var json = JSONWriter(capacity: 512)
                entry.event.writeEnvelope(to: &json)
                return json.bytes
            }())
            item.field("delivery", object: { delivery in
                delivery.field("status", (status?.state ?? .notConfigured).rawValue)
                delivery.field("attempts", Int64(status?.attempts ?? 0))
                delivery.field("copies", Int64(status?.copies ?? 0))
                delivery.field("error", nullable: status?.error)
            })
            if let fault = entry.fault, let effect = fault.event {
                item.field("fault", object: { json in
                    json.field("rule", fault.id)
                    json.field("effect", effect.effect.rawValue)
                    if effect.effect == .delay { json.field("delayMs", Int64(effect.delayMillis)) }
                })
            } else {
                item.field("fault", nullable: nil)
            }
        }
    }

    static func clear(_ call: ControlCall) throws(APIError) -> Response {
        let log = call.emulator.events
        let count = log.clear(call.allNamespaces ? nil : call.namespace)
        return .json {
            $0.field("cleared", Int64(count))
            $0.field("lastSequence", Int64(log.lastSequence))
        }
    }
}
