/// The JPH file format (ISO/IEC 15444-15 Annex D, the JP2 box structure with brand `jph `) around an HTJ2K
/// codestream, and the TLM marker segment DICOM asks of 1.2.840.10008.1.2.4.202 (PS3.5 §10.18), which
/// OpenJPH 0.9 does not write.
public enum JPH {
    /// Signature box, File Type box (brand and compatibility `jph `), JP2 Header box (Image Header + Colour
    /// Specification: greyscale or sRGB enumerated), then the Contiguous Codestream box.
    public static func wrap(codestream: [UInt8], width: Int, height: Int, components: Int, precision: Int,
                            isSigned: Bool) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(codestream.count + 85)
        func u32(_ value: Int) { out += [UInt8(truncatingIfNeeded: value >> 24), UInt8(truncatingIfNeeded: value >> 16),
                                         UInt8(truncatingIfNeeded: value >> 8), UInt8(truncatingIfNeeded: value)] }
        func type(_ name: String) { out += Array(name.utf8) }
        u32(12); type("jP  "); out += [0x0D, 0x0A, 0x87, 0x0A]
        u32(20); type("ftyp"); type("jph "); u32(0); type("jph ")
        u32(8 + 22 + 15); type("jp2h")
        u32(22); type("ihdr"); u32(height); u32(width)
        out += [UInt8(components >> 8), UInt8(components & 0xFF)]
        out.append(UInt8(precision - 1) | (isSigned ? 0x80 : 0))
        out += [7, 0, 0]  // C = 7 (JPEG 2000 family), colourspace known, no intellectual property box
        u32(15); type("colr"); out += [1, 0, 0]; u32(components == 3 ? 16 : 17)  // enumerated: sRGB / greyscale
        u32(8 + codestream.count); type("jp2c")
        out += codestream
        return out
    }

    /// The codestream inside a JPH/JP2 file (the `jp2c` box), or nil.
    public static func codestream(in file: [UInt8]) -> ArraySlice<UInt8>? {
        var offset = 0
        while offset + 8 <= file.count {
            var length = Int(file[offset]) << 24 | Int(file[offset + 1]) << 16 | Int(file[offset + 2]) << 8 | Int(file[offset + 3])
            let kind = String(decoding: file[(offset + 4)..<(offset + 8)], as: UTF8.self)
            var header = 8
            if length == 1, offset + 16 <= file.count {
                length = file[(offset + 8)..<(offset + 16)].reduce(0) { $0 << 8 | Int($1) }
                header = 16
            } else if length == 0 {
                length = file.count - offset
            }
            guard length >= header, offset + length <= file.count else { return nil }
            if kind == "jp2c" { return file[(offset + header)..<(offset + length)] }
            offset += length
        }
        return nil
    }

    /// Inserts a TLM marker segment (Ztlm 0; Stlm: 8-bit tile index, 32-bit tile-part length) before the first
    /// SOT, listing every tile-part. Returns the codestream unchanged when it already has TLM or does not parse.
    public static func insertTLM(_ codestream: [UInt8]) -> [UInt8] {
        let c = codestream
        func u16(_ i: Int) -> Int { Int(c[i]) << 8 | Int(c[i + 1]) }
        func u32(_ i: Int) -> Int { Int(c[i]) << 24 | Int(c[i + 1]) << 16 | Int(c[i + 2]) << 8 | Int(c[i + 3]) }
        guard c.count > 4, c[0] == 0xFF, c[1] == 0x4F else { return c }
        var position = 2
        while position + 4 <= c.count, c[position] == 0xFF, c[position + 1] != 0x90 {
            if c[position + 1] == 0x55 { return c }  // TLM already there
            position += 2 + u16(position + 2)
        }
        guard position + 12 <= c.count, c[position] == 0xFF, c[position + 1] == 0x90 else { return c }
        let firstSOT = position
        var parts: [(tile: Int, length: Int)] = []
        while position + 12 <= c.count, c[position] == 0xFF, c[position + 1] == 0x90 {
            let tile = u16(position + 4)
            var length = u32(position + 6)
            if length == 0 { length = c.count - 2 - position }  // > Psot 0: the last tile-part, up to EOC
            guard length > 0, tile < 256, position + length <= c.count else { return c }
            parts.append((tile, length))
            position += length
        }
        guard !parts.isEmpty else { return c }
        var segment: [UInt8] = [0xFF, 0x55]
        let size = 4 + 5 * parts.count
        segment += [UInt8(size >> 8), UInt8(size & 0xFF), 0, 0x50]
        for part in parts {
            segment.append(UInt8(part.tile))
            segment += [UInt8(truncatingIfNeeded: part.length >> 24), UInt8(truncatingIfNeeded: part.length >> 16),
                        UInt8(truncatingIfNeeded: part.length >> 8), UInt8(truncatingIfNeeded: part.length)]
        }
        var out: [UInt8] = []
        out.reserveCapacity(c.count + segment.count)
        out += c[..<firstSOT]
        out += segment
        out += c[firstSOT...]
        return out
    }
}
