import Logging
import HealthImagingDICOM
import HealthImagingHTTP

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
        /// Fixture documents loaded at startup (and again by a reset to `startup`), given in memory (library use).
        public var fixtures: [Fixture] = []
        /// Fixture files or directories (`--fixtures`) loaded at startup after `fixtures`, and read again by a reset
        /// to `startup`: their parsed documents are not kept for the server's life.
        public var fixtureFiles: [String] = []
        /// The read cache's budget in bytes (`--read-cache-bytes`; keys and answers counted).
        public var readCacheBytes = ResponseCache.defaultBudget
        /// Fault rules active at startup (and again after a reset to `startup`).
        public var faults = FaultDocument(seed: 0, rules: [])
        /// How asynchronous state changes complete, for datastores and image sets alike (`--transitions`);
        /// the control plane can change it per resource type at run time.
        public var transitions: TransitionMode = .immediate
        /// Whether `/_healthimaging/…` is served (`--control-plane on|off`); off, it answers like any unknown path.
        public var controlPlane = true
        /// When set, every control call needs `Authorization: Bearer <token>` (`--control-token`).
        public var controlToken: String?
        /// When set, API requests must carry a valid SigV4 signature (`--verify-signatures`).
        public var signatures: SignatureVerifier?
        /// Where import jobs read and write `s3://` objects (`--s3-dir` / `--s3-endpoint`); nil: nowhere, and
        /// every import job fails saying which flag to set.
        public var objectStore: (any ObjectStore)?
        /// The largest DICOM file an import job accepts (`--max-import-file-bytes`).
        public var maxImportFileBytes = ImportScanner.defaultMaxFileBytes
        /// The largest STOW-RS request body (`--max-store-bytes`): the developer guide's 1 GB of DICOM data per
        /// request, read as 1 GiB. Over it: JSON 413.
        public var maxStoreBytes = StoreDICOM.defaultMaxBytes
        /// The scheme, host and port that absolute URLs in answers start with (RetrieveURL, BulkDataURI), e.g.
        /// `http://imaging.local:8080` behind a proxy (`--public-base-url`); nil: the listening address.
        public var publicBaseURL: String?
        /// The import pool (`--import-workers`, `--import-worker-memory-mb`, `--import-file-seconds`): worker
        /// processes when `executable` is set (the binary does), in-process threads otherwise (library use).
        public var importPool = ImportPool.Configuration()
        /// Per-job bounds (`--max-import-job-files`, `--max-import-job-seconds`).
        public var maxImportJobFiles = ImportCoordinator.defaultMaxJobFiles
        public var maxImportJobSeconds = ImportCoordinator.defaultMaxJobSeconds
        /// How many events each namespace's ring keeps (`--event-ring-size`).
        public var eventRingSize = 1000
        /// Where events are sent as PutEvents (`--eventbridge-endpoint`); nil: kept in the ring only.
        public var eventBridgeEndpoint: String?
        /// Image-set events also carry the devguide's `imagesetId` (`--event-devguide-keys`).
        public var eventDevguideKeys = false
        /// `--max-frame-bytes`, `--max-decoded-file-bytes` and the fixed DICOM parsing limits (docs/hardening.md).
        public var dicomLimits = DICOMLimits.standard

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
    /// Fault rules, one engine (rules, seed, draws) per namespace; the `--faults` file's go to the default one.
    public var faults: [Namespace: FaultEngine]
    public var journal: Journal
    /// The published events, per namespace, and their delivery (Events/).
    public let events: EventLog
    /// The DICOMweb bearer-token authorizer's setting and invocations (DICOMweb+Bearer.swift).
    public var authorizer = BearerAuthorizer()
    /// The DICOM import job runner (work off the loop, results committed on it).
    public let imports: ImportCoordinator
    private let router: Router<any Operation.Type>
    private let controlRouter: Router<ControlPlane.Endpoint>
    private let streamedRoutes: Router<Int>
    private var requestIds = RequestIdGenerator()
    private var readCache: ResponseCache
    public static let version = "0.1.0"
    /// The web view's form token (UI+CrossSite.swift): random per server start, never stored.
    public let formToken = ResourceIds.make()
    /// When the emulator started, epoch milliseconds on the real clock (uptime is not moved by the test clock).
    public let startedAt = Timestamp.realNowMillis()
    /// The URL the server listens on, as printed at startup (set once bound; `--port 0` learns its port then).
    public var listenURL = "http://127.0.0.1"
    /// What absolute URLs in answers start with: `--public-base-url`, else the listening address — never the
    /// request's Host header (dicomweb-client sends it without the port).
    public var baseURL: String {
        var base = configuration.publicBaseURL ?? listenURL
        while base.hasSuffix("/") { base.removeLast() }
        return base
    }

    public init(configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        store = try Store(path: configuration.databasePath)
        tokens = PageTokenCodec(key: store.tokenKey)
        faults = [Namespace(account: configuration.account, region: configuration.region): configuration.faults.engine()]
        journal = Journal(capacity: configuration.journalSize)
        let ledger = DeliveryLedger()
        events = EventLog(capacity: configuration.eventRingSize, ledger: ledger, delivery: configuration.eventBridgeEndpoint.flatMap {
            EventDelivery(endpoint: $0, credentials: .fromEnvironment(), ledger: ledger, logger: logger)
        })
        try store.resetTransitionModes(nil, startup: configuration.transitions)
        Timestamp.setClockOffset(try store.clockOffset())
        readCache = ResponseCache(budget: configuration.readCacheBytes)
        imports = ImportCoordinator(store: store, objects: configuration.objectStore ?? UnconfiguredObjectStore(),
                                    maxFileBytes: configuration.maxImportFileBytes, pool: configuration.importPool.with(limits: configuration.dicomLimits),
                                    maxJobFiles: configuration.maxImportJobFiles,
                                    maxJobSeconds: configuration.maxImportJobSeconds, logger: logger)
        if configuration.databasePath != nil {
            let interrupted = try store.failInterruptedImportJobs()
            if interrupted > 0 { logger.warning("\(interrupted) import job(s) left running by a stopped server ended FAILED") }
        }
        var router = Router<any Operation.Type>()
        for operation in Operations.all {
            router.add(operation.method, operation.path, operation)
            for route in operation.extraRoutes { router.add(route.method, route.path, operation) }
        }
        self.router = router
        // The routes whose bodies stream to a file, with their limits (`streamedBodyLimit`): STOW-RS and, with the
        // control plane on, the one-file import shortcut.
        var streamedRoutes = Router<Int>()
        for operation in [StoreDICOM.self, StoreDICOMStudy.self] as [any Operation.Type] {
            streamedRoutes.add(operation.method, operation.path, configuration.maxStoreBytes)
        }
        if configuration.controlPlane {
            for endpoint in ControlPlane.endpoints where endpoint.method == "POST" && endpoint.path.hasSuffix("/dicom") {
                streamedRoutes.add(endpoint.method, endpoint.path, configuration.maxImportFileBytes)
            }
        }
        self.streamedRoutes = streamedRoutes
        var controlRouter = Router<ControlPlane.Endpoint>()
        for endpoint in ControlPlane.endpoints {
            controlRouter.add(endpoint.method, endpoint.path, endpoint)
        }
        self.controlRouter = controlRouter
        store.eventDevguideKeys = configuration.eventDevguideKeys
        store.eventSink = { [unowned self] event in self.publish(event) }
    }

    /// Wires the emulator into the server that will run it (the binary and the in-process test server alike), before
    /// `run()`: STOW-RS and the /dicom shortcut get their bodies in a temporary file (seam S2); import results come
    /// back on the loop when the pool posts them; timed transitions end (and announce their events) on time, not at
    /// the next read; absolute URLs in answers start with `url`.
    public func attach(to server: HTTPServer, url: String) {
        server.streamsBody = { self.streamedBodyLimit(method: $0, path: $1) }
        let imports = self.imports
        server.watch(fd: imports.worker.wakeFD) {
            imports.worker.drainWakeups()
            imports.pump()
        }
        server.every(milliseconds: 100) { self.settleDueTransitions() }
        listenURL = url
    }

    /// Settles the `timed:` transitions whose time has come (called by a loop timer): their events go out then.
    public func settleDueTransitions() {
        do {
            _ = try store.settleDue()
        } catch {
            logger.error("settling due transitions: \(error)")
        }
        store.database.resetBusyStatements()
    }

    /// Records a committed event (Store+Events.swift), after the event fault rules of its namespace had their say.
    func publish(_ event: ServiceEvent) {
        let fault = faults[event.namespace]?.fire(event: event)
        events.record(event, fault: fault)
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

    /// Answers one request. Never throws: every failure is a JSON error response with `x-amzn-ErrorType`.
    public func handle(_ request: Request) -> Reply {
        let began = ContinuousClock.now
        imports.pumpForRequest()
        var reply = respond(request, began: began)
        store.flushStagedEvents()
        let requestId = requestIds.next()
        reply.edit { $0.headers.append(("x-amzn-RequestId", requestId)) }
        logger.debug("\(request.method) \(request.path) → \(reply.isDeferred ? "deferred" : String(reply.response.status))")
        // No read snapshot outlives the request (a statement left mid-step would hold one and stall checkpoints).
        store.database.resetBusyStatements()
        return reply
    }

    /// The answer to a request the HTTP layer refused itself (`HTTPServer`'s `refused`): the rest-json error, with
    /// a request id like any answer. Not journaled: no operation was reached.
    public func refusalResponse(_ refusal: HTTPRefusal) -> Response {
        var response = APIError(refusal).response
        response.headers.append(("x-amzn-RequestId", requestIds.next()))
        return response
    }

    private func respond(_ request: Request, began: ContinuousClock.Instant) -> Reply {
        if let refused = request.refusal.map({ APIError($0).response }) ?? refuseOversized(request) { return Reply(refused) }
        if configuration.controlPlane && request.path.utf8.starts(with: ControlPlane.prefix.utf8) {
            return control(request)
        }
        let namespace = namespace(of: request)
        var operationName: String?
        var parameters: [String: String] = [:]
        var fault: FaultRule?
        let response: Response
        let match = router.match(method: request.method, path: request.path)
        if case .found(let operation as any DICOMwebOperation.Type, let found) = match,
            let token = BearerAuthorizer.token(request) {
            // A bearer token replaces SigV4 on DICOMweb routes (docs/dicomweb.md "Auth").
            let datastoreId = found["datastoreId"] ?? ""
            let datastore = try? store.datastore(namespace, datastoreId)
            if let refused = authorizer.check(token, datastore: datastore, namespace: namespace, datastoreId: datastoreId,
                                              operation: operation.iamAction) {
                return Reply(refuseSignature(request, refused, match: match, namespace: namespace, began: began))
            }
        } else if let refused = configuration.signatures?.verify(request) {
            return Reply(refuseSignature(request, refused, match: match, namespace: namespace, began: began))
        }
        switch match {
        case .found(let operation, let found):
            operationName = operation.name
            parameters = found
            fault = faults[namespace]?.fire(operation: operation.name, parameters: found)
            if let error = fault?.error {
                response = error.response
            } else {
                let cacheKey = operation.isReadOnly && configuration.readCache ? ResponseCache.key(operation: operation, namespace: namespace, request: request) : nil
                if let cacheKey, let cached = readCache.lookup(cacheKey, store: store) {
                    response = cached
                } else {
                    store.answerValidUntil = nil
                    let call = Call(request: request, parameters: found, namespace: namespace, store: store,
                                    tokens: tokens, logger: logger, imports: imports, baseURL: baseURL,
                                    maxStoreBytes: configuration.maxStoreBytes)
                    do {
                        switch try operation.reply(call) {
                        case .now(let answer):
                            response = answer
                        case .later(let start):
                            return deferred(start, request: request, namespace: namespace, operation: operation.name,
                                            parameters: found, began: began, fault: fault)
                        }
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
        record(request, response, namespace: namespace, operation: operationName, parameters: parameters,
               began: began, delayMillis: delay, fault: fault?.id)
        return Reply(response, delayMillis: delay)
    }

    /// The reply of an operation that answers later (seam S1): journaled when the answer is sent, held back by the
    /// fault rule's latency like any other answer.
    private func deferred(_ start: @escaping (@escaping (Response) -> Void) -> Void, request: Request,
                          namespace: Namespace, operation: String, parameters: [String: String],
                          began: ContinuousClock.Instant, fault: FaultRule?) -> Reply {
        let delay = fault?.latencyMillis ?? 0
        let faultId = fault?.id
        var reply = Reply.deferred { [self] responder in
            start { [self] response in
                record(request, response, namespace: namespace, operation: operation, parameters: parameters,
                       began: began, delayMillis: delay, fault: faultId)
                store.database.resetBusyStatements()
                responder.send(response)
            }
        }
        reply.delayMillis = delay
        return reply
    }

    /// Journals one API call; `latencyMs` includes an injected delay.
    private func record(_ request: Request, _ response: Response, namespace: Namespace, operation: String?,
                        parameters: [String: String], began: ContinuousClock.Instant, delayMillis: Int, fault: String?) {
        let elapsed = ContinuousClock.now - began
        journal.record(Journal.Entry(
            sequence: 0, time: Timestamp.nowMillis(), namespace: namespace, operation: operation,
            method: request.method, path: request.path, parameters: parameters, query: request.query,
            status: response.status, errorCode: response.header("x-amzn-ErrorType"),
            latencyMillis: Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000 + Double(delayMillis),
            fault: fault))
    }

    /// The answer to a request whose signature fails `--verify-signatures`, journaled like any API call.
    private func refuseSignature(_ request: Request, _ error: APIError, match: Router<any Operation.Type>.Match,
                                 namespace: Namespace, began: ContinuousClock.Instant) -> Response {
        var operationName: String?
        var parameters: [String: String] = [:]
        if case .found(let operation, let found) = match {
            operationName = operation.name
            parameters = found
        }
        let response = error.response
        record(request, response, namespace: namespace, operation: operationName, parameters: parameters,
               began: began, delayMillis: 0, fault: nil)
        return response
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

    /// The byte limit of a request whose body is streamed to a temporary file rather than buffered (seam S2): the
    /// STOW-RS routes (`maxStoreBytes`) and the import shortcut (`maxImportFileBytes`); nil: a buffered body.
    public func streamedBodyLimit(method: String, path: String) -> Int? {
        guard method == "POST", case .found(let limit, _) = streamedRoutes.match(method: method, path: path) else { return nil }
        return limit
    }

    private func control(_ request: Request) -> Reply {
        if let refused = UIEndpoints.refusal(request, token: configuration.controlToken) { return Reply(refused) }
        switch controlRouter.match(method: request.method, path: request.path) {
        case .found(let endpoint, let parameters):
            if let refused = UIEndpoints.crossSiteRefusal(request, formToken: formToken) { return Reply(refused) }
            do {
                let (namespace, all) = try ControlAccess.target(request, endpoint: endpoint, caller: namespace(of: request))
                let call = ControlCall(request: request, parameters: parameters, emulator: self, namespace: namespace,
                                       allNamespaces: all)
                return try endpoint.reply(call)
            } catch {
                return Reply(error.response)
            }
        case .wrongMethod(let allowed):
            return Reply(wrongMethod(request, allowed))
        case .notFound:
            return Reply(APIError(.unknownOperation, "No control endpoint matches \(request.method) \(request.path)").response)
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
    private mutating func next64() -> UInt64 {
        // SplitMix64.
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The next id, written straight into the String's storage (no arrays, no formatting).
    mutating func next() -> String {
        var high = next64()
        var low = next64()
        high = (high & ~0xF000) | 0x4000  // version 4
        low = (low & ~(0xC << 60)) | (0x8 << 60)  // variant 10
        return String(unsafeUninitializedCapacity: 36) { out in
            var position = 0
            func emit(_ word: UInt64) {
                var nibble = 60
                while nibble >= 0 {
                    if position == 8 || position == 13 || position == 18 || position == 23 {
                        out[position] = UInt8(ascii: "-")
                        position += 1
                    }
                    let digit = UInt8(truncatingIfNeeded: (word >> UInt64(nibble)) & 0xF)
                    out[position] = digit < 10 ? 0x30 + digit : 0x57 + digit
                    position += 1
                    nibble -= 4
                }
            }
            emit(high)
            emit(low)
            return 36
        }
    }
}
