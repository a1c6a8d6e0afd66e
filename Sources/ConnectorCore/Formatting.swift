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

    /// Parses what `timestamp` writes, and RFC 3339 UTC without fractions or with up to nine
    /// fraction digits (milliseconds kept). Refuses impossible fields (February 30, hour 24,
    /// second 60) instead of rolling them over.
    public static func parseTimestamp(_ text: String) -> Date? {
        let u = Array(text.utf8)
        guard u.count >= 20, u.count <= 30, u[4] == 0x2D, u[7] == 0x2D, u[10] == 0x54, u[13] == 0x3A, u[16] == 0x3A, u.last == 0x5A else { return nil }
        func number(_ range: Range<Int>) -> Int? {
            var n = 0
            for i in range { guard (0x30...0x39).contains(u[i]) else { return nil }; n = n * 10 + Int(u[i] - 0x30) }
            return n
        }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
              let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19) else { return nil }
        var millis = 0
        if u.count > 20 {
            // ".f" to ".fffffffff": digits only; the first three are the milliseconds.
            let digits = u.count - 21
            guard u[19] == 0x2E, (1...9).contains(digits), number(20..<(u.count - 1)) != nil,
                  let kept = number(20..<(20 + min(3, digits))) else { return nil }
            millis = kept * [100, 10, 1][min(3, digits) - 1]
        }
        guard (1...12).contains(month), day >= 1, day <= daysIn(month: month, year: year), hour < 24, minute < 60, second < 60 else { return nil }
        let seconds = daysFromCivil(year: year, month: month, day: day) * 86_400 + hour * 3600 + minute * 60 + second
        return Date(unixMilliseconds: Int64(seconds) * 1000 + Int64(millis))
    }

    static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's `days_from_civil`) —
    /// what `timegm` computes, without glibc reading /etc/localtime on first use.
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Whether `text` contains `needle`, compared byte for byte. Foundation's `contains` and
    /// `range(of:)` on strings go through NSString on Linux — each first use a cold start's
    /// conformance scans, each call a bridge.
    public static func containsASCII(_ text: String, _ needle: StaticString) -> Bool {
        firstOffset(of: needle, in: text) != nil
    }

    /// The UTF-8 offset where `needle` first occurs in `text`; nil for an empty needle, as
    /// `range(of:)` answers.
    public static func firstOffset(of needle: StaticString, in text: String) -> Int? {
        let n = needle.utf8CodeUnitCount
        guard n > 0 else { return nil }
        var text = text
        return text.withUTF8 { haystack in
            needle.withUTF8Buffer { pattern in
                guard haystack.count >= n else { return nil }
                for start in 0...(haystack.count - n) where haystack[start] == pattern[0] {
                    var k = 1
                    while k < n, haystack[start + k] == pattern[k] { k += 1 }
                    if k == n { return start }
                }
                return nil
            }
        }
    }

    /// A value from outside (a header, an event id) made safe for a log line or a store key:
    /// printable ASCII only, at most `limit` characters.
    public static func bounded(_ value: String, limit: Int = 100) -> String {
        // Nearly every value already is short printable ASCII: return it as it is.
        if value.utf8.count <= limit, value.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) { return value }
        return String(String(value.unicodeScalars.filter { $0.value >= 0x20 && $0.value < 0x7F }).prefix(limit))
    }

    /// `text` without leading and trailing spaces and tabs (Unicode space separators and U+0009,
    /// what `CharacterSet.whitespaces` holds), and with `andNewlines` also line breaks (U+000A–D,
    /// U+0085, U+2028/9: `.whitespacesAndNewlines`). Pure Swift: Foundation's `trimmingCharacters`
    /// bridges through NSString, a measurable share of a webhook's CPU on Linux, and its first use
    /// costs a cold start runtime conformance scans.
    public static func trimmedSpaces(_ text: String, andNewlines: Bool = false) -> Substring {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool {
            switch scalar.value {
            case 0x20, 0x09: return true
            case 0x0A...0x0D, 0x85, 0x2028, 0x2029: return andNewlines
            case 0...0x7F: return false
            default: return scalar.properties.generalCategory == .spaceSeparator
            }
        }
        let scalars = text[...].unicodeScalars
        guard let first = scalars.firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isSpace($0) })!
        return Substring(scalars[first...last])
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

    /// Parses a plain decimal such as `0.01` or `-12.5` exactly (no exponent, no grouping):
    /// an optional `-`, 1–30 digits, then optionally `.` and 1–18 digits. Hand-scanned: it runs
    /// for every money field and setting read, and a regex costs a cold start ~0.5 ms.
    public static func decimal(_ text: String) -> Decimal? {
        var utf8 = Substring(text).utf8[...]
        let negative = utf8.first == UInt8(ascii: "-")
        if negative { utf8 = utf8.dropFirst() }
        let isDigit = { (byte: UInt8) in byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }
        let integer = utf8.prefix(while: isDigit)
        guard (1...30).contains(integer.count) else { return nil }
        var fraction = utf8[integer.endIndex...]
        if !fraction.isEmpty {
            guard fraction.first == UInt8(ascii: "."), (2...19).contains(fraction.count), fraction.dropFirst().allSatisfy(isDigit) else { return nil }
            fraction = fraction.dropFirst()
        }
        guard let significand = Decimal(string: String(decoding: integer, as: UTF8.self) + String(decoding: fraction, as: UTF8.self)) else { return nil }
        var value = Decimal(sign: negative ? .minus : .plus, exponent: -fraction.count, significand: significand)
        if value.isZero { value = 0 }
        return value
    }
}
