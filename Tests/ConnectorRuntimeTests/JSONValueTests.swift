import ConnectorCore
import ConnectorRuntime
import Foundation
import Testing

/// The once-mode reader of events and captured requests: strict JSON, canonical output that
/// `JSONSerialization` agrees with, and clear errors for what it refuses.
@Suite struct JSONValueTests {
    @Test func canonicalTextSortsKeysAndDropsWhitespace() throws {
        let value = try JSONValue.parse(Array(#" { "b" : [1, 2.50, -3e2, true, false, null], "a" : {"z":"\u00e9\n\"/", "y": {}}, "c": [] } "#.utf8))
        #expect(value.canonicalText == #"{"a":{"y":{},"z":"é\n\"/"},"b":[1,2.50,-3e2,true,false,null],"c":[]}"#)
        #expect(value["b"] == .array([.number("1"), .number("2.50"), .number("-3e2"), .bool(true), .bool(false), .null]))
        #expect(value["a"]?["z"]?.stringValue == "é\n\"/")
    }

    /// Wherever the numbers are already in the form JSONSerialization writes, both give the same bytes.
    @Test func canonicalTextMatchesJSONSerializationOnCommonDocuments() throws {
        let documents = [
            #"{"connection":"shop-eu","orderId":1042,"reason":"paid","nested":{"k":[1,2,{"x":null}],"t":true}}"#,
            #"{"emoji":"😀 \u0001 tab\t","url":"https://a/b","empty":"","list":[]}"#,
            #"[1,-2,0,"a",{"b":false}]"#,
        ]
        for text in documents {
            let ours = try JSONValue.parse(Array(text.utf8)).canonicalText
            let object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
            let theirs = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
            #expect(ours == String(decoding: theirs, as: UTF8.self), "\(text)")
        }
    }

    @Test func escapesAndSurrogatePairsDecode() throws {
        let value = try JSONValue.parse(Array(#""\ud83d\ude00 \u00e9 \/ \b\f\r\t""#.utf8))
        #expect(value == .string("😀 é / \u{08}\u{0C}\r\t"))
        // The last of repeated keys counts.
        #expect(try JSONValue.parse(Array(#"{"a":1,"a":2}"#.utf8)) == .object(["a": .number("2")]))
    }

    @Test(arguments: [
        ("", "unexpected end of input"),
        ("{", "expected a member name"),
        (#"{"a":1,}"#, "expected a member name"),
        ("[1,]", "unexpected character"),
        ("[1 2]", "expected ',' or ']' in an array"),
        ("01", "unexpected bytes after the value"),
        ("1.", "a fraction needs digits"),
        ("-", "a number needs digits"),
        ("1e", "an exponent needs digits"),
        ("+1", "unexpected character"),
        ("tru", "unexpected end of input"),
        ("nul1", "unknown literal"),
        (#""abc"#, "unterminated string"),
        ("\"a\u{01}\"", "control character in a string"),
        (#""\x""#, "unknown escape"),
        (#""\u12zz""#, "\\u needs four hex digits"),
        (#""\ud800""#, "unpaired surrogate in a \\u escape"),
        (#""\udc00""#, "unpaired surrogate in a \\u escape"),
        ("{} {}", "unexpected bytes after the value"),
        ("// c\n{}", "unexpected character"),
    ])
    func malformedDocumentsAreRefusedWithAReason(text: String, reason: String) {
        #expect(throws: JSONValue.ParseError.self, "\(text.debugDescription)") { try JSONValue.parse(Array(text.utf8)) }
        do {
            _ = try JSONValue.parse(Array(text.utf8))
        } catch {
            #expect(error.reason == reason, "\(text.debugDescription)")
        }
    }

    @Test func invalidUTF8AndDeepNestingAreRefused() {
        #expect(throws: JSONValue.ParseError(offset: 1, reason: "string is not valid UTF-8")) {
            try JSONValue.parse([0x22, 0xC3, 0x28, 0x22])
        }
        #expect(throws: JSONValue.ParseError(offset: 4, reason: "string is not valid UTF-8")) {
            try JSONValue.parse(Array(#""a\n"#.utf8) + [0xFF, 0x22])
        }
        let deepest = String(repeating: "[", count: JSONValue.maxDepth) + String(repeating: "]", count: JSONValue.maxDepth)
        #expect((try? JSONValue.parse(Array(deepest.utf8))) != nil)
        let tooDeep = String(repeating: "[", count: JSONValue.maxDepth + 1) + String(repeating: "]", count: JSONValue.maxDepth + 1)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(Array(tooDeep.utf8)) }
        // A hostile depth fails fast instead of overflowing the stack.
        let hostile = Array(repeating: UInt8(ascii: "["), count: 200_000)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue.parse(hostile) }
    }
}

/// What the review of the JSONSerialization replacement found worth pinning down.
@Suite struct JSONValueEdgeTests {
    @Test func theCanonicalFormSortsKeysByCodePointAndKeepsNumbersAsWritten() throws {
        let value = try JSONValue.parse(Array(#"{"k10":1.0,"a":1E2,"B":-0,"k9":"\b\f"}"#.utf8))
        #expect(value.canonicalText == #"{"B":-0,"a":1E2,"k10":1.0,"k9":"\u0008\u000c"}"#)
        // And the canonical form is a fixed point.
        #expect(try JSONValue.parse(Array(value.canonicalText.utf8)).canonicalText == value.canonicalText)
    }

    @Test func aUTF8ByteOrderMarkIsSkippedAndWideEncodingsAreNamed() throws {
        #expect(try JSONValue.parse([0xEF, 0xBB, 0xBF] + Array(#"{"a":1}"#.utf8)) == .object(["a": .number("1")]))
        let utf16LE: [UInt8] = [0xFF, 0xFE] + Array(#"{"a":1}"#.utf8).flatMap { [$0, 0] as [UInt8] }
        #expect(throws: JSONValue.ParseError(offset: 0, reason: "the text is UTF-16, not UTF-8; save it as UTF-8")) { try JSONValue.parse(utf16LE) }
        let utf16BEWithoutMark: [UInt8] = Array(#"{"a":1}"#.utf8).flatMap { [0, $0] as [UInt8] }
        #expect(throws: JSONValue.ParseError(offset: 0, reason: "the text is UTF-16, not UTF-8; save it as UTF-8")) { try JSONValue.parse(utf16BEWithoutMark) }
    }

    @Test func onceModeNamesWhyAnEventFileIsNotJSON() throws {
        #expect(throws: ConnectorError.invalidInput("the event is not JSON (the text is UTF-16, not UTF-8; save it as UTF-8 at byte 0)",
                                                   fix: #"give a structured CloudEvent or a captured request {"method","path","headers","body"} as UTF-8 JSON"#)) {
            _ = try OnceMode.decode([0xFF, 0xFE] + Array("{}".utf8).flatMap { [$0, 0] as [UInt8] })
        }
        guard case .request(let request) = try OnceMode.decode([0xEF, 0xBB, 0xBF] + Array(#"{"path":"/webhooks/woocommerce/acme","body":"{}"}"#.utf8)) else {
            Issue.record("a captured request with a byte-order mark is a request")
            return
        }
        #expect(request.path == "/webhooks/woocommerce/acme")
        #expect(throws: ConnectorError.invalidInput("'body' must be a string (use 'bodyBase64' for bytes)")) {
            _ = try OnceMode.decode(Array(#"{"path":"/x","body":null}"#.utf8))
        }
        #expect(throws: ConnectorError.invalidInput("'bodyBase64' must be a string of base64")) {
            _ = try OnceMode.decode(Array(#"{"path":"/x","bodyBase64":12}"#.utf8))
        }
    }

    @Test func theResultLineStaysOneLine() {
        let multiLine = Outcome.done(200, json: "{\n  \"b\": 1,\n  \"a\": [1, 2]\n}", reason: "ok")
        #expect(OnceMode.resultLine(function: "f", outcome: multiLine) == #"{"function":"f","outcome":"done","status":200,"reason":"ok","response":{"a":[1,2],"b":1}}"#)
        let bare = Outcome.done(200, json: "42", reason: "ok")
        #expect(OnceMode.resultLine(function: "f", outcome: bare).hasSuffix(#","response":"42"}"#))
        var marked = Outcome.done(200, json: #"{"z":1}"#, reason: "ok")
        marked.body = [0xEF, 0xBB, 0xBF] + marked.body
        #expect(OnceMode.resultLine(function: "f", outcome: marked).hasSuffix(#","response":{"z":1}}"#))
        let asIs = Outcome.done(200, json: #"{"z":1,"a":2}"#, reason: "ok")
        #expect(OnceMode.resultLine(function: "f", outcome: asIs).hasSuffix(#","response":{"z":1,"a":2}}"#))
    }

    @Test func structuredContextAttributesMustBeStringsAndExtensionsKeepTheirValue() throws {
        #expect(throws: CloudEventError.invalidAttribute("specversion")) {
            _ = try CloudEventCodec.decodeStructured(Array(#"{"specversion":1.0,"id":"1","source":"/s","type":"t"}"#.utf8))
        }
        #expect(throws: CloudEventError.invalidAttribute("id")) {
            _ = try CloudEventCodec.decodeStructured(Array(#"{"specversion":"1.0","id":7,"source":"/s","type":"t"}"#.utf8))
        }
        let event = try CloudEventCodec.decodeStructured(Array(#"{"specversion":"1.0","id":"1","source":"/s","type":"t","retried":true,"weight":1.50}"#.utf8))
        #expect(event.extensions == ["retried": "true", "weight": "1.50"])
    }

    @Test func timestampsRefuseImpossibleFieldsAndLongFractionsWithoutTrapping() {
        for bad in ["2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-01-01T00:00:60Z",
                    "2026-01-01T00:00:00.1234567890Z", "2026-01-01T00:00:00.9999999999999999999999999Z", "2026-01-01T00:00:00.Z",
                    "2026-01-01T00:00:00.1a3Z", "2026-01-01T00:00:00+01:00"] {
            #expect(Formatting.parseTimestamp(bad) == nil, "\(bad)")
        }
        #expect(Formatting.parseTimestamp("2024-02-29T12:00:00Z") != nil)
        #expect(Formatting.parseTimestamp("2026-01-01T00:00:00.123456789Z") == Formatting.parseTimestamp("2026-01-01T00:00:00.123Z"))
        #expect(Formatting.parseTimestamp("2026-01-01T00:00:00.5Z")?.unixMilliseconds == Formatting.parseTimestamp("2026-01-01T00:00:00Z").map { $0.unixMilliseconds + 500 })
    }
}
