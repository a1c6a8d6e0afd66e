import Foundation

/// A `$filter` literal or property reference.
indirect enum FilterExpression: Sendable {
    case property(String)
    case string(String)
    case number(Decimal)
    case dateTime(Date, String)
    case bool(Bool)
    case null
    /// `Microsoft.Dynamics.DataEntities.<EnumType>'<Member>'`.
    case enumLiteral(type: String, member: String)
    case compare(String, FilterExpression, FilterExpression)
    case and(FilterExpression, FilterExpression)
    case or(FilterExpression, FilterExpression)
    case not(FilterExpression)
}

/// Parses and checks `$filter` against an entity type (F&O's supported subset, reference §2.4).
struct FilterParser {
    enum Token: Equatable {
        case word(String)
        case string(String)
        case open, close, comma
        case qualifiedEnum(String, String)
    }

    let set: EntitySetSchema
    let schema: EmulatorSchema
    var tokens: [Token] = []
    var position = 0

    init(_ text: String, set: EntitySetSchema, schema: EmulatorSchema) throws(ODataError) {
        self.set = set
        self.schema = schema
        self.tokens = try FilterParser.tokenize(text)
    }

    static func tokenize(_ text: String) throws(ODataError) -> [Token] {
        var out: [Token] = []
        let chars = Array(text)
        var i = 0
        func readQuoted() throws(ODataError) -> String {
            var s = ""
            i += 1
            while i < chars.count {
                if chars[i] == "'" {
                    if i + 1 < chars.count, chars[i + 1] == "'" { s.append("'"); i += 2; continue }
                    i += 1
                    return s
                }
                s.append(chars[i])
                i += 1
            }
            throw .badRequest("The $filter expression has an unterminated string literal.")
        }
        while i < chars.count {
            let c = chars[i]
            if c == " " || c == "\t" { i += 1; continue }
            if c == "(" { out.append(.open); i += 1; continue }
            if c == ")" { out.append(.close); i += 1; continue }
            if c == "," { out.append(.comma); i += 1; continue }
            if c == "'" { out.append(.string(try readQuoted())); continue }
            var word = ""
            while i < chars.count, !" \t(),'".contains(chars[i]) { word.append(chars[i]); i += 1 }
            if i < chars.count, chars[i] == "'", word.contains(".") {
                out.append(.qualifiedEnum(word, try readQuoted()))
                continue
            }
            if word.isEmpty { throw .badRequest("Syntax error at position \(i) in '\(text)'.") }
            out.append(.word(word))
        }
        return out
    }

    mutating func parse() throws(ODataError) -> FilterExpression {
        let e = try parseOr()
        if position < tokens.count { throw .badRequest("Syntax error: unexpected '\(describe(tokens[position]))' in $filter.") }
        return e
    }

    func describe(_ t: Token) -> String {
        switch t {
        case .word(let w): return w
        case .string(let s): return "'\(s)'"
        case .open: return "("
        case .close: return ")"
        case .comma: return ","
        case .qualifiedEnum(let t, let m): return "\(t)'\(m)'"
        }
    }

    func peekWord() -> String? {
        guard position < tokens.count, case .word(let w) = tokens[position] else { return nil }
        return w
    }

    mutating func parseOr() throws(ODataError) -> FilterExpression {
        var left = try parseAnd()
        while peekWord() == "or" { position += 1; left = .or(left, try parseAnd()) }
        return left
    }

    mutating func parseAnd() throws(ODataError) -> FilterExpression {
        var left = try parseUnary()
        while peekWord() == "and" { position += 1; left = .and(left, try parseUnary()) }
        return left
    }

    mutating func parseUnary() throws(ODataError) -> FilterExpression {
        if peekWord() == "not" { position += 1; return .not(try parseUnary()) }
        return try parseComparison()
    }

    static let comparisons: Set<String> = ["eq", "ne", "gt", "ge", "lt", "le"]

