import Foundation

/// A CloudEvents 1.0 event, as received in binary or structured HTTP mode or read from a file.
///
/// `data` holds the payload bytes. When the content type is JSON, both decoders store the
/// payload in one canonical form (sorted keys, no insignificant whitespace), so the same event
/// sent in binary and in structured mode compares equal.
public struct CloudEvent: Sendable, Equatable {
    public var id: String
    public var source: String
    public var type: String
    public var specversion: String
    public var time: String?
    public var subject: String?
    public var datacontenttype: String?
    public var dataschema: String?
    /// Extension attributes (lower-case names), values as strings.
    public var extensions: [String: String]
    public var data: [UInt8]?

    public init(
        id: String, source: String, type: String, time: String? = nil, subject: String? = nil,
        datacontenttype: String? = "application/json", dataschema: String? = nil,
        extensions: [String: String] = [:], data: [UInt8]? = nil
    ) {
        self.id = id
        self.source = source
        self.type = type
        self.specversion = "1.0"
        self.time = time
        self.subject = subject
        self.datacontenttype = datacontenttype
        self.dataschema = dataschema
        self.extensions = extensions
        self.data = data
    }

    /// An event whose `data` is `value` encoded as JSON.
    public init<Payload: Encodable>(id: String, source: String, type: String, time: String? = nil, json value: Payload) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        self.init(id: id, source: source, type: type, time: time, data: Array(try encoder.encode(value)))
    }

    /// Decodes `data` as JSON into `T`.
    public func decodeData<T: Decodable>(_ type: T.Type) throws -> T {
        guard let data else { throw CloudEventError.missing("data") }
        return try JSONDecoder().decode(T.self, from: Data(data))
    }

    /// Whether `data` is JSON: the content type says so, or there is none (JSON format default).
    public var isJSONData: Bool {
        guard let ct = datacontenttype?.lowercased() else { return true }  // CE: absent means JSON in the JSON format
        return ct.hasPrefix("application/json") || Formatting.containsASCII(ct, "+json") || ct.hasPrefix("text/json")
    }
}

/// Why an HTTP request or a file could not be read as a CloudEvent.
public enum CloudEventError: Error, Sendable, Equatable, CustomStringConvertible {
    case missing(String)
    case unsupportedSpecVersion(String)
    case invalidAttribute(String)
    case batchNotSupported
    case malformed(String)

    public var description: String {
        switch self {
        case .missing(let name): "CloudEvent is missing the required attribute '\(name)'"
        case .unsupportedSpecVersion(let v): "CloudEvent specversion '\(v)' is not supported; send 1.0"
        case .invalidAttribute(let name): "CloudEvent attribute '\(name)' is not valid (bad percent-encoding, UTF-8 or type)"
        case .batchNotSupported: "batched CloudEvents are not accepted; send one event per request"
        case .malformed(let why): "CloudEvent JSON is malformed: \(why)"
        }
    }
}

/// Reads and writes CloudEvents over HTTP (CloudEvents HTTP binding 1.0) and in the JSON format.
public enum CloudEventCodec {
    static let knownAttributes: Set<String> = ["id", "source", "type", "specversion", "time", "subject", "datacontenttype", "dataschema"]

    /// The content mode of a request, decided from its headers as the HTTP binding says.
    public enum Mode: Equatable, Sendable { case binary, structured, batch, none }

    /// `headers` keys must be lower-case.
    public static func mode(headers: [String: String]) -> Mode {
        let contentType = headers["content-type"]?.lowercased() ?? ""
        if contentType.hasPrefix("application/cloudevents-batch") { return .batch }
        if contentType.hasPrefix("application/cloudevents") { return .structured }
        if headers["ce-specversion"] != nil { return .binary }
        return .none
    }

    /// Decodes an HTTP request (lower-cased header names) into an event; nil when the request is
    /// not a CloudEvent at all.
    public static func decode(headers: [String: String], body: [UInt8]) throws -> CloudEvent? {
        switch mode(headers: headers) {
        case .none: return nil
        case .batch: throw CloudEventError.batchNotSupported
        case .structured: return try decodeStructured(body)
        case .binary: return try decodeBinary(headers: headers, body: body)
        }
    }

