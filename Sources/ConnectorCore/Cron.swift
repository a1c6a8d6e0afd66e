import Foundation

/// A standard five-field cron expression — `minute hour day-of-month month day-of-week` — as
/// Kubernetes CronJob and Knative PingSource read it (runtimes.md §2.7, §3), so a connection's
/// `schedules` fire at the same instants under `mlc run` as under the generated manifests.
///
/// Each field takes `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n` (from `a` to the
/// field's end), and comma-separated lists of those. Months also take `JAN`…`DEC`, days of the
/// week `SUN`…`SAT` (case-insensitive); day-of-week 0 and 7 are both Sunday. The macros
/// `@yearly` (`@annually`), `@monthly`, `@weekly`, `@daily` (`@midnight`) and `@hourly` stand
/// for their five-field forms.
///
/// Day-of-month and day-of-week follow the cron rule: when both are restricted (neither field
/// starts with `*`), a day matches when EITHER matches (`0 0 1 * MON` fires on the 1st and on
/// every Monday); when one starts with `*`, a day must match both — so with a plain `*` only
/// the other field decides, and `0 0 */10 * MON` fires on Mondays that are the 1st, 11th,
/// 21st or 31st (Vixie cron's rule, which Kubernetes and Knative share through robfig/cron).
///
/// An expression that can never fire (`0 0 30 2 *`, `0 0 31 4,6,9,11 *`) is rejected when
/// parsed, so a connection can never carry a schedule that silently never runs.
public struct CronExpression: Sendable, Equatable, CustomStringConvertible {
    /// The expression as written (trimmed).
    public let text: String
    let minutes: UInt64
    let hours: UInt64
    let daysOfMonth: UInt64
    let months: UInt64
    /// Bit 0 = Sunday … bit 6 = Saturday (7 folded onto 0).
    let daysOfWeek: UInt64
    /// The day-of-month field does not start with `*`.
    let dayOfMonthRestricted: Bool
    /// The day-of-week field does not start with `*`.
    let dayOfWeekRestricted: Bool

    public var description: String { text }

    /// One field's rules: its name in errors, its bounds, its names.
    struct Field {
        let name: String
        let position: String
        let low: Int
        let high: Int
        let names: [String: Int]
        var allowed: String
    }

    static let monthNames = ["JAN": 1, "FEB": 2, "MAR": 3, "APR": 4, "MAY": 5, "JUN": 6, "JUL": 7, "AUG": 8, "SEP": 9, "OCT": 10, "NOV": 11, "DEC": 12]
    static let dayNames = ["SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6]
    static let fields = [
        Field(name: "minute", position: "first", low: 0, high: 59, names: [:], allowed: "0-59"),
        Field(name: "hour", position: "second", low: 0, high: 23, names: [:], allowed: "0-23"),
        Field(name: "day-of-month", position: "third", low: 1, high: 31, names: [:], allowed: "1-31"),
        Field(name: "month", position: "fourth", low: 1, high: 12, names: monthNames, allowed: "1-12 or JAN-DEC"),
        Field(name: "day-of-week", position: "fifth", low: 0, high: 7, names: dayNames, allowed: "0-7 (0 and 7 are Sunday) or SUN-SAT"),
    ]
    static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]
    static let example = "*/5 * * * * (every 5 minutes) or 0 2 * * MON-FRI (02:00 on weekdays)"

