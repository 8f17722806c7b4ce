import Logging

/// The emulator: configuration, store and route table, answering one request at a time on the event loop.
public final class Emulator {
    public struct Configuration: Sendable {
        public var databasePath: String?
        public var account: String
        public var region: String
        /// Limits answered with JSON 414 / 431 / 413 (libevent's own hard limits are far above these).
        public var maxURILength = 16 * 1024
        public var maxHeaderBytes = 64 * 1024
        public var maxBodyBytes = 16 * 1024 * 1024
        /// Whether read-only answers are served from `ResponseCache` while the store is unchanged.
        public var readCache = true
        /// How many API requests the journal keeps.
        public var journalSize = 1000
        /// Fixture documents loaded at startup (and again by a reset to `startup`).
        public var fixtures: [Fixture] = []
        /// Fault rules active at startup (and again after a reset to `startup`).
        public var faults = FaultDocument(seed: 0, rules: [])
        /// How asynchronous state changes complete, for datastores and image sets alike (`--transitions`);
        /// the control plane can change it per resource type at run time.
        public var transitions: TransitionMode = .immediate

        public init(databasePath: String? = nil, account: String = "123456789012", region: String = "us-east-1") {
            self.databasePath = databasePath
            self.account = account
            self.region = region
        }
    }

    public let configuration: Configuration
    public let store: Store
    public let tokens: PageTokenCodec
    public var logger: Logger
    public var faults: FaultEngine
    public var journal: Journal
    private let router: Router<any Operation.Type>
    private let controlRouter: Router<ControlPlane.Endpoint>
    private var requestIds = RequestIdGenerator()
    private var readCache = ResponseCache()
    public static let version = "0.1.0"
    /// When the emulator started, epoch milliseconds.
    public let startedAt = Timestamp.nowMillis()

    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        store = try Store(path: configuration.databasePath)
        tokens = PageTokenCodec(key: store.tokenKey)
        faults = configuration.faults.engine()
        journal = Journal(capacity: configuration.journalSize)
        for resource in TransitionResource.allCases { try store.setTransitionMode(resource, configuration.transitions) }
        var router = Router<any Operation.Type>()
        for operation in Operations.all {
            router.add(operation.method, operation.path, operation)
        }
        self.router = router
        var controlRouter = Router<ControlPlane.Endpoint>()
        for endpoint in ControlPlane.endpoints {
            controlRouter.add(endpoint.method, endpoint.path, endpoint)
        }
        self.controlRouter = controlRouter
    }

    /// Runs a store call for a control endpoint; a storage failure becomes InternalServerException.
    public func run<T>(_ body: (Emulator) throws -> T) throws(APIError) -> T {
        do {
            return try body(self)
        } catch let error as APIError {
            throw error
        } catch let error as FixtureError {
            throw APIError.validation(error.summary { "\(error.source == "request" ? "" : error.source + ": ")\($0)" })
        } catch {
            logger.error("store failure: \(error)")
            throw APIError(.internalServer, "Internal storage error: \(error)")
        }
    }

    public var defaultNamespace: Namespace {
        Namespace(account: configuration.account, region: configuration.region)
    }

    /// Loads the startup fixtures into the default namespace (all or nothing).
    public func loadStartupFixtures() throws {
        try store.load(configuration.fixtures, into: defaultNamespace)
    }

    /// Answers one request. Never throws: every failure is a JSON error response with `x-amzn-ErrorType`.
    public func handle(_ request: Request) -> Reply {
        let began = ContinuousClock.now
        var reply = respond(request, began: began)
        reply.response.headers.append(("x-amzn-RequestId", requestIds.next()))
        logger.debug("\(request.method) \(request.path) → \(reply.response.status)")
        return reply
    }

    private func respond(_ request: Request, began: ContinuousClock.Instant) -> Reply {
        if let refused = refuseOversized(request) { return Reply(refused) }
        if request.path.hasPrefix(ControlPlane.prefix) {
            return Reply(control(request))
        }
        let namespace = namespace(of: request)
        var operationName: String?
        var parameters: [String: String] = [:]
        var fault: FaultRule?
        let response: Response
        switch router.match(method: request.method, path: request.path) {
        case .found(let operation, let found):
            operationName = operation.name
            parameters = found
            fault = faults.fire(operation: operation.name, parameters: found)
            if let error = fault?.error {
                response = error.response
            } else {
                let cacheKey = operation.isReadOnly && configuration.readCache ? ResponseCache.key(operation: operation.name, namespace: namespace, request: request) : nil
                if let cacheKey, let cached = readCache.lookup(cacheKey, store: store) {
                    response = cached
                } else {
                    let call = Call(request: request, parameters: found, namespace: namespace, store: store,
                                    tokens: tokens, logger: logger)
                    do {
                        response = try operation.handle(call)
                    } catch {
                        response = error.response
                    }
                    if let cacheKey { readCache.store(response, for: cacheKey, store: store) }
                }
            }
        case .wrongMethod(let allowed):
            response = wrongMethod(request, allowed)
        case .notFound:
            response = APIError(.unknownOperation, "No operation matches \(request.method) \(request.path)").response
        }
        let delay = fault?.latencyMillis ?? 0
        let elapsed = ContinuousClock.now - began
        journal.record(Journal.Entry(
            sequence: 0, time: Timestamp.nowMillis(), namespace: namespace, operation: operationName,
            method: request.method, path: request.path, parameters: parameters, query: request.query,
            status: response.status, errorCode: response.header("x-amzn-ErrorType"),
            latencyMillis: Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000 + Double(delay),
            fault: fault?.id))
        return Reply(response, delayMillis: delay)
    }

    private func refuseOversized(_ request: Request) -> Response? {
        if request.uriLength > configuration.maxURILength {
            return APIError(.uriTooLong, "The request URI is longer than \(configuration.maxURILength) bytes").response
        }
        if request.headerBytes > configuration.maxHeaderBytes {
            return APIError(.headersTooLarge, "The request headers are larger than \(configuration.maxHeaderBytes) bytes").response
        }
        if request.body.count > configuration.maxBodyBytes {
            return APIError(.payloadTooLarge, "The request body is larger than \(configuration.maxBodyBytes) bytes").response
        }
        return nil
    }

    private func control(_ request: Request) -> Response {
        switch controlRouter.match(method: request.method, path: request.path) {
        case .found(let endpoint, let parameters):
            var namespace = namespace(of: request)
            if let account = request.query("account") { namespace.account = account }
            if let region = request.query("region") { namespace.region = region }
            let call = ControlCall(request: request, parameters: parameters, emulator: self, namespace: namespace)
            do {
                return try endpoint.handler(call)
            } catch {
                return error.response
            }
        case .wrongMethod(let allowed):
            return wrongMethod(request, allowed)
        case .notFound:
            return APIError(.unknownOperation, "No control endpoint matches \(request.method) \(request.path)").response
        }
    }

    private func wrongMethod(_ request: Request, _ allowed: [String]) -> Response {
        var response = APIError(.methodNotAllowed, "\(request.method) is not allowed on \(request.path); use \(allowed.joined(separator: ", "))").response
        response.headers.append(("Allow", allowed.joined(separator: ", ")))
        return response
    }
}

@available(*, unavailable)
extension Emulator: Sendable {}

/// Request ids in the UUID v4 form, from a fast generator seeded by the system's (not a security boundary).
struct RequestIdGenerator {
    private var state: UInt64 = UInt64.random(in: .min ... .max)
    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    private mutating func next64() -> UInt64 {
        // SplitMix64.
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func next() -> String {
        var high = next64()
        var low = next64()
        high = (high & ~0xF000) | 0x4000  // version 4
        low = (low & ~(0xC << 60)) | (0x8 << 60)  // variant 10
        var out = [UInt8](repeating: UInt8(ascii: "-"), count: 36)
        var position = 0
        for (index, word) in [high, low].enumerated() {
            for nibble in stride(from: 60, through: 0, by: -4) {
                if [8, 13, 18, 23].contains(position) { position += 1 }
                out[position] = Self.hex[Int((word >> UInt64(nibble)) & 0xF)]
                position += 1
            }
            _ = index
        }
        return String(decoding: out, as: UTF8.self)
    }
}
