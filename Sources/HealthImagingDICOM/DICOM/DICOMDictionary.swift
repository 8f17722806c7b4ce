import CDICOM
import Foundation
import HealthImagingJSON

/// DCMTK's data dictionary from Swift: keyword ↔ tag and VR, cached (the dictionary is read under its own lock; the
/// cache under `lock`, so any thread may ask).
package enum DICOMDictionary {
    package struct Entry: Sendable {
        package var tag: UInt32
        var vr: String
        package var keyword: String
    }

    /// `@unchecked Sendable`: both maps are only touched under `lock`.
    private final class Cache: @unchecked Sendable {
        let lock = NSLock()
        var byKeyword: [String: Entry?] = [:]
        var byTag: [UInt32: Entry?] = [:]
    }

    private static let cache = Cache()

    /// The entry of a keyword, nil when the dictionary has none.
    package static func entry(keyword: String) -> Entry? {
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let found = cache.byKeyword[keyword] { return found }
        var group: UInt16 = 0, element: UInt16 = 0
        var vr: (CChar, CChar, CChar) = (0, 0, 0)
        // > hil_dicom_dictionary_keyword: "Returns 0, or -1 when the dictionary has no such keyword".
        let found = withUnsafeMutablePointer(to: &vr) { pointer in
            pointer.withMemoryRebound(to: CChar.self, capacity: 3) { hil_dicom_dictionary_keyword(keyword, &group, &element, $0) }
        } == 0
        let entry = found ? Entry(tag: UInt32(group) << 16 | UInt32(element), vr: vrString(vr), keyword: keyword) : nil
        cache.byKeyword[keyword] = entry
        return entry
    }

    /// The entry of a tag, nil when the dictionary does not know it.
    package static func entry(tag: UInt32) -> Entry? {
        cache.lock.lock()
        defer { cache.lock.unlock() }
        if let found = cache.byTag[tag] { return found }
        var vr: (CChar, CChar, CChar) = (0, 0, 0)
        var keyword = [CChar](repeating: 0, count: 128)
        // > hil_dicom_dictionary_tag: "Returns 0, or -1 when the tag is unknown (keyword "" and vr "UN")".
        let found = withUnsafeMutablePointer(to: &vr) { pointer in
            pointer.withMemoryRebound(to: CChar.self, capacity: 3) {
                hil_dicom_dictionary_tag(UInt16(tag >> 16), UInt16(tag & 0xFFFF), &keyword, keyword.count, $0)
            }
        } == 0
        let name = keyword.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        let entry = found ? Entry(tag: tag, vr: vrString(vr), keyword: name) : nil
        cache.byTag[tag] = entry
        return entry
    }

    private static func vrString(_ vr: (CChar, CChar, CChar)) -> String {
        String(decoding: [UInt8(bitPattern: vr.0), UInt8(bitPattern: vr.1)], as: UTF8.self)
    }

    /// "GGGGEEEE" (8 hex digits) as a tag.
    static func hexTag(_ text: String) -> UInt32? {
        guard text.utf8.count == 8, text.utf8.allSatisfy({ $0 < 128 && (($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x66 || (0x30...0x39).contains($0)) })
        else { return nil }
        return UInt32(text, radix: 16)
    }

    /// A tag as 8 upper-case hex digits.
    package static func hex(_ tag: UInt32) -> String {
        let digits = String(tag, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// A document key (keyword, or "GGGGEEEE" for private and unknown tags) → tag and VR; `vrs` is the instance's
    /// `DICOMVRs`. Nil when neither the key nor the dictionary says.
    package static func resolve(key: String, vrs: JSONValue?) -> (tag: UInt32, vr: String)? {
        if let tag = hexTag(key) {
            if case .string(let vr)? = vrs?[key] { return (tag, vr) }
            if let entry = entry(tag: tag) { return (tag, entry.vr) }
            return (tag, tag & 0xFFFF == 0x0010 && tag >> 16 & 1 == 1 ? "LO" : "UN")
        }
        guard let entry = entry(keyword: key) else { return nil }
        return (entry.tag, entry.vr)
    }

    /// A QIDO key or includefield value (keyword or tag) → tag.
    package static func tag(_ key: String) -> UInt32? {
        hexTag(key) ?? entry(keyword: key)?.tag
    }
}
