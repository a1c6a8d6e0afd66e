import Foundation

/// Money in minor units (cents), as WooCommerce rounds it: two decimals, half away from zero.
enum Money {
    /// "19.99", "5", "10.5", 19.99 → cents; `nil` when not a number.
    static func cents(_ text: String) -> Int? {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty, let d = Decimal(string: t, locale: Locale(identifier: "en_US_POSIX")) else { return nil }
        var scaled = d * 100
        var rounded = Decimal()
        NSDecimalRound(&rounded, &scaled, 0, .plain)
        return NSDecimalNumber(decimal: rounded).intValue
    }

    /// Cents from a JSON string or number.
    static func cents(_ value: WooJSON?) -> Int? {
        switch value {
        case .string(let s)?: return cents(s)
        case .int(let i)?: return i * 100
        case .double(let d)?: return cents(String(d))
        default: return nil
        }
    }

    /// "19.99", "-1.30", "0.00".
    static func string(_ cents: Int) -> String {
        let sign = cents < 0 ? "-" : ""
        let a = abs(cents)
        let fraction = a % 100
        return "\(sign)\(a / 100).\(fraction < 10 ? "0" : "")\(fraction)"
    }

    /// PHP's float-to-string of an amount: "6", "5.5", "0.35" (the coupon line's `discount`).
    static func phpFloatString(_ cents: Int) -> String {
        WooJSON.phpNumber(Double(cents) / 100)
    }

    /// `cents × rate%` rounded half away from zero; `rate` in ten-thousandths of a percent
    /// (7.2500 % = 72500).
    static func tax(_ cents: Int, rate: Int) -> Int {
        let product = cents * rate
        let divisor = 1_000_000
        let q = abs(product) / divisor, r = abs(product) % divisor
        let magnitude = q + (r * 2 >= divisor ? 1 : 0)
        return product < 0 ? -magnitude : magnitude
    }
}

/// The store's date format: local time without a zone, the `_gmt` twin in UTC.
struct WooDate {
    static func format(_ date: Date, offsetSeconds: Int = 0) -> String {
        var t = time_t(Int(date.timeIntervalSince1970.rounded(.down)) + offsetSeconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func two(_ v: Int32) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(parts.tm_year + 1900)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))"
    }

    /// Parses `2026-11-26T19:05:00` (an optional zone suffix is ignored) as UTC.
    static func parse(_ text: String) -> Date? {
        let core = String(text.prefix(19))
        let digits = core.split(whereSeparator: { "-T: ".contains($0) }).compactMap { Int($0) }
        guard digits.count >= 3 else { return nil }
        var parts = DateComponents()
        parts.timeZone = TimeZone(identifier: "UTC")
        parts.year = digits[0]; parts.month = digits[1]; parts.day = digits[2]
        parts.hour = digits.count > 3 ? digits[3] : 0
        parts.minute = digits.count > 4 ? digits[4] : 0
        parts.second = digits.count > 5 ? digits[5] : 0
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: parts)
    }
}
