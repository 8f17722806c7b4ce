import HealthImagingHTTP
/// `DELETE /tags/{resourceArn}?tagKeys=a&tagKeys=b`: removes tags (absent keys are ignored).
public enum UntagResource: Operation {
    public static let name = "UntagResource"
    public static let method = "DELETE"
    public static let path = "/tags/{resourceArn}"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let arn = call.path("resourceArn")
        let target = try TagRules.resource(arn, namespace: call.namespace)
        let keys = call.request.queryValues("tagKeys")
        guard keys.count <= 200 else {
            throw APIError.invalid("\(keys.count) keys", at: "tagKeys", "Member must have length less than or equal to 200")
        }
        for key in keys {
            if let problem = TagRules.keyProblem(key) { throw APIError.invalid(key, at: "tagKeys", problem) }
        }
        try call.store { store throws in
            try store.database.transaction {
                try TagRules.requireResource(store, call.namespace, target, arn: arn)
                try store.removeTags(call.namespace, datastoreId: target.datastoreId, imageSetId: target.imageSetId, keys: keys)
            }
        }
        return Response(json: Array("{}".utf8))
    }
}
