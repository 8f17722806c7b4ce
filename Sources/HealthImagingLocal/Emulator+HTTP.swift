import HealthImagingHTTP
import Logging

/// The emulator on the HTTP server (HealthImagingHTTP knows nothing of it): how it is served, and what binding an
/// address exposes.
extension HTTPServer {
    /// A server whose every request `emulator` answers, refusals included (its rest-json errors).
    public convenience init(serving emulator: Emulator, host: String, port: Int, limits: RequestHead.Limits = .init(),
                            handleSignals: Bool = true, logger: Logger = Logger(label: "healthimaging-local")) throws {
        try self.init(host: host, port: port, limits: limits, handleSignals: handleSignals, logger: logger,
                      refused: { emulator.refusalResponse($0) }) { emulator.handle($0) }
    }
}

extension ListenAddress {
    /// The warning printed when binding a non-loopback address: what is reachable from other machines, and how
    /// to guard it.
    public static func exposureWarning(host: String, port: Int, configuration: Emulator.Configuration) -> String? {
        guard !isLoopback(host) else { return nil }
        var exposed: [String] = []
        exposed.append(configuration.signatures == nil
            ? "the emulated medical-imaging API, which accepts any credentials or none (--verify-signatures checks them)"
            : "the emulated medical-imaging API (signatures verified)")
        if !configuration.controlPlane {
            exposed.append("no control plane (--control-plane off)")
        } else if configuration.controlToken == nil {
            exposed.append("the control plane /_healthimaging/ WITHOUT authentication: anyone who can connect can reset or replace all data, inject faults and read the request journal (guard it with --control-token TOKEN or --control-plane off)")
        } else {
            exposed.append("the control plane /_healthimaging/, guarded by --control-token")
        }
        return "healthimaging-local: warning: listening on \(host):\(port), reachable from other machines: " + exposed.joined(separator: "; ")
    }
}
