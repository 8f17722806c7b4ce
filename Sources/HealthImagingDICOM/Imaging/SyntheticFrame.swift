import HealthImagingJSON
/// Deterministic pixels for a frame that a document lists but no source supplied (fixture- or control-seeded
/// image sets): a disc phantom over a gradient with a little seeded noise, in the document's geometry.
/// The same frame id and geometry always give the same pixels.
public enum SyntheticFrame {
    /// The pixel geometry an instance's DICOM attributes describe (Rows, Columns, BitsAllocated, BitsStored,
    /// PixelRepresentation, SamplesPerPixel), with the default CT geometry for what is missing or unusable.
    public struct Geometry: Sendable, Equatable {
        public var rows = 512
        public var columns = 512
        public var bitsAllocated = 16
        public var bitsStored = 12
        public var isSigned = false
        public var samplesPerPixel = 1

        public init() {}

        public init(dicom: JSONValue?) {
            func int(_ key: String) -> Int? {
                switch dicom?[key] {
                case .number(let text)?: Int(text) ?? Double(text).map { Int($0) }
                case .string(let text)?: Int(text.filter { $0 != " " })
                case .array(let items)? where items.count == 1:
                    if case .number(let text) = items[0] { Int(text) } else { nil }
                default: nil
                }
            }
            if let value = int("Rows"), (1...4096).contains(value) { rows = value }
            if let value = int("Columns"), (1...4096).contains(value) { columns = value }
            if let value = int("BitsAllocated"), value == 8 || value == 16 { bitsAllocated = value }
            bitsStored = min(bitsStored, bitsAllocated)
            if let value = int("BitsStored"), (1...bitsAllocated).contains(value) { bitsStored = value }
            if let value = int("PixelRepresentation") { isSigned = value == 1 }
            if let value = int("SamplesPerPixel"), value == 1 || value == 3 { samplesPerPixel = value }
        }
    }

    public static func make(frameId: String, geometry g: Geometry) -> PixelFrame {
        // FNV-1a of the frame id seeds the noise and places the disc.
        var seed = frameId.utf8.reduce(UInt64(0xcbf2_9ce4_8422_2325)) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
        let low = g.isSigned ? -(1 << (g.bitsStored - 1)) : 0
        let high = g.isSigned ? (1 << (g.bitsStored - 1)) - 1 : (1 << g.bitsStored) - 1
        let span = Double(high - low)
        let bytes = g.bitsAllocated <= 8 ? 1 : 2
        var samples = [UInt8](repeating: 0, count: g.rows * g.columns * g.samplesPerPixel * bytes)
        let centreX = Double(g.columns) * (0.4 + Double(seed % 20) / 100)
        let centreY = Double(g.rows) * (0.4 + Double((seed >> 8) % 20) / 100)
        let radius = Double(min(g.rows, g.columns)) * 0.3
        var index = 0
        for y in 0..<g.rows {
            for x in 0..<g.columns {
                let dx = Double(x) - centreX, dy = Double(y) - centreY
                let inside = dx * dx + dy * dy <= radius * radius
                let base = 0.15 + 0.25 * Double(x + y) / Double(g.columns + g.rows) + (inside ? 0.4 : 0)
                for c in 0..<g.samplesPerPixel {
                    // xorshift64: a few grey levels of noise
                    seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17
                    let noise = Double(seed % 64) / 64 * 0.02
                    let level = min(1, base + noise + Double(c) * 0.05)
                    let value = low + Int(level * span)
                    if bytes == 1 {
                        samples[index] = UInt8(truncatingIfNeeded: value)
                        index += 1
                    } else {
                        let raw = UInt16(truncatingIfNeeded: value)
                        samples[index] = UInt8(raw & 0xFF)
                        samples[index + 1] = UInt8(raw >> 8)
                        index += 2
                    }
                }
            }
        }
        return PixelFrame(columns: g.columns, rows: g.rows, samplesPerPixel: g.samplesPerPixel, bitsAllocated: g.bitsAllocated,
                          bitsStored: g.bitsStored, isSigned: g.isSigned, samples: samples)
    }
}
