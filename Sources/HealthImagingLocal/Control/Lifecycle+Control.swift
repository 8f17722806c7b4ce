import HealthImagingJSON
import HealthImagingHTTP
/// Control of the version lifecycle:
/// Modes, pending transitions and outcomes belong to the target namespace (`?account=&region=`, else the
/// caller's, else the default one); a namespace without its own mode uses the startup one (`--transitions`).
/// - `GET  /_healthimaging/transitions` → `{"datastore": "immediate", "imageSet": "manual:2", "pending": 0}`
/// - `PUT  /_healthimaging/transitions` `{"datastore": MODE, "imageSet": MODE}` (either or both), where MODE is
///   `"immediate"`, `"manual"`, `"manual:N"`, `"timed:MS"` or `{"mode": "manual", "reads": N}` /
///   `{"mode": "timed", "millis": MS}`. Affects transitions scheduled from then on.
/// - `POST /_healthimaging/transitions/advance` `{"datastoreId"?, "imageSetId"?}` → `{"applied": N}`: completes
///   pending transitions now (of the namespace, or of one datastore / image set).
/// - `POST /_healthimaging/outcomes` `{"operation": "UpdateImageSetMetadata"|"CopyImageSet", "datastoreId",
///   "imageSetId"?, "outcome"?: "UPDATE_FAILED"|"COPY_FAILED", "message"?}`: the next such operation on that
///   image set (for a copy: as source or destination; without imageSetId: on any image set of the datastore)
///   ends in the failure state with the message. One-shot. `{"operation": "GetImageFrame", "outcome"?: "CORRUPT_FRAME"}`:
///   the next GetImageFrame on that image set answers a valid codestream of altered pixels (checksum mismatch).
///   With `"operation": "StartDICOMImportJob"` (outcome `IMPORT_FAILED`): the next import job started on the
///   datastore ends FAILED with the message, importing nothing (its end follows the `importJob` mode).
/// - `GET /_healthimaging/outcomes`, `DELETE /_healthimaging/outcomes`: list / clear planned outcomes.
/// - `POST /_healthimaging/datastores/{datastoreId}/imageSets` `{"imageSetId"?, "metadata"?, "isPrimary"?,
///   "tags"?, "lastAccessedAt"?}`: an image set as a finished import makes it (version 1, ACTIVE + CREATED), last
///   accessed now unless `lastAccessedAt` (a timestamp) says otherwise (storage tiers).
enum LifecycleEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", "/_healthimaging/transitions", getTransitions),
        .init("PUT", "/_healthimaging/transitions", putTransitions),
        .init("POST", "/_healthimaging/transitions/advance", advance),
        .init("GET", "/_healthimaging/outcomes", listOutcomes),
        .init("POST", "/_healthimaging/outcomes", planOutcome),
        .init("DELETE", "/_healthimaging/outcomes", clearOutcomes),
        .init("POST", "/_healthimaging/datastores/{datastoreId}/imageSets", seedImageSet),
    ]

    static let defaultMessages: [String: String] = [
        "UPDATE_FAILED": "INTERNAL_ERROR: UpdateImageSetMetadata failed on purpose (healthimaging-local control plane)",
        "COPY_FAILED": "INTERNAL_ERROR: CopyImageSet failed on purpose (healthimaging-local control plane)",
        "CORRUPT_FRAME": "GetImageFrame answers altered pixels on purpose (healthimaging-local control plane)",
        "IMPORT_FAILED": "INTERNAL_ERROR: StartDICOMImportJob failed on purpose (healthimaging-local control plane)",
    ]

    static func getTransitions(_ call: ControlCall) throws(APIError) -> Response {
        let (modes, pending) = try call.emulator.run { emulator in
            (try TransitionResource.allCases.map { ($0, try emulator.store.transitionMode(call.namespace, $0)) },
             try emulator.store.pendingTransitionCount(call.namespace))
        }
        return .json {
            for (resource, mode) in modes { $0.field(resource.rawValue, mode.description) }
            $0.field("pending", Int64(pending))
        }
    }

    static func putTransitions(_ call: ControlCall) throws(APIError) -> Response {
        let body = try call.body()
        let modes = try JSONReader.validated(body) { reader -> [(TransitionResource, TransitionMode)]? in
            guard reader.object(allowed: TransitionResource.allCases.map(\.rawValue)) else { return nil }
            var modes: [(TransitionResource, TransitionMode)] = []
            for resource in TransitionResource.allCases {
                guard let member = reader.member(resource.rawValue) else { continue }
                if let mode = mode(member) { modes.append((resource, mode)) }
            }
            if modes.isEmpty, reader.issues.items.isEmpty { reader.fail("give \"datastore\", \"imageSet\" and/or \"importJob\"") }
            return modes
        }
        try call.emulator.run { emulator in
            for (resource, mode) in modes { try emulator.store.setTransitionMode(call.namespace, resource, mode) }
        }
        return try getTransitions(call)
    }

    /// A mode as a string (`manual:2`) or an object (`{"mode": "manual", "reads": 2}`).
    static func mode(_ reader: JSONReader) -> TransitionMode? {
        let expected = "must be immediate, manual, manual:N or timed:MS"
        if case .string(let text) = reader.value {
            guard let mode = TransitionMode(text) else {
                reader.fail("unknown transition mode \"\(text)\": \(expected)")
                return nil
            }
            return mode
        }
        guard reader.object(allowed: ["mode", "reads", "millis"]) else { return nil }
        guard let name = reader.member("mode", required: true)?.string() else { return nil }
        func integer(_ key: String) -> Int? {
            guard let member = reader.member(key) else { return nil }
            guard case .number(let text) = member.value, let value = Int(text), value >= 0 else {
                member.fail("expected a non-negative integer")
                return nil
            }
            return value
        }
        let reads = integer("reads")
        let millis = integer("millis")
        switch name {
        case "immediate":
            return .immediate
        case "manual":
            return .manual(reads: reads)
        case "timed":
            guard let millis else {
                reader.fail("timed needs \"millis\"", at: "\(reader.path).millis")
                return nil
            }
            return TransitionMode("timed:\(millis)")
        default:
            reader.fail("unknown transition mode \"\(name)\": \(expected)", at: "\(reader.path).mode")
            return nil
        }
    }

    static func advance(_ call: ControlCall) throws(APIError) -> Response {
        let body = try call.body()
        let target = try JSONReader.validated(body) { reader -> (String?, String?, String?)? in
            guard reader.object(allowed: ["datastoreId", "imageSetId", "jobId"]) else { return nil }
            let datastoreId = reader.member("datastoreId")?.string(Fixture.resourceIdProblem)
            let imageSetId = reader.member("imageSetId")?.string(Fixture.resourceIdProblem)
            let jobId = reader.member("jobId")?.string { Validate.isJobId($0) ? nil : "must be 1–32 characters of [0-9a-z]" }
            if imageSetId != nil, datastoreId == nil { reader.fail("imageSetId needs datastoreId", at: "$.datastoreId") }
            if jobId != nil, datastoreId == nil { reader.fail("jobId needs datastoreId", at: "$.datastoreId") }
            return (datastoreId, imageSetId, jobId)
        }
        let applied = try call.emulator.run { emulator throws -> Int in
            var key: Int64?
            if let datastoreId = target.0, let imageSetId = target.1 {
                guard let found = try emulator.store.imageSetKey(call.namespace, datastoreId, imageSetId) else {
                    throw APIError.notFound("Image set \(imageSetId) does not exist in datastore \(datastoreId)")
                }
                key = found
            }
            return try emulator.store.database.transaction {
                try emulator.store.advance(call.namespace, datastoreId: target.0, imageSetKey: key, jobId: target.2)
            }
        }
        return .json { $0.field("applied", Int64(applied)) }
    }

    static func planOutcome(_ call: ControlCall) throws(APIError) -> Response {
        let body = try call.body()
        let planned = try JSONReader.validated(body) { reader -> PlannedOutcome? in
            guard reader.object(allowed: ["operation", "datastoreId", "imageSetId", "outcome", "message"]) else { return nil }
            let operation = reader.member("operation", required: true)?.string {
                ["UpdateImageSetMetadata", "CopyImageSet", "GetImageFrame", "StartDICOMImportJob"].contains($0)
                    ? nil : "must be UpdateImageSetMetadata, CopyImageSet, GetImageFrame or StartDICOMImportJob"
            }
            let datastoreId = reader.member("datastoreId", required: true)?.string(Fixture.resourceIdProblem)
            let imageSetId = reader.member("imageSetId")?.string(Fixture.resourceIdProblem)
            let natural: String? = operation.map {
                switch $0 {
                case "CopyImageSet": "COPY_FAILED"
                case "GetImageFrame": "CORRUPT_FRAME"
                case "StartDICOMImportJob": "IMPORT_FAILED"
                default: "UPDATE_FAILED"
                }
            }
            let outcome = reader.member("outcome").flatMap { member -> String? in
                member.string { text in
                    guard let natural else { return nil }
                    return text == natural ? nil : "\(operation ?? "") can only be made to end in \(natural)"
                }
            } ?? natural
            let message = reader.member("message")?.string {
                Validate.isMessage($0) ? nil : "must be 1–2048 characters matching [\\w -:`]+"
            }
            guard let operation, let datastoreId, let outcome else { return nil }
            return PlannedOutcome(datastoreId: datastoreId, imageSetId: imageSetId ?? "", operation: operation,
                                  outcome: outcome, message: message ?? defaultMessages[outcome] ?? "INTERNAL_ERROR")
        }
        try call.emulator.run { try $0.store.planOutcome(call.namespace, planned) }
        return .json { write(planned, to: &$0) }
    }

    static func write(_ outcome: PlannedOutcome, to json: inout JSONWriter) {
        json.field("operation", outcome.operation)
        json.field("datastoreId", outcome.datastoreId)
        json.field("imageSetId", outcome.imageSetId.isEmpty ? nil : outcome.imageSetId)
        json.field("outcome", outcome.outcome)
        json.field("message", outcome.message)
    }

    static func listOutcomes(_ call: ControlCall) throws(APIError) -> Response {
        let outcomes = try call.emulator.run { try $0.store.outcomes(call.namespace) }
        return .json { body in
            body.field("outcomes", array: { list in for outcome in outcomes { list.object { write(outcome, to: &$0) } } })
        }
    }

    static func clearOutcomes(_ call: ControlCall) throws(APIError) -> Response {
        let cleared = try call.emulator.run { try $0.store.clearOutcomes(call.namespace) }
        return .json { $0.field("cleared", Int64(cleared)) }
    }

    static func seedImageSet(_ call: ControlCall) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let body = try call.body()
        let request = try JSONReader.validated(body) { reader -> (String?, JSONValue?, Bool?, [(key: String, value: String)], Int64?)? in
            guard reader.object(allowed: ["imageSetId", "metadata", "isPrimary", "tags", "lastAccessedAt"]) else { return nil }
            let imageSetId = reader.member("imageSetId")?.string(Fixture.resourceIdProblem)
            var metadata: JSONValue?
            if let document = reader.member("metadata") {
                if case .object = document.value { metadata = document.value } else { document.fail("expected an object") }
            }
            let isPrimary = reader.member("isPrimary")?.bool()
            let tags = reader.member("tags").flatMap(TagRules.read) ?? []
            let lastAccessedAt = reader.member("lastAccessedAt")?.timestamp()
            return (imageSetId, metadata, isPrimary, tags, lastAccessedAt)
        }
        let imageSetId = request.0 ?? ResourceIds.make()
        let now = Timestamp.nowMillis()
        try call.emulator.run { emulator in
            let store = emulator.store
            try store.database.transaction {
                guard try store.datastore(call.namespace, datastoreId) != nil else {
                    throw APIError.notFound("Datastore \(datastoreId) does not exist")
                }
                guard try store.imageSetKey(call.namespace, datastoreId, imageSetId) == nil else {
                    throw APIError.conflict("Image set \(imageSetId) already exists in datastore \(datastoreId)")
                }
                let key = try store.insertImageSet(call.namespace, datastoreId: datastoreId, imageSetId: imageSetId,
                                                   lastAccessedAt: request.4 ?? now)
                let version = ImageSetVersion(imageSetId: imageSetId, versionId: 1, state: .active, workflowStatus: .created,
                                              createdAt: now, updatedAt: now, isPrimary: request.2)
                let document = request.1.map { $0.setting("DatastoreID", .string(datastoreId)).setting("ImageSetID", .string(imageSetId)) }
                try store.insertVersion(imageSet: key, version, document: document)
                try store.setTags(call.namespace, datastoreId: datastoreId, imageSetId: imageSetId, request.3)
            }
        }
        return .json(status: 201) {
            $0.field("datastoreId", datastoreId)
            $0.field("imageSetId", imageSetId)
            $0.field("versionId", "1")
            $0.field("imageSetState", ImageSetState.active.rawValue)
            $0.field("imageSetWorkflowStatus", ImageSetWorkflowStatus.created.rawValue)
        }
    }
}
