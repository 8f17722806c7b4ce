import Testing
@testable import HealthImagingDICOM

/// FrameCodec against its own decoders: lossless round trips, checksums per level, JPH boxes.
struct FrameCodecTests {
    static func geometry(_ rows: Int, _ columns: Int, bits: Int, stored: Int, signed: Bool, samples: Int) -> SyntheticFrame.Geometry {
        var g = SyntheticFrame.Geometry()
        g.rows = rows
        g.columns = columns
        g.bitsAllocated = bits
        g.bitsStored = stored
        g.isSigned = signed
        g.samplesPerPixel = samples
        return g
    }

    @Test(arguments: [
        (512, 512, 16, 12, false, 1), (300, 200, 16, 16, true, 1), (64, 48, 8, 8, false, 3), (7, 5, 8, 8, true, 1),
        (1, 1, 16, 16, false, 1), (130, 70, 16, 16, false, 3),
        // One component, computed reduced resolutions (odd and even sizes, one-pixel rows and columns, 8 and 16
        // bits, signed and unsigned, precision below the sample size) against OpenJPEG's decode below.
        (65, 33, 16, 12, false, 1), (129, 257, 16, 16, true, 1), (3, 2, 8, 8, false, 1), (2, 300, 16, 10, true, 1),
        (300, 1, 8, 8, false, 1), (255, 511, 8, 7, true, 1), (1024, 64, 16, 14, false, 1),
        // Colour (reversible colour transform before the wavelet), odd sizes, 8 and 16 bits.
        (97, 131, 8, 8, false, 3), (65, 2, 16, 12, false, 3), (33, 200, 8, 8, true, 3),
    ])
    func roundTrip(rows: Int, columns: Int, bits: Int, stored: Int, signed: Bool, samples: Int) throws {
        let frame = SyntheticFrame.make(frameId: "abc", geometry: Self.geometry(rows, columns, bits: bits, stored: stored, signed: signed, samples: samples))
        for format in LosslessStorageFormat.allCases {
            let stored = try FrameCodec.store(frame, format: format)
            #expect(stored.checksums.last == ResolutionChecksum(width: columns, height: rows, checksum: FrameCodec.crc32(frame.samples)))
            let levels = FrameCodec.decompositionLevels(width: columns, height: rows)
            #expect(stored.checksums.count == levels + 1)
            let first = try #require(stored.checksums.first)
            #expect(first.width <= 64 || first.height <= 64 || levels == 0 || min(rows, columns) >> levels == 0)
            // OpenJPEG decodes what is served (JPH file or bare codestream) at every level to the same checksums.
            for (index, level) in stored.checksums.enumerated() {
                let decoded = try FrameCodec.decode(stored.data, format: nil, reduce: levels - index, bytesPerSample: frame.bytesPerSample)
                #expect(decoded.width == level.width && decoded.height == level.height)
                #expect(FrameCodec.crc32(decoded.samples) == level.checksum, "\(format) level \(index)")
            }
            if format == .htj2k {
                #expect(stored.contentType == "image/jph")
                #expect(Array(stored.data.prefix(12)) == [0, 0, 0, 12, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A])
                let codestream = try #require(JPH.codestream(in: stored.data))
                #expect(Array(codestream.prefix(2)) == [0xFF, 0x4F])
            } else {
                #expect(stored.contentType == "image/j2c")
                #expect(Array(stored.data.prefix(2)) == [0xFF, 0x4F])
            }
        }
    }

    @Test func levels() {
        #expect(FrameCodec.decompositionLevels(width: 512, height: 512) == 3)
        #expect(FrameCodec.decompositionLevels(width: 64, height: 64) == 0)
        #expect(FrameCodec.decompositionLevels(width: 65, height: 10) == 1)
        #expect(FrameCodec.decompositionLevels(width: 4096, height: 2) == 1)
    }
}
