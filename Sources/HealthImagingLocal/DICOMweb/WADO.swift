import CImaging
import Foundation
import HealthImagingJSON
import HealthImagingDICOM
import HealthImagingHTTP

/// WADO-RS (GetDICOMInstance, GetDICOMInstanceMetadata, GetDICOMSeriesMetadata, GetDICOMInstanceFrames,
/// GetDICOMBulkdata): instances found through the QIDO indexes — primary image sets only, or the one named by
/// `imageSetId` — and served from their latest version. docs/dicomweb.md "WADO-RS".
enum WADO {
    /// One instance as the indexes hold it.
    struct Row {
        var imageSetKey: Int64
        var imageSetId: String
        var sopUID: String
        var instance: JSONValue
        var study: JSONValue
        var series: JSONValue

        var storedSyntax: String { instance["StoredTransferSyntaxUID"]?.stringValue ?? FrameCodec.htj2kRPCL }
        /// Import warnings under which pixels are served only as stored (`transfer-syntax=*`): TRANSCODING_EXCEPTION,
        /// UNSUPPORTED_TRANSFER_SYNTAX, FRAMES_EXTRACTION_FAILURE, FRAME_NUMBER_MISMATCH, INVALID_OFFSET_TABLE, OTHER.
        var asStoredOnly: Bool {
            let codes: [JSONValue] = if case .array(let list)? = dicom["WarningReason"] { list } else { [dicom["WarningReason"] ?? .null] }
            return codes.contains { [0xB100, 0xB120, 0xB110, 0xB111, 0xB112, 0xBFFF].contains(DICOMIndexRows.integer($0) ?? 0) }
        }
        var dicom: JSONValue { instance["DICOM"] ?? .object([]) }
        var frameIds: [String] {
            guard case .array(let ids)? = instance["FrameIDs"] else { return [] }
            return ids.compactMap(\.stringValue)
        }
    }

    struct Target {
        var datastoreId: String
        var studyUID: String
        var seriesUID: String
        var sopUID: String?
        var imageSetId: String?
    }

    static func target(_ call: Call, instance: Bool) throws(APIError) -> Target {
        let datastoreId = try DICOMweb.datastore(call)
        let study = try DICOMweb.uid(call.path("StudyInstanceUID"), member: "StudyInstanceUID")
        let series = try DICOMweb.uid(call.path("SeriesInstanceUID"), member: "SeriesInstanceUID")
        let sop = instance ? try DICOMweb.uid(call.path("SOPInstanceUID"), member: "SOPInstanceUID") : nil
        return Target(datastoreId: datastoreId, studyUID: study, seriesUID: series, sopUID: sop,
                      imageSetId: try DICOMweb.imageSetId(call))
    }

