#if canImport(Glibc)
import Glibc
#endif

/// The `Date` header of answers (RFC 9110 §5.6.7, IMF-fixdate: `Sun, 06 Nov 1994 08:49:37 GMT`), rendered
/// into fixed bytes once per second rather than formatted per answer (no strftime-style formatting per
/// reply). A C string.
/// The real clock, not the emulator's test clock: this is transport metadata.
struct HTTPDate {
    private var second = -1
    /// 29 characters and a NUL.
    private var text = [CChar](repeating: 0, count: 30)

    private static let days: [UInt8] = Array("ThuFriSatSunMonTueWed".utf8)  // 1970-01-01 was a Thursday
    private static let months: [UInt8] = Array("JanFebMarAprMayJunJulAugSepOctNovDec".utf8)

    /// The value for the current second.
    mutating func withCurrent<T>(_ body: (UnsafePointer<CChar>) -> T) -> T {
        let now = time(nil)
        if now != second { render(now) }
        return text.withUnsafeBufferPointer { body($0.baseAddress!) }
    }

    private mutating func render(_ now: Int) {
        second = now
        let days = Int64(now).quotient(dividingBy: 86_400)
        let seconds = Int(Int64(now) - days * 86_400)
        let (year, month, day) = CivilCalendar.civilFromDays(days)
        let weekday = Int(((days % 7) + 7) % 7)
        text.withUnsafeMutableBufferPointer { out in
            var index = 0
            func put(_ byte: UInt8) { out[index] = CChar(bitPattern: byte); index += 1 }
            func two(_ value: Int) { put(UInt8(48 + value / 10)); put(UInt8(48 + value % 10)) }
            for offset in 0..<3 { put(Self.days[weekday * 3 + offset]) }
            put(UInt8(ascii: ",")); put(0x20)
            two(Int(day)); put(0x20)
            for offset in 0..<3 { put(Self.months[Int(month - 1) * 3 + offset]) }
            put(0x20)
            two(Int(year) / 100); two(Int(year) % 100); put(0x20)
            two(seconds / 3600); put(UInt8(ascii: ":")); two(seconds / 60 % 60); put(UInt8(ascii: ":")); two(seconds % 60)
            for byte in " GMT".utf8 { put(byte) }
            out[index] = 0
        }
    }
}

extension Int64 {
    /// Floor division (days before 1970 round down).
    fileprivate func quotient(dividingBy divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor < 0) ? q - 1 : q
    }
}

/// Days since 1970-01-01 and back, proleptic Gregorian: the `Date` header here, and the emulator's UTC texts.
package enum CivilCalendar {
    // Howard Hinnant's civil-calendar algorithms.
    package static func daysFromCivil(_ y0: Int64, _ m: Int64, _ d: Int64) -> Int64 {
        let y = m <= 2 ? y0 - 1 : y0
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    package static func civilFromDays(_ z0: Int64) -> (Int64, Int64, Int64) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }
}
