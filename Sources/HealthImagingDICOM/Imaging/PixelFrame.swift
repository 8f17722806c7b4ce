/// One decoded frame. `samples` holds each sample as a little-endian integer of the smallest size that holds
/// BitsAllocated (1 byte up to 8 bits, 2 up to 16, 4 up to 32), colour samples interleaved (R G B R G B …):
/// exactly the bytes a decoder's array holds, so its CRC-32 is the metadata's full-resolution checksum.
public struct PixelFrame: Sendable, Equatable {
    public var columns: Int
    public var rows: Int
    public var samplesPerPixel: Int
    public var bitsAllocated: Int
    public var bitsStored: Int
    /// PixelRepresentation 1: two's-complement samples.
    public var isSigned: Bool
    public var samples: [UInt8]
    /// The source's own encoded bytes for this frame when the source was lossy-compressed (kept as is by the
    /// service rather than transcoded); nil for native and lossless sources.
    public var original: EncodedFrame?

    public init(columns: Int, rows: Int, samplesPerPixel: Int, bitsAllocated: Int, bitsStored: Int, isSigned: Bool,
                samples: [UInt8], original: EncodedFrame? = nil) {
        self.columns = columns
        self.rows = rows
        self.samplesPerPixel = samplesPerPixel
        self.bitsAllocated = bitsAllocated
        self.bitsStored = bitsStored
        self.isSigned = isSigned
        self.samples = samples
        self.original = original
    }

    /// Bytes per sample in `samples`.
    public var bytesPerSample: Int { bitsAllocated <= 8 ? 1 : bitsAllocated <= 16 ? 2 : 4 }
}

/// A frame's bytes in one transfer syntax.
public struct EncodedFrame: Sendable, Equatable {
    public var transferSyntaxUID: String
    public var data: [UInt8]

    public init(transferSyntaxUID: String, data: [UInt8]) {
        self.transferSyntaxUID = transferSyntaxUID
        self.data = data
    }
}

/// CRC-32 of the pixels a decoder produces at one resolution level.
public struct ResolutionChecksum: Sendable, Equatable {
    public var width: Int
    public var height: Int
    public var checksum: UInt32

    public init(width: Int, height: Int, checksum: UInt32) {
        self.width = width
        self.height = height
        self.checksum = checksum
    }
}

/// A frame as the datastore keeps it and GetImageFrame answers it, with the facts its metadata entry
/// (`ImageFrames[i]`) lists.
public struct StoredFrame: Sendable, Equatable {
    /// The body of GetImageFrame (for HTJ2K: a JPH file).
    public var data: [UInt8]
    /// The instance's `StoredTransferSyntaxUID`.
    public var transferSyntaxUID: String
    /// GetImageFrame's Content-Type.
    public var contentType: String
    /// `PixelDataChecksumFromBaseToFullResolution`, smallest resolution first.
    public var checksums: [ResolutionChecksum]
    public var minPixelValue: Int
    public var maxPixelValue: Int

    public init(data: [UInt8], transferSyntaxUID: String, contentType: String, checksums: [ResolutionChecksum],
                minPixelValue: Int, maxPixelValue: Int) {
        self.data = data
        self.transferSyntaxUID = transferSyntaxUID
        self.contentType = contentType
        self.checksums = checksums
        self.minPixelValue = minPixelValue
        self.maxPixelValue = maxPixelValue
    }

    /// `FrameSizeInBytes`: the stored size.
    public var sizeInBytes: Int { data.count }
}
