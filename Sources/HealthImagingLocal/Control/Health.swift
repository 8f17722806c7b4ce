/// `GET /_healthimaging/health`: readiness for CI waits and the Docker HEALTHCHECK.
enum HealthEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", "/_healthimaging/health", health),
    ]

    static func health(_ call: ControlCall) throws(APIError) -> Response {
        let counts = try call.emulator.run { try $0.store.counts() }
        let uptime = Timestamp.nowMillis() - call.emulator.startedAt
        return .json {
            $0.field("status", "ready")
            $0.field("service", "medical-imaging")
            $0.field("version", Emulator.version)
            $0.field("uptimeSeconds", raw: Array(Timestamp.format(millis: uptime).utf8))
            $0.field("datastores", Int64(counts.datastores))
            $0.field("imageSets", Int64(counts.imageSets))
            $0.field("versions", Int64(counts.versions))
        }
    }
}
