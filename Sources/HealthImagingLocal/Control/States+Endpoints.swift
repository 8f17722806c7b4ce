import HealthImagingJSON
import HealthImagingHTTP
/// Workflow-state injection: how a test makes "version 5 is COPY_FAILED with message M" or "the image set is
/// LOCKED/UPDATING" while the emulator runs.
///   PATCH /_healthimaging/datastores/{datastoreId}/imageSets/{imageSetId}/versions/{versionId}
///       ← any ImageSetProperties members but the ids; null clears an optional one → the version
///   POST  /_healthimaging/datastores/{datastoreId}/imageSets/{imageSetId}/versions
///       ← {"imageSetState": …, …} (imageSetState required; versionId optional, default latest + 1;
///          createdAt defaults to the image set's, updatedAt to now) → the new version
enum StateEndpoints {
    static let versionPath = "/_healthimaging/datastores/{datastoreId}/imageSets/{imageSetId}/versions"
    static let all: [ControlPlane.Endpoint] = [
        .init("PATCH", versionPath + "/{versionId}", patch),
        .init("POST", versionPath, append),
    ]

    static let members = ImageSetVersionMembers.settable

    static func patch(_ call: ControlCall) throws(APIError) -> Response {
        let (key, imageSetId) = try imageSet(call)
        let versionId = try Validate.versionNumber(call.path("versionId"), member: "versionId")
        let body = try call.body()
        let version = try call.emulator.run { emulator -> ImageSetVersion in
            guard let current = try emulator.store.version(imageSet: key, imageSetId: imageSetId, versionId: versionId) else {
                throw APIError.notFound("Version \(versionId) of image set \(imageSetId) does not exist")
            }
            return current
        }
        let updated: ImageSetVersion = try JSONReader.validated(body) { reader in
            guard reader.object(allowed: members) else { return nil }
            var updated = version
            updated.apply(reader, allowNull: true)
            return updated
        }
        try call.emulator.run { try $0.store.updateVersion(imageSet: key, updated) }
        var json = JSONWriter()
        updated.writeProperties(to: &json)
        return Response(json: json.bytes)
    }

    static func append(_ call: ControlCall) throws(APIError) -> Response {
        let (key, imageSetId) = try imageSet(call)
        let body = try call.body()
        let latest = try call.emulator.run { try $0.store.versions(imageSet: key, imageSetId: imageSetId, before: nil, limit: 1) }.first
        let oldest = try call.emulator.run { try $0.store.oldestVersion(imageSet: key, imageSetId: imageSetId) }
        let next = (latest?.versionId ?? 0) + 1
        let version: ImageSetVersion = try JSONReader.validated(body) { reader in
            guard reader.object(allowed: members + ["versionId"]) else { return nil }
            if reader.value["imageSetState"] == nil { reader.fail("missing required member \"imageSetState\"", at: "$.imageSetState") }
            var versionId = next
            if let member = reader.member("versionId"), let text = member.string({ text in
                guard Validate.isVersionId(text), let number = Int64(text) else { return "\"\(text)\" does not match \\d+" }
                if number > Validate.maxSeededVersionId { return "must be at most \(Validate.maxSeededVersionId)" }
                return number < next ? "must be greater than the latest version \(next - 1)" : nil
            }) {
                versionId = Int64(text) ?? next
            }
            var version = ImageSetVersion(
                imageSetId: imageSetId, versionId: versionId, state: .active,
                createdAt: oldest?.createdAt ?? Timestamp.nowMillis(), updatedAt: Timestamp.nowMillis())
            version.apply(reader, allowNull: false)
            return version
        }
        try call.emulator.run { try $0.store.insertVersion(imageSet: key, version) }
        var json = JSONWriter()
        version.writeProperties(to: &json)
        return Response(status: 201, json: json.bytes)
    }

    private static func imageSet(_ call: ControlCall) throws(APIError) -> (Int64, String) {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let imageSetId = try Validate.resourceId(call.path("imageSetId"), member: "imageSetId")
        return try call.emulator.run { emulator in
            guard try emulator.store.datastoreExists(call.namespace, datastoreId) else {
                throw APIError.notFound("Datastore \(datastoreId) does not exist in \(call.namespace)")
            }
            guard let key = try emulator.store.imageSetKey(call.namespace, datastoreId, imageSetId) else {
                throw APIError.notFound("Image set \(imageSetId) does not exist in datastore \(datastoreId)")
            }
            return (key, imageSetId)
        }
    }
}

enum ImageSetVersionMembers {
    /// The ImageSetProperties members a test may set (the ids are the resource's, not settable).
    static let settable = [
        "imageSetState", "ImageSetWorkflowStatus", "createdAt", "updatedAt", "deletedAt", "message", "overrides", "isPrimary",
    ]
}
