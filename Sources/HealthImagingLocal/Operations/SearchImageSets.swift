import Crypto
import HealthImagingJSON
import HealthImagingHTTP

/// `POST /datastore/{datastoreId}/searchImageSets?maxResults=&nextToken=` body: SearchCriteria
/// `{"filters": [{"operator": "EQUAL"|"BETWEEN", "values": [SearchByAttributeValue, …]}], "sort": {…}}`.
/// Searches the latest version of every image set that is not deleted; the DICOM attributes come from its
/// metadata document. Default order: updatedAt descending. Pagination by position, the token bound to the
/// exact criteria.
public enum SearchImageSets: Operation {
    public static let name = "SearchImageSets"
    public static let isReadOnly = true
    public static let method = "POST"
    public static let path = "/datastore/{datastoreId}/searchImageSets"
    public static let defaultMaxResults = 50

    /// One comparable value of an image set.
    enum Key: Comparable {
        case text(String)
        case number(Int64)
        case flag(Bool)

        static func < (lhs: Key, rhs: Key) -> Bool {
            switch (lhs, rhs) {
            case (.text(let a), .text(let b)): a < b
            case (.number(let a), .number(let b)): a < b
            case (.flag(let a), .flag(let b)): !a && b
            default: false
            }
        }
    }

    struct Filter {
        var attribute: String
        var low: Key
        var high: Key?
    }

    struct Candidate {
        var version: ImageSetVersion
        var summary: DICOMDocument.Summary
        var tier: (tier: StorageTier, lastAccessedAt: Int64?) = (.frequentAccess, nil)

        func keys(_ attribute: String) -> [Key] {
            switch attribute {
            case "DICOMPatientId": summary.patientId.map { [.text($0)] } ?? []
            case "DICOMAccessionNumber": summary.accessionNumber.map { [.text($0)] } ?? []
            case "DICOMStudyId": summary.studyId.map { [.text($0)] } ?? []
            case "DICOMStudyInstanceUID": summary.studyInstanceUID.map { [.text($0)] } ?? []
            case "DICOMSeriesInstanceUID": summary.seriesInstanceUIDs.map { .text($0) }
            case "createdAt": version.createdAt.map { [.number($0)] } ?? []
            case "updatedAt": (version.updatedAt ?? version.createdAt).map { [.number($0)] } ?? []
            case "DICOMStudyDateAndTime": [.text((summary.studyDate ?? "") + (summary.studyTime ?? ""))]
            case "isPrimary": [.flag(version.isPrimary ?? false)]
            default: []
            }
        }
    }

    public static func handle(_ call: Call) throws(APIError) -> Response {
        let datastoreId = try Validate.resourceId(call.path("datastoreId"), member: "datastoreId")
        let maxResults = try Validate.integer(call.request.query("maxResults"), member: "maxResults", range: 1...50)
            ?? defaultMaxResults
        let body = try call.jsonBody()
        let (filters, sort) = try criteria(body, call: call)
        let digest = SHA256.hash(data: body.serialized()).prefix(12).map { String($0, radix: 16) }.joined()
        let scope = "\(name)/\(call.namespace)/\(datastoreId)/\(digest)"
        var offset: Int64 = 0
        if let token = call.request.query("nextToken") { offset = try call.tokens.openInt64(token, scope: scope) }

        var matches = try call.store { store throws -> [Candidate] in
            _ = try store.requireDatastore(call.namespace, datastoreId)
            var result: [Candidate] = []
            for (key, imageSetId) in try store.imageSets(call.namespace, datastoreId) {
                try store.settleImageSet(key, read: false)
                guard let latest = try store.latestVersion(imageSet: key, imageSetId: imageSetId), latest.state != .deleted else { continue }
                let handle = ImageSetHandle(key: key, datastoreId: datastoreId, imageSetId: imageSetId, latest: latest)
                var candidate = Candidate(version: latest, summary: DICOMDocument.summary(try store.document(handle, versionId: latest.versionId)))
                guard filters.allSatisfy({ filter in
                    candidate.keys(filter.attribute).contains { key in
                        if let high = filter.high { return filter.low <= key && key <= high }
                        return key == filter.low
                    }
                }) else { continue }
                // Looked up for matches only: the tier is reported, never filtered on.
                candidate.tier = try store.storageTier(imageSet: key)
                result.append(candidate)
            }
            return result
        }
        let field = sort?.field ?? "updatedAt"
        let ascending = sort?.ascending ?? false
        matches.sort { a, b in
            let ka = a.keys(field).first, kb = b.keys(field).first
            if ka != kb, let ka, let kb { return ascending ? ka < kb : kb < ka }
            return a.version.imageSetId < b.version.imageSetId
        }
        let start = min(Int(clamping: offset), matches.count)
        let page = matches[start..<min(start + maxResults, matches.count)]

        var json = JSONWriter(capacity: 512 * page.count + 64)
        json.object { out in
            out.field("imageSetsMetadataSummaries", array: { list in
                for candidate in page { write(candidate, to: &list) }
            })
            if let sort {
                out.field("sort", object: {
                    $0.field("sortOrder", sort.ascending ? "ASC" : "DESC")
                    $0.field("sortField", sort.field)
                })
            }
            if start + maxResults < matches.count {
                out.field("nextToken", call.tokens.seal(int64: Int64(start + maxResults), scope: scope))
            }
        }
        return Response(json: json.bytes)
    }

