import HealthImagingJSON
import HealthImagingHTTP
/// `POST /datastore/{datastoreId}/imageSet/{sourceImageSetId}/copyImageSet?force=&promoteToPrimary=`
/// body `{"sourceImageSet":{"latestVersionId","DICOMCopies":{"copiableAttributes":"<JSON text>"}},
///        "destinationImageSet":{"imageSetId","latestVersionId"}}`.
/// The source keeps its version and goes LOCKED + COPYING_WITH_READ_ONLY_ACCESS, then ACTIVE + COPIED. The
/// destination — a new image set at version 1, or a new version of the given one — goes LOCKED + COPYING,
/// then ACTIVE + COPIED, or ACTIVE + COPY_FAILED with a message when Patient/Study/Series attributes differ
/// and `force` is not set (or when the control plane planned a failure). With `force` the destination keeps its own
/// Patient, Study and Series attributes (only instances are added). `promoteToPrimary` copies into a new image set
/// that is primary (COPY_FAILED when that conflicts with the datastore's primary image sets); the source is left as
/// it was. The destination's copy is an access (storage tiers); the source's is not.
public enum CopyImageSet: Operation {
    public static let name = "CopyImageSet"
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/imageSet/{sourceImageSetId}/copyImageSet"

    struct Input {
        var sourceLatest: Int64
        var copiable: JSONValue?
        var destination: (imageSetId: String, latest: Int64)?
    }

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let sourceId = try Validate.resourceId(call.path("sourceImageSetId"), member: "sourceImageSetId")
        let force = try call.boolQuery("force")
        let promote = try call.boolQuery("promoteToPrimary")
        let input = try readInput(try call.jsonBody(), call: call)
        if input.destination?.imageSetId == sourceId {
            throw APIError.validation("The destination image set must differ from the source image set")
        }
        if promote, input.destination != nil {
            throw APIError.validation("promoteToPrimary copies into a new primary image set: give no destinationImageSet")
        }

