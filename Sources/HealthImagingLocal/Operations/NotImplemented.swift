import HealthImagingHTTP
/// An operation of the service model the emulator routes but does not implement: a JSON 501
/// `NotImplementedException` naming the operation (never a 404, so clients see the route exists).
public protocol NotImplementedOperation: Operation {}

extension NotImplementedOperation {
    public static func handle(_ call: Call) throws(APIError) -> Response {
        throw APIError(.notImplemented, "\(name) is not implemented by healthimaging-local")
    }
}
