import Foundation

/// A coding key for any string, used to see every key an object actually has.
struct AnyCodingKey: CodingKey {
    var stringValue: String
    var intValue: Int?
    init(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { self.stringValue = String(intValue); self.intValue = intValue }
}

extension Decoder {
    /// Fails on the first key of this object that `Keys` does not name — a typo in a connection
    /// file must be an error that names the key, never a silently ignored setting.
    func rejectUnknownKeys<Keys: CodingKey & CaseIterable>(_: Keys.Type) throws {
        let container = try self.container(keyedBy: AnyCodingKey.self)
        let allowed = Set(Keys.allCases.map(\.stringValue))
        for key in container.allKeys.sorted(by: { $0.stringValue < $1.stringValue }) where !allowed.contains(key.stringValue) {
            throw DecodingError.dataCorrupted(.init(codingPath: codingPath + [key], debugDescription: "unknown key"))
        }
    }
}

extension KeyedDecodingContainer {
    /// The value at `key`, or `fallback` when the key is absent or null.
    func decode<T: Decodable>(_ key: Key, default fallback: @autoclosure () throws -> T) throws -> T {
        if let value = try decodeIfPresent(T.self, forKey: key) { return value }
        return try fallback()
    }
}

/// A dotted path such as `woocommerce.baseURL` or `orders.paidStatuses[1]`.
func dottedPath(_ path: [any CodingKey]) -> String {
    var out = ""
    for key in path {
        if let index = key.intValue { out += "[\(index)]" }
        else { out += out.isEmpty ? key.stringValue : ".\(key.stringValue)" }
    }
    return out
}
