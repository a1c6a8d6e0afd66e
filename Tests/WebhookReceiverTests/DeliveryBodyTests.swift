import ConnectorSamples
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import Foundation
import Testing
import WooCommerceAPI

@Suite("Delivery body classification")
struct DeliveryBodyTests {
    func classify(_ text: String) -> DeliveryBody { DeliveryBody.classify(Array(text.utf8)) }

    @Test("every real signed delivery classifies as the resource its headers name")
    func realBodies() throws {
        for delivery in try Samples.realDeliveries() where delivery.signed {
            let result = DeliveryBody.classify(delivery.body)
            let object = try JSONSerialization.jsonObject(with: Data(delivery.body)) as! [String: Any]
            let id = try #require(object["id"] as? Int)
            if object.count == 1 {
                #expect(result == .deleted(id: Int64(id)), "\(delivery.name)")
            } else {
                #expect(result == .resource(id: Int64(id)), "\(delivery.name)")
            }
        }
    }

    /// The probe skips string bytes eight at a time: a quote, an escape, a control character or a
    /// multi-byte character at any offset within those eight must be read exactly as JSON says.
    @Test func specialBytesAtEveryOffsetOfTheWordScan() {
        let specials: [(insert: [UInt8], valid: Bool)] = [
            (Array(#"\""#.utf8), true), (Array(#"\\"#.utf8), true), (Array(#"\u00e9"#.utf8), true), (Array("é€😀".utf8), true),
            ([0x0A], false), ([0x1F], false), ([0x7F], true), (Array(#"\x"#.utf8), false), (Array(#"""#.utf8), false),
        ]
        for (insert, valid) in specials {
            for prefix in 0..<20 {
                for suffix in [0, 1, 7, 8, 9] {
                    let body = Array(#"{"id":7,"s":""#.utf8) + Array(repeating: UInt8(ascii: "a"), count: prefix) + insert
                        + Array(repeating: UInt8(ascii: "b"), count: suffix) + Array(#"","t":1}"#.utf8)
                    let result = DeliveryBody.classify(body)
                    if valid {
                        #expect(result == .resource(id: 7), "\(String(decoding: body, as: UTF8.self).debugDescription)")
                    } else {
                        #expect(result != .resource(id: 7), "\(String(decoding: body, as: UTF8.self).debugDescription)")
                    }
                }
            }
        }
    }

    @Test func shapes() {
        #expect(classify(#"{"id":14}"#) == .deleted(id: 14))
        #expect(classify(#" { "id" : 15 , "status":"processing" } "#) == .resource(id: 15))
        // Keys are compared as bytes, and an escaped key by its decoded text.
        #expect(classify(#"{"i\u0064":16,"status":"processing"}"#) == .resource(id: 16))
        #expect(classify(#"{"idx":16,"status":"processing"}"#) != .resource(id: 16))
        #expect(classify(#"{"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot view this resource.","data":{"status":401}}"#) == .restError(code: "woocommerce_rest_cannot_view"))
        #expect(classify(#"{"\u0069d":7,"x":1}"#) == .resource(id: 7))
        #expect(classify(#"{"id":"12","x":1}"#) == .unusable(reason: "body has no resource id"))
        #expect(classify(#"{"id":-3,"x":1}"#) == .unusable(reason: "body has no resource id"))
        #expect(classify(#"{"id":1.5,"x":1}"#) == .unusable(reason: "body has no resource id"))
        #expect(classify(#"[{"id":1}]"#) == .unusable(reason: "body is not a JSON object"))
        #expect(classify(#"{}"#) == .unusable(reason: "body has no resource id"))
    }

    @Test("malformed JSON is never taken for a delivery", arguments: [
        #"{"id":1,}"#, #"{"id":1"#, #"{"id":01,"x":1}"#, #"{"id":1,"x":"\q"}"#, "{\"id\":1,\"x\":\"a\u{01}b\"}",
        #"{"id":1,"x":tru}"#, #"{"id":1,"x":1.}"#, #"{"id":1,"x":-}"#, #"{"id":1} {"id":2}"#, #"{"id":1,"x":"\u12"}"#,
        #"{id:1}"#, #"{"id":1,"x":[1,2,]}"#, "", "   ", "webhook_id=1", #"{"id":1,"x":1e}"#,
    ])
    func malformed(text: String) {
        guard case .unusable = classify(text) else {
            Issue.record("accepted malformed JSON: \(text)")
            return
        }
    }

    /// Found by the fuzz harness: a code longer than the probe keeps read as an empty code.
    @Test func aLongErrorCodeKeepsItsBeginning() {
        #expect(classify(#"{"code":""# + String(repeating: "é", count: 300) + #"","message":"m"}"#) == .restError(code: String(repeating: "é", count: 100)))
        #expect(classify(#"{"code":"\u0061"# + String(repeating: "b", count: 400) + #"","message":"m"}"#) == .restError(code: "a" + String(repeating: "b", count: 99)))
        #expect(classify(#"{""# + String(repeating: "x", count: 300) + #"":1,"id":3}"#) == .resource(id: 3))
    }

    @Test func invalidUTF8AndDeepNestingAreUnusable() {
        var bytes = Array(#"{"id":1,"x":"ab"}"#.utf8)
        bytes[13] = 0xFF
        #expect(DeliveryBody.classify(bytes) == .unusable(reason: "body is not valid JSON"))
        let deep = #"{"id":1,"x":"# + String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000) + "}"
        #expect(classify(deep) == .unusable(reason: "body nests deeper than 256 levels"))
        let fine = #"{"id":1,"x":"# + String(repeating: "[", count: 200) + String(repeating: "]", count: 200) + "}"
        #expect(classify(fine) == .resource(id: 1))
    }
}

@Suite("Stored records")
struct StoredRecordTests {
    @Test("hand-written record encodings read back exactly, body bytes included")
    func roundTrip() throws {
        let date = Date(unixMilliseconds: 1_795_000_123_456)
        let body = #"{"id":11,"note":"line\nbreak \"quoted\" \/ é"}"#
        let record = DeliveryRecord(connection: "acme", topic: "order.updated", resourceID: "11", webhookID: "2", deliveryID: "b833\"x",
                                    receivedAt: date, bodySHA256: "ab12", bodyBytes: body.utf8.count, state: .handedOff, reason: "why \\ not", body: body)
        let decoded = try DeliveryRecord.decode(try record.encoded())
        #expect(decoded == record)
        var bare = record
        bare.body = nil
        bare.webhookID = nil
        bare.reason = nil
        #expect(try DeliveryRecord.decode(try bare.encoded()) == bare)
        let work = PendingWork(connection: "acme", kind: "order", resourceID: "11", firstSeenAt: date, origin: "delivery/acme/x")
        #expect(try StoreJSON.decoder.decode(PendingWork.self, from: Data(work.encoded())) == work)
    }
}

@Suite("Store URL identity")
struct StoreURLTests {
    @Test(arguments: [
        ("https://shop.example.com/", "https://shop.example.com"),
        ("HTTPS://Shop.Example.com:443//", "https://shop.example.com"),
        ("http://shop.example.com:80/", "http://shop.example.com"),
        ("https://127.0.0.1:8443/", "https://127.0.0.1:8443"),
        ("https://[::1]:8443/shop/", "https://[::1]:8443/shop"),
        ("https://example.com/Shop/", "https://example.com/Shop"),
    ])
    func normalizes(input: String, expected: String) {
        #expect(StoreURL.normalized(input) == expected)
    }

    @Test(arguments: ["ftp://shop.example.com", "https://", "shop.example.com", "https://user@shop.example.com", "https://shop.example.com:abc/", "https://shop.example.com/?x=1", ""])
    func refuses(input: String) {
        #expect(StoreURL.normalized(input) == nil)
    }
}

@Suite struct ConnectionPathSegmentTests {
    @Test func percentEncodedIdsAreDecodedAndBrokenOnesKeptAsSent() {
        #expect(WebhookReceiverFunction.connectionID("acme") == "acme")
        #expect(WebhookReceiverFunction.connectionID("acme%2Deu") == "acme-eu")
        #expect(WebhookReceiverFunction.connectionID("acme%ZZ") == "acme%ZZ")
    }
}
