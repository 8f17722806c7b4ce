#if canImport(Glibc)
import Glibc
#endif
import HealthImagingJSON

/// The bytes of a fixture document read a window at a time: a file through `read(2)` in 1 MiB chunks (only the
/// window is held, never the whole file), or a request body already in memory. FixtureStream takes one JSON value
/// at a time from it (`valueBytes`), so memory is bounded by the largest piece (an image set), not the document.
/// Positions are byte offsets from the start; an error's line and column are counted again from the start
/// (`position(of:)`), only when there is an error.
final class FixtureBytes {
    private var buffer: [UInt8]
    /// The next byte, in `buffer`.
    private var index = 0
    /// The offset of `buffer[0]` in the document.
    private var dropped = 0
    private let file: Int32
    private let path: String?
    private var atEnd: Bool
    static let chunk = 1 << 20

    /// A file's bytes; nil when it cannot be opened.
    init?(path: String) {
        // > open(): "O_RDONLY ... returns a file descriptor, or -1 if an error occurred" (open(2)).
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        file = fd
        self.path = path
        buffer = []
        atEnd = false
    }

    init(bytes: [UInt8]) {
        file = -1
        path = nil
        buffer = bytes
        atEnd = true
    }

    deinit { if file >= 0 { close(file) } }

    /// Whether the file could not be read (an I/O error, not the end).
    private(set) var failed = false

    var offset: Int { dropped + index }

    /// Reads more of the file, keeping `buffer[keep...]`; false at the end.
    private func fill(keeping keep: Int) -> Bool {
        guard !atEnd else { return false }
        if keep > 0 {
            buffer.removeSubrange(0..<keep)
            dropped += keep
            index -= keep
        }
        var count = 0
        let chunk = [UInt8](unsafeUninitializedCapacity: Self.chunk) { raw, initialized in
            // > read(): "On success, the number of bytes read is returned (zero indicates end of file) ... On
            // > error, -1" (read(2))
            count = read(file, raw.baseAddress, Self.chunk)
            initialized = max(0, count)
        }
        buffer.append(contentsOf: chunk)
        if count <= 0 {
            atEnd = true
            if count < 0 { failed = true }
            return false
        }
        return true
    }

    /// The next byte, nil at the end.
    func peek() -> UInt8? {
        if index == buffer.count && !fill(keeping: index) { return nil }
        return buffer[index]
    }

    func advance(_ count: Int = 1) { index += count }

    func skipWhitespace() {
        while let byte = peek() {
            switch byte {
            case 0x20, 0x0A, 0x0D, 0x09: index += 1
            default: return
            }
        }
    }

    /// The bytes of the JSON value that starts here, not consumed: up to its matching bracket (strings skipped),
    /// its closing quote, or the next delimiter for a literal or number; up to the end when it has none.
    /// JSONParser.parsePrefix then checks them (and says how many it took).
    func valueBytes() -> [UInt8] {
        var end = index
        func at(_ position: inout Int) -> UInt8? {
            if position == buffer.count {
                let before = index
                let filled = fill(keeping: index)
                position -= before - index  // the bytes before the value were dropped, filled or not
                guard filled else { return nil }
            }
            return buffer[position]
        }
        guard let first = at(&end) else { return [] }
        switch first {
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            var inString = false
            while let byte = at(&end) {
                end += 1
                if inString {
                    if byte == UInt8(ascii: "\\") {
                        guard at(&end) != nil else { break }
                        end += 1
                    } else if byte == UInt8(ascii: "\"") {
                        inString = false
                    }
                    continue
                }
                switch byte {
                case UInt8(ascii: "\""): inString = true
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { return Array(buffer[index..<end]) }
                default: break
                }
            }
        case UInt8(ascii: "\""):
            end += 1
            while let byte = at(&end) {
                end += 1
                if byte == UInt8(ascii: "\\") {
                    guard at(&end) != nil else { break }
                    end += 1
                } else if byte == UInt8(ascii: "\"") {
                    return Array(buffer[index..<end])
                }
            }
        default:
            end += 1  // the first byte, whatever it is (a misplaced ',' or '}' is JSONParser's to name)
            while let byte = at(&end) {
                switch byte {
                case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09:
                    return Array(buffer[index..<end])
                default: end += 1
                }
            }
        }
        return Array(buffer[index..<end])
    }

    /// The line and column (1-based; columns count bytes, as JSONParser's do) of `offset`, read again from the
    /// start of the document.
    func position(of offset: Int) -> (line: Int, column: Int) {
        var line = 1
        var column = 1
        func count(_ bytes: some Collection<UInt8>) {
            for byte in bytes {
                if byte == 0x0A { line += 1; column = 1 } else { column += 1 }
            }
        }
        if file < 0 {
            count(buffer[..<min(offset, buffer.count)])
            return (line, column)
        }
        var chunk = [UInt8](repeating: 0, count: Self.chunk)
        var done = 0
        while done < offset {
            let want = min(Self.chunk, offset - done)
            // > pread(): "reads up to count bytes from file descriptor fd at offset offset ... The file offset is
            // > not changed." (pread(2))
            let got = chunk.withUnsafeMutableBytes { pread(file, $0.baseAddress!, want, off_t(done)) }
            guard got > 0 else { break }
            count(chunk[..<got])
            done += got
        }
        return (line, column)
    }
}