    /// Binary mode: attributes in `ce-*` headers (percent-encoded), body = data.
    public static func decodeBinary(headers: [String: String], body: [UInt8]) throws -> CloudEvent {
        var attributes: [String: String] = [:]
        for (name, raw) in headers where name.hasPrefix("ce-") {
            let attribute = String(name.dropFirst(3))
            guard let value = percentDecode(unquote(raw)) else { throw CloudEventError.invalidAttribute(attribute) }
            attributes[attribute] = value
        }
        attributes["datacontenttype"] = headers["content-type"]
        return try build(attributes: attributes, data: body.isEmpty ? nil : body, canonicalizeJSON: true)
    }

    /// Structured mode, and event files: the JSON format with `data` or `data_base64`.
    public static func decodeStructured(_ body: [UInt8]) throws -> CloudEvent {
        let document: JSONValue
        do {
            document = try JSONValue.parse(body)
        } catch {
            throw CloudEventError.malformed("not JSON (\(error.reason) at byte \(error.offset))")
        }
        guard case .object(let members) = document else { throw CloudEventError.malformed("not a JSON object") }
        return try decodeStructured(members: members)
    }

    /// Structured mode from an already parsed JSON object (an event file read by once mode).
    public static func decodeStructured(members: [String: JSONValue]) throws -> CloudEvent {
        var attributes: [String: String] = [:]
        for (key, value) in members where key != "data" && key != "data_base64" {
            switch value {
            case .string(let text): attributes[key] = text
            case .number where knownAttributes.contains(key), .bool where knownAttributes.contains(key):
                // The context attributes the spec defines are strings; only extensions may be
                // numbers or booleans.
                throw CloudEventError.invalidAttribute(key)
            case .number(let literal): attributes[key] = literal
            case .bool(let flag): attributes[key] = flag ? "true" : "false"
            case .null: continue
            case .array, .object: throw CloudEventError.invalidAttribute(key)
            }
        }
        var data: [UInt8]?
        if let base64 = members["data_base64"] {
            guard members["data"] == nil else { throw CloudEventError.malformed("both data and data_base64 are present") }
            guard let text = base64.stringValue, let bytes = Data(base64Encoded: text) else { throw CloudEventError.invalidAttribute("data_base64") }
            data = Array(bytes)
        } else if let value = members["data"], value != .null {
            let isJSON = attributes["datacontenttype"].map { Formatting.containsASCII($0.lowercased(), "json") } ?? true
            if isJSON {
                data = Array(value.canonicalText.utf8)
            } else if let text = value.stringValue {
                data = Array(text.utf8)
            } else {
                throw CloudEventError.invalidAttribute("data")
            }
        }
        return try build(attributes: attributes, data: data, canonicalizeJSON: false)
    }

    /// `bytes` in canonical JSON form (what the decoder stores as `data`: `JSONValue.canonicalText`),
    /// or nil when not JSON.
    public static func canonicalJSON(_ bytes: [UInt8]) -> [UInt8]? {
        (try? JSONValue.parse(bytes)).map { Array($0.canonicalText.utf8) }
    }

    private static func build(attributes: [String: String], data: [UInt8]?, canonicalizeJSON: Bool) throws -> CloudEvent {
        guard let specversion = attributes["specversion"] else { throw CloudEventError.missing("specversion") }
        guard specversion == "1.0" else { throw CloudEventError.unsupportedSpecVersion(specversion) }
        for required in ["id", "source", "type"] {
            guard let value = attributes[required], !value.isEmpty else { throw CloudEventError.missing(required) }
        }
        var event = CloudEvent(
            id: attributes["id"]!, source: attributes["source"]!, type: attributes["type"]!,
            time: attributes["time"], subject: attributes["subject"],
            datacontenttype: attributes["datacontenttype"], dataschema: attributes["dataschema"],
            extensions: attributes.filter { !knownAttributes.contains($0.key) }, data: data
        )
        for name in event.extensions.keys where !isValidAttributeName(name) {
            throw CloudEventError.invalidAttribute(name)
        }
        if canonicalizeJSON, let bytes = data, event.isJSONData {
            guard let canonical = canonicalJSON(bytes) else { throw CloudEventError.invalidAttribute("data") }
            event.data = canonical
        }
        return event
    }

