import HealthImagingJSON
import HealthImagingHTTP
/// The test-control plane under `/_healthimaging/`: JSON in and out, every mistake a 400 naming the field.
/// A path AWS never uses, so it cannot collide with an operation.
public enum ControlPlane {
    public static let prefix = "/_healthimaging/"

    /// One control endpoint: one file per concern registers its endpoints in `ControlPlane.endpoints`.
    public struct Endpoint: Sendable {
        public let method: String
        public let path: String
        /// Query parameters it takes besides `account` and `region`; any other is refused with a 400.
        public let query: Set<String>
        /// Answers a call: at once, or later (`Reply.deferred`).
        public let reply: @Sendable (ControlCall) throws(APIError) -> Reply

        /// An endpoint that answers at once.
        public init(_ method: String, _ path: String, query: Set<String> = [],
                    _ handler: @escaping @Sendable (ControlCall) throws(APIError) -> Response) {
            self.init(method, path, query: query, reply: { call throws(APIError) in Reply(try handler(call)) })
        }

        /// An endpoint whose answer may be deferred (work off the loop, answered when it is done).
        public init(_ method: String, _ path: String, query: Set<String> = [],
                    reply: @escaping @Sendable (ControlCall) throws(APIError) -> Reply) {
            self.method = method
            self.path = path
            self.query = query
            self.reply = reply
        }
    }

    static let endpoints: [Endpoint] = HealthEndpoints.all + FixtureEndpoints.all + FaultEndpoints.all
        + JournalEndpoints.all + StateEndpoints.all + LifecycleEndpoints.all + ImportEndpoints.all
        + EventEndpoints.all + UIEndpoints.all + ClockEndpoints.all + AuthorizerEndpoints.all
}

/// What a control endpoint gets: the request, path parameters, the emulator, and the namespace it targets
/// (`?account=&region=` when given, else the caller's, derived as for API calls), or every namespace when the
/// endpoint takes `?scope=all` and got it.
public struct ControlCall {
    public let request: Request
    public let parameters: [String: String]
    public let emulator: Emulator
    public let namespace: Namespace
    /// `?scope=all`: the call acts on every namespace (only endpoints whose `query` lists `scope`).
    public var allNamespaces = false

    public func path(_ name: String) -> String { parameters[name] ?? "" }

    /// The request body as JSON; an empty body reads as `{}`.
    public func body() throws(APIError) -> JSONValue {
        do {
            return try request.jsonBody()
        } catch {
            throw .validation("$: \(error.description)")
        }
    }
}

extension Response {
    /// A control-plane JSON answer built with a `JSONWriter`.
    static func json(status: Int = 200, _ body: (inout JSONWriter) -> Void) -> Response {
        var writer = JSONWriter()
        writer.object(body)
        return Response(status: status, json: writer.bytes)
    }
}
