import Foundation
import HealthImagingDICOM
import HealthImagingJSON
import HealthImagingHTTP

/// QIDO-RS (SearchDICOMStudies, SearchDICOMSeries, SearchDICOMInstances and the three relational searches): the
/// query parsed and checked, matched in SQL on the indexes of Store+DICOMIndex.swift (never on documents), answered
/// as a DICOM JSON array. Primary image sets only, latest version, not DELETED. docs/dicomweb.md "QIDO-RS".
enum QIDO {
    enum Level { case study, series, instance }
    enum Scope { case datastore, study, series }

    static let maxLimit = 1000
    static let maxOffset = 1_000_000
    static let maxIncludeFields = 50

    enum Kind { case text, personName(words: String), uid, date, time, integer, modalities, warning }

    /// A matching attribute: where it lives in the indexes and how it matches.
    struct Key {
        var tag: UInt32
        var column: String
        var kind: Kind
        var level: Level
    }

    static let keys: [Key] = [
        Key(tag: 0x0008_0020, column: "s.study_date", kind: .date, level: .study),
        Key(tag: 0x0008_0030, column: "s.study_time", kind: .time, level: .study),
        Key(tag: 0x0008_0050, column: "s.accession_number", kind: .text, level: .study),
        Key(tag: 0x0008_0061, column: "", kind: .modalities, level: .study),
        Key(tag: 0x0008_0090, column: "s.referring_physician_name", kind: .personName(words: "s.referring_physician_words"), level: .study),
        Key(tag: 0x0008_1030, column: "s.study_description", kind: .text, level: .study),
        Key(tag: 0x0010_0010, column: "s.patient_name", kind: .personName(words: "s.patient_name_words"), level: .study),
        Key(tag: 0x0010_0020, column: "s.patient_id", kind: .text, level: .study),
        Key(tag: 0x0010_0030, column: "s.patient_birth_date", kind: .date, level: .study),
        Key(tag: 0x0010_0032, column: "s.patient_birth_time", kind: .time, level: .study),
        Key(tag: 0x0020_000D, column: "s.study_uid", kind: .uid, level: .study),
        Key(tag: 0x0020_0010, column: "s.study_id", kind: .text, level: .study),
        Key(tag: 0x0008_0060, column: "s.modality", kind: .text, level: .series),
        Key(tag: 0x0020_000E, column: "s.series_uid", kind: .uid, level: .series),
        Key(tag: 0x0020_0011, column: "s.series_number", kind: .integer, level: .series),
        Key(tag: 0x0040_0244, column: "s.pps_start_date", kind: .date, level: .series),
        Key(tag: 0x0040_0245, column: "s.pps_start_time", kind: .time, level: .series),
        Key(tag: 0x0008_0016, column: "i.sop_class_uid", kind: .uid, level: .instance),
        Key(tag: 0x0008_0018, column: "i.sop_uid", kind: .uid, level: .instance),
        Key(tag: 0x0008_1196, column: "i.warning_reason", kind: .warning, level: .instance),
        Key(tag: 0x0020_0013, column: "i.instance_number", kind: .integer, level: .instance),
    ]

    /// Attributes every result of a level carries without `includefield` (PS3.18 Table 6.7.1-2's study, series and
    /// instance sets, with the enclosing UIDs).
    static let defaults: [Level: Set<UInt32>] = [
        .study: [0x0008_0020, 0x0008_0030, 0x0008_0050, 0x0008_0056, 0x0008_0061, 0x0008_0090, 0x0008_0201, 0x0008_1190,
                 0x0010_0010, 0x0010_0020, 0x0010_0030, 0x0010_0040, 0x0020_000D, 0x0020_0010, 0x0020_1206, 0x0020_1208],
        .series: [0x0008_0060, 0x0008_0201, 0x0008_103E, 0x0008_1190, 0x0020_000D, 0x0020_000E, 0x0020_0011, 0x0020_1209,
                  0x0040_0244, 0x0040_0245, 0x0040_0275],
        .instance: [0x0008_0016, 0x0008_0018, 0x0008_0056, 0x0008_0201, 0x0008_1190, 0x0020_000D, 0x0020_000E, 0x0020_0013,
                    0x0028_0008, 0x0028_0010, 0x0028_0011, 0x0028_0100],
    ]

    enum Binding { case text(String), integer(Int64) }

