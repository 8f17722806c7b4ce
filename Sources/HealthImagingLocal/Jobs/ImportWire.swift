import HealthImagingJSON
import HealthImagingDICOM
/// The import worker protocol's encoding (docs/hardening.md, "Import worker pool"): the server and an
/// `import-worker` process exchange length-prefixed messages over two pipes, one request and one reply per
/// file, strictly in turn.
///
/// A message is an 8-byte little-endian length followed by that many bytes. Inside, integers are 8-byte
/// little-endian, byte strings and strings are a length then the bytes, and values are written in a fixed order
/// (no tags, no versioning: both ends are the same binary).
///
/// Request: the DICOM limits (five integers), inputFile, format (raw value), source kind (0 bytes: the file's bytes follow; 1 file: path, offset,
/// length).
/// Reply: 0 then the imported file (UIDs, transfer syntax, the five keyword lists, frames, warnings), or 1 then the
/// rejection (exceptionType, message, serverError).
enum ImportWire {
    /// The largest message either end accepts; a longer length prefix means a broken peer.
    static let maxMessageBytes = 1 << 40

    struct DecodeError: Error {}

    struct Writer {
        var bytes: [UInt8] = []

        mutating func int(_ value: Int) {
            var v = UInt64(bitPattern: Int64(value))
            for _ in 0..<8 {
                bytes.append(UInt8(truncatingIfNeeded: v))
                v >>= 8
            }
        }

        mutating func byte(_ value: UInt8) { bytes.append(value) }

        mutating func data(_ value: [UInt8]) {
            int(value.count)
            bytes += value
        }

        mutating func string(_ value: String) { data(Array(value.utf8)) }

        mutating func json(_ value: JSONValue) {
            switch value {
            case .null: byte(0)
            case .bool(let flag): byte(flag ? 2 : 1)
            case .number(let text): byte(3); string(text)
            case .string(let text): byte(4); string(text)
            case .array(let items):
                byte(5)
                int(items.count)
                for item in items { json(item) }
            case .object(let list):
                byte(6)
                members(list)
            }
        }

        mutating func members(_ list: [(key: String, value: JSONValue)]) {
            int(list.count)
            for (key, value) in list {
                string(key)
                json(value)
            }
        }
    }

    struct Reader {
        let bytes: [UInt8]
        var index = 0
        /// Far beyond any document the DICOM reader produces; a deeper value means a broken peer.
        static let maxDepth = 2048

        init(_ bytes: [UInt8]) { self.bytes = bytes }

        mutating func int() throws(DecodeError) -> Int {
            guard bytes.count - index >= 8 else { throw DecodeError() }
            var v: UInt64 = 0
            for shift in 0..<8 { v |= UInt64(bytes[index + shift]) << (8 * UInt64(shift)) }
            index += 8
            return Int(Int64(bitPattern: v))
        }

        mutating func byte() throws(DecodeError) -> UInt8 {
            guard index < bytes.count else { throw DecodeError() }
            index += 1
            return bytes[index - 1]
        }

        mutating func data() throws(DecodeError) -> [UInt8] {
            let count = try int()
            guard count >= 0, bytes.count - index >= count else { throw DecodeError() }
            defer { index += count }
            return Array(bytes[index..<index + count])
        }

        mutating func string() throws(DecodeError) -> String { String(decoding: try data(), as: UTF8.self) }

        /// A count of items that each take at least `minimum` bytes: bounded by what is left.
        mutating func count(minimum: Int) throws(DecodeError) -> Int {
            let count = try int()
            guard count >= 0, count <= (bytes.count - index) / max(1, minimum) else { throw DecodeError() }
            return count
        }

        mutating func json(depth: Int = 0) throws(DecodeError) -> JSONValue {
            guard depth < Self.maxDepth else { throw DecodeError() }
            switch try byte() {
            case 0: return .null
            case 1: return .bool(false)
            case 2: return .bool(true)
            case 3: return .number(try string())
            case 4: return .string(try string())
            case 5:
                let count = try count(minimum: 1)
                var items: [JSONValue] = []
                items.reserveCapacity(count)
                for _ in 0..<count { items.append(try json(depth: depth + 1)) }
                return .array(items)
            case 6: return .object(try members(depth: depth + 1))
            default: throw DecodeError()
            }
        }

        mutating func members(depth: Int = 0) throws(DecodeError) -> [(key: String, value: JSONValue)] {
            let count = try count(minimum: 9)
            var list: [(key: String, value: JSONValue)] = []
            list.reserveCapacity(count)
            for _ in 0..<count { list.append((try string(), try json(depth: depth))) }
            return list
        }
    }

    // MARK: requests

    static func request(_ task: ImportTask, limits: DICOMLimits) -> [UInt8] {
        var writer = Writer()
        for value in [limits.maxFrameBytes, limits.maxDecodedFileBytes, limits.maxSequenceDepth, limits.maxElements,
                      limits.maxInflatedBytes] {
            writer.int(value)
        }
        writer.string(task.inputFile)
        writer.string(task.format.rawValue)
        switch task.source {
        case .bytes(let bytes):
            writer.byte(0)
            writer.data(bytes)
        case .file(let path, let offset, let length):
            writer.byte(1)
            writer.string(path)
            writer.int(offset)
            writer.int(length)
        }
        return writer.bytes
    }

