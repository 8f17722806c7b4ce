import CDICOM

/// What one DICOM file may make the reader do (docs/hardening.md, "DICOM input limits"). Every allocation a file's
/// values drive is checked first against the bytes the file holds; these ceilings bound what an honest file may
/// still ask for. A file over one is a customer error naming the flag.
public struct DICOMLimits: Sendable, Equatable {
    /// `--max-frame-bytes`: decoded bytes of one frame (rows × columns × samples × bytes per sample).
    public var maxFrameBytes: Int
    /// `--max-decoded-file-bytes`: decoded bytes of all frames of one file.
    public var maxDecodedFileBytes: Int
    /// Sequence nesting (a top-level SQ is level 1), far beyond any IOD (the deepest standard ones use about 6).
    public var maxSequenceDepth: Int
    /// Elements and items in one file, at every depth.
    public var maxElements: Int
    /// A Deflated Explicit VR Little Endian dataset, inflated.
    public var maxInflatedBytes: Int

    public init(maxFrameBytes: Int = Self.standard.maxFrameBytes,
                maxDecodedFileBytes: Int = Self.standard.maxDecodedFileBytes,
                maxSequenceDepth: Int = Self.standard.maxSequenceDepth,
                maxElements: Int = Self.standard.maxElements,
                maxInflatedBytes: Int = Self.standard.maxInflatedBytes) {
        self.maxFrameBytes = maxFrameBytes
        self.maxDecodedFileBytes = maxDecodedFileBytes
        self.maxSequenceDepth = maxSequenceDepth
        self.maxElements = maxElements
        self.maxInflatedBytes = maxInflatedBytes
    }

    private init(frame: Int, file: Int, depth: Int, elements: Int, inflated: Int) {
        maxFrameBytes = frame
        maxDecodedFileBytes = file
        maxSequenceDepth = depth
        maxElements = elements
        maxInflatedBytes = inflated
    }

    /// The defaults (the shim's HIL_DICOM_DEFAULT_*): 1 GiB per frame, 16 GiB per file, 64 levels, 1,000,000
    /// elements, 1 GiB inflated.
    public static let standard = DICOMLimits(frame: 1 << 30, file: 16 << 30, depth: 64, elements: 1_000_000, inflated: 1 << 30)

    var c: hil_dicom_limits {
        hil_dicom_limits(max_frame_bytes: UInt64(max(1, maxFrameBytes)), max_decoded_file_bytes: UInt64(max(1, maxDecodedFileBytes)),
                         max_sequence_depth: UInt32(clamping: max(1, maxSequenceDepth)), max_elements: UInt64(max(1, maxElements)),
                         max_inflated_bytes: UInt64(max(1, maxInflatedBytes)))
    }
}