    static func write(_ candidate: Candidate, to list: inout JSONWriter) {
        let version = candidate.version
        let dicom = candidate.summary
        list.object { item in
            item.field("imageSetId", version.imageSetId)
            item.field("version", version.versionId)
            item.field("createdAt", timestampMillis: version.createdAt)
            item.field("updatedAt", timestampMillis: version.updatedAt ?? version.createdAt)
            item.field("lastAccessedAt", timestampMillis: candidate.tier.lastAccessedAt)
            item.field("storageTier", candidate.tier.tier.rawValue)
            item.field("DICOMTags", object: { tags in
                tags.field("DICOMPatientId", dicom.patientId)
                tags.field("DICOMPatientName", dicom.patientName)
                tags.field("DICOMPatientBirthDate", dicom.patientBirthDate)
                tags.field("DICOMPatientSex", dicom.patientSex)
                tags.field("DICOMStudyInstanceUID", dicom.studyInstanceUID)
                tags.field("DICOMStudyId", dicom.studyId)
                tags.field("DICOMStudyDescription", dicom.studyDescription)
                tags.field("DICOMNumberOfStudyRelatedSeries", Int64(dicom.numberOfSeries))
                tags.field("DICOMNumberOfStudyRelatedInstances", Int64(dicom.numberOfInstances))
                tags.field("DICOMAccessionNumber", dicom.accessionNumber)
                tags.field("DICOMSeriesInstanceUID", dicom.seriesInstanceUIDs.first)
                tags.field("DICOMSeriesModality", dicom.seriesModality)
                tags.field("DICOMSeriesBodyPart", dicom.seriesBodyPart)
                tags.field("DICOMSeriesNumber", dicom.seriesNumber.map(Int64.init))
                tags.field("DICOMStudyDate", dicom.studyDate)
                tags.field("DICOMStudyTime", dicom.studyTime)
            })
            item.field("isPrimary", version.isPrimary)
        }
    }

    static let attributes = [
        "DICOMPatientId", "DICOMAccessionNumber", "DICOMStudyId", "DICOMStudyInstanceUID", "DICOMSeriesInstanceUID",
        "createdAt", "updatedAt", "DICOMStudyDateAndTime", "isPrimary",
    ]

    /// The filters and sort of a SearchCriteria body, validated against the model.
    static func criteria(_ body: JSONValue, call: Call) throws(APIError) -> ([Filter], (field: String, ascending: Bool)?) {
        try JSONReader.validated(body) { reader -> ([Filter], (field: String, ascending: Bool)?)? in
            guard reader.object(allowed: ["filters", "sort"]) else { return nil }
            var filters: [Filter] = []
            if let list = reader.member("filters")?.elements() {
                if !(1...2).contains(list.count) { reader.fail("1 or 2 filters", at: "\(reader.path).filters") }
                for item in list {
                    guard item.object(allowed: ["values", "operator"]) else { continue }
                    let op = item.member("operator", required: true)?.string { ["EQUAL", "BETWEEN"].contains($0) ? nil : "must be EQUAL or BETWEEN" }
                    var keys: [(String, Key)] = []
                    if let values = item.member("values", required: true)?.elements() {
                        if !(1...2).contains(values.count) { item.fail("1 or 2 values", at: "\(item.path).values") }
                        for value in values { if let key = attributeValue(value) { keys.append(key) } }
                    }
                    guard let op else { continue }
                    guard keys.count == (op == "EQUAL" ? 1 : 2) else {
                        item.fail("EQUAL takes one value, BETWEEN two", at: "\(item.path).values")
                        continue
                    }
                    guard let first = keys.first else { continue }
                    if op == "BETWEEN" {
                        guard keys.count == 2, keys[1].0 == first.0, first.0 != "isPrimary" else {
                            item.fail("BETWEEN takes two values of the same attribute (not isPrimary)", at: "\(item.path).values")
                            continue
                        }
                        filters.append(Filter(attribute: first.0, low: first.1, high: keys[1].1))
                    } else {
                        filters.append(Filter(attribute: first.0, low: first.1, high: nil))
                    }
                }
            }
            var sort: (field: String, ascending: Bool)?
            if let member = reader.member("sort"), member.object(allowed: ["sortOrder", "sortField"]) {
                let order = member.member("sortOrder", required: true)?.string { ["ASC", "DESC"].contains($0) ? nil : "must be ASC or DESC" }
                let field = member.member("sortField", required: true)?.string {
                    ["updatedAt", "createdAt", "DICOMStudyDateAndTime"].contains($0) ? nil : "must be updatedAt, createdAt or DICOMStudyDateAndTime"
                }
                if let order, let field { sort = (field, order == "ASC") }
            }
            return (filters, sort)
        }
    }

    /// A SearchByAttributeValue union: exactly one member.
    static func attributeValue(_ reader: JSONReader) -> (String, Key)? {
        guard reader.object(allowed: attributes), case .object(let members) = reader.value else { return nil }
        guard members.count == 1, let member = members.first else {
            reader.fail("a search value sets exactly one of \(attributes.joined(separator: ", "))")
            return nil
        }
        guard let child = reader.member(member.key) else { return nil }
        switch member.key {
        case "createdAt", "updatedAt":
            return child.timestamp().map { (member.key, .number($0)) }
        case "isPrimary":
            return child.bool().map { (member.key, .flag($0)) }
        case "DICOMStudyDateAndTime":
            guard child.object(allowed: ["DICOMStudyDate", "DICOMStudyTime"]) else { return nil }
            let date = child.member("DICOMStudyDate", required: true)?.string() ?? ""
            let time = child.member("DICOMStudyTime")?.string() ?? ""
            return (member.key, .text(date + time))
        default:
            return child.string { $0.utf8.count <= 512 ? nil : "at most 512 characters" }.map { (member.key, .text($0)) }
        }
    }
}
