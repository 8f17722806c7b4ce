import HealthImagingHTTP
/// `POST /datastore/{datastoreId}/imageSet/{imageSetId}/getImageSetMetadata?version=N` → the version's metadata
/// document, gzip-compressed, `Content-Type: application/json`, `Content-Encoding: gzip`. An access (storage tiers).
public enum GetImageSetMetadata: Operation {
    public static let name = "GetImageSetMetadata"
    public static let isReadOnly = true
    public static let readsBody = false
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/imageSet/{imageSetId}/getImageSetMetadata"

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let imageSetId = try Validate.resourceId(call.path("imageSetId"), member: "imageSetId")
        let requested = try call.versionQuery("version", member: "versionId")
        let gzipped = try call.store { store throws -> [UInt8] in
            let handle = try store.requireImageSet(call.namespace, datastoreId, imageSetId, read: true)
            let versionId = requested ?? handle.latest.versionId
            let exists = try versionId == handle.latest.versionId
                || store.version(imageSet: handle.key, imageSetId: imageSetId, versionId: versionId) != nil
            guard exists else {
                throw APIError.notFound("Version \(versionId) of image set \(imageSetId) does not exist")
            }
            try store.touchImageSet(handle.key)
            return try Gzip.compress(try store.document(handle, versionId: versionId).serialized())
        }
        return Response(status: 200, headers: [("Content-Type", "application/json"), ("Content-Encoding", "gzip")], body: gzipped)
    }
}