    /// The instances of the target (one, or the series' in InstanceNumber order), or ResourceNotFoundException.
    static func rows(_ call: Call, _ target: Target) throws(APIError) -> [Row] {
        let found = try call.store { store throws -> [Row] in
            var key: Int64?
            if let imageSetId = target.imageSetId {
                let handle = try store.requireImageSet(call.namespace, target.datastoreId, imageSetId, read: true)
                if handle.latest.state == .deleted { throw APIError.notFound("Image set \(imageSetId) is DELETED") }
                key = handle.key
            }
            let statement = try store.database.cached("""
                SELECT i.image_set_pk, st.image_set_id, i.sop_uid, i.instance_json, s.study_json, s.series_json
                FROM dicom_instance_index i
                JOIN dicom_series_index s ON s.image_set_pk = i.image_set_pk AND s.series_uid = i.series_uid
                JOIN image_set_versions v ON v.image_set_pk = i.image_set_pk AND v.version = i.version
                JOIN image_sets st ON st.pk = i.image_set_pk
                WHERE i.account = ?1 AND i.region = ?2 AND i.datastore_id = ?3 AND i.study_uid = ?4 AND i.series_uid = ?5
                  AND (?6 IS NULL OR i.sop_uid = ?6) AND v.state <> 'DELETED'
                  AND (?7 IS NULL AND v.is_primary = 1 OR i.image_set_pk = ?7)
                ORDER BY i.instance_number IS NULL, i.instance_number, i.sop_uid, coalesce(v.updated_at, 0) DESC
                """)
            try statement.bind(1, call.namespace.account).bind(2, call.namespace.region).bind(3, target.datastoreId)
                .bind(4, target.studyUID).bind(5, target.seriesUID).bind(6, target.sopUID).bind(7, key)
            var rows: [Row] = []
            var seen: Set<String> = []
            // A series' instances share one study and one series row: each distinct blob is parsed once.
            var shared: [[UInt8]: JSONValue] = [:]
            while try statement.step() {
                let sop = statement.text(2) ?? ""
                guard seen.insert(sop).inserted else { continue }
                func parse(_ column: Int32) -> JSONValue { statement.blob(column).flatMap { try? JSONParser.parse($0) } ?? .object([]) }
                func parseShared(_ column: Int32) -> JSONValue {
                    guard let blob = statement.blob(column) else { return .object([]) }
                    if let parsed = shared[blob] { return parsed }
                    let parsed = (try? JSONParser.parse(blob)) ?? .object([])
                    shared[blob] = parsed
                    return parsed
                }
                rows.append(Row(imageSetKey: statement.int64(0) ?? 0, imageSetId: statement.text(1) ?? "", sopUID: sop,
                                instance: parse(3), study: parseShared(4), series: parseShared(5)))
            }
            // Every WADO-RS retrieve is an access of the image sets it reads (storage tiers; QIDO is not).
            for imageSet in Set(rows.map(\.imageSetKey)) { try store.touchImageSet(imageSet) }
            return rows
        }
        guard !found.isEmpty else {
            let what = target.sopUID.map { "Instance \($0) of series \(target.seriesUID)" } ?? "Series \(target.seriesUID)"
            let scope = target.imageSetId.map { "image set \($0)" } ?? "the primary image sets of datastore \(target.datastoreId)"
            throw APIError.notFound("\(what) of study \(target.studyUID) is not in \(scope)")
        }
        return found
    }

    /// Every attribute of an instance (Patient, Study, Series, Instance levels), File Meta Information and Pixel Data
    /// left out, in tag order.
    static func attributes(_ row: Row) -> [DICOMAttribute] {
        let vrs = row.instance["DICOMVRs"]
        var byTag: [UInt32: DICOMAttribute] = [:]
        for level in [DICOMJSON.attributes(row.study, vrs: nil), DICOMJSON.attributes(row.series, vrs: nil),
                      DICOMJSON.attributes(row.dicom, vrs: vrs)] {
            for attribute in level where attribute.tag >> 16 != 0x0002 && !pixelDataTags.contains(attribute.tag) {
                byTag[attribute.tag] = attribute
            }
        }
        return byTag.values.sorted { $0.tag < $1.tag }
    }

    static let pixelDataTags: Set<UInt32> = [0x7FE0_0008, 0x7FE0_0009, 0x7FE0_0010]

    static func instanceURL(_ call: Call, _ target: Target, sop: String) -> String {
        DICOMweb.datastoreURL(call, target.datastoreId) + "/studies/\(target.studyUID)/series/\(target.seriesUID)/instances/\(sop)"
    }

    // MARK: metadata

    static func metadata(_ call: Call, instance: Bool) throws(APIError) -> Response {
        let target = try target(call, instance: instance)
        try QIDO.acceptJSON(call)
        let rows = try rows(call, target)
        var json = JSONWriter(capacity: 8192 * rows.count)
        json.array { list in
            for row in rows {
                var attributes = attributes(row)
                // The stored transfer syntax, as the service reports it.
                attributes.insert(DICOMAttribute(tag: 0x0002_0010, vr: "UI", value: .string(row.storedSyntax)), at: 0)
                let bulk = DICOMJSON.BulkData(instanceURL: instanceURL(call, target, sop: row.sopUID), imageSetId: target.imageSetId)
                list.object { object in DICOMJSON.write(attributes, vrs: row.instance["DICOMVRs"], to: &object, bulk: bulk) }
            }
        }
        return DICOMweb.jsonResponse(json.bytes)
    }

