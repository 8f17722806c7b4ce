import HealthImagingJSON
import HealthImagingHTTP
/// `GET /datastore/{datastoreId}` → `{datastoreProperties}` with the datastore ARN.
public enum GetDatastore: Operation {
    public static let name = "GetDatastore"
    public static let isReadOnly = true
    public static let readsBody = false
    public static let method = "GET"
    public static let path = "/datastore/{datastoreId}"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let datastore = try call.store { try $0.requireDatastore(call.namespace, datastoreId, read: true) }
        var json = JSONWriter()
        json.object { body in
            body.field("datastoreProperties", object: { datastore.writeProperties(to: &$0, namespace: call.namespace, full: true) })
        }
        return Response(json: json.bytes)
    }
}

extension Datastore {
    /// `DatastoreProperties` (full) or `DatastoreSummary` members, in the model's order.
    func writeProperties(to json: inout JSONWriter, namespace: Namespace, full: Bool) {
        json.field("datastoreId", datastoreId)
        json.field("datastoreName", name ?? datastoreId)
        json.field("datastoreStatus", status.rawValue)
        if full {
            json.field("kmsKeyArn", kmsKeyArn)
            json.field("lambdaAuthorizerArn", lambdaAuthorizerArn)
            json.field("losslessStorageFormat", losslessStorageFormat)
        }
        json.field("datastoreArn", namespace.datastoreArn(datastoreId))
        json.field("createdAt", timestampMillis: createdAt)
        json.field("updatedAt", timestampMillis: updatedAt)
    }
}
