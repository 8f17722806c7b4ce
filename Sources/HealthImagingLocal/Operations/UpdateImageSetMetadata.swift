import Foundation
import HealthImagingJSON
import HealthImagingHTTP

/// `POST /datastore/{datastoreId}/imageSet/{imageSetId}/updateImageSetMetadata?latestVersion=N&force=`
/// body: the MetadataUpdates union — `{"DICOMUpdates":{"updatableAttributes":b64,"removableAttributes":b64}}` or
/// `{"revertToVersionId":"N"}`. Makes version N+1, answered LOCKED + UPDATING, which then settles to
/// ACTIVE + UPDATED (or ACTIVE + UPDATE_FAILED with a message). An access to the image set (storage tiers).
/// `includeStudyImageSets=true` applies the same DICOMUpdates to every other non-deleted primary image set of the
/// study, all or nothing: each gets a new version, LOCKED + UPDATING_FOR_STUDY_CONSISTENCY while the requested one
/// is LOCKED + UPDATING, all settling to UPDATED (or all to UPDATE_FAILED) under the image-set transition mode
/// (docs/events-and-time.md, "Study consistency").
public enum UpdateImageSetMetadata: Operation {
    public static let name = "UpdateImageSetMetadata"
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/imageSet/{imageSetId}/updateImageSetMetadata"
    /// The attributes only `force=true` may change (the model's documentation of `force`).
    static let forceOnly: Set<String> = ["StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID", "StudyID"]

    enum Change {
        case dicom(updatable: JSONValue?, removable: JSONValue?)
        case revert(Int64)
    }

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let imageSetId = try Validate.resourceId(call.path("imageSetId"), member: "imageSetId")
        guard let latestText = call.request.query("latestVersion") else {
            throw APIError.validation("1 validation error detected: Value null at 'latestVersionId' failed to satisfy constraint: Member must not be null")
        }
        let latestVersion = try Validate.versionNumber(latestText, member: "latestVersionId")
        let force = try call.boolQuery("force")
        let wholeStudy = try call.boolQuery("includeStudyImageSets")
        let change = try readChange(try call.jsonBody())
        if wholeStudy, case .revert = change {
            throw APIError.validation("includeStudyImageSets is not supported with revertToVersionId")
        }

