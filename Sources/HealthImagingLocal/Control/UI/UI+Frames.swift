import HealthImagingJSON
import HealthImagingDICOM
import HealthImagingHTTP
/// Frame previews for the web view:
///   GET /_healthimaging/ui/namespaces/{account}/{region}/datastores/{d}/imageSets/{i}/frames/{frameId}.png
/// The stored frame is decoded with `FrameCodec` at the resolution level that makes it at most `previewSize`
/// pixels on its long side, windowed with the instance's WindowCenter/WindowWidth (first values; else the
/// frame's own minimum and maximum) after RescaleSlope/RescaleIntercept, inverted for MONOCHROME1, and written
/// as an 8-bit grey (RGB for three samples) PNG. Frames kept in a lossy or other original transfer syntax
/// (JPEG baseline, JPEG 2000 / HTJ2K lossy) are not decoded: the route answers 404 and the page says so.
extension UIEndpoints {
    static let previewSize = 256
    /// How many previews one image-set page lists (each `<img>` is lazy).
    static let previewLimit = 64

    /// The transfer syntaxes `FrameCodec` decodes, and how.
    static func previewFormat(_ transferSyntaxUID: String) -> LosslessStorageFormat? {
        switch transferSyntaxUID {
        case FrameCodec.htj2kRPCL: .htj2k
        case FrameCodec.jpeg2000Lossless: .jpeg2000Lossless
        default: nil
        }
    }

    /// One frame an image set's metadata document lists.
    struct ListedFrame {
        var id: String
        var instanceUID: String
        var transferSyntaxUID: String
        var dicom: JSONValue?
    }

    static func listedFrames(_ document: JSONValue) -> [ListedFrame] {
        var found: [ListedFrame] = []
        for series in document.value(at: ["Study", "Series"])?.objectMembers ?? [] {
            for instance in series.value["Instances"]?.objectMembers ?? [] {
                guard case .array(let frames)? = instance.value["ImageFrames"] else { continue }
                let syntax = instance.value["StoredTransferSyntaxUID"]?.stringValue ?? ""
                for frame in frames {
                    guard let id = frame["ID"]?.stringValue else { continue }
                    found.append(ListedFrame(id: id, instanceUID: instance.key, transferSyntaxUID: syntax, dicom: instance.value["DICOM"]))
                }
            }
        }
        return found
    }

    static func frameLink(_ namespace: Namespace, _ datastoreId: String, _ imageSetId: String, _ frameId: String) -> String {
        imageSetLink(namespace, datastoreId, imageSetId) + "/frames/" + HTML.component(frameId) + ".png"
    }

    /// The "Frames" section of the image-set page.
    static func frameSection(_ html: inout HTML, _ namespace: Namespace, _ datastoreId: String, _ imageSetId: String,
                             _ document: JSONValue) {
        let frames = listedFrames(document)
        html.raw("<h2 id=\"frames\">Frames</h2>")
        if frames.isEmpty {
            html.raw("<p class=\"muted\" id=\"no-frames\">The metadata document lists no frame.</p>")
            return
        }
        html.raw("<div class=\"frames\">")
        for frame in frames.prefix(previewLimit) {
            html.raw("<figure class=\"frame\">")
            if previewFormat(frame.transferSyntaxUID) != nil {
                html.raw("<img loading=\"lazy\" class=\"preview\" alt=\"frame preview\" src=\"")
                html.text(frameLink(namespace, datastoreId, imageSetId, frame.id))
                html.raw("\">")
            } else {
                html.raw("<p class=\"muted no-preview\">No preview: stored in its original transfer syntax ")
                html.element("<code>", frame.transferSyntaxUID, "</code>, which the preview does not decode.</p>")
            }
            html.element("<figcaption><code>", frame.id, "</code><br>instance ")
            html.element("<code>", frame.instanceUID, "</code></figcaption></figure>")
        }
        html.raw("</div>")
        if frames.count > previewLimit {
            html.element("<p class=\"muted\">", "\(frames.count - previewLimit) more frames are not shown.", "</p>")
        }
    }

    // MARK: the PNG route

    static func framePreview(_ call: ControlCall) throws(APIError) -> Response {
        let namespace = Namespace(account: call.path("account"), region: call.path("region"))
        let datastoreId = call.path("datastoreId")
        let imageSetId = call.path("imageSetId")
        let file = call.path("frame")
        guard file.hasSuffix(".png") else { throw APIError.notFound("Frame previews are named {frameId}.png") }
        let frameId = String(file.dropLast(4))
        let found = try call.emulator.run { emulator -> (StoredFrame, JSONValue?)? in
            guard let key = try emulator.store.imageSetKey(namespace, datastoreId, imageSetId),
                  let latest = try emulator.store.versions(imageSet: key, imageSetId: imageSetId, before: nil, limit: 1).first,
                  let frame = try emulator.store.frame(namespace, datastoreId: datastoreId, imageSetId: imageSetId, frameId: frameId)
            else { return nil }
            let handle = ImageSetHandle(key: key, datastoreId: datastoreId, imageSetId: imageSetId, latest: latest)
            let document = try emulator.store.document(handle, versionId: latest.versionId)
            return (frame, listedFrames(document).first { $0.id == frameId }?.dicom)
        }
        guard let (frame, dicom) = found else {
            throw APIError.notFound("No frame \(frameId) in image set \(imageSetId) of datastore \(datastoreId) in \(namespace)")
        }
        guard let format = previewFormat(frame.transferSyntaxUID) else {
            throw APIError.notFound("Frame \(frameId) is stored in its original transfer syntax \(frame.transferSyntaxUID): the web view does not decode it")
        }
        let png: [UInt8]
        do {
            png = try preview(frame, format: format, dicom: dicom)
        } catch {
            throw APIError(.internalServer, "The preview of frame \(frameId) could not be made: \(error)")
        }
        return Response(status: 200, headers: [("Content-Type", "image/png"), ("Cache-Control", "no-store"),
                                               ("X-Content-Type-Options", "nosniff")], body: png)
    }

