/// `GET /_healthimaging/journal?operation=&account=&limit=` and `DELETE /_healthimaging/journal`.
enum JournalEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", "/_healthimaging/journal", list),
        .init("DELETE", "/_healthimaging/journal", clear),
    ]

    static func list(_ call: ControlCall) throws(APIError) -> Response {
        let operation = call.request.query("operation")
        if let operation, ServiceModel.operation(named: operation) == nil {
            throw .validation("operation: unknown operation \"\(operation)\"")
        }
        let limit = try Validate.integer(call.request.query("limit"), member: "limit", range: 1...1_000_000)
        let account = call.request.query("account")
        let region = call.request.query("region")
        var entries = call.emulator.journal.all.filter { entry in
            (operation == nil || entry.operation == operation) && (account == nil || entry.namespace.account == account)
                && (region == nil || entry.namespace.region == region)
        }
        if let limit, entries.count > limit { entries = Array(entries.suffix(limit)) }
        return .json { body in
            body.field("entries", array: { list in
                for entry in entries { entry.write(to: &list) }
            })
        }
    }

    static func clear(_ call: ControlCall) throws(APIError) -> Response {
        call.emulator.journal.clear()
        return .json { $0.field("cleared", true) }
    }
}