    static func task(_ message: [UInt8]) throws(DecodeError) -> (ImportTask, DICOMLimits) {
        var reader = Reader(message)
        let limits = DICOMLimits(maxFrameBytes: try reader.int(), maxDecodedFileBytes: try reader.int(),
                                 maxSequenceDepth: try reader.int(), maxElements: try reader.int(),
                                 maxInflatedBytes: try reader.int())
        let inputFile = try reader.string()
        guard let format = LosslessStorageFormat(rawValue: try reader.string()) else { throw DecodeError() }
        let source: ImportSource
        switch try reader.byte() {
        case 0: source = .bytes(try reader.data())
        case 1: source = .file(path: try reader.string(), offset: try reader.int(), length: try reader.int())
        default: throw DecodeError()
        }
        return (ImportTask(inputFile: inputFile, source: source, format: format), limits)
    }

    // MARK: replies

    static func reply(_ result: Result<ImportedFile, RejectedFile>) -> [UInt8] {
        var writer = Writer()
        switch result {
        case .success(let file):
            writer.byte(0)
            writer.string(file.inputFile)
            let instance = file.instance
            for text in [instance.studyInstanceUID, instance.seriesInstanceUID, instance.sopInstanceUID, instance.transferSyntaxUID] {
                writer.string(text)
            }
            for level in [instance.patient, instance.study, instance.series, instance.instance, instance.vrs] {
                writer.members(level)
            }
            writer.int(file.frames.count)
            for (id, frame) in file.frames {
                writer.string(id)
                writer.data(frame.data)
                writer.string(frame.transferSyntaxUID)
                writer.string(frame.contentType)
                writer.int(frame.checksums.count)
                for level in frame.checksums {
                    writer.int(level.width)
                    writer.int(level.height)
                    writer.int(Int(level.checksum))
                }
                writer.int(frame.minPixelValue)
                writer.int(frame.maxPixelValue)
            }
            writer.int(file.warnings.count)
            for warning in file.warnings {
                writer.int(warning.code)
                writer.string(warning.type)
                writer.string(warning.message)
            }
        case .failure(let rejected):
            writer.byte(1)
            writer.string(rejected.inputFile)
            writer.string(rejected.error.exceptionType)
            writer.string(rejected.error.message)
            writer.byte(rejected.serverError ? 1 : 0)
        }
        return writer.bytes
    }

    static func result(_ message: [UInt8]) throws(DecodeError) -> Result<ImportedFile, RejectedFile> {
        var reader = Reader(message)
        switch try reader.byte() {
        case 0:
            let inputFile = try reader.string()
            let study = try reader.string(), series = try reader.string(), sop = try reader.string(), syntax = try reader.string()
            let patientLevel = try reader.members(), studyLevel = try reader.members(), seriesLevel = try reader.members()
            let instanceLevel = try reader.members(), vrs = try reader.members()
            let instance = DICOMInstance(studyInstanceUID: study, seriesInstanceUID: series, sopInstanceUID: sop,
                                         transferSyntaxUID: syntax, patient: patientLevel, study: studyLevel,
                                         series: seriesLevel, instance: instanceLevel, vrs: vrs, frames: [])
            let count = try reader.count(minimum: 48)
            var frames: [(id: String, frame: StoredFrame)] = []
            frames.reserveCapacity(count)
            for _ in 0..<count {
                let id = try reader.string()
                let data = try reader.data()
                let syntax = try reader.string(), contentType = try reader.string()
                let levels = try reader.count(minimum: 24)
                var checksums: [ResolutionChecksum] = []
                for _ in 0..<levels {
                    let width = try reader.int(), height = try reader.int(), sum = try reader.int()
                    guard let checksum = UInt32(exactly: sum) else { throw DecodeError() }
                    checksums.append(ResolutionChecksum(width: width, height: height, checksum: checksum))
                }
                let low = try reader.int(), high = try reader.int()
                frames.append((id, StoredFrame(data: data, transferSyntaxUID: syntax, contentType: contentType,
                                               checksums: checksums, minPixelValue: low, maxPixelValue: high)))
            }
            let warningCount = try reader.count(minimum: 24)
            var warnings: [ImportWarning] = []
            for _ in 0..<warningCount {
                warnings.append(ImportWarning(code: try reader.int(), type: try reader.string(), message: try reader.string()))
            }
            guard reader.index == message.count else { throw DecodeError() }
            return .success(ImportedFile(inputFile: inputFile, instance: instance, frames: frames, warnings: warnings))
        case 1:
            let inputFile = try reader.string()
            let error = DICOMFileError(exceptionType: try reader.string(), message: try reader.string())
            let serverError = try reader.byte() == 1
            guard reader.index == message.count else { throw DecodeError() }
            return .failure(RejectedFile(inputFile: inputFile, error: error, serverError: serverError))
        default:
            throw DecodeError()
        }
    }
}
