import CDICOM

/// An open CDICOM handle: owns the parsed dataset; every pointer read through it lives until `deinit`.
final class DICOMFile {
    let handle: OpaquePointer

    /// Parses a whole Part 10 file held in memory.
    init(_ bytes: [UInt8], limits: DICOMLimits = .standard) throws(DICOMFileError) {
        var error = hil_dicom_error()
        var limits = limits.c
        // > hil_dicom_open: "Returns NULL and fills `error` on failure"; the caller may free `bytes` on return.
        let opened = bytes.withUnsafeBufferPointer { hil_dicom_open($0.baseAddress, $0.count, &limits, &error) }
        guard let opened else { throw DICOMFileError(error) }
        handle = opened
    }

    /// Parses bytes [offset, offset + length) of the file at `path` (length 0: to its end) without reading it whole.
    init(path: String, offset: Int, length: Int, limits: DICOMLimits = .standard) throws(DICOMFileError) {
        guard offset >= 0, length >= 0 else {
            throw DICOMFileError(exceptionType: DICOMFileError.invalidDICOMFile, message: "the byte range is not inside the file")
        }
        var error = hil_dicom_error()
        var limits = limits.c
        // > hil_dicom_open_file: values over 8 KiB "stay on disk"; "the file must stay in place, unchanged, until
        // hil_dicom_close" (this object's deinit).
        guard let opened = hil_dicom_open_file(path, UInt64(offset), UInt64(length), &limits, &error) else {
            throw DICOMFileError(error)
        }
        handle = opened
    }

    deinit { hil_dicom_close(handle) }

    var transferSyntax: String { String(cString: hil_dicom_transfer_syntax(handle)) }

    var nodeCount: Int { hil_dicom_node_count(handle) }

    /// The Photometric Interpretation of the samples the last frame decoded to ("" before any decode).
    var decodedPhotometric: String { String(cString: hil_dicom_decoded_photometric(handle)) }

    func node(_ index: Int) -> hil_dicom_node {
        var node = hil_dicom_node()
        _ = hil_dicom_node_at(handle, index, &node)
        return node
    }

    /// The pixel module, checked against the Pixel Data's size and the limits (no decoding).
    func pixelInfo() throws(DICOMFileError) -> hil_dicom_pixel_info {
        var info = hil_dicom_pixel_info()
        var error = hil_dicom_error()
        guard hil_dicom_pixel_info_get(handle, &info, &error) == 0 else { throw DICOMFileError(error) }
        return info
    }

    /// Frame `index`, decoded; with `keepOriginal`, it also carries its source bytes.
    func frame(_ index: Int, info: hil_dicom_pixel_info, keepOriginal: Bool) throws(DICOMFileError) -> PixelFrame {
        let samples = try buffer { out, length, error in hil_dicom_decode_frame(handle, index, out, length, error) }
        var original: EncodedFrame? = nil
        if keepOriginal && info.encapsulated != 0 {
            original = EncodedFrame(transferSyntaxUID: transferSyntax, data: try encodedFrame(index))
        }
        return PixelFrame(
            columns: Int(info.columns), rows: Int(info.rows), samplesPerPixel: Int(info.samples_per_pixel),
            bitsAllocated: Int(info.bits_allocated), bitsStored: Int(info.bits_stored),
            isSigned: info.pixel_representation == 1, samples: samples, original: original)
    }

    /// The encoded bytes of frame `index` of encapsulated Pixel Data (its fragments concatenated).
    /// > hil_dicom_encoded_frame: "Returns 0 and a caller-owned buffer (free with hil_dicom_free), or -1 with
    /// > `error` (not encapsulated, index out of range)."
    func encodedFrame(_ index: Int) throws(DICOMFileError) -> [UInt8] {
        try buffer { out, length, error in hil_dicom_encoded_frame(handle, index, out, length, error) }
    }

    /// Every frame, decoded; with `keepOriginal`, each also carries its source bytes.
    func frames(keepOriginal: Bool) throws(DICOMFileError) -> [PixelFrame] {
        let info = try pixelInfo()
        guard info.has_pixel_data != 0 else { return [] }
        // number_of_frames is bounded by the Pixel Data's size and --max-decoded-file-bytes (hil_dicom_pixel_info_get).
        var frames: [PixelFrame] = []
        frames.reserveCapacity(Int(info.number_of_frames))
        for index in 0..<Int(info.number_of_frames) {
            frames.append(try frame(index, info: info, keepOriginal: keepOriginal))
        }
        return frames
    }

    /// Calls a CDICOM function that hands back a malloc'd buffer, copies it out and frees it (hil_dicom_free).
    private func buffer(_ call: (UnsafeMutablePointer<UnsafeMutablePointer<UInt8>?>, UnsafeMutablePointer<Int>,
                                 UnsafeMutablePointer<hil_dicom_error>) -> Int32) throws(DICOMFileError) -> [UInt8] {
        var out: UnsafeMutablePointer<UInt8>? = nil
        var length = 0
        var error = hil_dicom_error()
        guard call(&out, &length, &error) == 0 else { throw DICOMFileError(error) }
        defer { hil_dicom_free(out) }
        guard let out else { return [] }
        return Array(UnsafeBufferPointer(start: out, count: length))
    }
}

@available(*, unavailable) extension DICOMFile: Sendable {}
