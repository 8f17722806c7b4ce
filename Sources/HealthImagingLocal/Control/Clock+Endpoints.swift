import HealthImagingHTTP
/// The test clock (one per server): the real time plus an offset that only moves forward.
/// - `GET  /_healthimaging/clock` → `{"now": <epoch seconds>, "realNow": <epoch seconds>, "offsetMillis": N,
///   "offset": "31d"}`
/// - `POST /_healthimaging/clock` `{"advance": "31d"}` — a positive whole number of `s`, `m`, `h` or `d` (at most
///   100 years in all) — → the same object, after the move.
/// Every timestamp the emulator writes from then on (createdAt, updatedAt, submittedAt, endedAt, events, due times
/// of `timed:` transitions) and every storage tier it reports is on the moved clock. The offset is kept in the
/// database (a restart with `--db` keeps it); a reset of the default namespace or of all (`POST /_healthimaging/reset`)
/// puts it back to 0.
enum ClockEndpoints {
    static let all: [ControlPlane.Endpoint] = [
        .init("GET", "/_healthimaging/clock", read),
        .init("POST", "/_healthimaging/clock", advance),
    ]

    /// The largest total offset: 100 years.
    static let maxOffsetMillis: Int64 = 36_500 * 86_400_000

    static func read(_ call: ControlCall) throws(APIError) -> Response {
        let offset = Timestamp.clockOffsetMillis
        let real = Timestamp.realNowMillis()
        return .json {
            $0.field("now", timestampMillis: real + offset)
            $0.field("realNow", timestampMillis: real)
            $0.field("offsetMillis", offset)
            $0.field("offset", describe(offset))
        }
    }

    static func advance(_ call: ControlCall) throws(APIError) -> Response {
        let body = try call.body()
        let step = try JSONReader.validated(body) { reader -> Int64? in
            guard reader.object(allowed: ["advance"]) else { return nil }
            return reader.member("advance", required: true)?.string { parse($0) == nil ? durationProblem : nil }.flatMap(parse)
        }
        let offset = Timestamp.clockOffsetMillis
        guard step <= maxOffsetMillis - offset else {
            throw APIError.invalid(describe(step), at: "advance", "The clock may run at most 36500d ahead of the real time")
        }
        try call.emulator.run { try $0.setClockOffset(offset + step) }
        return try read(call)
    }

    static let durationProblem = "must be a positive whole number followed by s, m, h or d, like \"31d\""

    /// `"90s"`, `"15m"`, `"12h"`, `"31d"` → milliseconds; nil for anything else (zero, signs, fractions, other units).
    static func parse(_ text: String) -> Int64? {
        guard let unit = text.last, let digits = Optional(text.dropLast()), !digits.isEmpty, digits.count <= 12,
            digits.allSatisfy({ $0.isASCII && $0.isNumber }), let count = Int64(digits), count > 0
        else { return nil }
        let millis: Int64
        switch unit {
        case "s": millis = 1000
        case "m": millis = 60_000
        case "h": millis = 3_600_000
        case "d": millis = 86_400_000
        default: return nil
        }
        let (product, overflow) = count.multipliedReportingOverflow(by: millis)
        return overflow || product > maxOffsetMillis ? nil : product
    }

    /// An offset as the largest unit that divides it: `2678400000` → `"31d"`, `0` → `"0s"`, `1500` → `"1500ms"`.
    static func describe(_ millis: Int64) -> String {
        for (unit, size) in [("d", Int64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000)] where millis != 0 && millis % size == 0 {
            return "\(millis / size)\(unit)"
        }
        return millis == 0 ? "0s" : "\(millis)ms"
    }
}

extension Emulator {
    /// Moves the test clock to `millis` ahead of the real time, kept in the database. A store write, so every
    /// cached read answer is dropped.
    public func setClockOffset(_ millis: Int64) throws {
        try store.setClockOffset(millis)
        Timestamp.setClockOffset(millis)
    }
}
