import HealthImagingHTTP
/// `POST /tags/{resourceArn}` `{tags}`: adds or replaces tags of a datastore or image set.
public enum TagResource: Operation {
    public static let name = "TagResource"
    public static let method = "POST"
    public static let path = "/tags/{resourceArn}"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let arn = call.path("resourceArn")
        let target = try TagRules.resource(arn, namespace: call.namespace)
        let body = try call.jsonBody()
        let tags = try JSONReader.validated(body) { reader -> [(key: String, value: String)]? in
            guard reader.object(allowed: ["tags"]) else { return nil }
            return reader.member("tags", required: true).flatMap(TagRules.read)
        }
        try call.store { store throws in
            try store.database.transaction {
                try TagRules.requireResource(store, call.namespace, target, arn: arn)
                let existing = try store.tags(call.namespace, datastoreId: target.datastoreId, imageSetId: target.imageSetId)
                let keys = Set(existing.map(\.key)).union(tags.map(\.key))
                guard keys.count <= TagRules.maxTags else {
                    throw APIError.validation("A resource can have at most \(TagRules.maxTags) tags")
                }
                try store.setTags(call.namespace, datastoreId: target.datastoreId, imageSetId: target.imageSetId, tags)
            }
        }
        return Response(json: Array("{}".utf8))
    }
}
