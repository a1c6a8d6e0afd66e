import ConnectorCore
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
