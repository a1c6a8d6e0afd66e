import Foundation

/// A JSON value with object keys kept in insertion order, so bodies come out in the same key
/// order as WooCommerce's PHP arrays.
public enum WooJSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([WooJSON])
    case object(WooObject)

    /// The member `key` of an object, or `nil`.
    public subscript(key: String) -> WooJSON? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The string value, or the text of a number (PHP coerces both ways).
    public var stringValue: String? {
        switch self {
        case .string(let s): return s
        case .int(let i): return String(i)
        case .double(let d): return WooJSON.phpNumber(d)
        default: return nil
        }
    }

    /// The integer value of an int, an integral double, or a numeric string.
    public var intValue: Int? {
        switch self {
        case .int(let i): return i
        case .double(let d): return d.rounded() == d ? Int(d) : nil
        case .string(let s): return Int(s.trimmingCharacters(in: .whitespaces))
        default: return nil
        }
    }

    /// `true`/`false`, also from PHP-ish strings and numbers.
    public var boolValue: Bool? {
        switch self {
        case .bool(let b): return b
        case .int(let i): return i != 0
        case .string(let s): return ["1", "true", "yes"].contains(s.lowercased())
        default: return nil
        }
    }

    /// The elements of an array.
    public var arrayValue: [WooJSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// The object.
    public var objectValue: WooObject? {
        if case .object(let o) = self { return o }
        return nil
    }

    /// PHP's shortest round-trip form of a float (`serialize_precision = -1`); integral values
    /// without a fraction, as WooCommerce's `rate_percent` 3 and line-item `price` 0 show.
    static func phpNumber(_ d: Double) -> String {
        if d.rounded() == d, abs(d) < 1e15 { return String(Int(d)) }
        return "\(d)"
    }
}

/// An ordered JSON object.
public struct WooObject: Sendable, Equatable {
    /// Keys in insertion order.
    public private(set) var keys: [String] = []
    private var values: [String: WooJSON] = [:]

    public init() {}

    public init(_ pairs: [(String, WooJSON)]) {
        for (k, v) in pairs { self[k] = v }
    }

    public subscript(key: String) -> WooJSON? {
        get { values[key] }
        set {
            if let newValue {
                if values[key] == nil { keys.append(key) }
                values[key] = newValue
            } else if values.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Members in order.
    public var members: [(key: String, value: WooJSON)] { keys.map { ($0, values[$0]!) } }
}

extension WooJSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: WooJSON...) { self = .array(elements) }
    public init(nilLiteral: ()) { self = .null }
}

extension WooJSON {
    /// `.string` or `.null`.
    static func optional(_ s: String?) -> WooJSON { s.map(WooJSON.string) ?? .null }
    /// `.int` or `.null`.
    static func optional(_ i: Int?) -> WooJSON { i.map(WooJSON.int) ?? .null }
    /// An object from ordered pairs.
    static func obj(_ pairs: KeyValuePairs<String, WooJSON>) -> WooJSON {
        .object(WooObject(pairs.map { ($0.key, $0.value) }))
    }
}

// MARK: - PHP-style encoding

