import Foundation
import Testing
@testable import HealthImagingLocal
@testable import HealthImagingJSON
@testable import HealthImagingDICOM

/// The import pool's parts that need no worker process: the wire encoding both ends share, and the batch
/// scheduling (round robin, order of results, deadlines) with in-process slots.
@Suite struct ImportPoolTests {
    static let instance = DICOMInstance(
        studyInstanceUID: "1.2.3", seriesInstanceUID: "1.2.3.4", sopInstanceUID: "1.2.3.4.5", transferSyntaxUID: "1.2.840.10008.1.2.1",
        patient: [("PatientName", .object([("Alphabetic", .string("Doe^Jane"))])), ("PatientID", .string("é中 \u{0}x"))],
        study: [("StudyDate", .null), ("Codes", .array([.object([("CodeValue", .string("1")), ("Nested", .array([.array([.bool(true)])]))])]))],
        series: [("SeriesNumber", .number("7")), ("Flag", .bool(false))],
        instance: [("ImageType", .array([.string("ORIGINAL"), .string("PRIMARY")])), ("WindowCenter", .number("-40.5e1"))],
        vrs: [("PatientName", .string("PN"))], frames: [])

    static let file = ImportedFile(inputFile: "in/a.dcm", instance: instance, frames: [
        ("0123456789abcdef0123456789abcdef", StoredFrame(data: [0, 1, 2, 255], transferSyntaxUID: "1.2.840.10008.1.2.4.202",
                                                          contentType: "image/jph", checksums: [
                                                              ResolutionChecksum(width: 1, height: 1, checksum: 0),
                                                              ResolutionChecksum(width: 2, height: 2, checksum: UInt32.max),
                                                          ], minPixelValue: -1024, maxPixelValue: 3071)),
        ("fedcba9876543210fedcba9876543210", StoredFrame(data: [], transferSyntaxUID: "t", contentType: "c", checksums: [],
                                                          minPixelValue: 0, maxPixelValue: 0)),
    ])

