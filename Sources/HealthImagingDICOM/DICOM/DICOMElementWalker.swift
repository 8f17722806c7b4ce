import CDICOM
import HealthImagingJSON

/// One top-level attribute of the file, its key and value already in the document's encoding.
struct DICOMElement {
    var group: UInt16
    var element: UInt16
    var isMeta: Bool
    var key: String
    var value: JSONValue
}

/// Turns the shim's flat pre-order node list back into a tree of `JSONValue`s, encoding each value per VR as the
/// service does (docs/import-and-frames.md, "DICOM metadata", each rule with its source):
/// - key: the DICOM keyword; an element the dictionary has no keyword for (private tags, private creators, unknown
///   public tags) is keyed by its tag as 8 upper-case hex digits ("001910F9") and its VR listed in `DICOMVRs`;
/// - text VRs: strings, trailing padding dropped — except IS and DS, kept as stored ("1 ", "-1000 ");
/// - binary numeric VRs (US SS UL SL FL FD SV UV): JSON numbers; AT: "GGGGEEEE" hex strings;
/// - OB OW OF OD OL OV UN: base64 text;
/// - a tag whose dictionary VM allows more than one value, or a value with more than one: an array;
/// - empty value: null; SQ: an array of objects (one per item), empty sequence: [];
/// - Pixel Data (and Float / Double Float Pixel Data): null, never inline.
struct DICOMElementWalker {
    let file: DICOMFile
    private var index = 0
    /// Tag → VR of every element keyed by its tag (at any depth), for the instance's `DICOMVRs`.
    private(set) var privateVRs: [(key: String, value: JSONValue)] = []
    private var seenPrivate: Set<String> = []

    init(file: DICOMFile) { self.file = file }

    /// The top-level elements: File Meta Information first, then the dataset.
    mutating func elements() -> [DICOMElement] {
        var result: [DICOMElement] = []
        let count = file.nodeCount
        index = 0
        while index < count {
            let node = file.node(index)
            guard let (key, value) = entry(node) else { continue }
            // Dataset group lengths (gggg,0000) are retired; the File Meta Information's own one is kept.
            if node.element == 0 && node.group != 0x0002 { continue }
            result.append(DICOMElement(group: node.group, element: node.element, isMeta: node.is_meta != 0,
                                       key: key, value: value))
        }
        return result
    }

    /// Consumes the node at `index` (and, for a sequence, everything up to its end); nil for stray item markers.
    private mutating func entry(_ node: hil_dicom_node) -> (String, JSONValue)? {
        index += 1
        let kind = hil_node_kind(rawValue: UInt32(node.kind))
        guard kind == HIL_NODE_ELEMENT || kind == HIL_NODE_SEQUENCE_BEGIN else { return nil }
        let vr = Self.vrString(node)
        let keyword = node.keyword.map { String(cString: $0) } ?? ""
        let key: String
        // Private groups (odd) are keyed by tag even where DCMTK names them ("PrivateCreator", private dictionaries).
        if keyword.isEmpty || node.group % 2 == 1 {
            key = Self.hex(node.group) + Self.hex(node.element)
            if seenPrivate.insert(key).inserted { privateVRs.append((key, .string(vr))) }
        } else {
            key = keyword
        }
        if kind == HIL_NODE_SEQUENCE_BEGIN { return (key, sequence()) }
        return (key, Self.value(node, vr: vr))
    }

    /// Reads items until the matching SEQUENCE_END.
    private mutating func sequence() -> JSONValue {
        var items: [JSONValue] = []
        var current: [(key: String, value: JSONValue)]? = nil
        let count = file.nodeCount
        while index < count {
            let node = file.node(index)
            switch hil_node_kind(rawValue: UInt32(node.kind)) {
            case HIL_NODE_SEQUENCE_END:
                index += 1
                return .array(items)
            case HIL_NODE_ITEM_BEGIN:
                index += 1
                current = []
            case HIL_NODE_ITEM_END:
                index += 1
                items.append(.object(current ?? []))
                current = nil
            default:
                if let (key, value) = entry(node) {
                    if node.element == 0 { continue }  // group lengths inside items
                    current?.append((key, value))
                }
            }
        }
        return .array(items)
    }

