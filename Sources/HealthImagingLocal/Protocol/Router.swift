import HealthImagingHTTP
/// Routes by method + path only (the Host never matters: SDKs prefix `runtime-` to data-plane hosts).
/// Built once: templates are split into byte segments up front and grouped by segment count; a request's
/// path is split on `/` *before* percent-decoding, so an ARN with `%2F` stays one segment. Matching looks only
/// at the routes with the path's segment count and compares bytes, no allocation but the captured parameters.
public struct Router<Target> {
    enum Segment: Equatable {
        case literal([UInt8])
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

    /// Routes by segment count (index), in the order added.
    private var routes: [[Route]] = []

    public init() {}

    /// Adds `method template → target`, where template is like `/datastore/{datastoreId}`.
    public mutating func add(_ method: String, _ template: String, _ target: Target) {
        let segments: [Segment] = template.split(separator: "/", omittingEmptySubsequences: false).dropFirst().map {
            $0.hasPrefix("{") && $0.hasSuffix("}") ? .parameter(String($0.dropFirst().dropLast())) : .literal(Array($0.utf8))
        }
        while routes.count <= segments.count { routes.append([]) }
        routes[segments.count].append(Route(method: method, segments: segments, target: target))
    }

    public func match(method: String, path: String) -> Match {
        var path = path
        return path.withUTF8 { bytes in match(method: method, bytes: bytes) }
    }

    private func match(method: String, bytes: UnsafeBufferPointer<UInt8>) -> Match {
        guard bytes.first == UInt8(ascii: "/") else { return .notFound }
        // Segment boundaries after the leading slash: ranges into `bytes`.
        var count = 1
        for index in 1..<bytes.count where bytes[index] == UInt8(ascii: "/") { count += 1 }
        guard count < routes.count, !routes[count].isEmpty else { return .notFound }
        var parts: [Range<Int>] = []
        parts.reserveCapacity(count)
        var start = 1
        for index in 1..<bytes.count where bytes[index] == UInt8(ascii: "/") {
            parts.append(start..<index)
            start = index + 1
        }
        parts.append(start..<bytes.count)

        var allowed: [String] = []
        for route in routes[count] {
            var matched = true
            for (segment, part) in zip(route.segments, parts) {
                switch segment {
                case .literal(let literal):
                    matched = literal.count == part.count
                        && zip(literal, bytes[part]).allSatisfy { $0 == $1 }
                case .parameter:
                    matched = !part.isEmpty
                }
                if !matched { break }
            }
            guard matched else { continue }
            guard route.method == method else {
                allowed.append(route.method)
                continue
            }
            var parameters: [String: String] = [:]
            for (segment, part) in zip(route.segments, parts) {
                guard case .parameter(let name) = segment else { continue }
                parameters[name] = percentDecode(UnsafeBufferPointer(rebasing: bytes[part]))
            }
            return .found(route.target, parameters: parameters)
        }
        return allowed.isEmpty ? .notFound : .wrongMethod(allowed: allowed)
    }
}