extension WooJSON {
    /// The bytes PHP's `json_encode` (as WordPress calls it) writes: compact, `/` as `\/`,
    /// every non-ASCII character as `\uXXXX` (UTF-16 surrogate pairs above the BMP).
    public func phpEncoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(256)
        write(into: &out)
        return out
    }

    /// `phpEncoded()` as a string.
    public var phpString: String { String(decoding: phpEncoded(), as: UTF8.self) }

    private func write(into out: inout [UInt8]) {
        switch self {
        case .null: out.append(contentsOf: Array("null".utf8))
        case .bool(let b): out.append(contentsOf: Array((b ? "true" : "false").utf8))
        case .int(let i): out.append(contentsOf: Array(String(i).utf8))
        case .double(let d): out.append(contentsOf: Array(WooJSON.phpNumber(d).utf8))
        case .string(let s): WooJSON.writeString(s, into: &out)
        case .array(let elements):
            out.append(UInt8(ascii: "["))
            for (i, e) in elements.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                e.write(into: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .object(let object):
            out.append(UInt8(ascii: "{"))
            for (i, member) in object.members.enumerated() {
                if i > 0 { out.append(UInt8(ascii: ",")) }
                WooJSON.writeString(member.key, into: &out)
                out.append(UInt8(ascii: ":"))
                member.value.write(into: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    private static let hex = Array("0123456789abcdef".utf8)

    static func writeString(_ s: String, into out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for unit in s.utf16 {
            switch unit {
            case 0x22: out.append(contentsOf: [0x5C, 0x22])
            case 0x5C: out.append(contentsOf: [0x5C, 0x5C])
            case 0x2F: out.append(contentsOf: [0x5C, 0x2F])
            case 0x08: out.append(contentsOf: [0x5C, UInt8(ascii: "b")])
            case 0x0C: out.append(contentsOf: [0x5C, UInt8(ascii: "f")])
            case 0x0A: out.append(contentsOf: [0x5C, UInt8(ascii: "n")])
            case 0x0D: out.append(contentsOf: [0x5C, UInt8(ascii: "r")])
            case 0x09: out.append(contentsOf: [0x5C, UInt8(ascii: "t")])
            case 0x20..<0x80: out.append(UInt8(unit))
            default:
                out.append(contentsOf: [0x5C, UInt8(ascii: "u")])
                out.append(hex[Int(unit >> 12) & 0xF])
                out.append(hex[Int(unit >> 8) & 0xF])
                out.append(hex[Int(unit >> 4) & 0xF])
                out.append(hex[Int(unit) & 0xF])
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

// MARK: - Parsing

extension WooJSON {
    /// Parsing failed at `offset`.
    public struct ParseError: Error, Sendable { public var offset: Int }

    /// Parses JSON text, keeping key order and telling integers from floats (a numeric
    /// `regular_price` is a schema error in a single PUT).
    public static func parse(_ bytes: some Collection<UInt8>) throws -> WooJSON {
        var parser = Parser(bytes: Array(bytes))
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == parser.bytes.count else { throw ParseError(offset: parser.index) }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        mutating func skipSpace() {
            while index < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[index]) { index += 1 }
        }

        mutating func expect(_ literal: String) throws {
            for b in literal.utf8 {
                guard index < bytes.count, bytes[index] == b else { throw ParseError(offset: index) }
                index += 1
            }
        }

        mutating func value(depth: Int) throws -> WooJSON {
            guard depth < 64, index < bytes.count else { throw ParseError(offset: index) }
            switch bytes[index] {
            case UInt8(ascii: "{"):
                index += 1
                var object = WooObject()
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "}") { index += 1; return .object(object) }
                while true {
                    skipSpace()
                    let key = try string()
                    skipSpace()
                    try expect(":")
                    skipSpace()
                    object[key] = try value(depth: depth + 1)
                    skipSpace()
                    guard index < bytes.count else { throw ParseError(offset: index) }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    try expect("}")
                    return .object(object)
                }
            case UInt8(ascii: "["):
                index += 1
                var elements: [WooJSON] = []
                skipSpace()
                if index < bytes.count, bytes[index] == UInt8(ascii: "]") { index += 1; return .array(elements) }
                while true {
                    skipSpace()
                    elements.append(try value(depth: depth + 1))
                    skipSpace()
                    guard index < bytes.count else { throw ParseError(offset: index) }
                    if bytes[index] == UInt8(ascii: ",") { index += 1; continue }
                    try expect("]")
                    return .array(elements)
                }
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            default: return try number()
            }
        }

        mutating func number() throws -> WooJSON {
            let start = index
            var isFloat = false
            while index < bytes.count {
                let b = bytes[index]
                if b == UInt8(ascii: ".") || b == UInt8(ascii: "e") || b == UInt8(ascii: "E") { isFloat = true }
                guard (b >= 0x30 && b <= 0x39) || [UInt8(ascii: "-"), UInt8(ascii: "+"), UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E")].contains(b) else { break }
                index += 1
            }
            let text = String(decoding: bytes[start..<index], as: UTF8.self)
            if !isFloat, let i = Int(text) { return .int(i) }
            guard let d = Double(text) else { throw ParseError(offset: start) }
            return .double(d)
        }

        mutating func hex4() throws -> UInt16 {
            guard index + 4 <= bytes.count, let v = UInt16(String(decoding: bytes[index..<index + 4], as: UTF8.self), radix: 16) else {
                throw ParseError(offset: index)
            }
            index += 4
            return v
        }

        mutating func string() throws -> String {
            try expect("\"")
            var units: [UInt16] = []
            var raw: [UInt8] = []
            func flush() { units.append(contentsOf: String(decoding: raw, as: UTF8.self).utf16); raw.removeAll() }
            while true {
                guard index < bytes.count else { throw ParseError(offset: index) }
                let b = bytes[index]
                index += 1
                if b == UInt8(ascii: "\"") { break }
                if b != UInt8(ascii: "\\") { raw.append(b); continue }
                guard index < bytes.count else { throw ParseError(offset: index) }
                let e = bytes[index]
                index += 1
                switch e {
                case UInt8(ascii: "n"): raw.append(0x0A)
                case UInt8(ascii: "t"): raw.append(0x09)
                case UInt8(ascii: "r"): raw.append(0x0D)
                case UInt8(ascii: "b"): raw.append(0x08)
                case UInt8(ascii: "f"): raw.append(0x0C)
                case UInt8(ascii: "u"): flush(); units.append(try hex4())
                default: raw.append(e)
                }
            }
            flush()
            return String(decoding: units, as: UTF16.self)
        }
    }
}