    // MARK: bulk data

    static func bulkdata(_ call: Call) throws(APIError) -> Response {
        let target = try target(call, instance: true)
        let hash = call.path("bulkdataUriHash").lowercased()
        guard hash.utf8.count == 32, hash.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
            throw .invalid(call.path("bulkdataUriHash"), at: "bulkdataUriHash", "Member must be 32 hexadecimal digits")
        }
        guard let row = try rows(call, target).first else { throw .notFound("No such instance") }
        guard let value = find(hash: hash, in: attributes(row), vrs: row.instance["DICOMVRs"], path: ""),
            let bytes = Data(base64Encoded: value) else {
            throw .notFound("Bulk data \(hash) does not exist in instance \(row.sopUID)")
        }
        let ranges = MediaRange.parse(call.request.header("Accept"))
        if ranges.first?.mediaType == "multipart/related" {
            return RelatedParts.response(parts: [[UInt8](bytes)], type: "application/octet-stream", transferSyntax: nil)
        }
        return Response(status: 200, headers: [("Content-Type", "application/octet-stream")], body: [UInt8](bytes))
    }

    /// The base64 value of the binary attribute whose tag path hashes to `hash` (DICOMJSON.bulkHash).
    static func find(hash: String, in attributes: [DICOMAttribute], vrs: JSONValue?, path: String) -> String? {
        for attribute in attributes {
            let key = path.isEmpty ? DICOMDictionary.hex(attribute.tag) : path + "." + DICOMDictionary.hex(attribute.tag)
            if attribute.vr == "SQ", case .array(let items) = attribute.value {
                for (index, item) in items.enumerated() {
                    if let found = find(hash: hash, in: DICOMJSON.attributes(item, vrs: vrs), vrs: vrs, path: "\(key).\(index)") {
                        return found
                    }
                }
            } else if DICOMJSON.binaryVRs.contains(attribute.vr), DICOMJSON.bulkHash(key) == hash,
                case .string(let base64) = attribute.value {
                return base64
            }
        }
        return nil
    }

    // MARK: frames

    static func frames(_ call: Call) throws(APIError) -> Response {
        let target = try target(call, instance: true)
        let numbers = try frameList(call.path("frameList"))
        guard let row = try rows(call, target).first else { throw .notFound("No such instance") }
        let ids = row.frameIds
        if let beyond = numbers.first(where: { $0 > ids.count }) {
            throw .notFound("Frame \(beyond) does not exist: instance \(row.sopUID) has \(ids.count) frame\(ids.count == 1 ? "" : "s")")
        }
        let choice = try negotiate(MediaRange.parse(call.request.header("Accept")), stored: row.storedSyntax,
                                   asStoredOnly: row.asStoredOnly, single: nil)
        let stored = try storedFrames(call, row, numbers: numbers)
        let parts = try stored.map { frame throws(APIError) in try transcode(frame, row: row, to: choice.syntax) }
        return RelatedParts.response(parts: parts, type: choice.partType, transferSyntax: choice.syntax)
    }

    /// `1,3,2`: 1-based frame numbers, in request order; malformed, 0 or repeated → ValidationException.
    static func frameList(_ text: String) throws(APIError) -> [Int] {
        var numbers: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard let number = Int(part.trimmed), number >= 1, part.trimmed.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
                throw .invalid(text, at: "frameList", "Member must be comma-separated frame numbers, each 1 or more")
            }
            guard !numbers.contains(number) else {
                throw .invalid(text, at: "frameList", "Member must not repeat a frame number (\(number))")
            }
            numbers.append(number)
        }
        return numbers
    }

    /// The stored frames of `numbers` (1-based), synthetic ones made first for fixture-seeded image sets.
    static func storedFrames(_ call: Call, _ row: Row, numbers: [Int]) throws(APIError) -> [StoredFrame] {
        let ids = row.frameIds
        let datastoreId = call.path("datastoreId")
        return try call.store { store throws -> [StoredFrame] in
            var result: [StoredFrame] = []
            for number in numbers {
                let id = ids[number - 1]
                if let frame = try store.frame(call.namespace, datastoreId: datastoreId, imageSetId: row.imageSetId, frameId: id) {
                    result.append(frame)
                    continue
                }
                let handle = try store.requireImageSet(call.namespace, datastoreId, row.imageSetId, read: false)
                try store.prepareFrames(handle)
                guard let frame = try store.frame(call.namespace, datastoreId: datastoreId, imageSetId: row.imageSetId, frameId: id) else {
                    throw APIError.notFound("Frame \(number) of instance \(row.sopUID) is not stored")
                }
                result.append(frame)
            }
            return result
        }
    }

    // MARK: negotiation

    /// What a request gets: the transfer syntax and the media type of its parts (or of the single body).
    struct Choice {
        var syntax: String
        var partType: String
        var multipart: Bool
    }

    static let losslessStored: Set<String> = [FrameCodec.htj2kRPCL, "1.2.840.10008.1.2.4.201", FrameCodec.jpeg2000Lossless,
                                              DICOMweb.explicitLittleEndian, "1.2.840.10008.1.2"]
    /// Syntaxes served only when stored so (docs/dicomweb.md §2).
    static let asStoredOnly: Set<String> = ["1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.91",
                                            "1.2.840.10008.1.2.4.203", "1.2.840.10008.1.2.4.112", FrameCodec.htj2kRPCL,
                                            "1.2.840.10008.1.2.4.201"]

    static func mediaType(of syntax: String) -> String {
        switch syntax {
        case DICOMweb.explicitLittleEndian, "1.2.840.10008.1.2", "1.2.840.10008.1.2.2": "application/octet-stream"
        case "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91": "image/jp2"
        case "1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203": "image/jphc"
        case "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57", "1.2.840.10008.1.2.4.70": "image/jpeg"
        case "1.2.840.10008.1.2.4.112": "image/jxl"
        default: syntax.hasPrefix("1.2.840.10008.1.2.4.10") ? "video/mpeg" : "application/octet-stream"
        }
    }

    /// The syntax a media type implies when the range names none.
    static func impliedSyntax(_ type: String?) -> String? {
        switch type {
        case nil, "*/*", "application/octet-stream", "application/dicom", "image/*": DICOMweb.explicitLittleEndian
        case "image/jp2": "1.2.840.10008.1.2.4.90"
        case "image/jphc": FrameCodec.htj2kRPCL
        case "image/jpeg": "1.2.840.10008.1.2.4.50"
        default: nil
        }
    }

    /// Whether the stored syntax can be served as `wanted`.
    static func satisfiable(_ wanted: String, stored: String, asStoredOnly: Bool) -> Bool {
        if wanted == stored { return true }
        if asStoredOnly { return false }
        if wanted == DICOMweb.explicitLittleEndian { return losslessStored.contains(stored) }
        if wanted == FrameCodec.jpeg2000Lossless { return losslessStored.contains(stored) }
        return false
    }

    /// Picks the first range of the Accept list the stored syntax satisfies. `single`: the bare media type that
    /// answers single-part (application/dicom for GetDICOMInstance; nil: multipart only). No Accept → ELE.
    static func negotiate(_ ranges: [MediaRange], stored: String, asStoredOnly: Bool, single: String?) throws(APIError) -> Choice {
        if ranges.isEmpty {
            let syntax = DICOMweb.explicitLittleEndian
            guard satisfiable(syntax, stored: stored, asStoredOnly: asStoredOnly) else { throw notAcceptable(stored: stored) }
            return Choice(syntax: syntax, partType: single ?? mediaType(of: syntax), multipart: single == nil)
        }
        for range in ranges {
            let multipart: Bool
            let type: String?
            switch range.mediaType {
            case "multipart/related", "multipart/*":
                multipart = true
                type = range.parameters["type"]?.lowercased()
            case "*/*":
                multipart = single == nil
                type = nil
            case let bare where bare == single:
                multipart = false
                type = bare
            default:
                continue
            }
            var syntax: String
            if let requested = range.transferSyntax {
                syntax = requested == "*" ? stored : requested
            } else if let single, type == single {
                syntax = DICOMweb.explicitLittleEndian
            } else if let implied = impliedSyntax(type) {
                syntax = implied
            } else {
                continue
            }
            if syntax == "*" { syntax = stored }
            guard satisfiable(syntax, stored: stored, asStoredOnly: asStoredOnly) else { continue }
            let partType = single.map { type == nil || type == "*/*" || type == $0 ? $0 : nil } ?? nil
            return Choice(syntax: syntax, partType: partType ?? single ?? mediaType(of: syntax), multipart: multipart)
        }
        throw notAcceptable(stored: stored)
    }

    static func notAcceptable(stored: String) -> APIError {
        APIError(.notAcceptable, "The requested transfer syntax cannot be served for this instance (stored as \(stored)); retry with transfer-syntax=*")
    }

    /// A stored frame in `syntax`: as stored (an HTJ2K JPH file reduced to its codestream), decoded to native
    /// little-endian samples, or re-encoded as JPEG 2000 lossless.
    static func transcode(_ frame: StoredFrame, row: Row, to syntax: String) throws(APIError) -> [UInt8] {
        let stored = frame.transferSyntaxUID
        let codestream = stored == FrameCodec.htj2kRPCL || stored == "1.2.840.10008.1.2.4.201"
            ? JPH.codestream(in: frame.data).map(Array.init) ?? frame.data : frame.data
        if syntax == stored { return codestream }
        let bitsAllocated = DICOMIndexRows.integer(row.dicom["BitsAllocated"]) ?? 16
        let bytesPerSample = max(1, Int(bitsAllocated + 7) / 8)
        var samples: [UInt8]
        if stored == DICOMweb.explicitLittleEndian || stored == "1.2.840.10008.1.2" {
            samples = frame.data
        } else {
            do {
                let format: LosslessStorageFormat = stored == FrameCodec.jpeg2000Lossless ? .jpeg2000Lossless : .htj2k
                samples = try FrameCodec.decode(codestream, format: format, reduce: 0, bytesPerSample: bytesPerSample).samples
            } catch {
                throw APIError(.internalServer, "The stored frame could not be decoded: \(error)")
            }
        }
        if syntax == DICOMweb.explicitLittleEndian { return samples }
        // JPEG 2000 lossless from the decoded samples.
        let dicom = row.dicom
        let frame = PixelFrame(
            columns: Int(DICOMIndexRows.integer(dicom["Columns"]) ?? 0), rows: Int(DICOMIndexRows.integer(dicom["Rows"]) ?? 0),
            samplesPerPixel: Int(DICOMIndexRows.integer(dicom["SamplesPerPixel"]) ?? 1), bitsAllocated: bytesPerSample * 8,
            bitsStored: Int(DICOMIndexRows.integer(dicom["BitsStored"]) ?? Int64(bytesPerSample * 8)),
            isSigned: DICOMIndexRows.integer(dicom["PixelRepresentation"]) == 1, samples: samples)
        do {
            return try FrameCodec.encode(frame, format: .jpeg2000Lossless)
        } catch {
            throw APIError(.internalServer, "The frame could not be encoded as JPEG 2000: \(error)")
        }
    }
}
