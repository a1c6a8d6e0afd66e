import Foundation

/// A `$filter` expression, built rather than concatenated so quoting and enum qualification
/// cannot be forgotten.
public indirect enum ODataFilter: Sendable, Equatable {
    case compare(String, Operator, ODataValue)
    case and([ODataFilter])
    case or([ODataFilter])

    public enum Operator: String, Sendable { case eq, ne, gt, ge, lt, le }

    public static func eq(_ property: String, _ value: ODataValue) -> ODataFilter { .compare(property, .eq, value) }
    public static func eq(_ property: String, _ text: String) -> ODataFilter { .compare(property, .eq, .string(text)) }
    public static func ge(_ property: String, _ value: ODataValue) -> ODataFilter { .compare(property, .ge, value) }

    /// `(P eq 'a' or P eq 'b' …)`: F&O supports no `in`.
    public static func anyOf(_ property: String, _ values: [String]) -> ODataFilter {
        .or(values.map { .eq(property, .string($0)) })
    }

    /// The expression text. A string compared with `eq` must not contain `*`: F&O reads it as
    /// a wildcard, so an exact match on such a value is impossible — keys the connector writes
    /// never contain one, and this is checked where they are made.
    public var text: String {
        switch self {
        case .compare(let property, let op, let value): "\(property) \(op.rawValue) \(value.literal)"
        case .and(let parts): parts.map { $0.grouped }.joined(separator: " and ")
        case .or(let parts): parts.map { $0.grouped }.joined(separator: " or ")
        }
    }

    private var grouped: String {
        switch self {
        case .compare: text
        case .and(let parts), .or(let parts): parts.count == 1 ? parts[0].grouped : "(" + text + ")"
        }
    }

    /// Every property the expression names (for the schema check in tests).
    public var properties: [String] {
        switch self {
        case .compare(let property, _, _): [property]
        case .and(let parts), .or(let parts): parts.flatMap(\.properties)
        }
    }
}

/// A read of one entity set: always scoped to a legal entity and `cross-company=true`, because
/// without it F&O silently shows only the service user's default company.
public struct ODataQuery: Sendable, Equatable {
    public var entitySet: String
    public var legalEntity: String?
    public var filter: ODataFilter?
    public var select: [String]
    public var orderBy: [String]
    public var top: Int?
    public var expand: String?

    /// `legalEntity` nil only for shared entities (Currencies, ProductsV2, …).
    public init(_ entitySet: String, legalEntity: String?, filter: ODataFilter? = nil, select: [String] = [], orderBy: [String] = [], top: Int? = nil, expand: String? = nil) {
        self.entitySet = entitySet
        self.legalEntity = legalEntity
        self.filter = filter
        self.select = select
        self.orderBy = orderBy
        self.top = top
        self.expand = expand
    }

    /// The complete filter, company scope first.
    public var effectiveFilter: ODataFilter? {
        var parts: [ODataFilter] = []
        if let legalEntity { parts.append(.eq("dataAreaId", .string(legalEntity.lowercased()))) }
        if let filter { parts.append(filter) }
        return parts.isEmpty ? nil : (parts.count == 1 ? parts[0] : .and(parts))
    }

    /// Path and query after the service root, percent-encoded: `SalesOrderHeadersV2?$filter=…`.
    public var pathAndQuery: String {
        var items: [(String, String)] = []
        if let filter = effectiveFilter { items.append(("$filter", filter.text)) }
        if !select.isEmpty { items.append(("$select", select.joined(separator: ","))) }
        if !orderBy.isEmpty { items.append(("$orderby", orderBy.joined(separator: ","))) }
        if let top { items.append(("$top", String(top))) }
        if let expand { items.append(("$expand", expand)) }
        items.append(("cross-company", "true"))
        return entitySet + "?" + items.map { $0.0 + "=" + ODataURL.encodeQueryValue($0.1) }.joined(separator: "&")
    }
}

/// A by-key address: `SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='000812')`.
public struct ODataKey: Sendable, Equatable {
    public var entitySet: String
    public var parts: [(name: String, value: ODataValue)]

    public init(_ entitySet: String, _ parts: KeyValuePairs<String, ODataValue>) {
        self.entitySet = entitySet
        self.parts = parts.map { ($0.key, $0.value) }
    }

    public var path: String {
        entitySet + "(" + parts.map { $0.name + "=" + ODataURL.encodePathLiteral($0.value.literal) }.joined(separator: ",") + ")"
    }

    public static func == (lhs: ODataKey, rhs: ODataKey) -> Bool { lhs.path == rhs.path }
}

enum ODataURL {
    /// RFC 3986 unreserved characters plus the few OData keeps readable (`$ ' ( ) , :`).
    private static let queryAllowed: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~$'(),:".utf8))
    private static let pathAllowed: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~$'(),:=".utf8))

    static func encodeQueryValue(_ text: String) -> String { encode(text, allowed: queryAllowed) }
    static func encodePathLiteral(_ text: String) -> String { encode(text, allowed: pathAllowed) }

    private static func encode(_ text: String, allowed: Set<UInt8>) -> String {
        var out = ""
        for byte in text.utf8 {
            if allowed.contains(byte) { out.unicodeScalars.append(UnicodeScalar(byte)) }
            else { out += "%" + String(byte, radix: 16, uppercase: true).leftPad(2) }
        }
        return out
    }
}
