import ConnectorCore
import Foundation
import NIOCore
import NIOFoundationCompat

// How WooCommerce's JSON becomes typed values. Money arrives as decimal *strings* ("73.22",
// "6", "" for "none"); a few values (line-item `price`, `rate_percent`, coupon
// `nominal_amount`) arrive as JSON numbers. Both become `Decimal` from their text — never via
// `Double` — so "17.995" stays 17.995.

/// A decimal read from a JSON string or a JSON number's text.
struct JSONDecimal: Decodable {
    var value: Decimal?

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { value = nil; return }
        if let text = try? c.decode(String.self) {
            if text.isEmpty { value = nil; return }
            guard let parsed = Formatting.decimal(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(Formatting.bounded(text, limit: 40))\" is not a plain decimal")
            }
            value = parsed
            return
        }
        // Foundation's JSONDecoder builds a Decimal from the number's text, not from a Double.
        value = try c.decode(Decimal.self)
    }
}

extension KeyedDecodingContainer {
    // These overloads are what the synthesized `init(from:)` of the models in this module call
    // for `Decimal` properties (more specific than the generic `decode<T>`).

    /// A required amount: a decimal string or number; "" and null are errors here.
    func decode(_ type: Decimal.Type, forKey key: Key) throws -> Decimal {
        guard let value = try decode(JSONDecimal.self, forKey: key).value else {
            throw DecodingError.dataCorruptedError(forKey: key, in: self, debugDescription: "an amount is required here, got an empty string or null")
        }
        return value
    }

    /// An optional amount: missing, null and "" are `nil` (e.g. `sale_price: ""`).
    func decodeIfPresent(_ type: Decimal.Type, forKey key: Key) throws -> Decimal? {
        guard contains(key) else { return nil }
        return try decode(JSONDecimal.self, forKey: key).value
    }
}

/// WooCommerce's `date_*` values: `2026-11-26T19:51:23`, no zone. The `_gmt` variants are UTC.
public enum WooDate {
    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff]` as UTC.
    public static func parseGMT(_ text: String) -> Date? {
        var t = text
        if t.hasSuffix("Z") { t.removeLast() }
        if t.hasSuffix("+00:00") { t.removeLast(6) }
        guard t.count >= 19 else { return nil }
        return Formatting.parseTimestamp(t + "Z")
    }

    /// `YYYY-MM-DDTHH:MM:SS` in UTC, the form `after`/`modified_after` expect with
    /// `dates_are_gmt=true`.
    public static func formatGMT(_ date: Date) -> String {
        String(Formatting.timestamp(date).prefix(19))
    }
}

extension WooCommerceClient {
    /// The decoder for WooCommerce responses: `Date` properties are the `_gmt` fields, read
    /// as UTC. Public so callers can decode a webhook body into the same models.
    public static func makeDecoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let text = try c.decode(String.self)
            guard let date = WooDate.parseGMT(text) else {
                throw DecodingError.dataCorruptedError(in: c, debugDescription: "\"\(Formatting.bounded(text, limit: 40))\" is not a WooCommerce date (YYYY-MM-DDTHH:MM:SS)")
            }
            return date
        }
        return decoder
    }

    static func makeEncoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}

/// Any JSON value, for `meta_data` values whose shape is up to each plugin.
public enum WooJSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    /// A number as its JSON text would parse, exactly.
    case number(Decimal)
    case string(String)
    case array([WooJSONValue])
    case object([String: WooJSONValue])

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null }
        else if let b = try? c.decode(Bool.self) { self = .bool(b) }
        else if let s = try? c.decode(String.self) { self = .string(s) }
        else if let n = try? c.decode(Decimal.self) { self = .number(n) }
        else if let a = try? c.decode([WooJSONValue].self) { self = .array(a) }
        else { self = .object(try c.decode([String: WooJSONValue].self)) }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .null: try c.encodeNil()
        case .bool(let b): try c.encode(b)
        case .number(let n): try c.encode(n)
        case .string(let s): try c.encode(s)
        case .array(let a): try c.encode(a)
        case .object(let o): try c.encode(o)
        }
    }

    /// The value as text when it is a string or a number.
    public var text: String? {
        switch self {
        case .string(let s): s
        case .number(let n): "\(n)"
        default: nil
        }
    }
}

extension WooBatchResult {
    /// Decodes a batch answer item by item. `JSONDecoder` maps every value of a document
    /// before decoding any, and each product of an answer carries lists the connector never
    /// reads (`related_ids`, `meta_data`, …): 100 of them mapped at once cost tens of MB where
    /// one at a time costs a hundredth. The result is the same as decoding the whole answer,
    /// and so are the errors: anything the split cannot read is decoded whole instead.
    static func decodeItemByItem(_ body: ByteBuffer, decoder: JSONDecoder) throws -> WooBatchResult {
        let items: WooBatchResult? = try body.withUnsafeReadableBytes { bytes in
            guard let groups = JSONArrayMembers.split(bytes) else { return nil }
            func decode(_ key: String) throws -> [WooBatchItem<Item>] {
                try (groups[key] ?? []).map { try decoder.decode(WooBatchItem<Item>.self, from: Data(UnsafeRawBufferPointer(rebasing: bytes[$0]))) }
            }
            do {
                return WooBatchResult(create: try decode("create"), update: try decode("update"), delete: try decode("delete"))
            } catch {
                return nil   // decoded whole below, for the error's full path
            }
        }
        return try items ?? decoder.decode(WooBatchResult.self, from: body)
    }
}

/// Splits the array members of a JSON object into their elements' byte ranges, without
/// decoding them: `{"create":[{…},{…}],"update":[]}` → `["create": [r1, r2], "update": []]`.
/// Strings are skipped whole (escapes included), so brackets and commas inside them do not
/// count. nil when the bytes are not one balanced JSON object.
enum JSONArrayMembers {
    static func split(_ bytes: UnsafeRawBufferPointer) -> [String: [Range<Int>]]? {
        var members: [String: [Range<Int>]] = [:]
        var depth = 0
        var lastKey: String?       // the last string read directly in the object: a member name
        var open: String?          // the member whose array is being split
        var itemStart: Int?
        var index = 0
        func closeItem(at end: Int) {
            if let open, let start = itemStart { members[open, default: []].append(start..<end) }
            itemStart = nil
        }
        while index < bytes.count {
            let byte = bytes[index]
            if depth == 2, open != nil, itemStart == nil, !Self.isSpace(byte), byte != UInt8(ascii: ","), byte != UInt8(ascii: "]") {
                itemStart = index
            }
            switch byte {
            case UInt8(ascii: "\""):
                let start = index + 1
                index += 1
                while index < bytes.count, bytes[index] != UInt8(ascii: "\"") {
                    index += bytes[index] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard index < bytes.count else { return nil }
                if depth == 1 { lastKey = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self) }
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                if depth == 0, byte != UInt8(ascii: "{") { return nil }
                if depth == 1, byte == UInt8(ascii: "["), let lastKey {
                    open = lastKey
                    members[lastKey] = []
                }
                depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                depth -= 1
                guard depth >= 0 else { return nil }
                if depth == 1, open != nil {
                    closeItem(at: index)
                    open = nil
                }
                if depth == 0 {
                    // Only whitespace may follow the object.
                    return bytes[(index + 1)...].allSatisfy(Self.isSpace) ? members : nil
                }
            case UInt8(ascii: ","):
                if depth == 2, open != nil { closeItem(at: index) }
            default:
                break
            }
            index += 1
        }
        return nil
    }

    static func isSpace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t")
    }
}
