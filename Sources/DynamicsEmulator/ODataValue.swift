import Foundation

/// A JSON value as the emulator stores and serves it. Numbers keep their decimal text
/// (`Decimal`, never `Double`), so money survives a round trip exactly; objects keep key order.
public enum ODataValue: Sendable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case number(Decimal)
    case string(String)
    case array([ODataValue])
    case object(ODataObject)

    /// The string, or `nil` for any other kind.
    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// The number, or `nil` for any other kind.
    public var decimalValue: Decimal? {
        if case .number(let d) = self { return d }
        return nil
    }

    /// The number as an `Int` when it is integral.
    public var intValue: Int? {
        guard case .number(let d) = self, d.isIntegral else { return nil }
        return NSDecimalNumber(decimal: d).intValue
    }

    /// The object, or `nil`.
    public var objectValue: ODataObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// The array, or `nil`.
    public var arrayValue: [ODataValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// Member `key` of an object.
    public subscript(key: String) -> ODataValue? {
        objectValue?[key]
    }

    /// Compact JSON text.
    public var description: String { String(decoding: encoded(), as: UTF8.self) }

    /// Parses JSON text, keeping number text as `Decimal` and object key order.
    public static func parse(json bytes: [UInt8]) throws -> ODataValue { try ODataJSON.parse(bytes) }

    /// Compact JSON bytes.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        ODataJSON.write(self, to: &out)
        return out
    }
}

extension ODataValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByNilLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(Decimal(value)) }
    /// Goes through the shortest text of the double (`19.99` stays 19.99).
    public init(floatLiteral value: Double) { self = .number(Decimal(string: "\(value)") ?? Decimal(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: ODataValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, ODataValue)...) { self = .object(ODataObject(elements)) }

    /// A number from its decimal text, e.g. `.decimal("19.99")`.
    public static func decimal(_ text: String) -> ODataValue { .number(Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))!) }
}

/// A JSON object with keys in insertion order.
public struct ODataObject: Sendable, Equatable {
    /// Keys in order.
    public private(set) var keys: [String] = []
    private var storage: [String: ODataValue] = [:]

    public init() {}

    public init(_ pairs: [(String, ODataValue)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public subscript(key: String) -> ODataValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Pairs in key order.
    public var pairs: [(key: String, value: ODataValue)] { keys.map { ($0, storage[$0]!) } }

    public var count: Int { keys.count }

    public static func == (a: ODataObject, b: ODataObject) -> Bool { a.keys == b.keys && a.storage == b.storage }
}

/// A record as the emulator renders it: every property of the entity in metadata order (plus
/// `@odata.etag`), with typed accessors for tests and seeds.
public struct ODataRecord: Sendable, Equatable {
    /// The rendered object.
    public var object: ODataObject

    public init(_ object: ODataObject) { self.object = object }

    public subscript(key: String) -> ODataValue? { object[key] }

    /// A string property (`""` is F&O's empty), or `nil` when absent / not a string.
    public func string(_ name: String) -> String? { object[name]?.stringValue }

    /// A numeric property as `Decimal`.
    public func decimal(_ name: String) -> Decimal? { object[name]?.decimalValue }

    /// A numeric property as `Int` when integral.
    public func int(_ name: String) -> Int? { object[name]?.intValue }
}

extension Decimal {
    var isIntegral: Bool {
        var value = self
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, 0, .plain)
        return rounded == self
    }

    /// Rounded half away from zero to `scale` places (F&O's amount rounding for display).
    func rounded(scale: Int) -> Decimal {
        var value = self
        var result = Decimal()
        NSDecimalRound(&result, &value, scale, .plain)
        return result
    }

    /// Plain decimal text without exponent, `.` separator.
    var plainText: String {
        NSDecimalNumber(decimal: self).description(withLocale: Locale(identifier: "en_US_POSIX"))
    }
}

/// Errors from ``ODataJSON/parse(_:)``.
struct JSONSyntaxError: Error, CustomStringConvertible {
    var offset: Int
    var reason: String
    var description: String { "Invalid JSON at offset \(offset): \(reason)" }
}

/// A small JSON reader/writer that keeps number text (for `Decimal`) and key order.
enum ODataJSON {
    static func parse(_ bytes: [UInt8]) throws -> ODataValue {
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        if parser.index != bytes.count { throw JSONSyntaxError(offset: parser.index, reason: "trailing characters") }
        return value
    }

