import Foundation

/// Locale-free formatting for hot paths. Foundation's format styles and `String(format:)` can
/// pull in ICU's data on first use, which costs a cold start milliseconds and megabytes.
public enum Formatting {
    /// RFC 3339 UTC with milliseconds: `2026-11-26T20:36:10.427Z`.
    public static func timestamp(_ date: Date) -> String {
        let milliseconds = date.unixMilliseconds
        var seconds = time_t(milliseconds / 1000 - (milliseconds % 1000 < 0 ? 1 : 0))
        let millis = Int((milliseconds % 1000 + 1000) % 1000)
        var parts = tm()
        gmtime_r(&seconds, &parts)
        var out = ""
        out.reserveCapacity(24)
        out += pad(Int(parts.tm_year) + 1900, 4); out += "-"
        out += pad(Int(parts.tm_mon) + 1, 2); out += "-"
        out += pad(Int(parts.tm_mday), 2); out += "T"
        out += pad(Int(parts.tm_hour), 2); out += ":"
        out += pad(Int(parts.tm_min), 2); out += ":"
        out += pad(Int(parts.tm_sec), 2); out += "."
        out += pad(millis, 3); out += "Z"
        return out
    }

    /// Parses what `timestamp` writes, and RFC 3339 without fractions or with an offset `Z`.
    public static func parseTimestamp(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count >= 20, u[4] == 0x2D, u[7] == 0x2D, u[10] == 0x54, u[13] == 0x3A, u[16] == 0x3A, u.last == 0x5A else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range { guard (0x30...0x39).contains(u[i]) else { return nil }; n = n * 10 + Int(u[i] - 0x30) }
            return n
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var millis = 0
        if u.count > 20 {
            guard u[19] == 0x2E, u.count - 21 >= 1, let fraction = number(20..<(u.count - 1)) else { return nil }
            let digits = u.count - 21
            millis = digits >= 3 ? fraction / Int(pow(10, Double(digits - 3))) : fraction * Int(pow(10, Double(3 - digits)))
        } else if u.count != 20 {
            return nil
        }
        var parts = tm()
        parts.tm_year = Int32(year - 1900)
        parts.tm_mon = Int32(month - 1)
        parts.tm_mday = Int32(day)
        parts.tm_hour = Int32(hour)
        parts.tm_min = Int32(minute)
        parts.tm_sec = Int32(second)
        let seconds = timegm(&parts)
        return Date(unixMilliseconds: Int64(seconds) * 1000 + Int64(millis))
    }

    /// A value from outside (a header, an event id) made safe for a log line or a store key:
    /// printable ASCII only, at most `limit` characters.
    public static func bounded(_ value: String, limit: Int = 100) -> String {
        String(String(value.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }).prefix(limit))
    }

    /// `n` in decimal, left-padded with zeros to `width`.
    public static func pad(_ n: Int, _ width: Int) -> String {
        let digits = String(n)
        return digits.count >= width ? digits : String(repeating: "0", count: width - digits.count) + digits
    }

    /// `%XX` for one byte (upper-case hex).
    public static func percentEscape(_ byte: UInt8) -> String {
        let digits = Array("0123456789ABCDEF".unicodeScalars)
        var out = "%"
        out.unicodeScalars.append(digits[Int(byte >> 4)])
        out.unicodeScalars.append(digits[Int(byte & 0x0F)])
        return out
    }

    /// Parses a plain decimal such as `0.01` or `-12.5` exactly (no exponent, no grouping).
    public static func decimal(_ text: String) -> Decimal? {
        guard let match = try? /^(-?)([0-9]{1,30})(?:\.([0-9]{1,18}))?$/.wholeMatch(in: text) else { return nil }
        let fraction = match.3.map(String.init) ?? ""
        guard let significand = Decimal(string: String(match.2) + fraction) else { return nil }
        var value = Decimal(sign: match.1.isEmpty ? .plus : .minus, exponent: -fraction.count, significand: significand)
        if value.isZero { value = 0 }
        return value
    }
}
