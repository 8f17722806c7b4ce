/// Routes by method + path only (the Host never matters: SDKs prefix `runtime-` to data-plane hosts).
/// Built once: templates are split into segments up front; a request's path is split on `/` *before*
/// percent-decoding, so an ARN with `%2F` stays one segment.
public struct Router<Target> {
    enum Segment: Equatable {
        case literal(String)
        case parameter(String)
    }

    struct Route {
        let method: String
        let segments: [Segment]
        let target: Target
    }

    public enum Match {
        case found(Target, parameters: [String: String])
        /// The path exists, but not for this method.
        case wrongMethod(allowed: [String])
        case notFound
    }

    private var routes: [Route] = []

    public init() {}

    /// Adds `method template → target`, where template is like `/datastore/{datastoreId}`.
    public mutating func add(_ method: String, _ template: String, _ target: Target) {
        let segments: [Segment] = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            $0.hasPrefix("{") && $0.hasSuffix("}") ? .parameter(String($0.dropFirst().dropLast())) : .literal(String($0))
        }
        routes.append(Route(method: method, segments: segments, target: target))
    }

    public func match(method: String, path: String) -> Match {
        let parts = path.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        guard path.hasPrefix("/") else { return .notFound }
        var allowed: [String] = []
        for route in routes where route.segments.count == parts.count {
            var parameters: [String: String] = [:]
            var matched = true
            for (segment, part) in zip(route.segments, parts) {
                switch segment {
                case .literal(let literal):
                    if literal != part { matched = false }
                case .parameter(let name):
                    if part.isEmpty { matched = false } else { parameters[name] = percentDecode(part) }
                }
                if !matched { break }
            }
            guard matched else { continue }
            if route.method == method { return .found(route.target, parameters: parameters) }
            allowed.append(route.method)
        }
        return allowed.isEmpty ? .notFound : .wrongMethod(allowed: allowed)
    }
}
