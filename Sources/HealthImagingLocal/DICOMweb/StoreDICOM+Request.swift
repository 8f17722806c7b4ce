import HealthImagingDICOM
import HealthImagingHTTP
/// One STOW-RS request (StoreDICOM, StoreDICOMStudy), from its body to its answer, through the import jobs' code:
/// 1. `prepare` (on the loop): the datastore, the Content-Type and the multipart framing give the parts as ranges of
///    the body (in memory, or the temporary file of a streamed body). When it throws, nothing is stored.
/// 2. Every part is one import task: parsed and its frames encoded by the import jobs' per-file work
///    (`ImportScanner.importFile`), off the loop once the coordinator runs tasks (seam S3).
/// 3. `finish` (on the loop): instances of another study fail (StoreDICOMStudy); the others are committed by
///    `ImportCommit.commit`, the import jobs' own grouping (primary / non-primary image sets, a re-stored instance
///    makes a new version); the answer is the Store Instances Response Module (`StoreDICOMResponse`).
struct StoreDICOMRequest {
    struct Part {
        /// The name the part has in errors and in the commit's bookkeeping (`part 2`, or `request body`).
        var name: String
        var range: Range<Int>
    }

    var datastoreId: String
    /// StoreDICOMStudy's path study: instances of another study fail.
    var study: String?
    var format: LosslessStorageFormat
    var source: MultipartSource
    var parts: [Part]

    /// Checks the request and splits its body; throws the JSON error that answers it (nothing is stored then).
    static func prepare(_ call: Call, study: String?) throws(APIError) -> StoreDICOMRequest {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        if let study { _ = try DICOMweb.uid(study, member: "StudyInstanceUID") }
        let request = call.request
        let length = request.bodyFile?.count ?? request.body.count
        guard length <= call.maxStoreBytes else {
            throw APIError(.payloadTooLarge, "The request body is larger than \(call.maxStoreBytes) bytes, the most one STOW-RS request may carry")
        }
        let datastore = try call.store { try $0.requireDatastore(call.namespace, datastoreId) }
        guard datastore.status == .active else {
            throw APIError.conflict("Datastore \(datastoreId) is \(datastore.status.rawValue), not ACTIVE")
        }
        let format = datastore.losslessStorageFormat.flatMap(LosslessStorageFormat.init(rawValue:)) ?? .htj2k
        // A streamed body (seam S2: chunked, or over the buffered limit) is read where it lies, in its temporary file.
        let source: MultipartSource
        if let file = request.bodyFile {
            guard let opened = MultipartSource(path: file.path, count: file.count) else {
                throw APIError(.internalServer, "The request body could not be read back from its temporary file")
            }
            source = opened
        } else {
            source = MultipartSource(bytes: request.body)
        }
        let parts = try split(source, contentType: request.header("Content-Type"))
        return StoreDICOMRequest(datastoreId: datastoreId, study: study, format: format, source: source, parts: parts)
    }

    /// The body's instances: the whole body for `application/dicom`, one per part for `multipart/related`.
    static func split(_ source: MultipartSource, contentType: String?) throws(APIError) -> [Part] {
        guard let contentType, let media = MediaType.parse(contentType) else {
            throw APIError(.unsupportedMediaType, "A STOW-RS request needs Content-Type application/dicom or multipart/related; type=\"application/dicom\"; boundary=…")
        }
        switch media.name {
        case "application/dicom":
            guard source.count > 0 else { throw APIError.validation("The request body is empty; it must be one DICOM Part 10 file") }
            return [Part(name: "request body", range: 0..<source.count)]
        case "multipart/related":
            if let type = media.parameter("type"), MediaType.parse(type)?.name != "application/dicom" {
                throw APIError(.unsupportedMediaType, "multipart/related; type=\"\(type)\" is not supported; STOW-RS here takes type=\"application/dicom\" parts")
            }
            guard let boundary = media.parameter("boundary") else {
                throw APIError.validation("The multipart/related Content-Type has no boundary parameter")
            }
            let found: [Multipart.Part]
            do {
                found = try Multipart.parts(source, boundary: boundary)
            } catch {
                throw APIError.validation("The multipart body is malformed: \(error.message)")
            }
            guard !found.isEmpty else { throw APIError.validation("The multipart body has no parts") }
            var parts: [Part] = []
            for (index, part) in found.enumerated() {
                if let type = part.header("Content-Type"), MediaType.parse(type)?.name != "application/dicom" {
                    throw APIError(.unsupportedMediaType, "Part \(index + 1) has Content-Type \(type); every part must be application/dicom")
                }
                parts.append(Part(name: "part \(index + 1)", range: part.range))
            }
            return parts
        default:
            throw APIError(.unsupportedMediaType, "Content-Type \(media.name) is not supported; use application/dicom or multipart/related; type=\"application/dicom\"")
        }
    }

