/// A strict, allocation-light JSON validator that reads only what a delivery's classification
/// needs from the top-level object: the `id` number, the `code` string, whether `message` is
/// there, and how many keys there are. Used on every delivery, where a full decode would cost
/// more than everything else the receiver does.
///
/// Follows RFC 8259 (no trailing commas, no comments, no leading zeros, no bare control
/// characters in strings, valid `\u` escapes); nesting deeper than `maxDepth` is refused.
struct JSONProbe {
    enum Failure: Error { case invalid, tooDeep }

    struct TopLevel {
        var isObject = false
        var id: Int64?
        var code: String?
        var hasMessage = false
        var keyCount = 0
    }

    static let maxDepth = 256

    /// The body being read: valid only inside `read`, which holds the array's storage.
    private let bytes: UnsafeBufferPointer<UInt8>
    private var index = 0

    private init(_ bytes: UnsafeBufferPointer<UInt8>) { self.bytes = bytes }

    /// Validates `bytes` as one JSON value and reads its top level.
    static func read(_ bytes: [UInt8]) throws -> TopLevel {
        guard isValidUTF8(bytes) else { throw Failure.invalid }
        return try bytes.withUnsafeBufferPointer { buffer in
            var probe = JSONProbe(buffer)
            var top = TopLevel()
            probe.skipWhitespace()
            if probe.peek == UInt8(ascii: "{") {
                top.isObject = true
                try probe.readTopObject(&top)
            } else {
                try probe.skipValue(depth: 0)
            }
            probe.skipWhitespace()
            guard probe.index == buffer.count else { throw Failure.invalid }
            return top
        }
    }

    @inline(__always)
    private var peek: UInt8? { index < bytes.count ? bytes[index] : nil }

    @inline(__always)
    private mutating func skipWhitespace() {
        while index < bytes.count, bytes[index] == 0x20 || bytes[index] == 0x0A || bytes[index] == 0x0D || bytes[index] == 0x09 { index += 1 }
    }

    @inline(__always)
    private mutating func expect(_ byte: UInt8) throws {
        guard peek == byte else { throw Failure.invalid }
        index += 1
    }

    private mutating func readTopObject(_ top: inout TopLevel) throws {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peek == UInt8(ascii: "}") { index += 1; return }
        while true {
            skipWhitespace()
            let keyStart = index + 1
            let keyHasEscape = try scanString()
            // Keys are compared as bytes; only an escaped one (rare) is decoded to compare.
            let keyBytes = bytes[keyStart..<(index - 1)]
            let key: KnownKey = keyHasEscape ? KnownKey(text: Self.unescape(ArraySlice(keyBytes))) : KnownKey(bytes: keyBytes)
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            top.keyCount += 1
            switch key {
            case .id:
                let start = index
                try skipValue(depth: 1)
                top.id = Self.integer(bytes[start..<index])
            case .code:
                if peek == UInt8(ascii: "\"") { top.code = try readText() } else { try skipValue(depth: 1) }
            case .message:
                top.hasMessage = true
                try skipValue(depth: 1)
            case .other:
                try skipValue(depth: 1)
            }
            skipWhitespace()
            if peek == UInt8(ascii: ",") { index += 1; continue }
            try expect(UInt8(ascii: "}"))
            return
        }
    }

    private static func integer(_ slice: Slice<UnsafeBufferPointer<UInt8>>) -> Int64? {
        guard !slice.isEmpty, slice.count <= 18, slice.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        var n: Int64 = 0
        for b in slice { n = n * 10 + Int64(b - 0x30) }
        return n
    }

