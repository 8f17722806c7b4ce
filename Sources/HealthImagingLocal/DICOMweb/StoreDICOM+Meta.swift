/// The SOP Class and Instance UIDs a Part 10 file names in its File Meta Information (group 0002, always Explicit
/// VR Little Endian, right after the 128-byte preamble and `DICM`). Read for the FailedSOPSequence item of a part
/// DCMTK could not read or whose frames could not be stored: the file meta usually survives what broke the rest.
struct Part10Meta: Equatable {
    var sopClassUID: String?
    var sopInstanceUID: String?

    /// How much of a part is read to find the meta group.
    static let prefixBytes = 64 * 1024

    static func read(_ bytes: [UInt8]) -> Part10Meta {
        var meta = Part10Meta()
        guard bytes.count >= 132, bytes[128..<132].elementsEqual("DICM".utf8) else { return meta }
        var offset = 132
        func u16(_ at: Int) -> Int { Int(bytes[at]) | Int(bytes[at + 1]) << 8 }
        func u32(_ at: Int) -> Int { u16(at) | u16(at + 2) << 16 }
        while offset + 8 <= bytes.count, u16(offset) == 0x0002 {
            let element = u16(offset + 2)
            let vr = String(decoding: bytes[offset + 4..<offset + 6], as: UTF8.self)
            let length: Int
            let valueStart: Int
            if ["OB", "OW", "OF", "SQ", "UT", "UN", "UC", "UR", "OD", "OL", "OV"].contains(vr) {
                guard offset + 12 <= bytes.count else { break }
                length = u32(offset + 8)
                valueStart = offset + 12
            } else {
                length = u16(offset + 6)
                valueStart = offset + 8
            }
            guard length != 0xFFFF_FFFF, valueStart + length <= bytes.count else { break }
            if element == 0x0002 || element == 0x0003 {
                var value = Array(bytes[valueStart..<valueStart + length])
                while let last = value.last, last == 0 || last == 0x20 { value.removeLast() }
                let text = String(decoding: value, as: UTF8.self)
                if element == 0x0002 { meta.sopClassUID = text } else { meta.sopInstanceUID = text }
            }
            offset = valueStart + length
        }
        return meta
    }
}