        let result = try call.store { store throws -> ImageSetVersion in
            try store.database.transaction {
                let handle = try store.requireWritableImageSet(call.namespace, datastoreId, imageSetId)
                guard handle.latest.versionId == latestVersion else {
                    throw APIError.conflict("latestVersionId \(latestVersion) is not the latest version of image set \(imageSetId) (\(handle.latest.versionId))")
                }
                let current = try store.document(handle, versionId: handle.latest.versionId)
                // The requested image set first, then (includeStudyImageSets) the study's other primary image sets.
                var targets: [(handle: ImageSetHandle, current: JSONValue)] = [(handle, current)]
                if wholeStudy { targets += try studySiblings(of: handle, document: current, store: store, namespace: call.namespace) }
                var updated: [JSONValue] = []
                var failure: String?
                for (index, target) in targets.enumerated() {
                    switch change {
                    case .revert(let version):
                        guard try store.version(imageSet: handle.key, imageSetId: imageSetId, versionId: version) != nil else {
                            throw APIError.notFound("Version \(version) of image set \(imageSetId) does not exist")
                        }
                        updated.append(try store.document(handle, versionId: version))
                    case .dicom(let updatable, let removable):
                        updated.append(apply(updatable: updatable, removable: removable, to: target.current))
                        if failure == nil, !force, let key = forceOnlyChange(updatable: updatable, removable: removable, in: target.current) {
                            failure = "INVALID_REQUEST: Updating \(key) requires the force flag"
                                + (index == 0 ? "" : " (image set \(target.handle.imageSetId) of the study)")
                        }
                    }
                }
                if let planned = try store.takeOutcome(call.namespace, datastoreId: datastoreId,
                                                       imageSetIds: targets.map(\.handle.imageSetId), operation: name) {
                    failure = planned.message
                }
                // All or nothing: one failure leaves every image set's metadata as it was, each ending UPDATE_FAILED.
                let now = Timestamp.nowMillis()
                var written: [ImageSetVersion] = []
                for (index, target) in targets.enumerated() {
                    let latest = target.handle.latest
                    let version = ImageSetVersion(
                        imageSetId: target.handle.imageSetId, versionId: latest.versionId + 1, state: .locked,
                        workflowStatus: index == 0 ? .updating : .updatingForStudyConsistency,
                        createdAt: latest.createdAt ?? now, updatedAt: now, forced: force ? true : nil,
                        isPrimary: latest.isPrimary)
                    try store.insertVersion(imageSet: target.handle.key, version,
                                            document: failure == nil ? updated[index] : target.current)
                    try store.touchImageSet(target.handle.key, now: now)
                    // Image Set Updating for every one; a sibling's detail says UPDATING_FOR_STUDY_CONSISTENCY (its
                    // state), which has no detail-type of its own.
                    try store.announceImageSet(call.namespace, datastoreId, imageSet: target.handle.key, versionId: version.versionId,
                                               as: index == 0 ? nil : .imageSetUpdating, now: now)
                    try store.schedule(PendingTransition(
                        namespace: call.namespace, datastoreId: datastoreId, imageSet: (target.handle.key, version.versionId),
                        state: ImageSetState.active.rawValue, workflowStatus: failure == nil ? .updated : .updateFailed,
                        message: failure), now: now)
                    written.append(version)
                }
                return written[0]  // the requested image set's (targets start with it)
            }
        }
        var json = JSONWriter()
        json.object { body in
            body.field("datastoreId", datastoreId)
            body.field("imageSetId", imageSetId)
            body.field("latestVersionId", String(result.versionId))
            result.writeState(to: &body)
            body.field("createdAt", timestampMillis: result.createdAt)
            body.field("updatedAt", timestampMillis: result.updatedAt)
        }
        return Response(json: json.bytes)
    }

    /// The document after a DICOMUpdates change: removals first, then updates (SchemaVersion ignored in both).
    static func apply(updatable: JSONValue?, removable: JSONValue?, to document: JSONValue) -> JSONValue {
        var updated = document
        if let removable { updated = updated.removing(removable.removingMember("SchemaVersion")) }
        if let updatable { updated = updated.merging(updatable.removingMember("SchemaVersion")) }
        return updated
    }

    /// The image sets `includeStudyImageSets` adds to an update of `handle`: every other primary image set of the
    /// datastore, not DELETED, whose latest document has the same StudyInstanceUID. One that is LOCKED refuses the
    /// whole update (ConflictException), as an update of it alone would be refused.
    static func studySiblings(of handle: ImageSetHandle, document: JSONValue, store: Store,
                              namespace: Namespace) throws -> [(handle: ImageSetHandle, current: JSONValue)] {
        guard let study = document.value(at: ["Study", "DICOM", "StudyInstanceUID"])?.stringValue else { return [] }
        var siblings: [(handle: ImageSetHandle, current: JSONValue)] = []
        // One image set at a time, so that a LOCKED one refuses the update before the next is looked at.
        for candidate in try store.imageSets(namespace, handle.datastoreId) where candidate.key != handle.key {
            guard let (sibling, current) = try ImportCommit.primary(
                store: store, namespace: namespace, datastoreId: handle.datastoreId, studyUID: study, seriesUID: nil,
                candidates: [candidate]).first
            else { continue }
            if sibling.latest.state == .locked {
                throw APIError.conflict("Image set \(sibling.imageSetId) of study \(study) is LOCKED (\(sibling.latest.workflowStatus?.rawValue ?? "busy")); retry the study-wide update once it is ACTIVE")
            }
            siblings.append((sibling, current))
        }
        return siblings
    }

    static func readChange(_ body: JSONValue) throws(APIError) -> Change {
        guard case .object(let members) = body else { throw APIError.validation("The request body must be a JSON object") }
        for member in members where member.key != "DICOMUpdates" && member.key != "revertToVersionId" {
            throw APIError.validation("Unknown member \(member.key) in updateImageSetMetadataUpdates")
        }
        let updates = body["DICOMUpdates"]
        let revert = body["revertToVersionId"]
        switch (updates, revert) {
        case (.some, .some):
            throw APIError.validation("updateImageSetMetadataUpdates is a union: give either DICOMUpdates or revertToVersionId, not both")
        case (nil, nil):
            throw APIError.validation("updateImageSetMetadataUpdates must set one of DICOMUpdates, revertToVersionId")
        case (nil, .some(let value)):
            guard case .string(let text) = value else { throw APIError.validation("revertToVersionId must be a string of digits") }
            return .revert(try Validate.versionNumber(text, member: "revertToVersionId"))
        case (.some(let value), nil):
            guard case .object(let inner) = value else { throw APIError.validation("DICOMUpdates must be an object") }
            for member in inner where member.key != "updatableAttributes" && member.key != "removableAttributes" {
                throw APIError.validation("Unknown member \(member.key) in DICOMUpdates")
            }
            let updatable = try attribute(value["updatableAttributes"], member: "updatableAttributes")
            let removable = try attribute(value["removableAttributes"], member: "removableAttributes")
            guard updatable != nil || removable != nil else {
                throw APIError.validation("DICOMUpdates must set updatableAttributes or removableAttributes")
            }
            return .dicom(updatable: updatable, removable: removable)
        }
    }

    /// A DICOMAttribute blob: base64 in JSON, 1–30000 bytes once decoded, holding a JSON object.
    static func attribute(_ value: JSONValue?, member: String) throws(APIError) -> JSONValue? {
        guard let value else { return nil }
        guard case .string(let text) = value, let data = Data(base64Encoded: text) else {
            throw APIError.validation("DICOMUpdates.\(member) must be base64-encoded")
        }
        guard (1...30_000).contains(data.count) else {
            throw APIError.invalid("\(data.count) bytes", at: "updateImageSetMetadataUpdates.DICOMUpdates.\(member)", "Member must have length between 1 and 30000")
        }
        let parsed: JSONValue
        do { parsed = try JSONParser.parse(Array(data)) } catch {
            throw APIError.validation("DICOMUpdates.\(member) does not decode to JSON: \(error.description)")
        }
        guard case .object = parsed else {
            throw APIError.validation("DICOMUpdates.\(member) must decode to a JSON object like {\"SchemaVersion\":1.1,\"Study\":{\"DICOM\":{…}}}")
        }
        return parsed
    }

    /// The first force-only attribute the update would change or remove.
    static func forceOnlyChange(updatable: JSONValue?, removable: JSONValue?, in current: JSONValue) -> String? {
        func walk(_ patch: JSONValue, _ existing: JSONValue?, removing: Bool) -> String? {
            for member in patch.objectMembers ?? [] {
                if forceOnly.contains(member.key) {
                    let before = existing?[member.key]
                    if removing ? before != nil : before != member.value { return member.key }
                } else if case .object = member.value, let found = walk(member.value, existing?[member.key], removing: removing) {
                    return found
                }
            }
            return nil
        }
        return updatable.flatMap { walk($0, current, removing: false) } ?? removable.flatMap { walk($0, current, removing: true) }
    }
}

extension JSONValue {
    func removingMember(_ key: String) -> JSONValue {
        guard case .object(let members) = self else { return self }
        return .object(members.filter { $0.key != key })
    }
}
