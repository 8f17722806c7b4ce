import Logging
import HealthImagingHTTP

/// One API operation of the service model: its name, HTTP binding and handler. One file per operation;
/// adding one = that file + one line in `Operations.all`.
public protocol Operation: Sendable {
    static var name: String { get }
    static var method: String { get }
    /// The model's `requestUri` without its query part.
    static var path: String { get }
    static func handle(_ call: Call) throws(APIError) -> Response
    /// True for operations that only read: their answers may be served from `ResponseCache` while the
    /// store is unchanged.
    static var isReadOnly: Bool { get }
    /// Whether the answer depends on the request body. False for operations whose input is the path and query
    /// only: their read-cache key leaves the body out (it is ignored, so it must not grow the cache).
    static var readsBody: Bool { get }
    /// The answer, now or later. Operations whose work runs off the loop (STOW-RS) answer `.later`; the default is
    /// `.now(try handle(call))`.
    static func reply(_ call: Call) throws(APIError) -> OperationReply
    /// More method + path templates routed to the same operation (one answer for several routes).
    static var extraRoutes: [(method: String, path: String)] { get }
}

extension Operation {
    public static var isReadOnly: Bool { false }
    public static var readsBody: Bool { true }
    public static func reply(_ call: Call) throws(APIError) -> OperationReply { .now(try handle(call)) }
    public static var extraRoutes: [(method: String, path: String)] { [] }
}

/// An operation's answer: a response now, or a start function that is given the way to answer later (on the loop,
/// exactly once). The emulator journals a later answer when it is sent, and holds it for injected latency then.
public enum OperationReply {
    case now(Response)
    case later((_ answer: @escaping (Response) -> Void) -> Void)
}

/// What an operation gets to work with: the request, its decoded path parameters, the caller's namespace
/// and the emulator's services.
public struct Call {
    public let request: Request
    public let parameters: [String: String]
    public let namespace: Namespace
    public let store: Store
    public let tokens: PageTokenCodec
    public let logger: Logger
    /// The import job runner (StartDICOMImportJob hands jobs to it).
    public var imports: ImportCoordinator? = nil
    /// What absolute URLs in the answer start with (`Emulator.baseURL`: `--public-base-url` or the listening
    /// address, never the Host header), without a trailing slash.
    public var baseURL: String = "http://127.0.0.1"
    /// The largest STOW-RS body (`--max-store-bytes`).
    public var maxStoreBytes: Int = StoreDICOM.defaultMaxBytes

    /// A required path parameter (the router only matches non-empty segments).
    public func path(_ name: String) -> String { parameters[name] ?? "" }

    /// Runs a store call, turning a storage failure into InternalServerException (and logging it).
    public func store<T>(_ body: (Store) throws -> T) throws(APIError) -> T {
        do {
            return try body(store)
        } catch let error as APIError {
            throw error
        } catch {
            logger.error("store failure: \(error)")
            throw APIError(.internalServer, "Internal storage error")
        }
    }
}

/// Every operation the emulator routes.
public enum Operations {
    public static let all: [any Operation.Type] = [
        ListImageSetVersions.self,
        CreateDatastore.self,
        GetDatastore.self,
        ListDatastores.self,
        DeleteDatastore.self,
        GetImageSet.self,
        GetImageSetMetadata.self,
        UpdateImageSetMetadata.self,
        CopyImageSet.self,
        DeleteImageSet.self,
        SearchImageSets.self,
        TagResource.self,
        UntagResource.self,
        ListTagsForResource.self,
        StartDICOMImportJob.self,
        GetDICOMImportJob.self,
        ListDICOMImportJobs.self,
        GetImageFrame.self,
        // DICOMweb (Sources/HealthImagingLocal/DICOMweb/, docs/dicomweb.md).
        SearchDICOMStudies.self,
        SearchDICOMSeries.self,
        SearchDICOMInstances.self,
        SearchDICOMStudyInstances.self,
        SearchDICOMAllSeries.self,
        SearchDICOMAllInstances.self,
        GetDICOMInstance.self,
        GetDICOMInstanceMetadata.self,
        GetDICOMSeriesMetadata.self,
        GetDICOMInstanceFrames.self,
        GetDICOMBulkdata.self,
        StoreDICOM.self,
        StoreDICOMStudy.self,
        UnsupportedDICOMweb.self,
    ]
}