    /// Parses `text`; throws `ConnectorError.invalidInput` naming the field, what is wrong with
    /// it and how to write it instead.
    public init(_ text: String) throws {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        self.text = trimmed
        var source = trimmed
        if trimmed.hasPrefix("@") {
            guard let expanded = Self.macros[trimmed.lowercased()] else {
                throw ConnectorError.invalidInput(
                    "cron expression '\(Formatting.bounded(trimmed))' uses an unknown macro",
                    fix: "use five fields such as \(Self.example), or one of \(Self.macros.keys.sorted().joined(separator: ", "))")
            }
            source = expanded
        }
        let parts = source.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard parts.count == 5 else {
            let hint: String
            switch parts.count {
            case 6: hint = "six fields look like Quartz cron with seconds first: drop the seconds field"
            case 0: hint = "the expression is empty"
            default: hint = "it has \(parts.count) field\(parts.count == 1 ? "" : "s")"
            }
            throw ConnectorError.invalidInput(
                "cron expression '\(Formatting.bounded(trimmed))' must have five fields (minute hour day-of-month month day-of-week); \(hint)",
                fix: "write it like \(Self.example)")
        }
        var sets: [UInt64] = []
        for (index, part) in parts.enumerated() {
            sets.append(try Self.parse(part, Self.fields[index], expression: trimmed))
        }
        minutes = sets[0]
        hours = sets[1]
        daysOfMonth = sets[2]
        months = sets[3]
        // 7 is Sunday as well as 0.
        daysOfWeek = (sets[4] & 0x7F) | ((sets[4] >> 7) & 1)
        dayOfMonthRestricted = !parts[2].hasPrefix("*")
        dayOfWeekRestricted = !parts[4].hasPrefix("*")

        // A day-of-month that no chosen month has (and no weekday to fall back on) never fires.
        if dayOfMonthRestricted && !dayOfWeekRestricted {
            let longest = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
            let reachable = (1...12).contains { month in
                months & (1 << UInt64(month)) != 0 && (1...longest[month - 1]).contains { daysOfMonth & (1 << UInt64($0)) != 0 }
            }
            guard reachable else {
                throw ConnectorError.invalidInput(
                    "cron expression '\(Formatting.bounded(trimmed))' never fires: no month it names has the day-of-month '\(parts[2])'",
                    fix: "pick a day every chosen month has (1-28 is safe for all; 29 February only exists in leap years)")
            }
        }
    }

