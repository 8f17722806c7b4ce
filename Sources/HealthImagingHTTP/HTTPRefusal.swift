/// A request the HTTP layer answers itself, before any handler: a head or body it cannot frame or will not take,
/// or a reply the application dropped. It says why and with which status; how the answer looks is the
/// application's choice (`HTTPServer`'s `refused`; the emulator answers a rest-json error), else plain text.
public struct HTTPRefusal: Error, Equatable, Sendable {
    public enum Reason: Sendable, Equatable, CaseIterable {
        case badRequest, notFound, payloadTooLarge, uriTooLong, headersTooLarge, notImplemented, internalServer

        public var status: Int {
            switch self {
            case .badRequest: 400
            case .notFound: 404
            case .payloadTooLarge: 413
            case .uriTooLong: 414
            case .headersTooLarge: 431
            case .internalServer: 500
            case .notImplemented: 501
            }
        }
    }

    public var reason: Reason
    public var message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// The answer of a server whose application chose none: the message as plain text.
    public var plainResponse: Response {
        var response = Response(status: reason.status, headers: [("Content-Type", "text/plain; charset=utf-8")],
                                body: Array(message.utf8))
        response.headers.append(("X-Content-Type-Options", "nosniff"))
        return response
    }
}
