import HealthImagingHTTP
/// `GET /_healthimaging/journal?operation=&limit=` and `DELETE /_healthimaging/journal`: the entries of the target
/// namespace (`?account=&region=`, else the caller's, else the default one), or of every namespace with
/// `?scope=all`.
enum JournalEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", "/_healthimaging/journal", query: ["operation", "limit", "scope"], list),
        .init("DELETE", "/_healthimaging/journal", query: ["scope"], clear),
    ]

    static func list(_ call: ControlCall) throws(APIError) -> Response {
        let operation = call.request.query("operation")
        if let operation, ServiceModel.operation(named: operation) == nil {
            throw .validation("operation: unknown operation \"\(operation)\"")
        }
        let limit = try Validate.integer(call.request.query("limit"), member: "limit", range: 1...1_000_000)
        var entries = call.emulator.journal.all.filter { entry in
            (operation == nil || entry.operation == operation) && (call.allNamespaces || entry.namespace == call.namespace)
        }
        if let limit, entries.count > limit { entries = Array(entries.suffix(limit)) }
        return .json { body in
            body.field("entries", array: { list in
                for entry in entries { entry.write(to: &list) }
            })
        }
    }

    static func clear(_ call: ControlCall) throws(APIError) -> Response {
        call.emulator.journal.clear(call.allNamespaces ? nil : call.namespace)
        return .json { $0.field("cleared", true) }
    }
}
