import HealthImagingJSON
import HealthImagingHTTP
/// `GET /datastore?datastoreStatus=&maxResults=&nextToken=`: datastores in id order, keyset-paginated.
public enum ListDatastores: Operation {
    public static let name = "ListDatastores"
    public static let isReadOnly = true
    public static let readsBody = false
    public static let method = "GET"
    public static let path = "/datastore"
    public static let defaultMaxResults = 50

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let status: DatastoreStatus? = try Validate.enumeration(call.request.query("datastoreStatus"), member: "datastoreStatus")
        let maxResults = try Validate.integer(call.request.query("maxResults"), member: "maxResults", range: 1...50)
            ?? defaultMaxResults
        let scope = "\(name)/\(call.namespace)/\(status?.rawValue ?? "*")"
        var after: String?
        if let token = call.request.query("nextToken") {
            after = String(decoding: try call.tokens.open(token, scope: scope), as: UTF8.self)
        }
        let page = try call.store { store throws -> [Datastore] in
            for id in try store.datastoreIds(call.namespace) { try store.settleDatastore(call.namespace, id, read: true) }
            return try store.datastores(call.namespace, status: status, after: after, limit: maxResults + 1)
        }
        var json = JSONWriter(capacity: 256 * page.count + 64)
        json.object { body in
            body.field("datastoreSummaries", array: { list in
                for datastore in page.prefix(maxResults) {
                    list.object { datastore.writeProperties(to: &$0, namespace: call.namespace, full: false) }
                }
            })
            if page.count > maxResults, let last = page.prefix(maxResults).last {
                body.field("nextToken", call.tokens.seal(Array(last.datastoreId.utf8), scope: scope))
            }
        }
        return Response(json: json.bytes)
    }
}
