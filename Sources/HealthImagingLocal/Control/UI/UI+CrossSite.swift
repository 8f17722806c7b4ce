import HealthImagingHTTP
/// The web view against cross-site requests (docs/hardening.md, "Web view"). A page of another site open in the
/// same browser can submit a form to the emulator (and `SameSite=Strict` cookies still reach other ports of the
/// same host), so every state-changing request of the view — any method but GET/HEAD under
/// `/_healthimaging/ui` that matches a route — must pass, with or without `--control-token`:
/// - `Sec-Fetch-Site`, when sent, is `same-origin`;
/// - `Origin`, when sent, is this server's own (`http://` + the request's `Host`);
/// - the form field `csrf` is this server's form token (random per server start, in every form the view writes).
/// Anything else is answered 403 AccessDeniedException, and nothing changes.
///
/// Every HTML page (error pages, the 401 page, redirects included) goes out through `htmlResponse`, with
/// `X-Content-Type-Options: nosniff` and the Content-Security-Policy.
extension UIEndpoints {
    static let formTokenField = "csrf"
    static let contentSecurityPolicy = "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// Nil when `request` may go on; else the 403 to answer.
    static func crossSiteRefusal(_ request: Request, formToken: String) -> Response? {
        guard request.method != "GET", request.method != "HEAD",
            request.path == base || request.path.hasPrefix(base + "/")
        else { return nil }
        var problem: String?
        if let site = request.header("Sec-Fetch-Site"), site.lowercased() != "same-origin" {
            problem = "the browser says the form came from another site (Sec-Fetch-Site: \(site))"
        } else if let origin = request.header("Origin") {
            let own = request.header("Host").map { "http://" + $0.lowercased() }
            if origin.lowercased() != own {
                problem = "the form came from another origin (Origin: \(origin))"
            }
        }
        if problem == nil {
            let presented = form(request)[formTokenField] ?? ""
            if presented.isEmpty || !ControlAccess.tokenMatches(presented, token: formToken) {
                problem = "the form does not carry this server's form token (reload the page and submit again)"
            }
        }
        guard let problem else { return nil }
        let message = "Refused a cross-site request to the web view: \(problem)."
        guard request.header("Accept")?.contains("text/html") == true else {
            return APIError(.accessDenied, message).response
        }
        let html = frame("Refused") { html in
            html.element("<p class=\"error\" id=\"error\">", message, "</p>")
            html.link(base, "Back to the overview")
        }
        return htmlResponse(status: 403, html, extra: [("x-amzn-ErrorType", ErrorCode.accessDenied.rawValue)])
    }

    /// An HTML answer with the view's security headers.
    static func htmlResponse(status: Int, _ html: HTML, extra: [(name: String, value: String)] = []) -> Response {
        Response(status: status, headers: [
            ("Content-Type", "text/html; charset=utf-8"),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
            ("Content-Security-Policy", contentSecurityPolicy),
        ] + extra, body: html.bytes)
    }

    /// The hidden field every state-changing form carries.
    static func formTokenInput(_ html: inout HTML, _ emulator: Emulator) {
        html.raw("<input type=\"hidden\" name=\"csrf\" value=\"")
        html.text(emulator.formToken)
        html.raw("\">")
    }
}
