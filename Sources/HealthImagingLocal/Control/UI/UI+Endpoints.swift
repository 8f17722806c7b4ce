import HealthImagingJSON
import HealthImagingHTTP
/// The web view of the emulator, part of the control plane (so whatever guards the control plane guards it):
///   GET  /_healthimaging/ui                                     overview: namespaces, fault rules, reset
///   GET  /_healthimaging/ui/namespaces/{account}/{region}        datastores and their image sets
///   GET  /_healthimaging/ui/namespaces/{account}/{region}/datastores/{datastoreId}/imageSets/{imageSetId}[?version=N]
///                                                               version timeline, a version's metadata document, frames
///   GET  …/imageSets/{imageSetId}/frames/{frameId}.png            a frame preview (UI+Frames.swift)
///   GET  /_healthimaging/ui/journal[?operation=&refresh=S]      the journal, newest first, auto-refreshing
///   POST /_healthimaging/ui/faults                              ← an HTML form: adds one fault rule
///   POST /_healthimaging/ui/faults/{ruleId}/delete              deletes one rule
///   POST /_healthimaging/ui/reset                               ← form: scope=all | account+region; to=startup|empty
/// Server-rendered HTML with inline CSS, no script and no external asset; every value is HTML-escaped.
/// The pages read the store directly and never settle a pending transition or count a read.
/// A browser that cannot send an `Authorization` header passes a control token as `?token=` once: the page sets
/// the `hil_token` cookie (HttpOnly, SameSite=Strict, path /_healthimaging/) and later pages send it back;
/// `UIEndpoints.browserToken(_:)` reads either.
enum UIEndpoints {
    static let base = "/_healthimaging/ui"
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", base, query: ["token"], overview),
        .init("GET", base + "/namespaces/{account}/{region}", query: ["token"], reply: namespacePage),
        .init("GET", base + "/namespaces/{account}/{region}/datastores/{datastoreId}/imageSets/{imageSetId}",
              query: ["token", "version"], imageSetPage),
        .init("GET", base + "/namespaces/{account}/{region}/datastores/{datastoreId}/imageSets/{imageSetId}/frames/{frame}",
              query: ["token"], framePreview),
        .init("GET", base + "/journal", query: ["token", "operation", "refresh"], journalPage),
        .init("POST", base + "/faults", query: ["token"], addFault),
        .init("POST", base + "/faults/{account}/{region}/{ruleId}/delete", query: ["token"], deleteFault),
        .init("POST", base + "/reset", query: ["token"], reset),
    ]

    /// The control plane's guard for the view's routes: besides `Authorization: Bearer` (`ControlAccess`), a
    /// browser may present the token as `?token=` or the `hil_token` cookie. Every other control route is left
    /// to `ControlAccess.refusal` unchanged.
    public static func refusal(_ request: Request, token: String?) -> Response? {
        guard let token, request.path == base || request.path.hasPrefix(base + "/") else {
            return ControlAccess.refusal(request, token: token)
        }
        if let presented = browserToken(request), ControlAccess.tokenMatches(presented, token: token) { return nil }
        // Only a browser (Accept: text/html) without a header gets the page; other clients get the JSON error.
        guard request.header("Authorization") == nil, request.header("Accept")?.contains("text/html") == true else {
            return ControlAccess.refusal(request, token: token)
        }
        let html = frame("Control token required") { html in
            html.raw("""
                <p class="error" id="error">This emulator was started with <code>--control-token</code>.                 Open <code>/_healthimaging/ui?token=TOKEN</code> once; the page keeps it in a cookie.</p>
                """)
        }
        return htmlResponse(status: 401, html, extra: [("x-amzn-ErrorType", "UnauthorizedException"),
                                                       ("WWW-Authenticate", "Bearer realm=\"healthimaging-local\"")])
    }

    static let cookieName = "hil_token"

    /// The control token a browser sent: `?token=` or the `hil_token` cookie.
    public static func browserToken(_ request: Request) -> String? {
        if let token = request.query("token"), !token.isEmpty { return token }
        guard let cookies = request.header("Cookie") else { return nil }
        for part in cookies.split(separator: ";") {
            let pair = part.split(separator: "=", maxSplits: 1)
            if pair.count == 2, pair[0].trimmingSpaces == cookieName { return String(pair[1].trimmingSpaces) }
        }
        return nil
    }

    /// An HTML answer; a `?token=` in the request is kept as a cookie for the pages that follow.
    static func page(_ call: ControlCall, status: Int = 200, _ html: HTML) -> Response {
        var headers: [(name: String, value: String)] = []
        if let token = call.request.query("token"), !token.isEmpty,
            token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ";") && $0 != UInt8(ascii: ",") }) {
            headers.append(("Set-Cookie", "\(cookieName)=\(token); Path=/_healthimaging/; HttpOnly; SameSite=Strict"))
        }
        return htmlResponse(status: status, html, extra: headers)
    }

    /// After a form POST: back to a page with 303 See Other.
    static func redirect(_ location: String) -> Response {
        var html = HTML()
        html.raw("<!doctype html><a href=\"")
        html.text(location)
        html.raw("\">continue</a>")
        return htmlResponse(status: 303, html, extra: [("Location", location)])
    }

    /// Form fields of an `application/x-www-form-urlencoded` body.
    static func form(_ request: Request) -> [String: String] {
        var fields: [String: String] = [:]
        for (name, value) in Request.parseQuery(Substring(String(decoding: request.body, as: UTF8.self))) where fields[name] == nil {
            fields[name] = value
        }
        return fields
    }

    // MARK: actions

    static func addFault(_ call: ControlCall) throws(APIError) -> Response {
        let fields = form(call.request)
        var members: [(key: String, value: JSONValue)] = []
        func text(_ name: String) -> String? {
            guard let value = fields[name]?.trimmingSpaces, !value.isEmpty else { return nil }
            return String(value)
        }
        func number(_ text: String) -> JSONValue {
            Double(text) != nil && !text.contains(where: { $0.isLetter }) ? .number(text) : .string(text)
        }
        let account = text("account") ?? call.emulator.defaultNamespace.account
        let region = text("region") ?? call.emulator.defaultNamespace.region
        guard Regions.isAccountId(account), Regions.isRegionName(region) else {
            return errorPage(call, status: 400, title: "The fault rule was not added",
                             message: "account must be 12 digits and region a region name (like us-east-1)")
        }
        for name in ["operation", "datastoreId", "imageSetId"] {
            if let value = text(name) { members.append((name, .string(value))) }
        }
        if let code = text("errorCode") {
            var error: [(key: String, value: JSONValue)] = [("code", .string(code))]
            if let message = text("message") { error.append(("message", .string(message))) }
            members.append(("error", .object(error)))
        }
        for name in ["latencyMs", "times", "probability"] {
            if let value = text(name) { members.append((name, number(value))) }
        }
        do {
            let rule = try JSONReader.validated(.object(members), FaultRule.read)
            _ = call.emulator.faults[Namespace(account: account, region: region), default: FaultEngine()].add([rule])
        } catch {
            return errorPage(call, status: 400, title: "The fault rule was not added", message: error.message)
        }
        return redirect(base + "#faults")
    }

    static func deleteFault(_ call: ControlCall) throws(APIError) -> Response {
        let id = call.path("ruleId")
        let namespace = Namespace(account: call.path("account"), region: call.path("region"))
        guard call.emulator.faults[namespace]?.remove(id: id) == true else {
            return errorPage(call, status: 404, title: "No such fault rule", message: "No fault rule \(id)")
        }
        return redirect(base + "#faults")
    }

    static func reset(_ call: ControlCall) throws(APIError) -> Response {
        let fields = form(call.request)
        let toStartup = (fields["to"] ?? "startup") != "empty"
        var namespace: Namespace?
        if fields["scope"] != "all" {
            guard let account = fields["account"], let region = fields["region"], Regions.isAccountId(account), Regions.isRegionName(region) else {
                return errorPage(call, status: 400, title: "Nothing was reset",
                                 message: "scope must be \"all\", or account (12 digits) and region must be given")
            }
            namespace = Namespace(account: account, region: region)
        }
        try call.emulator.run { try $0.reset(namespace: namespace, toStartup: toStartup) }
        return redirect(base)
    }
}
