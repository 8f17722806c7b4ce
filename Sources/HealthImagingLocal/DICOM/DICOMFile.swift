import CDICOM

/// An open CDICOM handle: owns the parsed dataset; every pointer read through it lives until `deinit`.
final class DICOMFile {
    let handle: OpaquePointer

    init(_ bytes: [UInt8]) throws(DICOMFileError) {
        var error = hil_dicom_error()
        // > hil_dicom_open: "Returns NULL and fills `error` on failure"; the caller may free `bytes` on return.
        let opened = bytes.withUnsafeBufferPointer { hil_dicom_open($0.baseAddress, $0.count, &error) }
        guard let opened else { throw DICOMFileError(error) }
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

    /// Every frame, decoded; with `keepOriginal`, each also carries its source bytes.
    func frames(keepOriginal: Bool) throws(DICOMFileError) -> [PixelFrame] {
        var info = hil_dicom_pixel_info()
        var error = hil_dicom_error()
        guard hil_dicom_pixel_info_get(handle, &info, &error) == 0 else { throw DICOMFileError(error) }
        guard info.has_pixel_data != 0 else { return [] }
        let transferSyntax = self.transferSyntax
        var frames: [PixelFrame] = []
        frames.reserveCapacity(Int(info.number_of_frames))
        for index in 0..<Int(info.number_of_frames) {
            let samples = try buffer { out, length, error in hil_dicom_decode_frame(handle, index, out, length, error) }
            var original: EncodedFrame? = nil
            if keepOriginal && info.encapsulated != 0 {
                let data = try buffer { out, length, error in hil_dicom_encoded_frame(handle, index, out, length, error) }
                original = EncodedFrame(transferSyntaxUID: transferSyntax, data: data)
            }
            frames.append(PixelFrame(
                columns: Int(info.columns), rows: Int(info.rows), samplesPerPixel: Int(info.samples_per_pixel),
                bitsAllocated: Int(info.bits_allocated), bitsStored: Int(info.bits_stored),
                isSigned: info.pixel_representation == 1, samples: samples, original: original))
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