    /// The request, checked.
    struct Query {
        var conditions: [String] = []
        var bindings: [Binding] = []
        var limit = maxLimit
        var offset = 0
        var all = false
        var included: Set<UInt32> = []
        var fuzzy = false
    }

    static func answer(_ call: Call, level: Level, scope: Scope) throws(APIError) -> Response {
        let datastoreId = try DICOMweb.datastore(call)
        try acceptJSON(call)
        var query = Query()
        // The scope is matched on the table the level reads, so that its index serves the search.
        let table = level == .instance ? "i" : "s"
        query.conditions = ["\(table).account = ?", "\(table).region = ?", "\(table).datastore_id = ?", "v.is_primary = 1",
                            "v.state <> 'DELETED'"]
        query.bindings = [.text(call.namespace.account), .text(call.namespace.region), .text(datastoreId)]
        if scope != .datastore {
            let study = try DICOMweb.uid(call.path("StudyInstanceUID"), member: "StudyInstanceUID")
            query.conditions.append("\(table).study_uid = ?")
            query.bindings.append(.text(study))
        }
        if scope == .series {
            let series = try DICOMweb.uid(call.path("SeriesInstanceUID"), member: "SeriesInstanceUID")
            query.conditions.append("\(table).series_uid = ?")
            query.bindings.append(.text(series))
        }
        try parse(call.request, level: level, scope: scope, into: &query)
        let url = DICOMweb.datastoreURL(call, datastoreId)
        let results = try call.store { store throws -> [[UInt8]] in
            switch level {
            case .study: try studies(store, query, url: url)
            case .series: try series(store, query, url: url)
            case .instance: try instances(store, query, url: url, byUpdate: scope == .study)
            }
        }
        var json = JSONWriter(capacity: results.reduce(2) { $0 + $1.count + 1 })
        json.array { list in for result in results { list.raw(result) } }
        return DICOMweb.jsonResponse(json.bytes)
    }

    /// QIDO answers DICOM JSON only: no Accept, `*/*`, `application/*`, `application/dicom+json` or `application/json`.
    static func acceptJSON(_ call: Call) throws(APIError) {
        let ranges = MediaRange.parse(call.request.header("Accept"))
        guard ranges.isEmpty || ranges.contains(where: {
            ["*/*", "application/*", "application/dicom+json", "application/json"].contains($0.mediaType)
        }) else {
            throw APIError(.notAcceptable, "This operation answers application/dicom+json only; Accept was \(call.request.header("Accept") ?? "")")
        }
    }

    // MARK: parsing

    static func parse(_ request: Request, level: Level, scope: Scope, into query: inout Query) throws(APIError) {
        if let text = request.query("limit") {
            guard let value = Int(text), (1...maxLimit).contains(value) else {
                throw .invalid(text, at: "limit", "Member must be an integer between 1 and \(maxLimit)")
            }
            query.limit = value
        }
        if let text = request.query("offset") {
            guard let value = Int(text), (0...maxOffset).contains(value) else {
                throw .invalid(text, at: "offset", "Member must be an integer between 0 and \(maxOffset)")
            }
            query.offset = value
        }
        if let text = request.query("fuzzymatching") {
            switch text.lowercased() {
            case "true": query.fuzzy = true
            case "false": query.fuzzy = false
            default: throw .invalid(text, at: "fuzzymatching", "Member must be true or false")
            }
        }
        let fields = request.queryValues("includefield").flatMap { $0.split(separator: ",").map { String($0).trimmed } }
        if Set(fields).count > maxIncludeFields {
            throw .validation("At most \(maxIncludeFields) includefield values are allowed; got \(Set(fields).count)")
        }
        for field in fields {
            if field.lowercased() == "all" {
                query.all = true
            } else if let first = field.split(separator: ".").first, let tag = DICOMDictionary.tag(String(first)) {
                query.included.insert(tag)  // a dotted path includes its top-level sequence
            }
        }
        let allowed: Set<Level> = switch (level, scope) {
        case (.study, _): [.study]
        case (.series, .study): [.series]
        case (.series, _): [.study, .series]
        case (.instance, .series): [.instance]
        case (.instance, _): [.study, .series, .instance]
        }
        let reserved: Set<String> = ["limit", "offset", "fuzzymatching", "includefield", "imageSetId"]
        for (name, value) in request.query where !reserved.contains(name) {
            guard let tag = DICOMDictionary.tag(name), let key = keys.first(where: { $0.tag == tag }), allowed.contains(key.level)
            else { continue }  // not a matching attribute here: ignored (docs/dicomweb.md)
            query.included.insert(tag)
            try condition(key, value, fuzzy: query.fuzzy, into: &query)
        }
    }

