import HealthImagingJSON
import HealthImagingHTTP
/// `POST /datastore/{datastoreId}/imageSet/{imageSetId}/deleteImageSet` → LOCKED + DELETING, then the latest
/// version becomes DELETED + DELETED with `deletedAt`. Its versions stay listable.
public enum DeleteImageSet: Operation {
    public static let name = "DeleteImageSet"
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/imageSet/{imageSetId}/deleteImageSet"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let imageSetId = try Validate.resourceId(call.path("imageSetId"), member: "imageSetId")
        try call.store { store throws in
            try store.database.transaction {
                let handle = try store.requireWritableImageSet(call.namespace, datastoreId, imageSetId)
                let now = Timestamp.nowMillis()
                try store.setVersionState(imageSet: handle.key, versionId: handle.latest.versionId, state: .locked,
                                          workflowStatus: .deleting, message: nil, updatedAt: now)
                try store.announceImageSet(call.namespace, datastoreId, imageSet: handle.key, versionId: handle.latest.versionId, now: now)
                try store.schedule(PendingTransition(
                    namespace: call.namespace, datastoreId: datastoreId, imageSet: (handle.key, handle.latest.versionId),
                    state: ImageSetState.deleted.rawValue, workflowStatus: .deleted, markDeleted: true), now: now)
            }
        }
        var json = JSONWriter()
        json.object {
            $0.field("datastoreId", datastoreId)
            $0.field("imageSetId", imageSetId)
            $0.field("imageSetState", ImageSetState.locked.rawValue)
            $0.field("imageSetWorkflowStatus", ImageSetWorkflowStatus.deleting.rawValue)
        }
        return Response(json: json.bytes)
    }
}
