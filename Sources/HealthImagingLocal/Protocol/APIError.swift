import HealthImagingJSON
import HealthImagingHTTP
/// An error in the rest-json shape: HTTP status from the service model, `x-amzn-ErrorType`, and
/// `{"__type": code, "message": message}`.
public struct APIError: Error, Equatable, Sendable {
    public var code: ErrorCode
    public var message: String

    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// What the HTTP layer refused, as the error the service would answer.
    public init(_ refusal: HTTPRefusal) {
        let code: ErrorCode = switch refusal.reason {
        case .badRequest: .badRequest
        case .notFound: .unknownOperation
        case .payloadTooLarge: .payloadTooLarge
        case .uriTooLong: .uriTooLong
        case .headersTooLarge: .headersTooLarge
        case .notImplemented: .notImplemented
        case .internalServer: .internalServer
        }
        self.init(code, refusal.message)
    }

    public static func validation(_ message: String) -> APIError { APIError(.validation, message) }
    public static func notFound(_ message: String) -> APIError { APIError(.resourceNotFound, message) }
    public static func conflict(_ message: String) -> APIError { APIError(.conflict, message) }

    /// The service's wording for a member that breaks a model constraint:
    /// `1 validation error detected: Value 'x' at 'member' failed to satisfy constraint: …`
    public static func invalid(_ value: String, at member: String, _ constraint: String) -> APIError {
        .validation("1 validation error detected: Value '\(value.prefix(64))' at '\(member)' failed to satisfy constraint: \(constraint)")
    }
}

/// The error codes the emulator answers with. The service model's exceptions first (status from their
/// `error.httpStatusCode`), then the few the emulator needs for requests that reach no operation.
public enum ErrorCode: String, CaseIterable, Sendable {
    case validation = "ValidationException"
    case badRequest = "BadRequestException"
    case accessDenied = "AccessDeniedException"
    case resourceNotFound = "ResourceNotFoundException"
    case notAcceptable = "NotAcceptableException"
    case conflict = "ConflictException"
    case serviceQuotaExceeded = "ServiceQuotaExceededException"
    case throttling = "ThrottlingException"
    case internalServer = "InternalServerException"
    // Not in the model: answered before any operation is chosen.
    case unknownOperation = "UnknownOperationException"
    case methodNotAllowed = "MethodNotAllowedException"
    case notImplemented = "NotImplementedException"
    case payloadTooLarge = "RequestEntityTooLargeException"
    /// STOW-RS bodies of a media type it does not take.
    case unsupportedMediaType = "UnsupportedMediaTypeException"
    case uriTooLong = "RequestURITooLongException"
    case headersTooLarge = "RequestHeaderFieldsTooLargeException"
    // Signature verification (`--verify-signatures`), as AWS answers them.
    case missingAuthenticationToken = "MissingAuthenticationTokenException"
    case incompleteSignature = "IncompleteSignatureException"
    case invalidSignature = "InvalidSignatureException"
    case unrecognizedClient = "UnrecognizedClientException"
    // The control plane's bearer token (`--control-token`) is missing.
    case unauthorized = "UnauthorizedException"

    public var status: Int {
        switch self {
        case .validation, .badRequest, .incompleteSignature: 400
        case .unauthorized: 401
        case .missingAuthenticationToken, .invalidSignature, .unrecognizedClient: 403
        case .serviceQuotaExceeded: 402
        case .accessDenied: 403
        case .resourceNotFound, .unknownOperation: 404
        case .methodNotAllowed: 405
        case .notAcceptable: 406
        case .conflict: 409
        case .payloadTooLarge: 413
        case .unsupportedMediaType: 415
        case .uriTooLong: 414
        case .throttling: 429
        case .headersTooLarge: 431
        case .internalServer: 500
        case .notImplemented: 501
        }
    }

    /// Whether the service model defines this error (as opposed to the emulator's own protocol errors).
    public var isModelError: Bool {
        switch self {
        case .validation, .badRequest, .accessDenied, .resourceNotFound, .notAcceptable, .conflict,
            .serviceQuotaExceeded, .throttling, .internalServer:
            true
        default: false
        }
    }
}

extension APIError {
    /// The JSON error response. A message may echo what the request said (a path, a name): `<`, `>` and `&` go out
    /// as `\u003c`, `\u003e`, `\u0026` (the same string to any JSON reader, inert to a browser that sniffs), and
    /// `X-Content-Type-Options: nosniff` forbids sniffing anyway.
    public var response: Response {
        var json = JSONWriter()
        json.object {
            $0.field("__type", code.rawValue)
            $0.field("message", message)
        }
        var bytes = json.bytes
        if bytes.contains(where: { $0 == UInt8(ascii: "<") || $0 == UInt8(ascii: ">") || $0 == UInt8(ascii: "&") }) {
            // Only string contents can hold these bytes in JSON text, so a byte-level swap is exact.
            var escaped: [UInt8] = []
            escaped.reserveCapacity(bytes.count + 32)
            for byte in bytes {
                switch byte {
                case UInt8(ascii: "<"): escaped.append(contentsOf: "\\u003c".utf8)
                case UInt8(ascii: ">"): escaped.append(contentsOf: "\\u003e".utf8)
                case UInt8(ascii: "&"): escaped.append(contentsOf: "\\u0026".utf8)
                default: escaped.append(byte)
                }
            }
            bytes = escaped
        }
        var response = Response(status: code.status, json: bytes)
        response.headers.append(("x-amzn-ErrorType", code.rawValue))
        response.headers.append(("X-Content-Type-Options", "nosniff"))
        return response
    }
}
