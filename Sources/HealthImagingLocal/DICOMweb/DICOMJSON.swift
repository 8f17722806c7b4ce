import Crypto
import HealthImagingDICOM
import HealthImagingJSON

/// One attribute of a document level, resolved to its tag and VR.
struct DICOMAttribute {
    var tag: UInt32
    var vr: String
    var value: JSONValue
}

/// The metadata document's keyword-keyed attributes written as DICOM JSON (PS3.18 Annex F): `"GGGGEEEE": {"vr",
/// "Value" | "InlineBinary" | "BulkDataURI"}`, members in tag order. Encoding per VR: PN as `{"Alphabetic", …}`, IS
/// and DS as JSON numbers (text that is no JSON number stays a string), binary VRs base64 inline up to 1 MB of data
/// and a BulkDataURI beyond (when the caller gives a bulk data base).
enum DICOMJSON {
    static let bulkDataThreshold = 1_048_576
    static let binaryVRs: Set<String> = ["OB", "OD", "OF", "OL", "OV", "OW", "UN"]

    /// The attributes of one level object (`{"PatientName": …, "00191001": …}`), keys the dictionary cannot resolve
    /// left out, sorted by tag.
    static func attributes(_ object: JSONValue?, vrs: JSONValue?) -> [DICOMAttribute] {
        var result: [DICOMAttribute] = []
        for (key, value) in object?.objectMembers ?? [] {
            guard let (tag, vr) = DICOMDictionary.resolve(key: key, vrs: vrs) else { continue }
            result.append(DICOMAttribute(tag: tag, vr: value.isArrayOfObjects ? "SQ" : vr, value: value))
        }
        return result.sorted { $0.tag < $1.tag }
    }

    /// Where large binary values are served: `{base}/bulkdata/{hash}` (+ `?imageSetId=` when reading one).
    struct BulkData {
        var instanceURL: String
        var imageSetId: String?

        func uri(_ path: String) -> String {
            instanceURL + "/bulkdata/" + DICOMJSON.bulkHash(path) + (imageSetId.map { "?imageSetId=" + $0 } ?? "")
        }
    }

    /// The 32-hex id of an attribute's tag path ("00420011", "00400275.0.00420011").
    static func bulkHash(_ path: String) -> String {
        SHA256.hash(data: Array(path.utf8)).prefix(16).map { byte in
            let digits = String(byte, radix: 16)
            return byte < 16 ? "0" + digits : digits
        }.joined()
    }

    /// Writes `attributes` as members of the object being written.
    static func write(_ attributes: [DICOMAttribute], vrs: JSONValue?, to json: inout JSONWriter, bulk: BulkData?, path: String = "") {
        for attribute in attributes {
            let key = DICOMDictionary.hex(attribute.tag)
            json.field(key, object: { out in
                out.field("vr", attribute.vr)
                writeValue(attribute, vrs: vrs, to: &out, bulk: bulk, path: path.isEmpty ? key : path + "." + key)
            })
        }
    }

    private static func writeValue(_ attribute: DICOMAttribute, vrs: JSONValue?, to out: inout JSONWriter, bulk: BulkData?, path: String) {
        let values: [JSONValue]
        switch attribute.value {
        case .null: return
        case .array(let list): values = list
        default: values = [attribute.value]
        }
        let present = values.filter { $0 != .null }
        if attribute.vr == "SQ" {
            guard !values.isEmpty else { return }
            out.field("Value", array: { list in
                for (index, item) in values.enumerated() {
                    list.object { object in
                        write(attributes(item, vrs: vrs), vrs: vrs, to: &object, bulk: bulk, path: "\(path).\(index)")
                    }
                }
            })
            return
        }
        if binaryVRs.contains(attribute.vr) {
            guard case .string(let base64)? = present.first else { return }
            if let bulk, base64.utf8.count / 4 * 3 > bulkDataThreshold {
                out.field("BulkDataURI", bulk.uri(path))
            } else {
                out.field("InlineBinary", base64)
            }
            return
        }
        guard !present.isEmpty else { return }
        out.field("Value", array: { list in
            for value in values { writeOne(value, vr: attribute.vr, to: &list) }
        })
    }

    private static func writeOne(_ value: JSONValue, vr: String, to list: inout JSONWriter) {
        switch (vr, value) {
        case (_, .null):
            list.raw(Array("null".utf8))
        case ("PN", .string(let name)):
            let groups = name.split(separator: "=", omittingEmptySubsequences: false)
            list.object { object in
                for (index, label) in ["Alphabetic", "Ideographic", "Phonetic"].enumerated() where index < groups.count {
                    if !groups[index].isEmpty { object.field(label, String(groups[index])) }
                }
            }
        case ("IS", .string(let text)), ("DS", .string(let text)):
            if let number = jsonNumber(text) { list.raw(Array(number.utf8)) } else { list.string(text.dicomTrimmed(" ")) }
        case (_, .number(let text)):
            if ["US", "SS", "UL", "SL", "FL", "FD", "SV", "UV", "IS", "DS"].contains(vr) {
                list.raw(Array(text.utf8))
            } else {
                list.string(text)
            }
        case (_, .string(let text)):
            list.string(text)
        case (_, .bool(let flag)):
            list.string(flag ? "true" : "false")
        default:
            list.raw(value.serialized())
        }
    }

    /// DICOM decimal text ("  12", "+1.5", ".5", "1e3") as JSON number text, nil when it is no number.
    static func jsonNumber(_ text: String) -> String? {
        var trimmed = text.dicomTrimmed(" \0")
        if trimmed.hasPrefix("+") { trimmed.removeFirst() }
        if trimmed.hasPrefix(".") { trimmed = "0" + trimmed }
        if trimmed.hasPrefix("-.") { trimmed = "-0" + trimmed.dropFirst() }
        if trimmed.hasSuffix(".") { trimmed.removeLast() }
        guard !trimmed.isEmpty, let value = Double(trimmed), value.isFinite else { return nil }
        guard case .number? = try? JSONParser.parse(Array(trimmed.utf8)) else { return nil }
        return trimmed
    }
}

extension JSONValue {
    var isArrayOfObjects: Bool {
        guard case .array(let items) = self, !items.isEmpty else { return false }
        return items.allSatisfy { if case .object = $0 { true } else { false } }
    }
}
