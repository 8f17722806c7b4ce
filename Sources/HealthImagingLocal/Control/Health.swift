import HealthImagingHTTP
/// `GET /_healthimaging/health`: readiness for CI waits and the Docker HEALTHCHECK. The counts are the target
/// namespace's (`?account=&region=`, else the caller's, else the default one); `total` counts every namespace.
enum HealthEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", "/_healthimaging/health", health),
    ]

    static func health(_ call: ControlCall) throws(APIError) -> Response {
        let (counts, total, namespaces) = try call.emulator.run {
            (try $0.store.counts(call.namespace), try $0.store.counts(), try $0.store.namespaceCount())
        }
        let uptime = Timestamp.realNowMillis() - call.emulator.startedAt
        return .json {
            $0.field("status", "ready")
            $0.field("service", "medical-imaging")
            $0.field("version", Emulator.version)
            $0.field("uptimeSeconds", raw: Array(Timestamp.format(millis: uptime).utf8))
            $0.field("account", call.namespace.account)
            $0.field("region", call.namespace.region)
            $0.field("datastores", Int64(counts.datastores))
            $0.field("imageSets", Int64(counts.imageSets))
            $0.field("versions", Int64(counts.versions))
            $0.field("total", object: {
                $0.field("namespaces", Int64(namespaces))
                $0.field("datastores", Int64(total.datastores))
                $0.field("imageSets", Int64(total.imageSets))
                $0.field("versions", Int64(total.versions))
            })
        }
    }
}
