/// The event timeline of the web view: the events of the ring (EventLog) about one datastore (namespace page) or
/// one image set (image-set page), newest first, with their delivery status and the fault rule that fired.
extension UIEndpoints {
    static let eventLimit = 50

    static func eventSection(_ html: inout HTML, _ emulator: Emulator, _ namespace: Namespace, datastoreId: String,
                             imageSetId: String?) {
        let log = emulator.events
        let entries = log.entries(namespace).reversed().filter {
            $0.event.datastoreId == datastoreId && (imageSetId == nil || $0.event.imageSetId == imageSetId)
        }
        html.raw(imageSetId == nil ? "<h3>Events</h3>" : "<h2 id=\"events\">Events</h2>")
        if entries.isEmpty {
            html.raw("<p class=\"muted no-events\">No event in the ring.</p>")
            return
        }
        html.raw("<table class=\"events\"><tr><th>#</th><th>time</th><th>detail-type</th><th>resource</th><th>status</th><th>delivery</th><th>fault</th></tr>")
        for entry in entries.prefix(eventLimit) {
            let event = entry.event
            html.element("<tr class=\"event\"><td>", String(event.sequence), "</td>")
            html.element("<td>", ServiceEvent.isoSeconds(event.time), "</td>")
            html.element("<td class=\"detail-type\">", event.detailType.rawValue, "</td><td><code>")
            html.text(event.imageSetId.map { "image set " + $0 } ?? event.jobId.map { "import job " + $0 } ?? "datastore")
            html.raw("</code></td><td>")
            for key in ["datastoreStatus", "jobStatus", "imageSetState", "imageSetWorkflowStatus"] {
                if let value = event.detail[key]?.stringValue { badge(&html, value) }
            }
            let status = log.ledger.status(event.sequence)
            html.element("</td><td class=\"delivery\">", status.map { status in
                status.state.rawValue + (status.copies > 1 ? " ×\(status.copies)" : "") + (status.error.map { ": " + $0 } ?? "")
            } ?? "—", "</td>")
            html.element("<td>", entry.fault.flatMap { rule in rule.event.map { "\(rule.id): \($0.effect.rawValue)" } } ?? "", "</td></tr>")
        }
        html.raw("</table>")
        if entries.count > eventLimit {
            html.element("<p class=\"muted\">", "\(entries.count - eventLimit) older events are not shown.", "</p>")
        }
    }
}
