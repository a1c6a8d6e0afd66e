import ConnectorCore
import Foundation

/// A value the connector writes to F&O, or compares against in a `$filter`.
///
/// F&O speaks JSON, but not all of it: no nulls (empty is `""`, `0`, the first enum member or a
/// 1900 date), enums as member names in bodies and namespace-qualified literals in filters, and
/// decimals that must reach the ledger exactly. This type keeps those rules in one place.
public enum ODataValue: Sendable, Equatable {
    case string(String)
    /// Money and quantities: written from the decimal's own digits, never through `Double`.
    case decimal(Decimal)
    case int(Int64)
    /// An enum member: a plain string in a body, `Namespace.Type'Member'` in a filter.
    case enumMember(type: String, member: String)
    /// An `Edm.DateTimeOffset`, always UTC.
    case dateTime(Date)
    /// A date-only field (X++ `date`): F&O carries it at noon UTC.
    case date(year: Int, month: Int, day: Int)

    /// The namespace every F&O entity and enum type lives in.
    public static let namespace = "Microsoft.Dynamics.DataEntities"

    /// The `NoYes` enum, the most common one.
    public static func noYes(_ value: Bool) -> ODataValue { .enumMember(type: "NoYes", member: value ? "Yes" : "No") }

    /// The date (in UTC) of `instant`, as a date-only value.
    public static func utcDate(of instant: Date) -> ODataValue {
        var seconds = time_t(instant.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return .date(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday))
    }

    /// The JSON text of this value inside a request body.
    public var jsonText: String {
        switch self {
        case .string(let text): ODataJSON.quoted(text)
        case .decimal(let value): ODataJSON.decimalText(value)
        case .int(let value): String(value)
        case .enumMember(_, let member): ODataJSON.quoted(member)
        case .dateTime(let instant): ODataJSON.quoted(ODataJSON.dateTimeText(instant))
        case .date(let year, let month, let day): ODataJSON.quoted(ODataJSON.dateText(year: year, month: month, day: day))
        }
    }

    /// The literal of this value in a `$filter` or a key segment.
    public var literal: String {
        switch self {
        case .string(let text): "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
        case .decimal(let value): ODataJSON.decimalText(value)
        case .int(let value): String(value)
        case .enumMember(let type, let member): "\(Self.namespace).\(type)'\(member)'"
        case .dateTime(let instant): ODataJSON.dateTimeText(instant)
        case .date(let year, let month, let day): ODataJSON.dateText(year: year, month: month, day: day)
        }
    }
}

/// A request body: properties in the order they were set (F&O does not care, people reading
/// the audit trail do), only those the connector means to set — F&O's business logic defaults
/// every omitted field, and sending `0` or `""` would override that.
public struct ODataRecord: Sendable, Equatable {
    public private(set) var fields: [(name: String, value: ODataValue)] = []

    public init() {}

    public init(_ fields: KeyValuePairs<String, ODataValue>) {
        for (name, value) in fields { self[name] = value }
    }

    /// Sets, replaces or (with `nil`) removes a property.
    public subscript(name: String) -> ODataValue? {
        get { fields.first { $0.name == name }?.value }
        set {
            if let index = fields.firstIndex(where: { $0.name == name }) {
                if let newValue { fields[index].value = newValue } else { fields.remove(at: index) }
            } else if let newValue {
                fields.append((name, newValue))
            }
        }
    }

    /// Property names in order.
    public var names: [String] { fields.map(\.name) }

    /// The JSON object text.
    public var jsonText: String {
        "{" + fields.map { ODataJSON.quoted($0.name) + ":" + $0.value.jsonText }.joined(separator: ",") + "}"
    }

    public static func == (lhs: ODataRecord, rhs: ODataRecord) -> Bool {
        lhs.fields.count == rhs.fields.count && zip(lhs.fields, rhs.fields).allSatisfy { $0.name == $1.name && $0.value == $1.value }
    }
}

/// JSON text helpers for what F&O accepts.
enum ODataJSON {
    static func quoted(_ text: String) -> String { JSONText.quoted(text) }

    /// A decimal's digits as JSON: `12.5`, `-0.35`, `40`. `Decimal.description` is locale-free
    /// and exact, which is why this never goes through `Double`.
    static func decimalText(_ value: Decimal) -> String {
        var value = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, 6, .plain)
        return rounded.description
    }

    static func dateTimeText(_ instant: Date) -> String {
        var seconds = time_t(instant.timeIntervalSince1970.rounded(.down))
        var parts = tm()
        gmtime_r(&seconds, &parts)
        return String(Int(parts.tm_year) + 1900).leftPad(4) + "-" + String(Int(parts.tm_mon) + 1).leftPad(2) + "-"
            + String(Int(parts.tm_mday)).leftPad(2) + "T" + String(Int(parts.tm_hour)).leftPad(2) + ":"
            + String(Int(parts.tm_min)).leftPad(2) + ":" + String(Int(parts.tm_sec)).leftPad(2) + "Z"
    }

    static func dateText(year: Int, month: Int, day: Int) -> String {
        String(year).leftPad(4) + "-" + String(month).leftPad(2) + "-" + String(day).leftPad(2) + "T12:00:00Z"
    }
}

extension String {
    func leftPad(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}
