/// AWS rest-json timestamps are JSON numbers: Unix epoch seconds with a millisecond fraction. The digits are
/// written here, for the JSON writer and for `Timestamp` (the emulator's clock).
public enum EpochSeconds {
    /// Appends epoch seconds with the millisecond fraction trimmed (`1680029436.304`, `1680029436.43`, whole
    /// seconds `1680029436.0`) to `bytes`, without building a String (the response hot path).
    public static func append(millis: Int64, to bytes: inout [UInt8]) {
        if millis < 0 { bytes.append(UInt8(ascii: "-")) }
        let magnitude = millis.magnitude
        appendDigits(magnitude / 1000, to: &bytes)
        bytes.append(UInt8(ascii: "."))
        var fraction = magnitude % 1000
        var digits = 3
        while digits > 1 && fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        var divisor: UInt64 = digits == 3 ? 100 : digits == 2 ? 10 : 1
        while divisor > 0 {
            bytes.append(UInt8(ascii: "0") + UInt8(fraction / divisor % 10))
            divisor /= 10
        }
    }

    /// The decimal digits of `value`, without formatting calls.
    public static func appendDigits(_ value: UInt64, to bytes: inout [UInt8]) {
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var count = 0
        var rest = value
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(rest % 10)
                rest /= 10
                count += 1
            } while rest > 0
            bytes.append(contentsOf: buffer[(20 - count)...])
        }
    }
}
