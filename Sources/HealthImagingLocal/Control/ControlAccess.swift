import HealthImagingHTTP
/// Who may use the control plane, and which namespace a control call aims at.
///
/// - `--control-plane off`: `Emulator.respond` never routes `/_healthimaging/…`; it answers like any unknown path.
/// - `--control-token TOKEN`: every control route (the web UI included) needs `Authorization: Bearer TOKEN`;
///   none → 401 `UnauthorizedException` (with `WWW-Authenticate: Bearer`), another → 403 `AccessDeniedException`.
///   `ControlAccess.refusal(_:token:)` is the one check; `ControlAccess.tokenMatches` compares in constant time
///   for a caller that finds the token elsewhere (a cookie, a `?token=` parameter).
public enum ControlAccess {
    /// Nil when `request` may use the control plane; else the JSON error to answer.
    public static func refusal(_ request: Request, token: String?) -> Response? {
        guard let token else { return nil }
        guard let header = request.header("Authorization") else {
            var response = APIError(.unauthorized, "The control plane requires the header Authorization: Bearer <token> (--control-token)").response
            response.headers.append(("WWW-Authenticate", "Bearer realm=\"healthimaging-local\""))
            return response
        }
        let scheme = "bearer "
        guard header.count > scheme.count, header.prefix(scheme.count).lowercased() == scheme,
            tokenMatches(String(header.dropFirst(scheme.count)).trimmingCharacters(in: .whitespaces), token: token)
        else {
            return APIError(.accessDenied, "The control token is not the one this emulator was started with (--control-token)").response
        }
        return nil
    }

    /// Whether `presented` equals `token`, in time independent of where they differ.
    public static func tokenMatches(_ presented: String, token: String) -> Bool {
        let a = Array(presented.utf8), b = Array(token.utf8)
        var difference = UInt8(truncatingIfNeeded: a.count ^ b.count)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// The query parameters every control call takes.
    static let commonQuery: Set<String> = ["account", "region"]

    /// The namespace a control call targets, and whether it asked for every namespace (`?scope=all`).
    /// `?account=` must be 12 digits and `?region=` a region name; a parameter the endpoint does not take, or
    /// one given twice, is refused — so a typo (`?acount=`) never widens what a call touches.
    static func target(_ request: Request, endpoint: ControlPlane.Endpoint, caller: Namespace) throws(APIError) -> (Namespace, all: Bool) {
        let allowed = commonQuery.union(endpoint.query)
        var problems: [String] = []
        var seen: Set<String> = []
        for (name, _) in request.query {
            if !allowed.contains(name) {
                problems.append("\(name): unknown query parameter for \(endpoint.method) \(endpoint.path); it takes \(allowed.sorted().joined(separator: ", "))")
            } else if !seen.insert(name).inserted {
                problems.append("\(name): given more than once")
            }
        }
        var namespace = caller
        if let account = request.query("account") {
            if Regions.isAccountId(account) { namespace.account = account } else {
                problems.append("account: \"\(account.prefix(64))\" is not a 12-digit AWS account id")
            }
        }
        if let region = request.query("region") {
            if Regions.isRegionName(region) { namespace.region = region } else {
                problems.append("region: \"\(region.prefix(64))\" is not a region name (like us-east-1)")
            }
        }
        var all = false
        if let scope = request.query("scope") {
            if scope != "all" {
                problems.append("scope: must be \"all\" (or left out for the namespace)")
            } else if request.query("account") != nil || request.query("region") != nil {
                problems.append("scope: \"all\" cannot be combined with account or region")
            } else {
                all = true
            }
        }
        if !problems.isEmpty { throw .validation(problems.prefix(10).joined(separator: "; ")) }
        return (namespace, all)
    }
}