    /// The PNG preview of a stored HTJ2K / JPEG 2000 frame.
    static func preview(_ frame: StoredFrame, format: LosslessStorageFormat, dicom: JSONValue?) throws -> [UInt8] {
        let codestream = format == .htj2k ? JPH.codestream(in: frame.data).map(Array.init) ?? frame.data : frame.data
        let full = frame.checksums.last.map { max($0.width, $0.height) } ?? 0
        let levels = frame.checksums.count > 1 ? frame.checksums.count - 1 : 0
        var reduce = 0
        while reduce < levels, (full + (1 << reduce) - 1) >> reduce > previewSize { reduce += 1 }
        let decoded = try FrameCodec.decode(codestream, format: format, reduce: reduce, bytesPerSample: 0)
        let count = decoded.width * decoded.height * decoded.components
        let bytes = decoded.bytesPerSample
        guard decoded.width > 0, decoded.height > 0, bytes >= 1, bytes <= 4, decoded.samples.count >= count * bytes else {
            throw PNGWriter.Failure(description: "the decoder returned \(decoded.samples.count) bytes for \(decoded.width)×\(decoded.height)×\(decoded.components)")
        }
        // Sample values, little-endian, sign-extended when signed.
        var values = [Double](repeating: 0, count: count)
        decoded.samples.withUnsafeBufferPointer { samples in
            for index in 0..<count {
                var raw: UInt32 = 0
                for byte in 0..<bytes { raw |= UInt32(samples[index * bytes + byte]) << (8 * UInt32(byte)) }
                if decoded.isSigned && bytes < 4 {
                    let bits = UInt32(8 * bytes)
                    values[index] = raw & (1 << (bits - 1)) != 0 ? Double(Int64(raw) - (Int64(1) << bits)) : Double(raw)
                } else {
                    values[index] = decoded.isSigned ? Double(Int32(bitPattern: raw)) : Double(raw)
                }
            }
        }
        var pixels = [UInt8](repeating: 0, count: count)
        if decoded.components == 3 {
            // Colour: scaled from its stored precision, no window.
            let top = Double((1 << min(decoded.precision, 31)) - 1)
            for index in 0..<count { pixels[index] = UInt8(max(0, min(255, (values[index] / max(top, 1) * 255).rounded()))) }
            return try PNGWriter.encode(width: decoded.width, height: decoded.height, channels: 3, pixels: pixels)
        }
        let grey = decoded.components == 1 ? values : stride(from: 0, to: count, by: decoded.components).map { values[$0] }
        let slope = firstNumber(dicom?["RescaleSlope"]) ?? 1
        let intercept = firstNumber(dicom?["RescaleIntercept"]) ?? 0
        let modality = grey.map { $0 * (slope == 0 ? 1 : slope) + intercept }
        var lower: Double, upper: Double
        if let centre = firstNumber(dicom?["WindowCenter"]), let width = firstNumber(dicom?["WindowWidth"]), width >= 1 {
            lower = centre - width / 2
            upper = centre + width / 2
        } else {
            lower = modality.min() ?? 0
            upper = modality.max() ?? 0
        }
        if upper <= lower { upper = lower + 1 }
        let invert = dicom?["PhotometricInterpretation"]?.stringValue?.trimmingSpaces == "MONOCHROME1"
        var out = [UInt8](repeating: 0, count: modality.count)
        for (index, value) in modality.enumerated() {
            let level = UInt8(max(0, min(255, ((value - lower) / (upper - lower) * 255).rounded())))
            out[index] = invert ? 255 - level : level
        }
        return try PNGWriter.encode(width: decoded.width, height: decoded.height, channels: 1, pixels: out)
    }

    /// The first value of a DS/IS attribute as the metadata document holds it: a number, a string (`"40\\400"`),
    /// or an array of either.
    static func firstNumber(_ value: JSONValue?) -> Double? {
        switch value {
        case .number(let text)?: return Double(text)
        case .string(let text)?:
            let first = text.split(separator: "\\").first.map { String($0.trimmingSpaces) } ?? ""
            return Double(first)
        case .array(let items)?: return items.first.flatMap { firstNumber($0) }
        default: return nil
        }
    }
}