    @Test func anImportedFileCrossesTheWireUnchanged() throws {
        let message = ImportWire.reply(.success(Self.file))
        guard case .success(let back) = try ImportWire.result(message) else { Issue.record("not a success"); return }
        #expect(back.inputFile == Self.file.inputFile)
        let a = back.instance, b = Self.file.instance
        #expect([a.studyInstanceUID, a.seriesInstanceUID, a.sopInstanceUID, a.transferSyntaxUID]
                == [b.studyInstanceUID, b.seriesInstanceUID, b.sopInstanceUID, b.transferSyntaxUID])
        for (x, y) in [(a.patient, b.patient), (a.study, b.study), (a.series, b.series), (a.instance, b.instance), (a.vrs, b.vrs)] {
            #expect(JSONValue.object(x) == JSONValue.object(y))
        }
        #expect(back.frames.map(\.id) == Self.file.frames.map(\.id))
        #expect(back.frames.map(\.frame) == Self.file.frames.map(\.frame))
    }

    @Test func aRejectionCrossesTheWireUnchanged() throws {
        let rejected = RejectedFile(inputFile: "x", error: DICOMFileError(exceptionType: "ValidationException", message: "bad"),
                                    serverError: true)
        guard case .failure(let back) = try ImportWire.result(ImportWire.reply(.failure(rejected))) else {
            Issue.record("not a failure")
            return
        }
        #expect(back.inputFile == "x" && back.error == rejected.error && back.serverError)
    }

    @Test func requestsCarryTheSourceAndTheLimits() throws {
        let limits = DICOMLimits(maxFrameBytes: 11, maxDecodedFileBytes: 22, maxSequenceDepth: 3, maxElements: 44, maxInflatedBytes: 55)
        for source in [ImportSource.bytes([9, 8, 7]), .file(path: "/tmp/x", offset: 5, length: 6)] {
            let (task, back) = try ImportWire.task(ImportWire.request(ImportTask(inputFile: "n", source: source, format: .jpeg2000Lossless),
                                                                     limits: limits))
            #expect(back == limits && task.inputFile == "n" && task.format == .jpeg2000Lossless)
            switch (task.source, source) {
            case (.bytes(let x), .bytes(let y)): #expect(x == y)
            case (.file(let p, let o, let l), .file(let q, let m, let n)): #expect(p == q && o == m && l == n)
            default: Issue.record("source kind changed")
            }
        }
    }

    @Test func everyTruncationOrExtensionOfAReplyIsRefusedNotTrusted() {
        let message = ImportWire.reply(.success(Self.file))
        for cut in 0..<message.count {
            #expect(throws: ImportWire.DecodeError.self) { try ImportWire.result(Array(message[..<cut])) }
        }
        #expect(throws: ImportWire.DecodeError.self) { try ImportWire.result(message + [0]) }
        // A count far beyond the bytes present is refused before anything is allocated for it.
        var huge = ImportWire.Writer()
        huge.byte(0)
        huge.string("f")
        for _ in 0..<4 { huge.string("u") }
        huge.int(Int.max / 2)
        #expect(throws: ImportWire.DecodeError.self) { try ImportWire.result(huge.bytes) }
    }

    /// A unit whose fetch records when it ran and fails the file (no DICOM needed to test scheduling).
    static func unit(_ name: String, log: Log, delay: Double = 0) -> ImportPool.Unit {
        ImportPool.Unit(inputFile: name, format: .htj2k, fetch: {
            log.append(name)
            if delay > 0 { Thread.sleep(forTimeInterval: delay) }
            return .failure(.rejected(RejectedFile(inputFile: name, error: DICOMFileError(exceptionType: "T", message: name),
                                                   serverError: false)))
        })
    }

    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var names: [String] = []
        func append(_ name: String) { lock.withLock { names.append(name) } }
        var all: [String] { lock.withLock { names } }
    }

    final class Box<T>: @unchecked Sendable {
        let done = DispatchSemaphore(value: 0)
        var value: T?
    }

    @Test func batchesTakeTurnsAndResultsComeBackInUnitOrder() {
        let pool = ImportPool(.init(workers: 1))
        defer { pool.shutdown() }
        let log = Log()
        let big = Box<[ImportPool.Outcome]>(), small = Box<[ImportPool.Outcome]>()
        pool.submit((0..<6).map { Self.unit("big\($0)", log: log, delay: 0.05) }) { big.value = $0; big.done.signal() }
        Thread.sleep(forTimeInterval: 0.02)  // big0 is running
        pool.submit((0..<2).map { Self.unit("small\($0)", log: log) }) { small.value = $0; small.done.signal() }
        small.done.wait()
        big.done.wait()
        let order = log.all
        // The small batch's files ran between the big one's, not after all of them.
        #expect(order.firstIndex(of: "small1")! < order.firstIndex(of: "big5")!)
        #expect(order.prefix(4) == ["big0", "small0", "big1", "small1"])
        let names = big.value!.map { outcome -> String in
            if case .file(.failure(let rejected)) = outcome { return rejected.inputFile }
            return "?"
        }
        #expect(names == (0..<6).map { "big\($0)" })
    }

    @Test func aBatchPastItsDeadlineStopsWithItsMessage() {
        let pool = ImportPool(.init(workers: 1))
        defer { pool.shutdown() }
        let log = Log()
        let box = Box<[ImportPool.Outcome]>()
        pool.submit((0..<20).map { Self.unit("f\($0)", log: log, delay: 0.03) }, deadline: .now + .milliseconds(100),
                    deadlineMessage: "too late") { box.value = $0; box.done.signal() }
        box.done.wait()
        let stopped = box.value!.filter { if case .stopped("too late") = $0 { true } else { false } }
        #expect(!stopped.isEmpty && log.all.count < 20)
    }

    @Test func anEmptyBatchEndsAtOnce() {
        let pool = ImportPool(.init(workers: 2))
        defer { pool.shutdown() }
        let box = Box<Bool>()
        pool.submit([]) { box.value = $0.isEmpty }
        #expect(box.value == true)
    }
}
