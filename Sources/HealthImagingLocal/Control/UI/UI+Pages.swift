import HealthImagingJSON
import HealthImagingHTTP
/// The pages of the web view (see UI+Endpoints.swift for the routes).
extension UIEndpoints {
    static let style: StaticString = """
        body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1b1f24;background:#f6f8fa}
        header{background:#232f3e;color:#fff;padding:10px 20px}header a{color:#fff;margin-right:16px;text-decoration:none}
        header strong{margin-right:24px}main{padding:16px 20px}h1{font-size:20px}h2{font-size:16px;margin-top:28px}
        table{border-collapse:collapse;background:#fff;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left;vertical-align:top}
        th{background:#eef1f4}code,pre{font-family:ui-monospace,monospace;font-size:12px}pre{background:#fff;border:1px solid #d0d7de;padding:8px;overflow:auto;max-height:480px}
        .badge{display:inline-block;padding:1px 6px;border-radius:8px;font-size:12px;font-weight:600}
        .ok{background:#dafbe1;color:#116329}.busy{background:#fff8c5;color:#7d4e00}.fail{background:#ffebe9;color:#a40e26}.gone{background:#eaeef2;color:#57606a}
        .run{background:#ddf4ff;color:#0969da}.primary{background:#fbefff;color:#8250df}
        form.inline{display:inline}fieldset{border:1px solid #d0d7de;background:#fff}label{margin-right:10px}
        td code{word-break:break-all}.error{background:#ffebe9;border:1px solid #a40e26;padding:8px}.muted{color:#57606a}
        .frames{display:flex;flex-wrap:wrap;gap:10px}figure.frame{margin:0;background:#fff;border:1px solid #d0d7de;padding:6px;max-width:270px}
        img.preview{display:block;max-width:256px;max-height:256px;background:#000}figcaption{font-size:11px;word-break:break-all}
        h3{font-size:14px;margin-top:16px}
        """

