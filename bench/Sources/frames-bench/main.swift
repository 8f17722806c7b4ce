// frames-bench: the emulator's own frame encoding cost on one raw frame, for bench/frames to set next to
// OpenJPH's ojph_compress on the same file.
//   frames-bench RAW WIDTH HEIGHT BITS_STORED [ITERATIONS]
// RAW: little-endian 16-bit unsigned samples, one component. Prints, per frame:
//   encode_ms / cpu_ms (wall / processor time of FrameCodec.encode: the HTJ2K codestream alone, what ojph_compress does)
//   store_ms   (FrameCodec.store: encode + decode at every level for the checksums + JPH boxes)
import Foundation
import HealthImagingLocal
import HealthImagingDICOM

let arguments = CommandLine.arguments
guard arguments.count >= 5, let width = Int(arguments[2]), let height = Int(arguments[3]), let stored = Int(arguments[4]),
    let data = FileManager.default.contents(atPath: arguments[1])
else {
    FileHandle.standardError.write(Data("usage: frames-bench RAW WIDTH HEIGHT BITS_STORED [ITERATIONS]\n".utf8))
    exit(2)
}
let iterations = arguments.count > 5 ? Int(arguments[5]) ?? 20 : 20
let frame = PixelFrame(columns: width, rows: height, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: stored,
                       isSigned: false, samples: [UInt8](data))

/// Wall-clock and CPU (clock(): this process's processor time, what a loaded machine does not inflate) per call.
func measure(_ body: () throws -> Int) rethrows -> (ms: Double, cpu: Double, bytes: Int) {
    var bytes = try body()  // warm-up
    let start = DispatchTime.now().uptimeNanoseconds
    let cpuStart = clock()
    for _ in 0..<iterations { bytes = try body() }
    let cpu = Double(clock() - cpuStart) * 1000 / Double(CLOCKS_PER_SEC)
    let elapsed = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6
    return (elapsed / Double(iterations), cpu / Double(iterations), bytes)
}

do {
    let encode = try measure { try FrameCodec.encode(frame, format: .htj2k).count }
    let store = try measure { try FrameCodec.store(frame, format: .htj2k).data.count }
    print(String(format: "encode_ms %.3f cpu_ms %.3f bytes %d", encode.ms, encode.cpu, encode.bytes))
    let codestream = try FrameCodec.encode(frame, format: .htj2k)
    for reduce in 0...FrameCodec.decompositionLevels(width: width, height: height) {
        let decode = try measure { try FrameCodec.decode(codestream, format: .htj2k, reduce: reduce, bytesPerSample: 2).samples.count }
        print(String(format: "decode_reduce%d_ms %.3f cpu_ms %.3f", reduce, decode.ms, decode.cpu))
    }
    print(String(format: "store_ms %.3f cpu_ms %.3f bytes %d", store.ms, store.cpu, store.bytes))
} catch {
    FileHandle.standardError.write(Data("frames-bench: \(error)\n".utf8))
    exit(1)
}
