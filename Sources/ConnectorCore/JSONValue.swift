/// A JSON document as plain values: how event files, captured requests and CloudEvents are read
/// on the once-mode path. Pure Swift over bytes — `JSONSerialization` hands back `Any`, and every
/// `as? [String: Any]` / `as? NSNumber` on it costs the Swift runtime a scan of all ~11,000
/// conformance records the first time in a process, which a cold start pays in full.
///
/// Strict RFC 8259: one value, no trailing commas or comments, valid UTF-8 (a leading UTF-8
/// byte-order mark is skipped; UTF-16 and UTF-32 are refused by name), escapes checked (`\u`
/// surrogates paired), nesting at most `maxDepth`. Numbers keep the text they were written with;
/// of repeated object keys the last one counts.
public enum JSONValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number literal as written (already checked against the JSON number grammar).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    /// Deepest nesting of arrays and objects accepted (what `JSONSerialization` allowed before).
    public static let maxDepth = 512

    public struct ParseError: Error, CustomStringConvertible, Equatable {
        /// Byte offset in the input where reading stopped.
        public var offset: Int
        public var reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }

        public init(offset: Int, reason: String) {
            self.offset = offset
            self.reason = reason
        }
    }

    /// Parses exactly one JSON value (surrounding whitespace allowed).
    public static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSONValue {
        var reader = Reader(bytes: bytes)
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { reader.offset = 3 }
        if let encoding = wideEncoding(bytes) {
            throw ParseError(offset: 0, reason: "the text is \(encoding), not UTF-8; save it as UTF-8")
        }
        reader.skipWhitespace()
        let value = try reader.value(depth: 0)
        reader.skipWhitespace()
        guard reader.offset == bytes.count else { throw reader.failure("unexpected bytes after the value") }
        return value
    }

    /// UTF-16 or UTF-32 by byte-order mark, or by the zero bytes JSON text in them starts with.
    static func wideEncoding(_ bytes: [UInt8]) -> String? {
        if bytes.starts(with: [0xFF, 0xFE, 0, 0]) || bytes.starts(with: [0, 0, 0xFE, 0xFF]) { return "UTF-32" }
        if bytes.starts(with: [0xFF, 0xFE]) || bytes.starts(with: [0xFE, 0xFF]) { return "UTF-16" }
        guard bytes.count >= 4 else { return nil }
        switch (bytes[0] == 0, bytes[1] == 0, bytes[2] == 0, bytes[3] == 0) {
        case (true, true, true, false), (false, true, true, true): return "UTF-32"
        case (true, false, true, false), (false, true, false, true): return "UTF-16"
        default: return nil
        }
    }

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    /// An object or an array.
    public var isContainer: Bool {
        switch self {
        case .object, .array: true
        default: false
        }
    }

    public var stringValue: String? {
        if case .string(let text) = self { return text }
        return nil
    }

    /// The value in canonical form: no insignificant whitespace, object keys sorted, numbers as
    /// written, strings escaped as `JSONText` does (slashes and non-ASCII left as they are).
    public var canonicalText: String {
        var out = ""
        appendCanonical(to: &out)
        return out
    }

    public func appendCanonical(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let flag): out += flag ? "true" : "false"
        case .number(let literal): out += literal
        case .string(let text): JSONText.appendString(text, to: &out)
        case .array(let elements):
            out += "["
            for (index, element) in elements.enumerated() {
                if index > 0 { out += "," }
                element.appendCanonical(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { out += "," }
                JSONText.appendString(key, to: &out)
                out += ":"
                members[key]!.appendCanonical(to: &out)
            }
            out += "}"
        }
    }

    private struct Reader {
        let bytes: [UInt8]
        var offset = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func failure(_ reason: String) -> ParseError { ParseError(offset: offset, reason: reason) }

        var current: UInt8? { offset < bytes.count ? bytes[offset] : nil }

        mutating func skipWhitespace() {
            while let byte = current, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { offset += 1 }
        }

        mutating func expect(_ literal: StaticString) throws(ParseError) {
            let count = literal.utf8CodeUnitCount
            guard offset + count <= bytes.count else { throw failure("unexpected end of input") }
            let matches = literal.withUTF8Buffer { expected in
                (0..<count).allSatisfy { bytes[offset + $0] == expected[$0] }
            }
            guard matches else { throw failure("unknown literal") }
            offset += count
        }

        mutating func value(depth: Int) throws(ParseError) -> JSONValue {
            guard let byte = current else { throw failure("unexpected end of input") }
            switch byte {
            case UInt8(ascii: "{"): return try object(depth: depth + 1)
            case UInt8(ascii: "["): return try array(depth: depth + 1)
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try expect("true"); return .bool(true)
            case UInt8(ascii: "f"): try expect("false"); return .bool(false)
            case UInt8(ascii: "n"): try expect("null"); return .null
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try number())
            default: throw failure("unexpected character")
            }
        }

        mutating func object(depth: Int) throws(ParseError) -> JSONValue {
            guard depth <= JSONValue.maxDepth else { throw failure("nested deeper than \(JSONValue.maxDepth) levels") }
            offset += 1
            var members: [String: JSONValue] = [:]
            skipWhitespace()
            if current == UInt8(ascii: "}") { offset += 1; return .object(members) }
            while true {
                guard current == UInt8(ascii: "\"") else { throw failure("expected a member name") }
                let key = try string()
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw failure("expected ':' after a member name") }
                offset += 1
                skipWhitespace()
                members[key] = try value(depth: depth)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): offset += 1; skipWhitespace()
                case UInt8(ascii: "}"): offset += 1; return .object(members)
                default: throw failure("expected ',' or '}' in an object")
                }
            }
        }

        mutating func array(depth: Int) throws(ParseError) -> JSONValue {
            guard depth <= JSONValue.maxDepth else { throw failure("nested deeper than \(JSONValue.maxDepth) levels") }
            offset += 1
            var elements: [JSONValue] = []
            skipWhitespace()
            if current == UInt8(ascii: "]") { offset += 1; return .array(elements) }
            while true {
                elements.append(try value(depth: depth))
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): offset += 1; skipWhitespace()
                case UInt8(ascii: "]"): offset += 1; return .array(elements)
                default: throw failure("expected ',' or ']' in an array")
                }
            }
        }

        mutating func digits() -> Int {
            let start = offset
            while let byte = current, byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { offset += 1 }
            return offset - start
        }

        mutating func number() throws(ParseError) -> String {
            let start = offset
            if current == UInt8(ascii: "-") { offset += 1 }
            if current == UInt8(ascii: "0") {
                offset += 1
            } else {
                guard digits() > 0 else { throw failure("a number needs digits") }
            }
            if current == UInt8(ascii: ".") {
                offset += 1
                guard digits() > 0 else { throw failure("a fraction needs digits") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                offset += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { offset += 1 }
                guard digits() > 0 else { throw failure("an exponent needs digits") }
            }
            return String(decoding: bytes[start..<offset], as: UTF8.self)
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard offset + 4 <= bytes.count else { throw failure("unexpected end of input in a \\u escape") }
            var value: UInt32 = 0
            for _ in 0..<4 {
                let byte = bytes[offset]
                let digit: UInt8
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
                default: throw failure("\\u needs four hex digits")
                }
                value = value << 4 | UInt32(digit)
                offset += 1
            }
            return value
        }

        mutating func string() throws(ParseError) -> String {
            offset += 1  // the opening quote
            let start = offset
            // The common case: no escapes — one validated copy of the bytes.
            while let byte = current, byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") {
                guard byte >= 0x20 else { throw failure("control character in a string") }
                offset += 1
            }
            guard let stop = current else { throw failure("unterminated string") }
            var scalars = String.UnicodeScalarView()
            guard let plain = String(validating: bytes[start..<offset], as: UTF8.self) else {
                throw ParseError(offset: start, reason: "string is not valid UTF-8")
            }
            if stop == UInt8(ascii: "\"") {
                offset += 1
                return plain
            }
            scalars.append(contentsOf: plain.unicodeScalars)
            while true {
                guard let byte = current else { throw failure("unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    offset += 1
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    offset += 1
                    guard let escape = current else { throw failure("unterminated escape") }
                    offset += 1
                    switch escape {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"):
                        let unit = try hex4()
                        var value = unit
                        if (0xD800...0xDBFF).contains(unit) {
                            guard offset + 1 < bytes.count, bytes[offset] == UInt8(ascii: "\\"), bytes[offset + 1] == UInt8(ascii: "u") else {
                                throw failure("unpaired surrogate in a \\u escape")
                            }
                            offset += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw failure("unpaired surrogate in a \\u escape") }
                            value = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(unit) {
                            throw failure("unpaired surrogate in a \\u escape")
                        }
                        scalars.append(Unicode.Scalar(value)!)
                    default:
                        throw failure("unknown escape")
                    }
                default:
                    let runStart = offset
                    while let next = current, next != UInt8(ascii: "\""), next != UInt8(ascii: "\\") {
                        guard next >= 0x20 else { throw failure("control character in a string") }
                        offset += 1
                    }
                    guard let run = String(validating: bytes[runStart..<offset], as: UTF8.self) else {
                        throw ParseError(offset: runStart, reason: "string is not valid UTF-8")
                    }
                    scalars.append(contentsOf: run.unicodeScalars)
                }
            }
        }
    }
}