    /// The page frame: title, navigation, then `body`.
    static func frame(_ title: String, refresh: Int? = nil, _ body: (inout HTML) -> Void) -> HTML {
        var html = HTML()
        // The empty data: icon keeps browsers from asking for /favicon.ico (an unknown path the journal would show).
        html.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><link rel=\"icon\" href=\"data:,\">")
        if let refresh, refresh > 0 {
            html.raw("<meta http-equiv=\"refresh\" content=\"")
            html.text(refresh)
            html.raw("\">")
        }
        html.element("<title>", title + " · healthimaging-local", "</title>")
        html.raw("<style>")
        html.raw(style)
        html.raw("</style></head><body><header><strong>healthimaging-local</strong>")
        html.link(base, "Overview")
        html.link(base + "/journal", "Journal")
        html.link(base + "#faults", "Fault rules")
        html.raw("<span class=\"muted\">")
        html.text("v" + Emulator.version)
        html.raw("</span></header><main>")
        html.element("<h1>", title, "</h1>")
        body(&html)
        html.raw("</main></body></html>")
        return html
    }

    static func errorPage(_ call: ControlCall, status: Int, title: String, message: String) -> Response {
        page(call, status: status, frame(title) { html in
            html.element("<p class=\"error\" id=\"error\">", message, "</p>")
            html.link(base, "Back to the overview")
        })
    }

    static func namespaceLink(_ namespace: Namespace) -> String {
        base + "/namespaces/" + HTML.component(namespace.account) + "/" + HTML.component(namespace.region)
    }

    static func imageSetLink(_ namespace: Namespace, _ datastoreId: String, _ imageSetId: String) -> String {
        namespaceLink(namespace) + "/datastores/" + HTML.component(datastoreId) + "/imageSets/" + HTML.component(imageSetId)
    }

    static func stateClass(_ state: String) -> StaticString {
        switch state {
        case "ACTIVE", "CREATED", "UPDATED", "COPIED", "IMPORTED", "COMPLETED": "ok"
        case "SUBMITTED", "IN_PROGRESS": "run"
        case "LOCKED": "busy"
        case "DELETED", "DELETING": "gone"
        case _ where state.hasSuffix("FAILED"): "fail"
        case _ where state.hasSuffix("ING"): "run"
        default: "gone"
        }
    }

    static func badge(_ html: inout HTML, _ value: String) {
        html.raw("<span class=\"badge ")
        html.raw(stateClass(value))
        html.raw("\">")
        html.text(value)
        html.raw("</span>")
    }

    // MARK: overview

    static func overview(_ call: ControlCall) throws(APIError) -> Response {
        let emulator = call.emulator
        var namespaces = try emulator.run { try $0.store.namespaces() }
        if !namespaces.contains(emulator.defaultNamespace) { namespaces.insert(emulator.defaultNamespace, at: 0) }
        let counts = try emulator.run { emulator in
            try namespaces.map { namespace in
                let datastores = try emulator.store.datastoreIds(namespace)
                let imageSets = try datastores.reduce(0) { $0 + (try emulator.store.imageSets(namespace, $1).count) }
                return (datastores.count, imageSets)
            }
        }
        let html = frame("Overview") { html in
            html.raw("<h2>Namespaces</h2><table id=\"namespaces\"><tr><th>account</th><th>region</th><th>datastores</th><th>image sets</th></tr>")
            for (namespace, count) in zip(namespaces, counts) {
                html.raw("<tr><td>")
                html.link(namespaceLink(namespace), namespace.account)
                html.element("</td><td>", namespace.region, "</td><td>")
                html.text(count.0)
                html.raw("</td><td>")
                html.text(count.1)
                html.raw("</td></tr>")
            }
            html.raw("</table>")
            faultSection(&html, emulator)
            html.raw("""
                <h2 id="reset">Reset</h2><form method="post" action="/_healthimaging/ui/reset" class="inline" id="reset-all">
                """)
            formTokenInput(&html, emulator)
            html.raw("""
                <input type="hidden" name="scope" value="all"><label><input type="radio" name="to" value="startup" checked> to the startup fixtures and faults</label>\
                <label><input type="radio" name="to" value="empty"> to nothing</label>\
                <button type="submit">Reset every namespace, the fault rules and the journal</button></form>
                """)
        }
        return page(call, html)
    }

    static func faultSection(_ html: inout HTML, _ emulator: Emulator) {
        html.raw("<h2 id=\"faults\">Fault rules</h2>")
        let rules = emulator.faults.sorted { $0.key.description < $1.key.description }
            .flatMap { entry in entry.value.rules.map { (entry.key, $0) } }
        if rules.isEmpty {
            html.raw("<p class=\"muted\" id=\"no-faults\">No fault rule.</p>")
        } else {
            html.raw("<table id=\"fault-rules\"><tr><th>namespace</th><th>id</th><th>operation</th><th>datastore</th><th>image set</th><th>error</th><th>latency ms</th><th>remaining</th><th>probability</th><th>fired</th><th></th></tr>")
            for (namespace, rule) in rules {
                html.element("<tr><td>", namespace.description, "</td>")
                html.element("<td><code>", rule.id, "</code></td>")
                html.element("<td>", rule.event.map { "event \"\($0.detailType.rawValue)\": \($0.effect.rawValue)" + ($0.effect == .delay ? " \($0.delayMillis) ms" : "") } ?? rule.operation, "</td>")
                html.element("<td><code>", rule.datastoreId ?? "any", "</code></td>")
                html.element("<td><code>", rule.imageSetId ?? "any", "</code></td>")
                html.element("<td>", rule.error.map { "\($0.code.rawValue): \($0.message)" } ?? "—", "</td>")
                html.element("<td>", String(rule.latencyMillis), "</td>")
                html.element("<td>", rule.remaining.map(String.init) ?? "unbounded", "</td>")
                html.element("<td>", rule.probability.map { String($0) } ?? "1", "</td>")
                html.element("<td>", String(rule.fired), "</td>")
                html.raw("<td><form method=\"post\" class=\"inline\" action=\"")
                html.text(base + "/faults/" + HTML.component(namespace.account) + "/" + HTML.component(namespace.region)
                          + "/" + HTML.component(rule.id) + "/delete")
                html.raw("\">")
                formTokenInput(&html, emulator)
                html.raw("<button type=\"submit\">Delete</button></form></td></tr>")
            }
            html.raw("</table>")
        }
        html.raw("<form method=\"post\" action=\"/_healthimaging/ui/faults\" id=\"add-fault\"><fieldset><legend>Add a fault rule</legend>")
        formTokenInput(&html, emulator)
        html.raw("<label>account <input name=\"account\" size=\"12\" value=\"")
        html.text(emulator.defaultNamespace.account)
        html.raw("\"></label><label>region <input name=\"region\" size=\"10\" value=\"")
        html.text(emulator.defaultNamespace.region)
        html.raw("\"></label><label>operation <select name=\"operation\">")
        for operation in ServiceModel.allOperations {
            html.element("<option>", operation.name, "</option>")
        }
        html.raw("</select></label><label>error <select name=\"errorCode\"><option value=\"\">(none: latency only)</option>")
        for code in ErrorCode.allCases where code.isModelError {
            html.element("<option>", code.rawValue, "</option>")
        }
        html.raw("""
            </select></label><label>message <input name="message" size="24"></label>\
            <label>latency ms <input name="latencyMs" size="6"></label><label>times <input name="times" size="4"></label>\
            <label>probability <input name="probability" size="4"></label><br>\
            <label>datastoreId <input name="datastoreId" size="34"></label><label>imageSetId <input name="imageSetId" size="34"></label>\
            <button type="submit">Add rule</button></fieldset></form>
            """)
    }

    // MARK: a namespace

    static func namespacePage(_ call: ControlCall) throws(APIError) -> Reply {
        let namespace = Namespace(account: call.path("account"), region: call.path("region"))
        let emulator = call.emulator
        let datastores = try emulator.run { emulator in
            try emulator.store.datastores(namespace, status: nil, after: nil, limit: Int.max).map { datastore in
                (datastore, try emulator.store.imageSets(namespace, datastore.datastoreId).map { entry in
                    (entry.imageSetId, try emulator.store.versions(imageSet: entry.key, imageSetId: entry.imageSetId, before: nil, limit: 1).first)
                }, try emulator.store.importJobs(namespace, datastore.datastoreId, status: nil))
            }
        }
        let objects = emulator.configuration.objectStore
        let shownJobs = datastores.map { Array($0.2.prefix(jobLimit)) }
        return .deferred { responder in
            emulator.imports.offLoop({ shownJobs.map { jobs in jobs.map { jobOutput($0, objects: objects) } } }) { outputs in
                let jobOutputs = zip(shownJobs, outputs).map { Array(zip($0, $1)) }
                responder.send(namespaceHTML(call, namespace, datastores, jobOutputs))
            }
        }
    }

    private static func namespaceHTML(_ call: ControlCall, _ namespace: Namespace,
                                      _ datastores: [(Datastore, [(String, ImageSetVersion?)], [ImportJob])],
                                      _ jobOutputs: [[(ImportJob, JobOutput?)]]) -> Response {
        let emulator = call.emulator
        let html = frame("Namespace \(namespace.account) / \(namespace.region)") { html in
            if datastores.isEmpty { html.raw("<p class=\"muted\">No datastore in this namespace.</p>") }
            for ((datastore, imageSets, allJobs), jobs) in zip(datastores, jobOutputs) {
                html.raw("<h2 class=\"datastore\">Datastore ")
                html.element("<code>", datastore.datastoreId, "</code> ")
                html.text(datastore.name ?? "")
                html.raw(" ")
                badge(&html, datastore.status.rawValue)
                html.raw("</h2><p class=\"muted\">created ")
                html.text(HTML.date(millis: datastore.createdAt))
                html.raw(", updated ")
                html.text(HTML.date(millis: datastore.updatedAt))
                for tag in datastore.tags {
                    html.raw(" · tag ")
                    html.element("<code>", tag.key + "=" + tag.value, "</code>")
                }
                html.raw("</p><table class=\"image-sets\"><tr><th>image set</th><th>latest version</th><th>state</th><th>workflow status</th><th>updated</th></tr>")
                for (imageSetId, latest) in imageSets {
                    html.raw("<tr><td>")
                    html.link(imageSetLink(namespace, datastore.datastoreId, imageSetId), imageSetId)
                    html.element("</td><td>", latest.map { String($0.versionId) } ?? "—", "</td><td>")
                    if let latest { badge(&html, latest.state.rawValue) }
                    html.raw("</td><td>")
                    if let status = latest?.workflowStatus { badge(&html, status.rawValue) }
                    html.element("</td><td>", HTML.date(millis: latest?.updatedAt ?? latest?.createdAt), "</td></tr>")
                }
                html.raw("</table>")
                importJobSection(&html, datastore.datastoreId, jobs, total: allJobs.count)
                eventSection(&html, emulator, namespace, datastoreId: datastore.datastoreId, imageSetId: nil)
            }
            html.raw("<h2>Reset this namespace</h2><form method=\"post\" action=\"/_healthimaging/ui/reset\" id=\"reset-namespace\">")
            formTokenInput(&html, emulator)
            html.raw("<input type=\"hidden\" name=\"account\" value=\"")
            html.text(namespace.account)
            html.raw("\"><input type=\"hidden\" name=\"region\" value=\"")
            html.text(namespace.region)
            html.raw("\"><input type=\"hidden\" name=\"to\" value=\"empty\"><button type=\"submit\">Delete this namespace's data</button></form>")
        }
        return page(call, html)
    }

    // MARK: an image set

    static func imageSetPage(_ call: ControlCall) throws(APIError) -> Response {
        let namespace = Namespace(account: call.path("account"), region: call.path("region"))
        let datastoreId = call.path("datastoreId")
        let imageSetId = call.path("imageSetId")
        let requested = call.request.query("version").flatMap { Int64($0) }
        let emulator = call.emulator
        let found = try emulator.run { emulator -> ([ImageSetVersion], Int64, JSONValue, [(key: String, value: String)])? in
            guard let key = try emulator.store.imageSetKey(namespace, datastoreId, imageSetId) else { return nil }
            let versions = try emulator.store.versions(imageSet: key, imageSetId: imageSetId, before: nil, limit: Int.max)
            guard let latest = versions.first else { return nil }
            let shown = versions.first { $0.versionId == requested }?.versionId ?? latest.versionId
            let handle = ImageSetHandle(key: key, datastoreId: datastoreId, imageSetId: imageSetId, latest: latest)
            return (versions, shown, try emulator.store.document(handle, versionId: shown),
                    try emulator.store.tags(namespace, datastoreId: datastoreId, imageSetId: imageSetId))
        }
        guard let (versions, shown, document, tags) = found else {
            return errorPage(call, status: 404, title: "No such image set",
                             message: "Image set \(imageSetId) does not exist in datastore \(datastoreId) of \(namespace)")
        }
        let html = frame("Image set \(imageSetId)") { html in
            html.raw("<p>datastore ")
            html.element("<code>", datastoreId, "</code> in ")
            html.link(namespaceLink(namespace), namespace.description)
            for tag in tags {
                html.raw(" · tag ")
                html.element("<code>", tag.key + "=" + tag.value, "</code>")
            }
            html.raw("</p><h2>Version timeline</h2><table id=\"versions\"><tr><th>version</th><th>state</th><th>workflow status</th><th>primary</th><th>overrides</th><th>created</th><th>updated</th><th>deleted</th><th>message</th></tr>")
            for version in versions {
                html.raw("<tr class=\"version\"><td>")
                html.link(imageSetLink(namespace, datastoreId, imageSetId) + "?version=" + String(version.versionId) + "#metadata", String(version.versionId))
                html.raw("</td><td>")
                badge(&html, version.state.rawValue)
                html.raw("</td><td>")
                if let status = version.workflowStatus { badge(&html, status.rawValue) }
                html.raw("</td><td>")
                if version.isPrimary == true { html.raw("<span class=\"badge primary\">primary</span>") }
                html.element("</td><td>", version.forced.map { "forced: \($0)" } ?? "", "</td>")
                html.element("<td>", HTML.date(millis: version.createdAt), "</td>")
                html.element("<td>", HTML.date(millis: version.updatedAt), "</td>")
                html.element("<td>", version.deletedAt == nil ? "" : HTML.date(millis: version.deletedAt), "</td>")
                html.element("<td class=\"message\">", version.message ?? "", "</td></tr>")
            }
            html.raw("</table>")
            eventSection(&html, emulator, namespace, datastoreId: datastoreId, imageSetId: imageSetId)
            frameSection(&html, namespace, datastoreId, imageSetId, document)
            html.raw("<h2 id=\"metadata\">Metadata document of version ")
            html.text(String(shown))
            html.raw("</h2><pre id=\"metadata-document\">")
            html.text(document.pretty())
            html.raw("</pre>")
        }
        return page(call, html)
    }

    // MARK: the journal

    static func journalPage(_ call: ControlCall) throws(APIError) -> Response {
        let operation = call.request.query("operation").flatMap { $0.isEmpty ? nil : $0 }
        let refresh = call.request.query("refresh").flatMap { Int($0) }.map { min(max($0, 0), 3600) } ?? 5
        let entries = call.emulator.journal.all.reversed().filter { operation == nil || $0.operation == operation }
        let html = frame("Journal", refresh: refresh) { html in
            html.raw("<form method=\"get\" action=\"/_healthimaging/ui/journal\" id=\"journal-filter\"><label>operation <select name=\"operation\"><option value=\"\">(all)</option>")
            for info in ServiceModel.allOperations {
                html.raw(info.name == operation ? "<option selected>" : "<option>")
                html.text(info.name)
                html.raw("</option>")
            }
            html.raw("</select></label><label>refresh every <input name=\"refresh\" size=\"3\" value=\"")
            html.text(refresh)
            html.raw("\"> s (0: off)</label><button type=\"submit\">Show</button></form>")
            html.raw("<table id=\"journal\"><tr><th>#</th><th>time</th><th>namespace</th><th>operation</th><th>request</th><th>status</th><th>error</th><th>latency ms</th><th>fault rule</th></tr>")
            for entry in entries {
                html.element("<tr><td>", String(entry.sequence), "</td>")
                html.element("<td>", HTML.date(millis: entry.time), "</td>")
                html.element("<td>", entry.namespace.description, "</td>")
                html.element("<td>", entry.operation ?? "(no operation)", "</td>")
                var target = entry.method + " " + entry.path
                if !entry.query.isEmpty { target += "?" + entry.query.map { "\($0.name)=\($0.value)" }.joined(separator: "&") }
                html.element("<td><code>", target, "</code></td><td>")
                html.raw(entry.status >= 400 ? "<span class=\"badge fail\">" : "<span class=\"badge ok\">")
                html.text(entry.status)
                html.element("</span></td><td>", entry.errorCode ?? "", "</td>")
                html.element("<td>", String((entry.latencyMillis * 10).rounded() / 10), "</td>")
                html.element("<td>", entry.fault ?? "", "</td></tr>")
            }
            html.raw("</table>")
            if entries.isEmpty { html.raw("<p class=\"muted\" id=\"journal-empty\">No request yet.</p>") }
        }
        return page(call, html)
    }
}