    /// Adds the SQL condition of one matching attribute; an empty value or a lone `*` matches everything.
    static func condition(_ key: Key, _ value: String, fuzzy: Bool, into query: inout Query) throws(APIError) {
        let member = DICOMDictionary.entry(tag: key.tag)?.keyword ?? DICOMDictionary.hex(key.tag)
        if value.isEmpty || value == "*" { return }
        let wildcard = value.contains("*") || value.contains("?")
        switch key.kind {
        case .text:
            query.conditions.append(wildcard ? "\(key.column) GLOB ?" : "\(key.column) = ?")
            query.bindings.append(.text(wildcard ? glob(value) : value))
        case .personName(let words):
            if fuzzy {
                let parts = asciiLower(value).split(whereSeparator: { "^= ,*?".contains($0) })
                guard !parts.isEmpty else { return }
                query.conditions.append("(" + parts.map { _ in "instr(\(words), ' ' || ?) > 0" }.joined(separator: " OR ") + ")")
                query.bindings += parts.map { .text(String($0)) }
            } else {
                query.conditions.append(wildcard ? "lower(\(key.column)) GLOB ?" : "lower(\(key.column)) = ?")
                query.bindings.append(.text(wildcard ? glob(asciiLower(value)) : asciiLower(value)))
            }
        case .uid:
            let uids = value.split(whereSeparator: { $0 == "," || $0 == "\\" }).map(String.init)
            for uid in uids { _ = try DICOMweb.uid(uid, member: member) }
            query.conditions.append("\(key.column) IN (" + uids.map { _ in "?" }.joined(separator: ", ") + ")")
            query.bindings += uids.map { .text($0) }
        case .date, .time:
            let isDate: Bool = if case .date = key.kind { true } else { false }
            func valid(_ text: Substring) -> Bool { isDate ? isDateText(text) : isTimeText(text) }
            let parts = value.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.allSatisfy({ $0.isEmpty || valid($0) }), !parts.allSatisfy(\.isEmpty) else {
                throw .invalid(value, at: member, isDate
                    ? "Member must be a date YYYYMMDD or a range YYYYMMDD-YYYYMMDD (either end may be left open)"
                    : "Member must be a time HHMMSS[.FFFFFF] or a range of two (either end may be left open)")
            }
            if parts.count == 1 {
                query.conditions.append("\(key.column) = ?")
                query.bindings.append(.text(String(parts[0])))
            } else {
                if !parts[0].isEmpty {
                    query.conditions.append("\(key.column) >= ?")
                    query.bindings.append(.text(String(parts[0])))
                }
                if !parts[1].isEmpty {
                    query.conditions.append("\(key.column) <= ?")
                    // An end time covers its whole last unit: 1200 runs to 1200 59.999999.
                    query.bindings.append(.text(isDate ? String(parts[1]) : String(parts[1]) + "\u{7F}"))
                }
            }
        case .integer:
            guard let number = Int64(value.trimmed) else {
                throw .invalid(value, at: member, "Member must be an integer")
            }
            query.conditions.append("\(key.column) = ?")
            query.bindings.append(.integer(number))
        case .modalities:
            let values = value.split(whereSeparator: { $0 == "," || $0 == "\\" }).map(String.init)
            let match = values.map { $0.contains("*") || $0.contains("?") ? "m.modality GLOB ?" : "m.modality = ?" }
            query.conditions.append("""
                EXISTS (SELECT 1 FROM dicom_series_index m JOIN image_set_versions mv
                    ON mv.image_set_pk = m.image_set_pk AND mv.version = m.version
                    WHERE m.account = s.account AND m.region = s.region AND m.datastore_id = s.datastore_id
                    AND m.study_uid = s.study_uid AND mv.is_primary = 1 AND mv.state <> 'DELETED'
                    AND (\(match.joined(separator: " OR "))))
                """)
            query.bindings += values.map { $0.contains("*") || $0.contains("?") ? .text(glob($0)) : .text($0) }
        case .warning:
            var codes: [String] = []
            for text in value.split(whereSeparator: { $0 == "," || $0 == "\\" }) {
                let lower = text.lowercased()
                let hex = lower.hasPrefix("0x") ? String(lower.dropFirst(2)) : nil
                guard let code = hex.flatMap({ UInt16($0, radix: 16) }) ?? UInt16(lower) ?? (lower.count == 4 ? UInt16(lower, radix: 16) : nil) else {
                    throw .invalid(value, at: member, "Member must be warning codes (decimal, or hex like 0xB000)")
                }
                codes.append(String(code))
            }
            query.conditions.append("(" + codes.map { _ in "('\\' || i.warning_reason || '\\') LIKE ?" }.joined(separator: " OR ") + ")")
            query.bindings += codes.map { .text("%\\\($0)\\%") }
        }
    }