        let (source, destination) = try call.store { store throws -> (ImageSetVersion, ImageSetVersion) in
            try store.database.transaction {
                let handle = try store.requireWritableImageSet(call.namespace, datastoreId, sourceId)
                guard handle.latest.versionId == input.sourceLatest else {
                    throw APIError.conflict("latestVersionId \(input.sourceLatest) is not the latest version of source image set \(sourceId) (\(handle.latest.versionId))")
                }
                var copied = try store.document(handle, versionId: handle.latest.versionId)
                if let copiable = input.copiable { copied = restrict(copied, to: copiable) }
                let now = Timestamp.nowMillis()
                var failure: String?
                let destinationKey: Int64
                var version: ImageSetVersion
                var document: JSONValue
                if let target = input.destination {
                    let existing = try store.requireWritableImageSet(call.namespace, datastoreId, target.imageSetId)
                    guard existing.latest.versionId == target.latest else {
                        throw APIError.conflict("latestVersionId \(target.latest) is not the latest version of destination image set \(target.imageSetId) (\(existing.latest.versionId))")
                    }
                    let current = try store.document(existing, versionId: existing.latest.versionId)
                    if !force { failure = DICOMDocument.copyConflict(source: copied, destination: current) }
                    destinationKey = existing.key
                    version = ImageSetVersion(
                        imageSetId: target.imageSetId, versionId: existing.latest.versionId + 1, state: .locked,
                        workflowStatus: .copying, createdAt: existing.latest.createdAt ?? now, updatedAt: now,
                        forced: force ? true : nil, isPrimary: existing.latest.isPrimary)
                    document = failure == nil ? DICOMDocument.merge(source: copied, into: current, force: force) : current
                } else {
                    let newId = ResourceIds.make()
                    destinationKey = try store.insertImageSet(call.namespace, datastoreId: datastoreId, imageSetId: newId)
                    version = ImageSetVersion(
                        imageSetId: newId, versionId: 1, state: .locked, workflowStatus: .copying, createdAt: now,
                        updatedAt: now, forced: force ? true : nil, isPrimary: promote)
                    document = copied.setting("ImageSetID", .string(newId))
                    if promote { failure = try promotionConflict(copied, store: store, namespace: call.namespace, datastoreId: datastoreId) }
                }
                if let planned = try store.takeOutcome(
                    call.namespace, datastoreId: datastoreId, imageSetIds: [sourceId] + (input.destination.map { [$0.imageSetId] } ?? []),
                    operation: name) {
                    failure = planned.message
                }
                try store.insertVersion(imageSet: destinationKey, version, document: document)
                try store.touchImageSet(destinationKey, now: now)
                if failure == nil {
                    // The copied instances' frames become the destination's too (shared bytes, same frame ids).
                    try store.copyFrames(from: handle.key, to: destinationKey, frameIds: DICOMDocument.frameIds(in: copied))
                }
                try store.announceImageSet(call.namespace, datastoreId, imageSet: destinationKey, versionId: version.versionId,
                                           sourceImageSetArn: call.namespace.imageSetArn(datastoreId, sourceId), now: now)

                var source = handle.latest
                try store.setVersionState(imageSet: handle.key, versionId: source.versionId, state: .locked,
                                          workflowStatus: .copyingWithReadOnlyAccess, message: source.message, updatedAt: now)
                try store.announceImageSet(call.namespace, datastoreId, imageSet: handle.key, versionId: source.versionId, now: now)
                // Events in the order Copying, Copying With Read Only Access, then the ends (dest first).
                try store.schedule(PendingTransition(
                    namespace: call.namespace, datastoreId: datastoreId, imageSet: (destinationKey, version.versionId),
                    state: ImageSetState.active.rawValue, workflowStatus: failure == nil ? .copied : .copyFailed,
                    message: failure), now: now)
                // After a failed copy the source goes back to its earlier status, which no detail-type announces.
                try store.schedule(PendingTransition(
                    namespace: call.namespace, datastoreId: datastoreId, imageSet: (handle.key, source.versionId),
                    state: ImageSetState.active.rawValue,
                    workflowStatus: failure == nil ? .copied : source.workflowStatus,
                    message: failure == nil ? nil : source.message, quiet: failure != nil), now: now)
                source.state = .locked
                source.workflowStatus = .copyingWithReadOnlyAccess
                source.updatedAt = now
                return (source, version)
            }
        }
        var json = JSONWriter(capacity: 768)
        json.object { body in
            body.field("datastoreId", datastoreId)
            for (member, version) in [("sourceImageSetProperties", source), ("destinationImageSetProperties", destination)] {
                body.field(member, object: { item in
                    item.field("imageSetId", version.imageSetId)
                    item.field("latestVersionId", String(version.versionId))
                    version.writeState(to: &item)
                    item.field("createdAt", timestampMillis: version.createdAt)
                    item.field("updatedAt", timestampMillis: version.updatedAt)
                    item.field("imageSetArn", call.namespace.imageSetArn(datastoreId, version.imageSetId))
                })
            }
        }
        return Response(json: json.bytes)
    }

    /// Why the copied document cannot become a primary image set (`promoteToPrimary`), or nil: the datastore's
    /// primary image sets keep one image set per series and agree on the study-level grouping elements, as an
    /// import keeps them (ImportGrouping) — so a promotion fails (COPY_FAILED) when a primary image set already
    /// holds one of the copied series, or when one of the study disagrees on Patient ID, Study Date, Accession
    /// Number or Study ID.
    static func promotionConflict(_ copied: JSONValue, store: Store, namespace: Namespace, datastoreId: String) throws -> String? {
        guard let study = copied.value(at: ["Study", "DICOM", "StudyInstanceUID"])?.stringValue else { return nil }
        let seriesUIDs = (copied.value(at: ["Study", "Series"])?.objectMembers ?? []).map(\.key)
        let ours = ImportGrouping.studyPart(ImportGrouping.identity(copied, seriesUID: ""))
        for primary in try ImportCommit.primary(store: store, namespace: namespace, datastoreId: datastoreId,
                                                studyUID: study, seriesUID: nil) {
            if let series = seriesUIDs.first(where: { primary.document.value(at: ["Study", "Series", $0]) != nil }) {
                return "INVALID_REQUEST: Series \(series) already belongs to primary image set \(primary.handle.imageSetId)"
            }
            let theirs = ImportGrouping.identity(primary.document, seriesUID: "")
            if ImportGrouping.studyPart(theirs) != ours {
                return "INVALID_REQUEST: Study of the image set conflicts with primary image set \(primary.handle.imageSetId)"
            }
        }
        return nil
    }

    static func readInput(_ body: JSONValue, call: Call) throws(APIError) -> Input {
        try JSONReader.validated(body) { reader -> Input? in
            guard reader.object(allowed: ["sourceImageSet", "destinationImageSet"]) else { return nil }
            var input = Input(sourceLatest: 0)
            if let source = reader.member("sourceImageSet", required: true), source.object(allowed: ["latestVersionId", "DICOMCopies"]) {
                input.sourceLatest = source.member("latestVersionId", required: true)?.string(versionProblem).flatMap { Int64($0) } ?? 0
                if let copies = source.member("DICOMCopies"), copies.object(allowed: ["copiableAttributes"]) {
                    if let text = copies.member("copiableAttributes", required: true)?.string({
                        (1...260_000).contains($0.utf8.count) ? nil : "must be 1–260000 characters"
                    }) {
                        if let parsed = try? JSONParser.parse(Array(text.utf8)), case .object = parsed {
                            input.copiable = parsed
                        } else {
                            copies.fail("must be a JSON object in a string, like {\"SchemaVersion\":\"1.1\",\"Study\":{…}}", at: "\(copies.path).copiableAttributes")
                        }
                    }
                }
            }
            if let destination = reader.member("destinationImageSet"), destination.object(allowed: ["imageSetId", "latestVersionId"]) {
                let id = destination.member("imageSetId", required: true)?.string(Fixture.resourceIdProblem)
                let latest = destination.member("latestVersionId", required: true)?.string(versionProblem).flatMap { Int64($0) }
                if let id, let latest { input.destination = (id, latest) }
            }
            return input
        }
    }

    static func versionProblem(_ text: String) -> String? {
        Validate.isVersionId(text) && Int64(text) != nil ? nil : "\"\(text)\" does not match \\d+"
    }

    /// The source document limited to the series (and, where listed, the instances) that `copiable` names;
    /// without a Study.Series member in `copiable` the whole document is copied.
    static func restrict(_ document: JSONValue, to copiable: JSONValue) -> JSONValue {
        guard let wanted = copiable.value(at: ["Study", "Series"])?.objectMembers,
            let series = document.value(at: ["Study", "Series"])?.objectMembers
        else { return document }
        var kept: [(key: String, value: JSONValue)] = []
        for (uid, value) in series {
            guard let selection = wanted.first(where: { $0.key == uid })?.value else { continue }
            if let instances = selection["Instances"]?.objectMembers, let all = value["Instances"]?.objectMembers {
                let names = Set(instances.map(\.key))
                kept.append((uid, value.setting("Instances", .object(all.filter { names.contains($0.key) }))))
            } else {
                kept.append((uid, value))
            }
        }
        let study = document["Study"] ?? .object([])
        return document.setting("Study", study.setting("Series", .object(kept)))
    }
}