    /// Parses one field into a bit set of its allowed values.
    static func parse(_ text: String, _ field: Field, expression: String) throws -> UInt64 {
        func fail(_ problem: String, fix: String? = nil) -> ConnectorError {
            .invalidInput("cron expression '\(Formatting.bounded(expression))': the \(field.name) field (\(field.position)) \(problem)",
                          fix: fix ?? "the \(field.name) field takes \(field.allowed), ranges a-b, steps */n or a-b/n, and lists a,b — e.g. \(example)")
        }
        func value(_ token: Substring) throws -> Int {
            let upper = token.uppercased()
            if let named = field.names[upper] { return named }
            guard !token.isEmpty, token.allSatisfy({ $0.isASCII && $0.isNumber }), let number = Int(token) else {
                if token.isEmpty { throw fail("has an empty value in '\(text)'") }
                throw fail("has '\(Formatting.bounded(String(token), limit: 20))', which is not a number\(field.names.isEmpty ? "" : " or a name")")
            }
            guard (field.low...field.high).contains(number) else {
                throw fail("has \(number), outside \(field.low)-\(field.high)", fix: "use \(field.allowed)")
            }
            return number
        }
        var set: UInt64 = 0
        for item in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !item.isEmpty else { throw fail("has an empty list item in '\(text)'") }
            let pieces = item.split(separator: "/", omittingEmptySubsequences: false)
            guard pieces.count <= 2 else { throw fail("has more than one '/' in '\(item)'") }
            var step = 1
            if pieces.count == 2 {
                guard let parsed = Int(pieces[1]), pieces[1].allSatisfy({ $0.isASCII && $0.isNumber }) else {
                    throw fail("has the step '\(Formatting.bounded(String(pieces[1]), limit: 20))', which is not a number")
                }
                guard parsed >= 1 else { throw fail("has the step 0", fix: "use a step of 1 or more, e.g. */5") }
                guard parsed <= field.high else {
                    throw fail("has the step \(parsed), larger than the field's range \(field.low)-\(field.high)")
                }
                step = parsed
            }
            let range = pieces[0]
            let low: Int, high: Int
            if range == "*" {
                low = field.low
                high = field.name == "day-of-week" ? 6 : field.high
            } else if let dash = range.firstIndex(of: "-") {
                low = try value(range[..<dash])
                high = try value(range[range.index(after: dash)...])
                guard low <= high else {
                    throw fail("has the range \(range), which runs backwards", fix: "write the smaller value first, or list both ends: e.g. 22-23,0-2")
                }
            } else {
                low = try value(range)
                // `a/n` runs from a to the field's end.
                high = pieces.count == 2 ? (field.name == "day-of-week" ? 6 : field.high) : low
            }
            for v in stride(from: low, through: high, by: step) { set |= 1 << UInt64(v) }
        }
        return set
    }

    /// True when the minute containing `date` (seconds ignored) is a fire time in `timeZone`.
    public func matches(_ date: Date, timeZone: TimeZone = TimeZone(identifier: "UTC")!) -> Bool {
        let parts = Self.calendar(timeZone).dateComponents([.month, .day, .hour, .minute, .weekday], from: date)
        return months & (1 << UInt64(parts.month!)) != 0 && dayMatches(day: parts.day!, weekday: parts.weekday! - 1)
            && hours & (1 << UInt64(parts.hour!)) != 0 && minutes & (1 << UInt64(parts.minute!)) != 0
    }

    func dayMatches(day: Int, weekday: Int) -> Bool {
        let domHit = daysOfMonth & (1 << UInt64(day)) != 0
        let dowHit = daysOfWeek & (1 << UInt64(weekday)) != 0
        // Vixie cron, and robfig/cron under Kubernetes and Knative: OR only when neither field
        // starts with `*`; otherwise both must match (a plain `*` matches every day anyway).
        return dayOfMonthRestricted && dayOfWeekRestricted ? domHit || dowHit : domHit && dowHit
    }

    /// The first fire time strictly after `date` (whole minutes, seconds zero), read on the
    /// wall clock of `timeZone` (UTC by default: connection schedules are UTC). Where daylight
    /// saving moves the wall clock, a wall time that does not occur that day is skipped and one
    /// that occurs twice fires twice — every instant is judged by the wall time it shows.
    /// nil only if nothing matches within the next eight years (an accepted expression always
    /// fires sooner: 29 February is the rarest day it can name).
    public func next(after date: Date, timeZone: TimeZone = TimeZone(identifier: "UTC")!) -> Date? {
        let calendar = Self.calendar(timeZone)
        var t = Date(timeIntervalSince1970: (date.timeIntervalSince1970 / 60).rounded(.down) * 60 + 60)
        let limit = t.addingTimeInterval(8 * 366 * 86_400)
        while t < limit {
            let p = calendar.dateComponents([.year, .month, .day, .hour, .minute, .weekday], from: t)
            let (year, month, day, hour, minute) = (p.year!, p.month!, p.day!, p.hour!, p.minute!)
            var jump: Date?
            if months & (1 << UInt64(month)) == 0 {
                jump = calendar.date(from: DateComponents(year: year, month: month + 1, day: 1, hour: 0, minute: 0))
            } else if !dayMatches(day: day, weekday: p.weekday! - 1) {
                jump = calendar.date(from: DateComponents(year: year, month: month, day: day + 1, hour: 0, minute: 0))
            } else if hours & (1 << UInt64(hour)) == 0 {
                jump = t.addingTimeInterval(Double(60 - minute) * 60)
            } else if minutes & (1 << UInt64(minute)) == 0 {
                let later = stride(from: minute + 1, through: 59, by: 1).first { minutes & (1 << UInt64($0)) != 0 }
                jump = t.addingTimeInterval(Double((later ?? 60) - minute) * 60)
            } else {
                return t
            }
            // Always forward, whatever a calendar does around a daylight-saving change.
            guard let next = jump, next > t else { t = t.addingTimeInterval(60); continue }
            t = next
        }
        return nil
    }

    static func calendar(_ timeZone: TimeZone) -> Calendar {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = timeZone
        return calendar
    }
}