    static func isDateText(_ text: Substring) -> Bool {
        text.utf8.count == 8 && text.utf8.allSatisfy { (0x30...0x39).contains($0) }
    }

    static func isTimeText(_ text: Substring) -> Bool {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = parts.first, (2...6).contains(whole.utf8.count), whole.utf8.count % 2 == 0,
            whole.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { return false }
        if parts.count == 2 {
            return (1...6).contains(parts[1].utf8.count) && parts[1].utf8.allSatisfy { (0x30...0x39).contains($0) }
        }
        return true
    }

    /// A DICOM wildcard value as a GLOB pattern (`*` and `?` kept; `[` made literal).
    static func glob(_ value: String) -> String {
        value.replacingOccurrences(of: "[", with: "[[]")
    }

    static func asciiLower(_ value: String) -> String {
        String(decoding: value.utf8.map { (0x41...0x5A).contains($0) ? $0 + 0x20 : $0 }, as: UTF8.self)
    }

    // MARK: running

    static func prepare(_ store: Store, _ sql: String, _ query: Query) throws -> Statement {
        let statement = try store.database.cached(dynamic: sql)
        var index: Int32 = 1
        for binding in query.bindings {
            switch binding {
            case .text(let text): try statement.bind(index, text)
            case .integer(let number): try statement.bind(index, number)
            }
            index += 1
        }
        try statement.bind(index, Int64(query.limit)).bind(index + 1, Int64(query.offset))
        return statement
    }

    static func studies(_ store: Store, _ query: Query, url: String) throws -> [[UInt8]] {
        var list: [[UInt8]] = []
        let sql = """
            SELECT s.study_uid, max(coalesce(v.updated_at, v.created_at, 0)) AS updated, s.study_json,
                count(DISTINCT s.series_uid), sum(s.instance_count), group_concat(DISTINCT s.modality)
            FROM dicom_series_index s JOIN image_set_versions v ON v.image_set_pk = s.image_set_pk AND v.version = s.version
            WHERE \(query.conditions.joined(separator: " AND "))
            GROUP BY s.study_uid ORDER BY updated DESC, s.study_uid LIMIT ? OFFSET ?
            """
        let statement = try prepare(store, sql, query)
        while try statement.step() {
            let studyUID = statement.text(0) ?? ""
            let study = statement.blob(2).flatMap { try? JSONParser.parse($0) }
            let modalities = (statement.text(5) ?? "").split(separator: ",").map { JSONValue.string(String($0)) }.sorted { a, b in
                (a.stringValue ?? "") < (b.stringValue ?? "")
            }
            let computed = [
                DICOMAttribute(tag: 0x0008_0056, vr: "CS", value: .string("ONLINE")),
                DICOMAttribute(tag: 0x0008_0061, vr: "CS", value: .array(modalities)),
                DICOMAttribute(tag: 0x0008_1190, vr: "UR", value: .string("\(url)/studies/\(studyUID)")),
                DICOMAttribute(tag: 0x0020_1206, vr: "IS", value: .number(String(statement.int64(3) ?? 0))),
                DICOMAttribute(tag: 0x0020_1208, vr: "IS", value: .number(String(statement.int64(4) ?? 0))),
            ]
            write(level: .study, levels: [DICOMJSON.attributes(study, vrs: nil)], computed: computed, vrs: nil,
                  query: query, into: &list)
        }
        return list
    }