    private mutating func skipValue(depth: Int) throws {
        guard depth < Self.maxDepth else { throw Failure.tooDeep }
        guard let byte = peek else { throw Failure.invalid }
        switch byte {
        case UInt8(ascii: "{"):
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "}") { index += 1; return }
            while true {
                skipWhitespace()
                _ = try scanString()
                skipWhitespace()
                try expect(UInt8(ascii: ":"))
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "}"))
                return
            }
        case UInt8(ascii: "["):
            index += 1
            skipWhitespace()
            if peek == UInt8(ascii: "]") { index += 1; return }
            while true {
                skipWhitespace()
                try skipValue(depth: depth + 1)
                skipWhitespace()
                if peek == UInt8(ascii: ",") { index += 1; continue }
                try expect(UInt8(ascii: "]"))
                return
            }
        case UInt8(ascii: "\""):
            _ = try scanString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: try skipNumber()
        }
    }

    private mutating func literal(_ word: StaticString) throws {
        let count = word.utf8CodeUnitCount
        guard index + count <= bytes.count else { throw Failure.invalid }
        let matches = word.withUTF8Buffer { expected in
            (0..<count).allSatisfy { bytes[index + $0] == expected[$0] }
        }
        guard matches else { throw Failure.invalid }
        index += count
    }

    private mutating func digits() -> Int {
        let start = index
        while let b = peek, b >= 0x30 && b <= 0x39 { index += 1 }
        return index - start
    }

    private mutating func skipNumber() throws {
        if peek == UInt8(ascii: "-") { index += 1 }
        guard let first = peek, first >= 0x30 && first <= 0x39 else { throw Failure.invalid }
        if first == 0x30 { index += 1 } else { _ = digits() }
        if peek == UInt8(ascii: ".") {
            index += 1
            guard digits() > 0 else { throw Failure.invalid }
        }
        if peek == UInt8(ascii: "e") || peek == UInt8(ascii: "E") {
            index += 1
            if peek == UInt8(ascii: "+") || peek == UInt8(ascii: "-") { index += 1 }
            guard digits() > 0 else { throw Failure.invalid }
        }
    }

    /// The top-level keys classification looks at.
    private enum KnownKey {
        case id, code, message, other

        init(bytes: Slice<UnsafeBufferPointer<UInt8>>) {
            if bytes.elementsEqual("id".utf8) { self = .id }
            else if bytes.elementsEqual("code".utf8) { self = .code }
            else if bytes.elementsEqual("message".utf8) { self = .message }
            else { self = .other }
        }

        init(text: String) {
            switch text {
            case "id": self = .id
            case "code": self = .code
            case "message": self = .message
            default: self = .other
            }
        }
    }

    /// Reads a string and returns its decoded text (of a long string, the text of its first 200 bytes).
    private mutating func readText() throws -> String {
        let start = index + 1
        let hasEscape = try scanString()
        let raw = bytes[start..<min(index - 1, start + 200)]
        if !hasEscape { return String(decoding: raw, as: UTF8.self) }
        return Self.unescape(ArraySlice(raw))
    }

    /// Checks a string and moves past its closing quote; true when it holds an escape. Runs of
    /// plain bytes are skipped in a tight loop: strings are most of a delivery's bytes.
    @inline(__always)
    private mutating func scanString() throws -> Bool {
        try expect(UInt8(ascii: "\""))
        var hasEscape = false
        let count = bytes.count
        while true {
            // Eight bytes at a time while none can be a quote, a backslash or a control character.
            if let base = bytes.baseAddress {
                while index + 8 <= count, !Self.mayHaveSpecial(UnsafeRawPointer(base + index).loadUnaligned(as: UInt64.self)) {
                    index += 8
                }
            }
            while index < count {
                let b = bytes[index]
                if b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") || b < 0x20 { break }
                index += 1
            }
            guard index < count else { throw Failure.invalid }
            let b = bytes[index]
            index += 1
            if b == UInt8(ascii: "\"") { return hasEscape }
            guard b == UInt8(ascii: "\\"), index < count else { throw Failure.invalid }
            hasEscape = true
            let escape = bytes[index]
            index += 1
            switch escape {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                 UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
                break
            case UInt8(ascii: "u"):
                guard index + 4 <= count, bytes[index..<index + 4].allSatisfy({ Self.isHex($0) }) else { throw Failure.invalid }
                index += 4
            default:
                throw Failure.invalid
            }
        }
    }

    /// Whether any byte of `word` may be `"`, `\\` or below 0x20 (exact for "none": a false
    /// "maybe" only sends the caller to its byte-by-byte loop). The classic has-zero-byte test.
    @inline(__always)
    static func mayHaveSpecial(_ word: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let quotes = word ^ 0x2222_2222_2222_2222
        let backslashes = word ^ 0x5C5C_5C5C_5C5C_5C5C
        let zeroQuote = (quotes &- ones) & ~quotes
        let zeroBackslash = (backslashes &- ones) & ~backslashes
        let control = (word &- 0x2020_2020_2020_2020) & ~word
        return (zeroQuote | zeroBackslash | control) & 0x8080_8080_8080_8080 != 0
    }

    /// RFC 3629 UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF.
    static func isValidUTF8(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBufferPointer { p in
            var i = 0
            let n = p.count
            guard let base = p.baseAddress else { return true }
            while i < n {
                // Eight ASCII bytes at a time (nearly every delivery is ASCII throughout).
                if i + 8 <= n, UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                    continue
                }
                let b = p[i]
                if b < 0x80 { i += 1; continue }
                let need: Int
                var lower: UInt8 = 0x80, upper: UInt8 = 0xBF
                switch b {
                case 0xC2...0xDF: need = 1
                case 0xE0: need = 2; lower = 0xA0
                case 0xE1...0xEC, 0xEE...0xEF: need = 2
                case 0xED: need = 2; upper = 0x9F
                case 0xF0: need = 3; lower = 0x90
                case 0xF1...0xF3: need = 3
                case 0xF4: need = 3; upper = 0x8F
                default: return false
                }
                guard i + need < n else { return false }
                guard p[i + 1] >= lower && p[i + 1] <= upper else { return false }
                for k in stride(from: 2, through: need, by: 1) where p[i + k] < 0x80 || p[i + k] > 0xBF { return false }
                i += need + 1
            }
            return true
        }
    }

    private static func isHex(_ b: UInt8) -> Bool {
        (0x30...0x39).contains(b) || (0x41...0x46).contains(b) || (0x61...0x66).contains(b)
    }

    private static func unescape(_ raw: ArraySlice<UInt8>) -> String {
        var out: [UInt8] = []
        var i = raw.startIndex
        while i < raw.endIndex {
            let b = raw[i]
            guard b == UInt8(ascii: "\\"), i + 1 < raw.endIndex else { out.append(b); i += 1; continue }
            let e = raw[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                let hex = String(decoding: raw[i..<min(i + 4, raw.endIndex)], as: UTF8.self)
                i += 4
                if let v = UInt32(hex, radix: 16), let scalar = Unicode.Scalar(v) { out += Array(String(Character(scalar)).utf8) }
            default: out.append(e)
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
