import HealthImagingJSON
import HealthImagingHTTP

extension Request {
    /// The body as JSON; an empty (or all-whitespace) body reads as `{}`.
    public func jsonBody() throws(JSONSyntaxError) -> JSONValue {
        if body.allSatisfy({ [0x20, 0x0A, 0x0D, 0x09].contains($0) }) { return .object([]) }
        return try JSONParser.parse(body)
    }
}
