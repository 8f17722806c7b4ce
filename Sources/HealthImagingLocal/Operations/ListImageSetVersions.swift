import HealthImagingJSON
import HealthImagingHTTP
/// `POST /datastore/{datastoreId}/imageSet/{imageSetId}/listImageSetVersions?maxResults=&nextToken=`
/// Newest version first; keyset pagination on the version number, so a version added between two pages
/// (always numbered higher) neither shifts nor repeats anything.
public enum ListImageSetVersions: Operation {
    public static let name = "ListImageSetVersions"
    public static let isReadOnly = true
    public static let readsBody = false
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/imageSet/{imageSetId}/listImageSetVersions"
    public static let defaultMaxResults = 50

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let imageSetId = try Validate.resourceId(call.path("imageSetId"), member: "imageSetId")
        let maxResults = try Validate.integer(call.request.query("maxResults"), member: "maxResults", range: 1...50)
            ?? defaultMaxResults
        // What a token is bound to (built only when a token is read or written).
        func scope() -> String { "\(name)/\(call.namespace)/\(datastoreId)/\(imageSetId)" }
        var before: Int64?
        if let token = call.request.query("nextToken") {
            before = try call.tokens.openInt64(token, scope: scope())
        }

        let page = try call.store { store throws -> [ImageSetVersion] in
            if store.mayHavePendingTransitions, let key = try store.imageSetKey(call.namespace, datastoreId, imageSetId) {
                try store.settleImageSet(key, read: true)
            }
            // One query on the hot path; one more row than asked tells whether another page exists.
            let page = try store.versions(
                call.namespace, datastoreId: datastoreId, imageSetId: imageSetId, before: before, limit: maxResults + 1)
            if page.isEmpty {
                // Only now find out which is missing (a token is only ever issued when older versions exist).
                guard try store.datastoreExists(call.namespace, datastoreId) else {
                    throw APIError.notFound("Datastore \(datastoreId) does not exist")
                }
                guard try store.imageSetKey(call.namespace, datastoreId, imageSetId) != nil else {
                    throw APIError.notFound("Image set \(imageSetId) does not exist in datastore \(datastoreId)")
                }
            }
            return page
        }

        var json = JSONWriter(capacity: 256 * min(page.count, maxResults) + 64)
        json.object { body in
            body.field("imageSetPropertiesList", array: { list in
                for version in page.prefix(maxResults) { version.writeProperties(to: &list) }
            })
            if page.count > maxResults, let last = page.prefix(maxResults).last {
                body.field("nextToken", call.tokens.seal(int64: last.versionId, scope: scope()))
            }
        }
        return Response(json: json.bytes)
    }
}

extension ImageSetVersion {
    /// The `ImageSetProperties` shape, members in the model's order, only those set. Note the capital I of
    /// `ImageSetWorkflowStatus`: this shape alone spells it so.
    func writeProperties(to json: inout JSONWriter) {
        json.object { item in
            item.field("imageSetId", imageSetId)
            item.field("versionId", String(versionId))
            item.field("imageSetState", state.rawValue)
            item.field("ImageSetWorkflowStatus", workflowStatus?.rawValue)
            item.field("createdAt", timestampMillis: createdAt)
            item.field("updatedAt", timestampMillis: updatedAt)
            item.field("deletedAt", timestampMillis: deletedAt)
            item.field("message", message)
            if let forced { item.field("overrides", object: { $0.field("forced", forced) }) }
            item.field("isPrimary", isPrimary)
        }
    }
}