    /// The JSON format of `event` (structured mode body, event files).
    public static func encodeStructured(_ event: CloudEvent) -> [UInt8] {
        var out = "{\"specversion\":\"1.0\",\"id\":\(JSONText.quoted(event.id)),\"source\":\(JSONText.quoted(event.source)),\"type\":\(JSONText.quoted(event.type))"
        for (name, value) in [("time", event.time), ("subject", event.subject), ("datacontenttype", event.datacontenttype), ("dataschema", event.dataschema)] {
            if let value { out += ",\(JSONText.quoted(name)):\(JSONText.quoted(value))" }
        }
        for name in event.extensions.keys.sorted() {
            out += ",\(JSONText.quoted(name)):\(JSONText.quoted(event.extensions[name]!))"
        }
        if let data = event.data {
            // Inline only JSON already in the canonical form the decoder stores: other bytes (JSON
            // with spaces, say, from a data_base64 event) travel as they are, so the event decodes
            // back to itself.
            if event.isJSONData, canonicalJSON(data) == data {
                out += ",\"data\":" + String(decoding: data, as: UTF8.self)
            } else {
                out += ",\"data_base64\":\(JSONText.quoted(Data(data).base64EncodedString()))"
            }
        }
        out += "}"
        return Array(out.utf8)
    }

    /// Binary-mode headers for `event` (percent-encoded values); the body is `event.data`.
    public static func binaryHeaders(_ event: CloudEvent) -> [(String, String)] {
        var headers: [(String, String)] = [
            ("ce-specversion", "1.0"), ("ce-id", percentEncode(event.id)),
            ("ce-source", percentEncode(event.source)), ("ce-type", percentEncode(event.type)),
        ]
        if let time = event.time { headers.append(("ce-time", percentEncode(time))) }
        if let subject = event.subject { headers.append(("ce-subject", percentEncode(subject))) }
        if let schema = event.dataschema { headers.append(("ce-dataschema", percentEncode(schema))) }
        for name in event.extensions.keys.sorted() { headers.append(("ce-\(name)", percentEncode(event.extensions[name]!))) }
        headers.append(("content-type", event.datacontenttype ?? "application/json"))
        return headers
    }

    static func isValidAttributeName(_ name: String) -> Bool {
        !name.isEmpty && name != "data" && name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) }
    }

    /// Removes RFC 7230 quoted-string quoting (`"a\"b"` → `a"b`).
    static func unquote(_ value: String) -> String {
        guard value.count >= 2, value.first == "\"", value.last == "\"" else { return value }
        var out = ""
        var escaped = false
        for ch in value.dropFirst().dropLast() {
            if escaped { out.append(ch); escaped = false }
            else if ch == "\\" { escaped = true }
            else { out.append(ch) }
        }
        return out
    }

    /// Percent-decodes once; nil on a bad escape or invalid UTF-8.
    static func percentDecode(_ value: String) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(value.utf8.count)
        var iterator = value.utf8.makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let h = iterator.next(), let l = iterator.next(), let hi = hexValue(h), let lo = hexValue(l) else { return nil }
                bytes.append(hi << 4 | lo)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    static func percentEncode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            if byte < 0x21 || byte > 0x7E || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "%") {
                out += Formatting.percentEscape(byte)
            } else {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            }
        }
        return out
    }

    private static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: c - 0x30
        case 0x41...0x46: c - 0x41 + 10
        case 0x61...0x66: c - 0x61 + 10
        default: nil
        }
    }
}