    /// How many parts, and how many bytes of them, go to the import pool at once. The encoded frames of a batch are
    /// held until it is committed, so batches bound the server's memory for a 1 GB body; each batch is committed as a
    /// unit (`ImportCommit.commit`), so a series split across batches becomes one version per batch.
    static let batchBytes = 64 << 20
    static let batchParts = 256

    /// Part indices, in order, cut into batches.
    var batches: [Range<Int>] {
        var out: [Range<Int>] = []
        var first = 0
        var bytes = 0
        for (index, part) in parts.enumerated() {
            if index > first && (bytes + part.range.count > Self.batchBytes || index - first >= Self.batchParts) {
                out.append(first..<index)
                first = index
                bytes = 0
            }
            bytes += part.range.count
        }
        if first < parts.count { out.append(first..<parts.count) }
        return out
    }

    /// The answer, later: each batch of parts is parsed and encoded in the import pool (off the loop, seam S3), then
    /// committed on the loop while the next batch is being worked on; the answer goes when the last one is committed.
    func reply(_ call: Call) -> OperationReply {
        guard let imports = call.imports else { return .now(finish(importHere(), call: call)) }
        let batches = self.batches
        let answer = Progress(StoreDICOMResponse(baseURL: call.baseURL, datastoreId: datastoreId, study: study))
        return .later { send in
            func submit(_ index: Int) {
                let batch = batches[index]
                let tasks = parts[batch].map {
                    ImportTask(inputFile: $0.name, source: source.importSource($0.range), format: format)
                }
                imports.process(tasks) { results in
                    if index + 1 < batches.count { submit(index + 1) }
                    if let refused = commit(results, parts: batch, into: &answer.response, call: call) {
                        answer.refusal = answer.refusal ?? refused
                    }
                    if index + 1 == batches.count { send(answer.refusal?.response ?? answer.response.response()) }
                }
            }
            submit(0)
        }
    }

    /// The answer being built across batches (captured by their completions, on the loop).
    private final class Progress {
        var response: StoreDICOMResponse
        var refusal: APIError?
        init(_ response: StoreDICOMResponse) { self.response = response }
    }

    /// The same work on the calling thread (library use without an import coordinator).
    func importHere() -> [Result<ImportedFile, RejectedFile>] {
        parts.map { part in ImportScanner.importFile(part.name, source.read(part.range), format: format) }
    }

    /// Commits all parts' results at once and builds the answer.
    func finish(_ results: [Result<ImportedFile, RejectedFile>], call: Call) -> Response {
        var answer = StoreDICOMResponse(baseURL: call.baseURL, datastoreId: datastoreId, study: study)
        if let refused = commit(results, parts: parts.indices, into: &answer, call: call) { return refused.response }
        return answer.response()
    }

    /// Commits what parsed of `parts[batch]` (on the loop) and records every part's outcome in `answer`. Returns the
    /// error that answers the whole request instead when the datastore went away (or stopped being ACTIVE) while
    /// the parts were being read.
    func commit(_ results: [Result<ImportedFile, RejectedFile>], parts batch: Range<Int>,
                into answer: inout StoreDICOMResponse, call: Call) -> APIError? {
        do throws(APIError) {
            let datastore = try call.store { try $0.requireDatastore(call.namespace, datastoreId) }
            guard datastore.status == .active else {
                throw APIError.conflict("Datastore \(datastoreId) is \(datastore.status.rawValue), not ACTIVE")
            }
        } catch {
            return error
        }
        var toCommit: [ImportedFile] = []
        var outcomeOfPart: [String: Int] = [:]
        for (part, result) in zip(parts[batch], results) {
            switch result {
            case .success(let file):
                if let study, file.instance.studyInstanceUID != study {
                    answer.fail(file, reason: .studyMismatch)
                } else {
                    outcomeOfPart[part.name] = answer.outcomes.count
                    answer.pending(file)
                    toCommit.append(file)
                }
            case .failure(let rejected):
                let head = part.range.lowerBound..<min(part.range.upperBound, part.range.lowerBound + Part10Meta.prefixBytes)
                answer.fail(meta: Part10Meta.read(source.read(head)), reason: StoreDICOMResponse.FailureReason(rejected))
            }
        }
        guard !toCommit.isEmpty else { return nil }
        let committed = ImportCommit.commit(toCommit, store: call.store, namespace: call.namespace, datastoreId: datastoreId)
        for imageSet in committed.imageSets {
            for name in imageSet.inputFiles {
                if let index = outcomeOfPart[name] { answer.stored(index, imageSetId: imageSet.imageSetId, isPrimary: imageSet.isPrimary) }
            }
        }
        for failed in committed.failed {
            if let index = outcomeOfPart[failed.inputFile] { answer.commitFailed(index) }
        }
        return nil
    }
}

@available(*, unavailable)
extension StoreDICOMRequest: Sendable {}
