import HealthImagingDICOM
import HealthImagingHTTP
/// A shortcut for tests that want no S3 at all:
/// - `POST /_healthimaging/datastores/{datastoreId}/dicom` with one DICOM Part 10 file as the body (any
///   Content-Type; `?inputFile=NAME` names it in errors) imports it with the same parsing, frame encoding and
///   grouping as an import job — off the loop, in the import pool (a worker process), the reply deferred until
///   the file is done and committed — and answers the image set it made or joined:
///   `{"datastoreId", "imageSetId", "imageSetVersion", "isPrimary", "imageSetState", "imageSetWorkflowStatus",
///   "sopInstanceUID", "frameIds": [...], "warnings"?: [{"warning_reason_code", "type", "message"}]}` — 201 for a
///   new image set, 200 for a new version of an existing one.
///   A file that cannot be imported answers 400 ValidationException with the failure.ndjson message, prefixed
///   by the file's name; a file
///   whose worker crashed or overran its budget answers 500 InternalServerException, and the server goes on.
enum ImportEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("POST", "/_healthimaging/datastores/{datastoreId}/dicom", query: ["inputFile"], reply: importOne),
    ]

    static func importOne(_ call: ControlCall) throws(APIError) -> Reply {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let name = call.request.query("inputFile") ?? "request-body.dcm"
        let format = try activeDatastoreFormat(call, datastoreId)
        let size = call.request.bodyFile?.count ?? call.request.body.count
        guard size <= call.emulator.configuration.maxImportFileBytes else {
            throw APIError.validation("File size \(size) bytes exceeds the maximum DICOM P10 file size of \(call.emulator.configuration.maxImportFileBytes) bytes")
        }
        // A streamed body (seam S2) stays on disk: the worker reads it there.
        let source: ImportSource = call.request.bodyFile.map { .file(path: $0.path, offset: 0, length: $0.count) }
            ?? .bytes(call.request.body)
        let task = ImportTask(inputFile: name, source: source, format: format)
        return .deferred { responder in
            call.emulator.imports.process([task]) { results in
                do throws(APIError) {
                    responder.send(try answer(call, datastoreId, name, results[0]))
                } catch {
                    responder.send(error.response)
                }
            }
        }
    }

    /// The datastore's storage format; it must exist and be ACTIVE.
    private static func activeDatastoreFormat(_ call: ControlCall, _ datastoreId: String) throws(APIError) -> LosslessStorageFormat {
        let datastore = try call.emulator.run { try $0.store.requireDatastore(call.namespace, datastoreId) }
        guard datastore.status == .active else {
            throw APIError.conflict("Datastore \(datastoreId) is \(datastore.status.rawValue), not ACTIVE")
        }
        return datastore.losslessStorageFormat.flatMap(LosslessStorageFormat.init(rawValue:)) ?? .htj2k
    }

    /// Commits the imported file (on the loop) and answers what it made.
    private static func answer(_ call: ControlCall, _ datastoreId: String, _ name: String,
                               _ result: Result<ImportedFile, RejectedFile>) throws(APIError) -> Response {
        let file: ImportedFile
        switch result {
        case .success(let imported): file = imported
        case .failure(let rejected):
            throw rejected.serverError
                ? APIError(.internalServer, rejected.error.message)
                : APIError.validation("\(name): \(rejected.error.exceptionType == "ValidationException" ? "" : "\(rejected.error.exceptionType): ")\(rejected.error.message)")
        }
        // The datastore may have been deleted (or the state reset) while the file was being read.
        _ = try activeDatastoreFormat(call, datastoreId)
        let result = try call.emulator.run { emulator in
            ImportCommit.commit([file], store: emulator.store, namespace: call.namespace, datastoreId: datastoreId)
        }
        if let failed = result.failed.first { throw APIError(.internalServer, failed.error.message) }
        guard let imageSet = result.imageSets.first else { throw APIError(.internalServer, "The file made no image set") }
        let version = try call.emulator.run { emulator -> ImageSetVersion? in
            guard let key = try emulator.store.imageSetKey(call.namespace, datastoreId, imageSet.imageSetId) else { return nil }
            try emulator.store.settleImageSet(key, read: false)
            return try emulator.store.version(imageSet: key, imageSetId: imageSet.imageSetId, versionId: imageSet.versionId)
        }
        return .json(status: imageSet.versionId == 1 ? 201 : 200) {
            $0.field("datastoreId", datastoreId)
            $0.field("imageSetId", imageSet.imageSetId)
            $0.field("imageSetVersion", imageSet.versionId)
            $0.field("isPrimary", imageSet.isPrimary)
            $0.field("imageSetState", version?.state.rawValue)
            $0.field("imageSetWorkflowStatus", version?.workflowStatus?.rawValue)
            $0.field("sopInstanceUID", file.instance.sopInstanceUID)
            $0.field("frameIds", array: { list in for frame in file.frames { list.string(frame.id) } })
            if !file.warnings.isEmpty { ImportOutput.write(file.warnings, to: &$0) }
        }
    }
}
