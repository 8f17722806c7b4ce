import Foundation
import HealthImagingJSON
import HealthImagingHTTP

/// AWS rest-json timestamps: JSON numbers, Unix epoch seconds with a millisecond fraction.
public enum Timestamp {
    /// `1680029436304` → `"1680029436.304"`, `1680029436430` → `"1680029436.43"`, whole seconds → `"1680029436.0"`.
    public static func format(millis: Int64) -> String {
        var bytes: [UInt8] = []
        EpochSeconds.append(millis: millis, to: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Milliseconds since the epoch, now, on the emulator's clock: the real time plus the test clock's offset
    /// (`POST /_healthimaging/clock`, Store+Clock.swift). Every timestamp the emulator stores or reports comes from
    /// here; only durations (latency, uptime) and SigV4's request-time check read the real time.
    public static func nowMillis() -> Int64 {
        realNowMillis() &+ clockOffset.value
    }

    /// Milliseconds since the epoch, now, on the real clock.
    public static func realNowMillis() -> Int64 {
        Int64((Date().timeIntervalSince1970 * 1000).rounded())
    }

    /// How far the test clock is ahead of the real time, in milliseconds (0 unless moved). One per process — a
    /// server is one process; in-process servers (library use, tests) share it. Set from the store at startup and
    /// by the control plane (`Emulator.setClockOffset`), read from any thread.
    public static var clockOffsetMillis: Int64 { clockOffset.value }

    static func setClockOffset(_ millis: Int64) { clockOffset.value = millis }

    private static let clockOffset = ClockOffset()

    /// Parses epoch seconds (`1680029436.304`) to milliseconds, rounding to the nearest millisecond.
    public static func millis(fromEpochSeconds seconds: Double) -> Int64? {
        guard seconds.isFinite, abs(seconds) < 1e13 else { return nil }
        return Int64((seconds * 1000).rounded())
    }

    /// Parses an ISO 8601 date-time (as the AWS CLI v2 prints: `2023-03-28T18:10:36.304000+00:00`, or `…Z`).
    public static func millis(fromISO8601 text: String) -> Int64? {
        let strategies: [Date.ISO8601FormatStyle] = [
            .iso8601.year().month().day().dateTimeSeparator(.standard).time(includingFractionalSeconds: true).timeZone(separator: .colon),
            .iso8601.year().month().day().dateTimeSeparator(.standard).time(includingFractionalSeconds: false).timeZone(separator: .colon),
        ]
        var normalized = text
        // Foundation's parser takes at most millisecond precision well; cut microseconds to milliseconds.
        if let dot = normalized.firstIndex(of: ".") {
            let afterDot = normalized[normalized.index(after: dot)...]
            let digits = afterDot.prefix { $0.isNumber }
            if digits.count > 3 {
                let cut = normalized.index(after: dot)
                normalized = String(normalized[..<cut]) + digits.prefix(3) + afterDot.dropFirst(digits.count)
            }
        }
        for strategy in strategies {
            if let date = try? strategy.parse(normalized) {
                return Int64((date.timeIntervalSince1970 * 1000).rounded())
            }
        }
        return nil
    }

    /// Epoch milliseconds as UTC text, `YYYY-MM-DD` + `separator` + `HH:MM:SS` (+ `.mmm` with `millis`) + `suffix`:
    /// EventBridge's `time` (`T`, no millis, `Z`) and the web view's dates (` `, millis, ` UTC`). Proleptic
    /// Gregorian, no locale involved.
    static func utcText(millis: Int64, separator: String, withMillis: Bool, suffix: String) -> String {
        let seconds = millis >= 0 ? millis / 1000 : (millis - 999) / 1000
        let days = seconds >= 0 ? seconds / 86400 : (seconds - 86399) / 86400
        let secondOfDay = seconds - days * 86400
        let (year, month, day) = CivilCalendar.civilFromDays(days)
        func pad(_ value: Int64, _ width: Int) -> String {
            let text = String(value)
            return String(repeating: "0", count: max(0, width - text.count)) + text
        }
        let time = "\(pad(secondOfDay / 3600, 2)):\(pad(secondOfDay % 3600 / 60, 2)):\(pad(secondOfDay % 60, 2))"
        return "\(pad(year, 4))-\(pad(month, 2))-\(pad(day, 2))\(separator)\(time)"
            + (withMillis ? ".\(pad(millis - seconds * 1000, 3))" : "") + suffix
    }
}

/// The test clock's offset behind a lock (`Synchronization.Atomic` needs macOS 15; the package supports 14).
/// `@unchecked Sendable`: the one stored value is only read and written under `lock`.
private final class ClockOffset: @unchecked Sendable {
    private let lock = NSLock()
    private var millis: Int64 = 0

    var value: Int64 {
        get { lock.withLock { millis } }
        set { lock.withLock { millis = newValue } }
    }
}