    mutating func parseComparison() throws(ODataError) -> FilterExpression {
        let left = try parsePrimary()
        guard let op = peekWord() else { return left }
        if op == "in" || op == "has" {
            throw .badRequest("The query specified in the URI is not valid. The '\(op)' operator is not supported.")
        }
        if ["add", "sub", "mul", "div", "divby", "mod"].contains(op) {
            throw .badRequest("The query specified in the URI is not valid. The arithmetic operator '\(op)' is not supported by the emulator.")
        }
        guard FilterParser.comparisons.contains(op) else { return left }
        position += 1
        let right = try parsePrimary()
        try check(op, left, right)
        return .compare(op, left, right)
    }

    mutating func parsePrimary() throws(ODataError) -> FilterExpression {
        guard position < tokens.count else { throw .badRequest("Syntax error: the $filter expression ends unexpectedly.") }
        let t = tokens[position]
        position += 1
        switch t {
        case .open:
            let e = try parseOr()
            guard position < tokens.count, tokens[position] == .close else { throw .badRequest("Syntax error: ')' expected in $filter.") }
            position += 1
            return e
        case .string(let s): return .string(s)
        case .qualifiedEnum(let type, let member):
            let prefix = dataEntitiesNamespace + "."
            guard type.hasPrefix(prefix), schema.enums[String(type.dropFirst(prefix.count))] != nil else {
                throw .badRequest("The query specified in the URI is not valid. The enum type '\(type)' is not defined.")
            }
            let name = String(type.dropFirst(prefix.count))
            guard schema.isMember(member, of: name) else {
                throw .badRequest("The query specified in the URI is not valid. The string '\(member)' is not a valid enumeration type constant of '\(type)'.")
            }
            return .enumLiteral(type: name, member: member)
        case .word(let w):
            if w == "true" { return .bool(true) }
            if w == "false" { return .bool(false) }
            if w == "null" { return .null }
            if let first = w.first, first.isNumber || first == "-" {
                if w.contains("T"), let date = ISODate.parse(w) { return .dateTime(date, w) }
                if let d = Decimal(string: w.trimmingCharacters(in: CharacterSet(charactersIn: "mMdDlLfF")), locale: Locale(identifier: "en_US_POSIX")) { return .number(d) }
                throw .badRequest("Syntax error: '\(w)' is not a valid literal in $filter.")
            }
            if position < tokens.count, tokens[position] == .open {
                throw .badRequest("The query specified in the URI is not valid. The function '\(w)' is not supported; use '*' wildcards inside an eq string literal.")
            }
            guard set.property(w) != nil else {
                throw .badRequest("Could not find a property named '\(w)' on type '\(set.entityType)'.")
            }
            return .property(w)
        default:
            throw .badRequest("Syntax error: unexpected '\(describe(t))' in $filter.")
        }
    }

    /// Type rules: enums only eq/ne against a qualified literal of their own type; strings
    /// against strings; numbers against numbers; date-times against unquoted date-times.
    func check(_ op: String, _ left: FilterExpression, _ right: FilterExpression) throws(ODataError) {
        var property: PropertySchema?
        var literal: FilterExpression?
        if case .property(let p) = left { property = set.property(p); literal = right }
        else if case .property(let p) = right { property = set.property(p); literal = left }
        guard let property, let literal else { return }
        if case .property = literal { return }
        if case .null = literal { return }
        func incompatible(_ what: String) -> ODataError {
            .badRequest("A binary operator with incompatible types was detected. Found operand types '\(property.edmType)' and '\(what)' for operator kind '\(op)' on property '\(property.name)'.")
        }
        switch property.kind {
        case .enumeration(let enumName):
            guard case .enumLiteral(let type, _) = literal else {
                if case .string = literal { throw incompatible("Edm.String") }
                throw incompatible("literal")
            }
            guard type == enumName else { throw incompatible(dataEntitiesNamespace + "." + type) }
            guard op == "eq" || op == "ne" else { throw .badRequest("The operator '\(op)' is not supported for enum property '\(property.name)'; use eq or ne.") }
        case .string:
            guard case .string = literal else { throw incompatible(FilterParser.typeName(literal)) }
        case .decimal, .int32, .int64, .double:
            guard case .number = literal else { throw incompatible(FilterParser.typeName(literal)) }
        case .dateTimeOffset:
            guard case .dateTime = literal else { throw incompatible(FilterParser.typeName(literal)) }
        case .boolean:
            guard case .bool = literal else { throw incompatible(FilterParser.typeName(literal)) }
        case .other: break
        }
    }

