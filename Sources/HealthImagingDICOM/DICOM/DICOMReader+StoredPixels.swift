import HealthImagingJSON
extension DICOMReader {
    /// Makes the instance's pixel-module attributes describe the frames as stored, when the frames are transcoded
    /// (HTJ2K / JPEG 2000 lossless) rather than kept in their original encoding: the samples a stored frame decodes to
    /// are what a rebuilt Part 10 carries, so the document must agree with them (docs/dicomweb.md, "Self-consistent
    /// metadata"):
    /// - PhotometricInterpretation: the colour model of the decoded samples — YBR_FULL for native YBR_FULL_422
    ///   (expanded to one Y Cb Cr triple per pixel), RGB for YCbCr JPEG that DCMTK converted, RGB for JPEG 2000 with
    ///   YBR_RCT / YBR_ICT (OpenJPEG undoes the transform);
    /// - PlanarConfiguration: 0 (colour-by-pixel) for 3-sample frames, which are always interleaved here;
    /// - BitsAllocated: 8 for 1-bit sources, whose samples are unpacked to one byte each (BitsStored 1, HighBit 0
    ///   kept).
    /// Frames kept in their original encoding (lossy JPEG, JPEG 2000, HTJ2K; `PixelFrame.original`) keep the source's
    /// values, which describe those bytes.
    package static func describeDecodedPixels(_ attributes: inout [(key: String, value: JSONValue)], photometric: String) {
        func set(_ key: String, _ value: JSONValue) {
            if let index = attributes.firstIndex(where: { $0.key == key }) { attributes[index].value = value }
        }
        func number(_ key: String) -> Int? {
            switch attributes.first(where: { $0.key == key })?.value {
            case .number(let text)?: Int(text)
            case .array(let items)? where items.count == 1: if case .number(let text) = items[0] { Int(text) } else { nil }
            default: nil
            }
        }
        if !photometric.isEmpty, let current = attributes.first(where: { $0.key == "PhotometricInterpretation" })?.value,
            current.stringValue != photometric {
            set("PhotometricInterpretation", .string(photometric))
        }
        if number("SamplesPerPixel") == 3, let planar = number("PlanarConfiguration"), planar != 0 {
            set("PlanarConfiguration", .number("0"))
        }
        if number("BitsAllocated") == 1 {
            set("BitsAllocated", .number("8"))
        }
    }
}
