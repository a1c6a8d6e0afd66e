@testable import ConnectorFuzz
import ConnectorConnections
import ConnectorCore
import DynamicsClient
import Foundation
import Testing
import WooCommerceAPI

/// Hand-written hostile inputs per target: each keeps the target's invariants, and the parser
/// gives the answer named beside it (never a trap).
@Suite("Fuzz targets on hostile input")
struct HostileInputTests {
    static let deep = 100_000

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    // MARK: delivery

    static let deliveries: [(name: String, body: [UInt8], expected: DeliveryBody)] = [
        ("deep nesting", bytes(#"{"id":1,"x":"# + String(repeating: "[", count: deep) + String(repeating: "]", count: deep) + "}"), .unusable(reason: "body nests deeper than 256 levels")),
        ("deep objects", bytes(String(repeating: #"{"a":"#, count: deep) + "1" + String(repeating: "}", count: deep)), .unusable(reason: "body nests deeper than 256 levels")),
        ("20-digit id", bytes(#"{"id":99999999999999999999,"x":1}"#), .unusable(reason: "body has no resource id")),
        ("largest id read", bytes(#"{"id":999999999999999999,"x":1}"#), .resource(id: 999_999_999_999_999_999)),
        ("huge exponent", bytes(#"{"id":1e999999999999,"x":1}"#), .unusable(reason: "body has no resource id")),
        ("invalid UTF-8", [0x7B, 0x22, 0x69, 0x64, 0x22, 0x3A, 0x31, 0x2C, 0x22, 0xC0, 0xAF, 0x22, 0x3A, 0x31, 0x7D], .unusable(reason: "body is not valid JSON")),
        ("truncated UTF-8 at the end", bytes(#"{"id":1,"x":""#) + [0xE2, 0x82], .unusable(reason: "body is not valid JSON")),
        ("truncated object", bytes(#"{"id":12,"status":"proc"#), .unusable(reason: "body is not valid JSON")),
        ("truncated escape", bytes(#"{"id":12,"x":"\u00"#), .unusable(reason: "body is not valid JSON")),
        ("lone surrogate escape", bytes(#"{"id":5,"x":"\ud800"}"#), .resource(id: 5)),
        ("escaped key, code of 600 bytes", bytes(#"{"\u0063ode":""# + String(repeating: "é", count: 300) + #"","message":"m"}"#), .restError(code: String(repeating: "é", count: 100))),
        ("code cut inside a multi-byte character", bytes(#"{"code":"a"# + String(repeating: "é", count: 150) + #"","message":"m"}"#), .restError(code: "a" + String(repeating: "é", count: 99))),
        ("code of 150 chars", bytes(#"{"code":""# + String(repeating: "c", count: 150) + #"","message":"m"}"#), .restError(code: String(repeating: "c", count: 100))),
        ("NUL bytes", [0x00, 0x00, 0x7B, 0x7D], .unusable(reason: "body is not valid JSON")),
        ("empty", [], .unusable(reason: "body is not valid JSON")),
        ("ping with 19 digits", bytes("webhook_id=9999999999999999999"), .unusable(reason: "body is not valid JSON")),
    ]

    @Test("hostile delivery bodies", arguments: 0..<deliveries.count)
    func delivery(_ row: Int) {
        let (name, body, expected) = Self.deliveries[row]
        #expect(FuzzTarget.delivery.run(body) == nil, "\(name)")
        #expect(DeliveryBody.classify(body) == expected, "\(name)")
    }

    @Test func pingIDsThatDoNotFitAreNotPings() {
        #expect(WebhookPing.webhookID(in: Self.bytes("webhook_id=9999999999999999999")) == nil)
        #expect(WebhookPing.webhookID(in: Self.bytes("webhook_id=999999999999999999")) == 999_999_999_999_999_999)
        #expect(FuzzTarget.delivery.run(Self.bytes("webhook_id=999999999999999999")) == nil)
    }

    // MARK: CloudEvent

    static let attributes = #""specversion":"1.0","id":"e1","source":"/s","type":"t""#
    static let cloudEvents: [(name: String, input: [UInt8], expected: CloudEventError?)] = [
        ("deeply nested data", bytes("{\(attributes),\"data\":" + String(repeating: "[", count: deep) + String(repeating: "]", count: deep) + "}"),
         .malformed("not JSON (nested deeper than \(JSONValue.maxDepth) levels at byte \("{\(attributes),\"data\":".utf8.count + JSONValue.maxDepth - 1))")),  // the event object is the first level
        ("deeply nested binary body", bytes("ce-specversion: 1.0\nce-id: a\nce-source: /s\nce-type: t\ncontent-type: application/json\n\n" + String(repeating: "[", count: deep)), .invalidAttribute("data")),
        ("huge number in data", bytes("{\(attributes),\"data\":{\"n\":1e400}}"), nil),
        ("huge integer in data", bytes("{\(attributes),\"data\":{\"n\":123456789012345678901234567890}}"), nil),
        ("number attribute", bytes(#"{"specversion":"1.0","id":123456789012345678901234567890,"source":"/s","type":"t"}"#), nil),
        ("invalid UTF-8 in a structured event", bytes("{\(attributes),\"subject\":\"") + [0xFF, 0xFE] + bytes("\"}"), nil),
        ("percent-encoded invalid UTF-8", bytes("ce-specversion: 1.0\nce-id: %FF%FE\nce-source: /s\nce-type: t\n\n"), .invalidAttribute("id")),
        ("truncated percent escape", bytes("ce-specversion: 1.0\nce-id: a%4\nce-source: /s\nce-type: t\n\n"), .invalidAttribute("id")),
        ("missing id", bytes(#"{"specversion":"1.0","source":"/s","type":"t"}"#), .missing("id")),
        ("empty source", bytes(#"{"specversion":"1.0","id":"x","source":"","type":"t"}"#), .missing("source")),
        ("specversion 0.3", bytes(#"{"specversion":"0.3","id":"x","source":"/s","type":"t"}"#), .unsupportedSpecVersion("0.3")),
        ("a batch", bytes("content-type: application/cloudevents-batch+json\n\n[]"), .batchNotSupported),
        ("upper-case extension", bytes("{\(attributes),\"Evil\":\"x\"}"), .invalidAttribute("Evil")),
        ("object attribute", bytes("{\(attributes),\"subject\":{\"a\":1}}"), .invalidAttribute("subject")),
        ("data and data_base64", bytes("{\(attributes),\"data\":1,\"data_base64\":\"AA==\"}"), .malformed("both data and data_base64 are present")),
        ("bad base64", bytes("{\(attributes),\"data_base64\":\"***\"}"), .invalidAttribute("data_base64")),
        ("a JSON array in structured mode", bytes("content-type: application/cloudevents+json\n\n[{\(attributes)}]"), .malformed("not a JSON object")),
        ("headers only, no blank line", bytes("ce-specversion: 1.0\nce-id: a"), .missing("id")),
    ]

    @Test("hostile CloudEvents", arguments: 0..<cloudEvents.count)
    func cloudEvent(_ row: Int) {
        let (name, input, expected) = Self.cloudEvents[row]
        #expect(FuzzTarget.cloudevent.run(input) == nil, "\(name)")
        let (headers, body) = CloudEventFuzz.request(input)
        if let expected {
            #expect(throws: expected, "\(name)") { try CloudEventCodec.decode(headers: headers, body: body) }
        }
    }

    // MARK: $batch

    static let part = "--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 201 Created\r\n\r\n{}\r\n"
    static let batches: [(name: String, input: [UInt8], parts: Int?)] = [
        ("truncated: no closing delimiter", bytes("content-type: multipart/mixed; boundary=b\n" + part), nil),
        ("truncated mid-delimiter", bytes("content-type: multipart/mixed; boundary=b\n" + part + "--b-"), nil),
        ("truncated status line", bytes("content-type: multipart/mixed; boundary=b\n--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1"), nil),
        ("boundary-less answer", bytes("content-type: multipart/mixed\n" + part + "--b--\r\n"), nil),
        ("HTML gateway page", bytes("content-type: text/html\n<html><body>502 Bad Gateway</body></html>"), nil),
        ("empty boundary", bytes("content-type: multipart/mixed; boundary=\n" + part.replacingOccurrences(of: "--b", with: "--") + "----\r\n"), nil),
        ("quoted boundary with spaces", bytes("content-type: Multipart/Mixed ; BOUNDARY = \"b\"\n" + part + "--b--"), 1),
        ("changeset without a boundary", bytes("content-type: multipart/mixed; boundary=b\n--b\r\nContent-Type: multipart/mixed\r\n\r\n--c\r\n--c--\r\n--b--\r\n"), nil),
        ("huge status", bytes("content-type: multipart/mixed; boundary=b\n--b\r\n\r\nHTTP/1.1 99999999999999999999999 Big\r\n\r\n--b--\r\n"), nil),
        ("negative status", bytes("content-type: multipart/mixed; boundary=b\n--b\r\n\r\nHTTP/1.1 -1 Odd\r\n\r\n--b--\r\n"), 1),
        ("delimiter as the whole body", bytes("content-type: multipart/mixed; boundary=b\n--b--"), nil),
        ("two delimiters, nothing between", bytes("content-type: multipart/mixed; boundary=b\n--b\n--b--"), nil),
        ("no line end after the delimiter", bytes("content-type: multipart/mixed; boundary=b\n--b"), nil),
        ("empty answer", [], nil),
        ("invalid UTF-8 everywhere", bytes("content-type: multipart/mixed; boundary=b\n--b\r\nContent-ID: ") + [0xFF, 0xC0] + bytes("\r\n\r\nHTTP/1.1 200 OK\r\nX: ") + [0xFE] + bytes("\r\n\r\n") + [0xFF] + bytes("\r\n--b--\r\n"), 1),
        ("ten thousand empty parts", bytes("content-type: multipart/mixed; boundary=b\n" + String(repeating: "--b\n", count: 10_000) + "--b--"), nil),
        ("ten thousand parts", bytes("content-type: multipart/mixed; boundary=b\n" + String(repeating: "--b\nX: y\n\nHTTP/1.1 204 No Content\n\n", count: 10_000) + "--b--"), 10_000),
    ]

    @Test("hostile batch answers", arguments: 0..<batches.count)
    func batch(_ row: Int) {
        let (name, input, parts) = Self.batches[row]
        #expect(FuzzTarget.batch.run(input) == nil, "\(name)")
        let (type, body) = BatchFuzz.answer(input)
        if let parts {
            #expect((try? ODataBatch.parseResponse(contentType: type, body: Data(body)))?.count == parts, "\(name)")
        } else {
            #expect(throws: (any Error).self, "\(name)") { try ODataBatch.parseResponse(contentType: type, body: Data(body)) }
        }
    }

    // MARK: connection files

    static let valid = #"""
    {"schemaVersion":1,"id":"local","woocommerce":{"baseURL":"https://shop.example.com","consumerKey":"ck","consumerSecret":"cs","webhookSecret":"w"},
     "dynamics":{"environmentURL":"https://c.operations.dynamics.com","tenantId":"t","clientId":"c","clientSecret":"s","legalEntity":"usmf"}}
    """#
    static let connections: [(name: String, input: [UInt8], errorMentions: String?)] = [
        ("the valid base", bytes(valid), nil),
        ("deep nesting", bytes(#"{"schemaVersion":1,"id":"x","woocommerce":"# + String(repeating: "[", count: deep) + String(repeating: "]", count: deep) + "}"), "fuzz-connection.json"),
        ("deep nesting in an unknown key", bytes(valid.replacingOccurrences(of: #""id":"local","#, with: #""id":"local","zzz":"# + String(repeating: #"{"a":"#, count: 5_000) + "1" + String(repeating: "}", count: 5_000) + ",")), "fuzz-connection.json"),
        // Foundation cannot read 1e400 at all.
        ("huge schemaVersion", bytes(valid.replacingOccurrences(of: #""schemaVersion":1"#, with: #""schemaVersion":1e400"#)), "not valid JSON"),
        ("schemaVersion beyond Int", bytes(valid.replacingOccurrences(of: #""schemaVersion":1"#, with: #""schemaVersion":99999999999999999999999"#)), "a number does not fit its key"),
        ("pollOverlapMinutes beyond Int", bytes(valid.replacingOccurrences(of: #""legalEntity":"usmf"}"#, with: #""legalEntity":"usmf"},"orders":{"pollOverlapMinutes":-99999999999999999999}"#)), "a number does not fit its key"),
        ("invalid UTF-8", bytes(#"{"schemaVersion":1,"id":""#) + [0xFF] + bytes(#""}"#), "fuzz-connection.json"),
        ("path traversal id", bytes(valid.replacingOccurrences(of: #""id":"local""#, with: #""id":"../etc""#)), "'id'"),
        ("unicode id", bytes(valid.replacingOccurrences(of: #""id":"local""#, with: #""id":"loc\u0430l""#)), "'id'"),
        ("truncated", Array(bytes(valid).prefix(120)), "not valid JSON"),
        ("a JSON array", bytes("[" + valid + "]"), "fuzz-connection.json"),
        ("empty", [], "fuzz-connection.json"),
        ("legal entity with a non-ASCII letter", bytes(valid.replacingOccurrences(of: #""legalEntity":"usmf""#, with: #""legalEntity":"ü""#)), "dynamics.legalEntity"),
        ("environment URL with user info and a path", bytes(valid.replacingOccurrences(of: "https://c.operations.dynamics.com", with: "https://a@c.operations.dynamics.com/x")), "dynamics.environmentURL"),
        ("store URL that is not a URL", bytes(valid.replacingOccurrences(of: "https://shop.example.com", with: "ht tp://[::1")), "woocommerce.baseURL"),
    ]

    @Test("hostile connection files", arguments: 0..<connections.count)
    func connection(_ row: Int) {
        let (name, input, mentions) = Self.connections[row]
        #expect(FuzzTarget.connection.run(input) == nil, "\(name)")
        do {
            _ = try ConnectionFile.parse(Data(input), source: ConnectionFuzz.source)
            #expect(mentions == nil, "\(name): accepted")
        } catch let error as ConnectorError {
            #expect(mentions != nil && error.message.contains(mentions!), "\(name): \(error)")
        } catch {
            Issue.record("\(name): \(error)")
        }
    }

    // MARK: the harness itself

    @Test func requestSplittingAndAnswerSplitting() {
        let (headers, body) = CloudEventFuzz.request(Self.bytes("CE-ID:  a \r\nno colon\r\nContent-Type: x\r\n\r\nbody\r\n\r\nmore"))
        #expect(headers == ["ce-id": "a", "content-type": "x"])
        #expect(body == Self.bytes("body\r\n\r\nmore"))
        #expect(CloudEventFuzz.request(Self.bytes("  {\"a\":1}")).headers["content-type"]?.hasPrefix("application/cloudevents+json") == true)
        #expect(BatchFuzz.answer(Self.bytes("Content-Type: multipart/mixed; boundary=q\r\n--q")) == ("multipart/mixed; boundary=q", Self.bytes("--q")))
        #expect(BatchFuzz.answer(Self.bytes("--q\r\n")) == (BatchFuzz.fixedContentType, Self.bytes("--q\r\n")))
        #expect(DeliveryFuzz.contains(Self.bytes("ab123c"), Self.bytes("123")))
        #expect(!DeliveryFuzz.contains(Self.bytes("ab12c3"), Self.bytes("123")))
    }
}