    static func typeName(_ e: FilterExpression) -> String {
        switch e {
        case .string: return "Edm.String"
        case .number: return "Edm.Decimal"
        case .dateTime: return "Edm.DateTimeOffset"
        case .bool: return "Edm.Boolean"
        case .enumLiteral(let t, _): return dataEntitiesNamespace + "." + t
        default: return "unknown"
        }
    }
}

/// Evaluates a checked filter on one row.
struct FilterEvaluator {
    let store: DataStore
    let set: EntitySetSchema

    func matches(_ e: FilterExpression, _ row: StoredRow) -> Bool {
        switch e {
        case .and(let a, let b): return matches(a, row) && matches(b, row)
        case .or(let a, let b): return matches(a, row) || matches(b, row)
        case .not(let a): return !matches(a, row)
        case .compare(let op, let l, let r): return compare(op, l, r, row)
        case .bool(let b): return b
        case .property(let p): return store.value(row, p, in: set) == .bool(true)
        default: return false
        }
    }

    enum Operand { case text(String), number(Decimal), date(Date), bool(Bool), null }

    /// Positions (ascending) of every row `e` can match, from `table`'s indexes: `field eq
    /// 'text'` on an indexed string field (no `*` wildcard), either side of an `and`, both
    /// sides of an `or`. nil when the expression gives no such hold: every row is a candidate.
    static func candidates(_ e: FilterExpression, in table: Table, set: EntitySetSchema) -> [Int]? {
        switch e {
        case .and(let a, let b):
            return candidates(a, in: table, set: set) ?? candidates(b, in: table, set: set)
        case .or(let a, let b):
            guard let x = candidates(a, in: table, set: set), let y = candidates(b, in: table, set: set) else { return nil }
            return Table.merged(x, y)
        case .compare("eq", .property(let p), .string(let s)), .compare("eq", .string(let s), .property(let p)):
            guard set.property(p)?.kind == .string, !s.contains("*") else { return nil }
            return table.candidates(p, s)
        default:
            return nil
        }
    }

    func operand(_ e: FilterExpression, _ row: StoredRow) -> Operand {
        switch e {
        case .property(let p):
            let v = store.value(row, p, in: set)
            if set.property(p)?.kind == .dateTimeOffset, let s = v.stringValue, let d = ISODate.parse(s) { return .date(d) }
            switch v {
            case .string(let s): return .text(s)
            case .number(let d): return .number(d)
            case .bool(let b): return .bool(b)
            default: return .null
            }
        case .string(let s): return .text(s)
        case .number(let d): return .number(d)
        case .dateTime(let d, _): return .date(d)
        case .bool(let b): return .bool(b)
        case .enumLiteral(_, let m): return .text(m)
        default: return .null
        }
    }

    func compare(_ op: String, _ l: FilterExpression, _ r: FilterExpression, _ row: StoredRow) -> Bool {
        let a = operand(l, row)
        let b = operand(r, row)
        let order: ComparisonResult?
        switch (a, b) {
        case (.text(let x), .text(let y)):
            // `*` inside an eq/ne literal is F&O's wildcard; comparisons ignore case (SQL collation).
            if op == "eq" || op == "ne" {
                let pattern: String? = if case .string(let s) = r, s.contains("*") { s } else if case .string(let s) = l, s.contains("*") { s } else { nil }
                if let pattern {
                    let value: String = if case .string = r { x } else { y }
                    let hit = FilterEvaluator.wildcard(value, pattern)
                    return op == "eq" ? hit : !hit
                }
            }
            order = x.compare(y, options: [.caseInsensitive])
        case (.number(let x), .number(let y)): order = x < y ? .orderedAscending : (x > y ? .orderedDescending : .orderedSame)
        case (.date(let x), .date(let y)): order = x.compare(y)
        case (.bool(let x), .bool(let y)): order = x == y ? .orderedSame : .orderedAscending
        case (.null, .null): order = .orderedSame
        default: order = nil
        }
        guard let order else { return op == "ne" }
        switch op {
        case "eq": return order == .orderedSame
        case "ne": return order != .orderedSame
        case "gt": return order == .orderedDescending
        case "ge": return order != .orderedAscending
        case "lt": return order == .orderedAscending
        case "le": return order != .orderedDescending
        default: return false
        }
    }