    static func parse(_ text: String) throws -> ODataValue { try parse(Array(text.utf8)) }

    struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        func fail(_ reason: String) -> JSONSyntaxError { JSONSyntaxError(offset: index, reason: reason) }

        mutating func value(depth: Int) throws -> ODataValue {
            guard depth < 64 else { throw fail("nesting too deep") }
            guard index < bytes.count else { throw fail("unexpected end") }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var object = ODataObject()
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                while true {
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw fail("expected a key") }
                    let key = try string()
                    skipSpace()
                    guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    index += 1
                    skipSpace()
                    object[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard index < bytes.count else { throw fail("unexpected end") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                index += 1
                var array: [ODataValue] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
                while true {
                    skipSpace()
                    array.append(try value(depth: depth + 1))
                    skipSpace()
                    guard index < bytes.count else { throw fail("unexpected end") }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    if bytes[index] == UInt8(ascii: "]") { index += 1; return .array(array) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                return .number(try number())
            }
        }

        mutating func literal(_ word: String) throws {
            let w = Array(word.utf8)
            guard index + w.count <= bytes.count, Array(bytes[index..<index + w.count]) == w else { throw fail("invalid literal") }
            index += w.count
        }

        mutating func number() throws -> Decimal {
            let start = index
            if index < bytes.count, bytes[index] == UInt8(ascii: "-") { index += 1 }
            var digits = 0
            while index < bytes.count, let b = Optional(bytes[index]),
                  (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) || b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E")
                    || ((b == UInt8(ascii: "+") || b == UInt8(ascii: "-")) && index > start && [UInt8(ascii: "e"), UInt8(ascii: "E")].contains(bytes[index - 1]))
            {
                if (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(b) { digits += 1 }
                index += 1
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            guard digits > 0, let d = Decimal(string: text, locale: Locale(identifier: "en_US_POSIX")) else {
                index = start
                throw fail("invalid value")
            }
            return d
        }

        mutating func string() throws -> String {
            index += 1
            var out: [UInt8] = []
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") { index += 1; return String(decoding: out, as: UTF8.self) }
                if b == UInt8(ascii: "\\") {
                    index += 1
                    guard index < bytes.count else { break }
                    let e = bytes[index]
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""): out.append(0x22)
                    case UInt8(ascii: "\\"): out.append(0x5C)
                    case UInt8(ascii: "/"): out.append(0x2F)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar), index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u") {
                            index += 2
                            let low = try hex4()
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        }
                        let s = Unicode.Scalar(scalar).map { String(Character($0)) } ?? "\u{FFFD}"
                        out.append(contentsOf: Array(s.utf8))
                    default: throw fail("invalid escape")
                    }
                } else {
                    out.append(b)
                    index += 1
                }
            }
            throw fail("unterminated string")
        }

        mutating func hex4() throws -> UInt32 {
            guard index + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else { throw fail("invalid \\u escape") }
            index += 4
            return v
        }
    }

    static func write(_ value: ODataValue, to out: inout [UInt8]) {
        switch value {
        case .null: out.append(contentsOf: Array("null".utf8))
        case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case .number(let d): out.append(contentsOf: Array(d.plainText.utf8))
        case .string(let s): writeString(s, to: &out)
        case .array(let a):
            out.append(UInt8(ascii: "["))
            for (i, v) in a.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                write(v, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let o):
            out.append(UInt8(ascii: "{"))
            for (i, pair) in o.pairs.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                writeString(pair.key, to: &out)
                out.append(UInt8(ascii: ":"))
                write(pair.value, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    static func writeString(_ s: String, to out: inout [UInt8]) {
        out.append(0x22)
        for b in s.utf8 {
            switch b {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0..<0x20: out.append(contentsOf: Array(String(format: "\\u%04x", b).utf8))
            default: out.append(b)
            }
        }
        out.append(0x22)
    }
}
