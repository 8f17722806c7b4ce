import HealthImagingJSON
import HealthImagingHTTP
/// `POST /datastore/{datastoreId}/imageSet/{imageSetId}/getImageSet?version=N` (default: the latest version).
/// A read: it settles due transitions and counts toward `manual:N`. Reports the image set's `storageTier` and
/// `lastAccessedAt` (whatever the version asked for: the tier belongs to the image set), without moving them.
public enum GetImageSet: Operation {
    public static let name = "GetImageSet"
    public static let isReadOnly = true
    public static let readsBody = false
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/imageSet/{imageSetId}/getImageSet"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let imageSetId = try Validate.resourceId(call.path("imageSetId"), member: "imageSetId")
        let requested = try call.versionQuery("version", member: "versionId")
        // Not an access: the storage tier and lastAccessedAt are reported, never moved.
        let (version, tier) = try call.store { store throws -> (ImageSetVersion, (tier: StorageTier, lastAccessedAt: Int64?)) in
            let handle = try store.requireImageSet(call.namespace, datastoreId, imageSetId, read: true)
            let tier = try store.storageTier(imageSet: handle.key)
            guard let requested, requested != handle.latest.versionId else { return (handle.latest, tier) }
            guard let version = try store.version(imageSet: handle.key, imageSetId: imageSetId, versionId: requested) else {
                throw APIError.notFound("Version \(requested) of image set \(imageSetId) does not exist")
            }
            return (version, tier)
        }
        var json = JSONWriter(capacity: 512)
        json.object { body in
            body.field("datastoreId", datastoreId)
            body.field("imageSetId", imageSetId)
            body.field("versionId", String(version.versionId))
            version.writeState(to: &body)
            body.field("createdAt", timestampMillis: version.createdAt)
            body.field("updatedAt", timestampMillis: version.updatedAt)
            body.field("deletedAt", timestampMillis: version.deletedAt)
            body.field("message", version.message)
            body.field("imageSetArn", call.namespace.imageSetArn(datastoreId, imageSetId))
            if let forced = version.forced { body.field("overrides", object: { $0.field("forced", forced) }) }
            body.field("isPrimary", version.isPrimary)
            body.field("lastAccessedAt", timestampMillis: tier.lastAccessedAt)
            body.field("storageTier", tier.tier.rawValue)
        }
        return Response(json: json.bytes)
    }
}
