import HealthImagingJSON
import HealthImagingHTTP
/// `GET /tags/{resourceArn}` → `{tags}`.
public enum ListTagsForResource: Operation {
    public static let name = "ListTagsForResource"
    public static let isReadOnly = true
    public static let readsBody = false
    public static let method = "GET"
    public static let path = "/tags/{resourceArn}"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let arn = call.path("resourceArn")
        let target = try TagRules.resource(arn, namespace: call.namespace)
        let tags = try call.store { store throws in
            try TagRules.requireResource(store, call.namespace, target, arn: arn)
            return try store.tags(call.namespace, datastoreId: target.datastoreId, imageSetId: target.imageSetId)
        }
        var json = JSONWriter()
        json.object { body in
            body.field("tags", object: { map in for tag in tags { map.field(tag.key, tag.value) } })
        }
        return Response(json: json.bytes)
    }
}
