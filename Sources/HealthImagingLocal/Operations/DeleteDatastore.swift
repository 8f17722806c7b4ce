import HealthImagingJSON
import HealthImagingHTTP
/// `DELETE /datastore/{datastoreId}` → `{datastoreId, datastoreStatus: DELETING}`, then DELETED.
/// Refused with ConflictException while the datastore holds image sets that are not deleted, or while it is
/// not ACTIVE (or CREATE_FAILED).
public enum DeleteDatastore: Operation {
    public static let name = "DeleteDatastore"
    public static let method = "DELETE"
    public static let path = "/datastore/{datastoreId}"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        try call.store { store throws in
            try store.database.transaction {
                let datastore = try store.requireDatastore(call.namespace, datastoreId)
                guard datastore.status == .active || datastore.status == .createFailed else {
                    throw APIError.conflict("Datastore \(datastoreId) is \(datastore.status.rawValue) and cannot be deleted")
                }
                let live = try store.liveImageSetCount(call.namespace, datastoreId)
                guard live == 0 else {
                    throw APIError.conflict("Datastore \(datastoreId) still holds \(live) image set(s); delete them first")
                }
                let now = Timestamp.nowMillis()
                try store.setDatastoreStatus(call.namespace, datastoreId, .deleting, at: now)
                try store.announceDatastore(call.namespace, datastoreId, now: now)
                try store.schedule(PendingTransition(
                    namespace: call.namespace, datastoreId: datastoreId, imageSet: nil,
                    state: DatastoreStatus.deleted.rawValue), now: now)
            }
        }
        var json = JSONWriter()
        json.object {
            $0.field("datastoreId", datastoreId)
            $0.field("datastoreStatus", DatastoreStatus.deleting.rawValue)
        }
        return Response(json: json.bytes)
    }
}