    package static func hex(_ value: UInt16) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }

    static func vrString(_ node: hil_dicom_node) -> String {
        withUnsafeBytes(of: node.vr) { raw in String(decoding: raw.prefix(2), as: UTF8.self) }
    }

    static func value(_ node: hil_dicom_node, vr: String) -> JSONValue {
        let pixelData = node.group == 0x7FE0 && [0x0008, 0x0009, 0x0010].contains(node.element)
        if pixelData { return .null }
        let multi = node.vm_max < 0 || node.vm_max > 1
        switch hil_value_kind(rawValue: UInt32(node.value_kind)) {
        case HIL_VALUE_TEXT:
            guard let base = node.value, node.value_length > 0 else { return .null }
            var text = String(decoding: UnsafeBufferPointer(start: base, count: node.value_length), as: UTF8.self)
            if vr == "UI" { while text.hasSuffix("\0") { text.removeLast() } }
            if text.isEmpty { return .null }
            // DCMTK hands strings back without their trailing padding. The service's documents keep an IS or DS
            // value as stored — padded to even length ("1 ", "-1000 ") — and show other strings without it.
            if (vr == "IS" || vr == "DS") && text.utf8.count % 2 == 1 { text += " " }
            // LT, ST, UT and UR hold one value in which a backslash is just a character.
            if ["LT", "ST", "UT", "UR"].contains(vr) { return .string(text) }
            let parts = text.split(separator: "\\", omittingEmptySubsequences: false).map { JSONValue.string(String($0)) }
            return multi || parts.count > 1 ? .array(parts) : parts[0]
        case HIL_VALUE_NUMBERS:
            guard let base = node.value, node.value_length > 0 else { return .null }
            let raw = UnsafeRawBufferPointer(start: base, count: node.value_length)
            let numbers = numbers(raw, vr: vr)
            if numbers.isEmpty { return .null }
            return multi || numbers.count > 1 ? .array(numbers) : numbers[0]
        case HIL_VALUE_BYTES:
            guard let base = node.value, node.value_length > 0 else { return .null }
            return .string(Base64.encode(UnsafeBufferPointer(start: base, count: node.value_length)))
        default:
            return .null
        }
    }

    /// Host-order binary numbers (the shim copies DCMTK's host-order arrays) as JSON numbers.
    static func numbers(_ raw: UnsafeRawBufferPointer, vr: String) -> [JSONValue] {
        func each<T>(_ type: T.Type, _ body: (T) -> JSONValue) -> [JSONValue] {
            let size = MemoryLayout<T>.size
            return stride(from: 0, to: raw.count - size + 1, by: size).map { body(raw.loadUnaligned(fromByteOffset: $0, as: T.self)) }
        }
        func float(_ value: Double, _ text: String) -> JSONValue { value.isFinite ? .number(text) : .null }
        switch vr {
        case "US": return each(UInt16.self) { .number(String($0)) }
        case "SS": return each(Int16.self) { .number(String($0)) }
        case "UL": return each(UInt32.self) { .number(String($0)) }
        case "SL": return each(Int32.self) { .number(String($0)) }
        case "UV": return each(UInt64.self) { .number(String($0)) }
        case "SV": return each(Int64.self) { .number(String($0)) }
        case "FL": return each(Float.self) { float(Double($0), jsonNumber($0.description)) }
        case "FD": return each(Double.self) { float($0, jsonNumber($0.description)) }
        case "AT":
            let words = each(UInt16.self) { .number(String($0)) }.compactMap { value -> UInt16? in
                if case .number(let text) = value { return UInt16(text) }
                return nil
            }
            return stride(from: 0, to: words.count - 1, by: 2).map { .string(hex(words[$0]) + hex(words[$0 + 1])) }
        default: return []
        }
    }

    /// Swift's shortest round-trip text is JSON except for forms like "5e-05" (valid) and "inf"/"nan" (filtered).
    static func jsonNumber(_ text: String) -> String {
        text.hasSuffix(".0") ? String(text.dropLast(2)) : text
    }
}

/// RFC 4648 base64 (with padding), for binary VRs.
enum Base64 {
    private static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)

    static func encode<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var iterator = bytes.makeIterator()
        while let a = iterator.next() {
            let b = iterator.next()
            let c = iterator.next()
            let chunk = UInt32(a) << 16 | UInt32(b ?? 0) << 8 | UInt32(c ?? 0)
            out.append(alphabet[Int(chunk >> 18 & 63)])
            out.append(alphabet[Int(chunk >> 12 & 63)])
            out.append(b == nil ? UInt8(ascii: "=") : alphabet[Int(chunk >> 6 & 63)])
            out.append(c == nil ? UInt8(ascii: "=") : alphabet[Int(chunk & 63)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