    static func series(_ store: Store, _ query: Query, url: String) throws -> [[UInt8]] {
        var list: [[UInt8]] = []
        let sql = """
            SELECT s.study_uid, s.series_uid, s.study_json, s.series_json, s.instance_count
            FROM dicom_series_index s JOIN image_set_versions v ON v.image_set_pk = s.image_set_pk AND v.version = s.version
            WHERE \(query.conditions.joined(separator: " AND "))
            ORDER BY s.series_number IS NULL, s.series_number, s.series_uid LIMIT ? OFFSET ?
            """
        let statement = try prepare(store, sql, query)
        while try statement.step() {
            let study = statement.blob(2).flatMap { try? JSONParser.parse($0) }
            let series = statement.blob(3).flatMap { try? JSONParser.parse($0) }
            let computed = [
                DICOMAttribute(tag: 0x0008_0056, vr: "CS", value: .string("ONLINE")),
                DICOMAttribute(tag: 0x0008_1190, vr: "UR", value: .string("\(url)/studies/\(statement.text(0) ?? "")/series/\(statement.text(1) ?? "")")),
                DICOMAttribute(tag: 0x0020_1209, vr: "IS", value: .number(String(statement.int64(4) ?? 0))),
            ]
            write(level: .series, levels: [DICOMJSON.attributes(study, vrs: nil), DICOMJSON.attributes(series, vrs: nil)],
                  computed: computed, vrs: nil, query: query, into: &list)
        }
        return list
    }

    static func instances(_ store: Store, _ query: Query, url: String, byUpdate: Bool) throws -> [[UInt8]] {
        var list: [[UInt8]] = []
        let order = byUpdate
            ? "coalesce(v.updated_at, v.created_at, 0) DESC, s.series_number IS NULL, s.series_number, i.instance_number IS NULL, i.instance_number, i.sop_uid"
            : "i.instance_number IS NULL, i.instance_number, i.sop_uid"
        let sql = """
            SELECT i.study_uid, i.series_uid, i.sop_uid, i.instance_json, s.study_json, s.series_json
            FROM dicom_instance_index i
            JOIN dicom_series_index s ON s.image_set_pk = i.image_set_pk AND s.series_uid = i.series_uid
            JOIN image_set_versions v ON v.image_set_pk = i.image_set_pk AND v.version = i.version
            WHERE \(query.conditions.joined(separator: " AND "))
            ORDER BY \(order) LIMIT ? OFFSET ?
            """
        let statement = try prepare(store, sql, query)
        // Instances of one series share its study and series rows: each distinct blob becomes attributes once.
        var shared: [[UInt8]: [DICOMAttribute]] = [:]
        func sharedAttributes(_ column: Int32) -> [DICOMAttribute] {
            let blob = statement.blob(column) ?? []
            if let attributes = shared[blob] { return attributes }
            let attributes = DICOMJSON.attributes(statement.blob(column).flatMap { try? JSONParser.parse($0) }, vrs: nil)
            shared[blob] = attributes
            return attributes
        }
        while try statement.step() {
            let instance = statement.blob(3).flatMap { try? JSONParser.parse($0) }
            let vrs = instance?["DICOMVRs"]
            let retrieve = "\(url)/studies/\(statement.text(0) ?? "")/series/\(statement.text(1) ?? "")/instances/\(statement.text(2) ?? "")"
            let computed = [
                DICOMAttribute(tag: 0x0008_0056, vr: "CS", value: .string("ONLINE")),
                DICOMAttribute(tag: 0x0008_1190, vr: "UR", value: .string(retrieve)),
            ]
            let own = DICOMJSON.attributes(instance?["DICOM"], vrs: vrs).filter { $0.tag >> 16 != 0x0002 && $0.tag != 0x7FE0_0010 }
            write(level: .instance, levels: [sharedAttributes(4), sharedAttributes(5), own],
                  computed: computed, vrs: vrs, query: query, into: &list)
        }
        return list
    }

    /// One result object: the level's defaults, the matched and included attributes (every stored one for
    /// `includefield=all`), then the computed ones, in tag order.
    static func write(level: Level, levels: [[DICOMAttribute]], computed: [DICOMAttribute], vrs: JSONValue?, query: Query,
                      into list: inout [[UInt8]]) {
        let wanted = defaults[level] ?? []
        var byTag: [UInt32: DICOMAttribute] = [:]
        for attributes in levels {
            for attribute in attributes where query.all || wanted.contains(attribute.tag) || query.included.contains(attribute.tag) {
                byTag[attribute.tag] = attribute
            }
        }
        for attribute in computed where query.all || wanted.contains(attribute.tag) || query.included.contains(attribute.tag) {
            byTag[attribute.tag] = attribute
        }
        let sorted = byTag.values.sorted { $0.tag < $1.tag }
        var json = JSONWriter(capacity: 1024)
        json.object { object in DICOMJSON.write(sorted, vrs: vrs, to: &object, bulk: nil) }
        list.append(json.bytes)
    }
}