    static func wildcard(_ value: String, _ pattern: String) -> Bool {
        let regex = "^" + pattern.components(separatedBy: "*").map(NSRegularExpression.escapedPattern(for:)).joined(separator: ".*") + "$"
        return value.range(of: regex, options: [.regularExpression, .caseInsensitive]) != nil
    }
}

/// Parses an OData key segment such as `dataAreaId='usmf',CustomerAccount='O''Brien'` or
/// `LineNumber=1`; a lone value is allowed for single-key entities.
enum KeyParser {
    static func parse(_ text: String, set: EntitySetSchema) throws(ODataError) -> [String: ODataValue] {
        var parts: [(String?, String)] = []
        var current = ""
        var inQuote = false
        let chars = Array(text)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "'" {
                if inQuote, i + 1 < chars.count, chars[i + 1] == "'" { current.append("''"); i += 2; continue }
                inQuote.toggle()
                current.append(c)
            } else if c == ",", !inQuote {
                parts.append(split(current))
                current = ""
            } else {
                current.append(c)
            }
            i += 1
        }
        if !current.isEmpty { parts.append(split(current)) }
        var out: [String: ODataValue] = [:]
        if parts.count == 1, parts[0].0 == nil, set.keys.count == 1 {
            out[set.keys[0]] = try literal(parts[0].1, property: set.property(set.keys[0])!, set: set)
            return out
        }
        for (name, raw) in parts {
            guard let name, let property = set.property(name), set.keys.contains(name) else {
                throw .badRequest("The key segment '\(text)' is not valid for type '\(set.entityType)'; key properties are \(set.keys.joined(separator: ", ")).")
            }
            out[name] = try literal(raw, property: property, set: set)
        }
        if out.count < set.keys.count {
            throw .badRequest("Only \(out.count) of \(set.keys.count) keys provided for lookup, provide keys for \(set.keys.joined(separator: ", ")).")
        }
        return out
    }

    static func split(_ s: String) -> (String?, String) {
        guard let eq = s.firstIndex(of: "="), !s.hasPrefix("'") else { return (nil, s.trimmingCharacters(in: .whitespaces)) }
        return (String(s[..<eq]).trimmingCharacters(in: .whitespaces), String(s[s.index(after: eq)...]).trimmingCharacters(in: .whitespaces))
    }

    static func literal(_ raw: String, property: PropertySchema, set: EntitySetSchema) throws(ODataError) -> ODataValue {
        if raw.hasPrefix("'"), raw.hasSuffix("'"), raw.count >= 2 {
            let inner = String(raw.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
            guard property.kind == .string || property.kind.isEnumLike else {
                throw .badRequest("The key value \(raw) is not valid for key property '\(property.name)' of type '\(property.edmType)'.")
            }
            return .string(property.name == "dataAreaId" ? inner.lowercased() : inner)
        }
        switch property.kind {
        case .decimal, .int32, .int64, .double:
            let text = raw.trimmingCharacters(in: CharacterSet(charactersIn: "mMlLdD"))
            if let d = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) { return .number(d) }
        case .dateTimeOffset:
            if ISODate.parse(raw) != nil { return .string(raw) }
        default: break
        }
        throw .badRequest("The key value '\(raw)' is not valid for key property '\(property.name)' of type '\(property.edmType)'.")
    }
}

extension EDMKind {
    var isEnumLike: Bool {
        if case .enumeration = self { return true }
        return false
    }
}
