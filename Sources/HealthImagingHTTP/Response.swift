/// An HTTP response: status, headers (besides Date / Content-Length, which libevent adds), body.
public struct Response: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(status: Int = 200, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    /// A JSON response (`Content-Type: application/json`).
    public init(status: Int = 200, json: [UInt8]) {
        self.init(status: status, headers: [("Content-Type", "application/json")], body: json)
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.caseInsensitiveCompare(name) }?.value
    }

    package static func reason(_ status: Int) -> String {
        switch status {
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 303: "See Other"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 409: "Conflict"
        case 413: "Payload Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 503: "Service Unavailable"
        default: "Status \(status)"
        }
    }
}

/// What the application answers: the response now, or later (`deferred`), and how long to hold it back
/// (injected latency).
///
/// Not Sendable: a deferred reply's `start` belongs to the loop thread, like the `Responder` it is given.
public struct Reply {
    public var response: Response
    public var delayMillis: Int
    /// For a deferred reply: run on the loop right after the handler returns, with the `Responder` that
    /// completes it (`response` is then unused).
    public let start: ((Responder) -> Void)?
    /// Changes made to the response before it goes out (`edit`), in order; kept for a deferred reply.
    var edits: [(inout Response) -> Void] = []

    public init(_ response: Response, delayMillis: Int = 0) {
        self.response = response
        self.delayMillis = delayMillis
        start = nil
    }

    /// A reply completed later, on the loop thread: `start` runs right after the handler returns, and the
    /// connection is held until `Responder.send` is called (exactly once). If the client goes away first,
    /// `send` is a no-op. Pipelined requests behind it on the same connection wait for it, in order.
    public static func deferred(_ start: @escaping (Responder) -> Void) -> Reply {
        Reply(start: start)
    }

    private init(start: @escaping (Responder) -> Void) {
        response = Response(status: 500)
        delayMillis = 0
        self.start = start
    }

    public var isDeferred: Bool { start != nil }

    /// Changes the response on its way out: at once for an immediate reply, at `send` for a deferred one
    /// (the emulator's request id, for example).
    public mutating func edit(_ change: @escaping (inout Response) -> Void) {
        if start == nil { change(&response) } else { edits.append(change) }
    }
}

@available(*, unavailable)
extension Reply: Sendable {}
