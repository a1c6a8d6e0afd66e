import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRuntime
import ConnectorSamples
import ConnectorStore
import ConnectorTestSupport
import Foundation
import NIOCore
import Testing
import WooCommerceAPI
#if canImport(Glibc)
import Glibc
#endif

/// Issue 9 item 4: malformed and hostile requests against the real webhook-receiver over HTTP.
/// Each gets the answer SPEC §9 documents, leaves nothing in the store but its audit trail
/// (or, for a signed but unusable delivery, its `unusable` record and an alert), and the
/// process keeps serving.
@Suite("hostile input", .serialized)
struct HostileInputTests {
    /// What a case may leave in the store.
    enum Trace: String, Sendable {
        /// Nothing at all.
        case nothing
        /// An audit line (plus the per-webhook signature-failure counter and, past its
        /// threshold, the "wrong secret" alert).
        case audit
        /// A delivery record marked `unusable` and an alert: signed, so answered 200.
        case unusable
        /// A genuine delivery: its record and pending work (hostile text inside stays text).
        case handedOff
        /// An alert only (a dead letter naming work nobody tried: nothing is parked).
        case alert
    }

    struct Case: Sendable, CustomStringConvertible {
        var name: String
        var method = "POST"
        var path = "/webhooks/woocommerce/shop"
        var headers: [(String, String)] = []
        var body: [UInt8] = []
        /// Send exactly these bytes on a raw socket instead (malformed HTTP).
        var raw: [UInt8]?
        var status: Int?
        var trace: Trace
        var description: String { name }
    }

    static let base = try! Samples.realDelivery("19")
    static let secret = Samples.captureWebhookSecret
    static let source = Samples.captureStoreURL + "/"

    /// WooCommerce's headers for `body`, signed with `secret`, with `changes` applied (nil removes).
    static func signed(_ body: [UInt8], secret: String = secret, topic: String = "order.updated", _ changes: [String: String?] = [:]) -> [(String, String)] {
        var headers: [String: String] = [
            "Content-Type": "application/json", "X-WC-Webhook-Source": source, "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "updated", "X-WC-Webhook-ID": "7",
            "X-WC-Webhook-Delivery-ID": "0123456789abcdef0123456789abcdef", "X-WC-Webhook-Signature": WebhookSignature.sign(body, secret: secret),
        ]
        for (name, value) in changes { headers[name] = value }
        return headers.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
    }

    static func json(_ text: String) -> [UInt8] { Array(text.utf8) }

    /// F&O business events at `/events/dynamics/{connection}?code=…`, guessing the code.
    static func eventCases(code: String) -> [Case] {
        let event = json(#"{"BusinessEventId":"SalesInvoicePostedBusinessEvent","ControlNumber":5637144576,"EventId":"C0A8E1A7-0000-0000-0000-000000000001","EventTime":"/Date(1764201600000)/","InvoiceId":"CIV-000001","LegalEntity":"usmf","SalesOrderId":"WC1"}"#)
        let path = "/events/dynamics/shop"
        let almost = String(code.dropLast()) + (code.last == "A" ? "B" : "A")
        return [
            Case(name: "business event without a code", path: path, headers: [("Content-Type", "application/json")], body: event, status: 401, trace: .audit),
            Case(name: "business event with an empty code", path: path + "?code=", headers: [("Content-Type", "application/json")], body: event, status: 401, trace: .audit),
            Case(name: "business event with a wrong code", path: path + "?code=" + String(repeating: "A", count: code.count), headers: [("Content-Type", "application/json")], body: event, status: 401, trace: .audit),
            Case(name: "business event with all but the last character of the code", path: path + "?code=" + almost, headers: [("Content-Type", "application/json")], body: event, status: 401, trace: .audit),
            Case(name: "business event with the code as a prefix", path: path + "?code=" + code + "x", headers: [("Content-Type", "application/json")], body: event, status: 401, trace: .audit),
            Case(name: "business event with the code in upper case", path: path + "?code=" + code.uppercased(), headers: [("Content-Type", "application/json")], body: event, status: code == code.uppercased() ? 200 : 401, trace: code == code.uppercased() ? .handedOff : .audit),
            Case(name: "business event with SQL as the code", path: path + "?code=%27%20OR%20%271%27%3D%271", headers: [("Content-Type", "application/json")], body: event, status: 401, trace: .audit),
            Case(name: "business event for an unknown connection", path: "/events/dynamics/nobody?code=" + code, headers: [("Content-Type", "application/json")], body: event, status: 404, trace: .nothing),
            Case(name: "business event with traversal in the connection", path: "/events/dynamics/..%2Fshop?code=" + code, headers: [("Content-Type", "application/json")], body: event, status: 404, trace: .nothing),
        ]
    }

    static var cases: [Case] {
        let real = base.body
        let sql = "'; DROP TABLE kv; --"
        var all: [Case] = [
            // Signatures.
            Case(name: "no signature header", headers: signed(real, ["X-WC-Webhook-Signature": nil]), body: real, status: 401, trace: .audit),
            Case(name: "empty signature", headers: signed(real, ["X-WC-Webhook-Signature": ""]), body: real, status: 401, trace: .audit),
            Case(name: "signature of another body", headers: signed(json("{\"id\":1}")), body: real, status: 401, trace: .audit),
            Case(name: "another connection's secret", headers: signed(real, secret: "another-stores-secret"), body: real, status: 401, trace: .audit),
            Case(name: "signature not base64", headers: signed(real, ["X-WC-Webhook-Signature": "!!!not-base64!!!"]), body: real, status: 401, trace: .audit),
            Case(name: "signature as hex", headers: signed(real, ["X-WC-Webhook-Signature": Digests.sha256Hex(real)]), body: real, status: 401, trace: .audit),
            Case(name: "signature with its case flipped", headers: signed(real, ["X-WC-Webhook-Signature": WebhookSignature.sign(real, secret: secret).uppercased()]), body: real, status: 401, trace: .audit),
            Case(name: "body changed by one trailing newline", headers: signed(real), body: real + [0x0A], status: 401, trace: .audit),
            Case(name: "8 KiB signature", headers: signed(real, ["X-WC-Webhook-Signature": String(repeating: "A", count: 8192)]), body: real, status: 401, trace: .audit),
            Case(name: "SQL in the webhook id of a forged delivery", headers: signed(real, secret: "guess", ["X-WC-Webhook-ID": sql]), body: real, status: 401, trace: .audit),
            Case(name: "signed with the empty secret", headers: signed(real, secret: ""), body: real, status: 401, trace: .audit),
            // The source must be the connection's store.
            Case(name: "another site as source", headers: signed(real, ["X-WC-Webhook-Source": "https://staging.example.com/"]), body: real, status: 403, trace: .audit),
            Case(name: "no source", headers: signed(real, ["X-WC-Webhook-Source": nil]), body: real, status: 403, trace: .audit),
            Case(name: "homograph host as source", headers: signed(real, ["X-WC-Webhook-Source": "https://127.0.0.1\u{FF0E}example.com:8443/"]), body: real, status: 403, trace: .audit),
            Case(name: "source with credentials", headers: signed(real, ["X-WC-Webhook-Source": "https://evil@attacker.example.com/"]), body: real, status: 403, trace: .audit),
            // Connection ids in the path.
            Case(name: "unknown connection", path: "/webhooks/woocommerce/nobody", headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "path traversal", path: "/webhooks/woocommerce/..%2F..%2Fetc%2Fpasswd", headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "dot-dot segment", path: "/webhooks/woocommerce/..", headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "unicode lookalike id", path: "/webhooks/woocommerce/sh%D0%BEp", headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "NUL in the id", path: "/webhooks/woocommerce/shop%00", headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "1000-character id", path: "/webhooks/woocommerce/" + String(repeating: "s", count: 1000), headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "SQL as the id", path: "/webhooks/woocommerce/shop%27%20OR%20%271%27%3D%271", headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "id in another case", path: "/webhooks/woocommerce/SHOP", headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "extra path segment", path: "/webhooks/woocommerce/shop/extra", headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "empty id", path: "/webhooks/woocommerce/", headers: signed(real), body: real, status: 404, trace: .nothing),
            Case(name: "other connection's path, this store's signature", path: "/webhooks/woocommerce/other", headers: signed(real), body: real, status: 401, trace: .audit),
            // Methods.
            Case(name: "GET on the webhook path", method: "GET", headers: [], body: [], status: 405, trace: .nothing),
            Case(name: "PUT on the webhook path", method: "PUT", headers: signed(real), body: real, status: 405, trace: .nothing),
            // Signed, but nothing usable inside: 200 (a non-2xx only moves WooCommerce toward disabling), recorded, alerted.
            Case(name: "signed text that is not JSON", headers: signed(json("hello")), body: json("hello"), status: 200, trace: .unusable),
            Case(name: "signed truncated JSON", headers: signed(Array(real.prefix(real.count / 2))), body: Array(real.prefix(real.count / 2)), status: 200, trace: .unusable),
            Case(name: "signed invalid UTF-8", headers: signed([0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D]), body: [0x7B, 0x22, 0xFF, 0xFE, 0x22, 0x3A, 0x31, 0x7D], status: 200, trace: .unusable),
            Case(name: "signed 100,000-deep nesting", headers: signed(Array(repeating: 0x5B, count: 100_000)), body: Array(repeating: 0x5B, count: 100_000), status: 200, trace: .unusable),
            Case(name: "signed id past Double", headers: signed(json("{\"id\":1e400}")), body: json("{\"id\":1e400}"), status: 200, trace: .unusable),
            Case(name: "signed id past Int64", headers: signed(json("{\"id\":99999999999999999999999}")), body: json("{\"id\":99999999999999999999999}"), status: 200, trace: .unusable),
            Case(name: "signed negative id", headers: signed(json("{\"id\":-5}")), body: json("{\"id\":-5}"), status: 200, trace: .unusable),
            Case(name: "signed id as text", headers: signed(json("{\"id\":\"12\"}")), body: json("{\"id\":\"12\"}"), status: 200, trace: .unusable),
            Case(name: "signed REST error object", headers: signed(json("{\"code\":\"woocommerce_rest_shop_order_invalid_id\",\"message\":\"Invalid ID.\",\"data\":{\"status\":404}}")),
                 body: json("{\"code\":\"woocommerce_rest_shop_order_invalid_id\",\"message\":\"Invalid ID.\",\"data\":{\"status\":404}}"), status: 200, trace: .unusable),
            Case(name: "signed empty body", headers: signed([]), body: [], status: 200, trace: .unusable),
            Case(name: "signed body over the size limit", headers: signed(Array(repeating: 0x20, count: 70_000) + json("{\"id\":3}")), body: Array(repeating: 0x20, count: 70_000) + json("{\"id\":3}"), status: 200, trace: .unusable),
            // Genuine but hostile text: stored as text, keyed by numbers, nothing interpreted.
            Case(name: "SQL in every field of a signed order", headers: signed(json("{\"id\":4242,\"status\":\"\(sql)\",\"billing\":{\"email\":\"a'*@x.com\",\"first_name\":\"\(sql)\"},\"line_items\":[{\"sku\":\"*\",\"name\":\"\(sql)\"}]}")),
                 body: json("{\"id\":4242,\"status\":\"\(sql)\",\"billing\":{\"email\":\"a'*@x.com\",\"first_name\":\"\(sql)\"},\"line_items\":[{\"sku\":\"*\",\"name\":\"\(sql)\"}]}"), status: 200, trace: .handedOff),
            Case(name: "SQL in the topic of a signed delivery", headers: signed(json("{\"id\":4343,\"status\":\"processing\"}"), topic: "order.updated\(sql)"), body: json("{\"id\":4343,\"status\":\"processing\"}"), status: 200, trace: .handedOff),
            Case(name: "signed JSON sent as text/plain", headers: signed(json("{\"id\":4444,\"status\":\"processing\"}"), ["Content-Type": "text/plain"]), body: json("{\"id\":4444,\"status\":\"processing\"}"), status: 200, trace: .handedOff),
            // Pings and forms.
            Case(name: "ping with a non-numeric id", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: json("webhook_id=abc"), status: 401, trace: .audit),
            Case(name: "ping with SQL", headers: [("Content-Type", "application/x-www-form-urlencoded")], body: json("webhook_id=1%27%20OR%201%3D1"), status: 401, trace: .audit),
            // CloudEvents the receiver does not take, or that are broken.
            Case(name: "binary CloudEvent without ce-type", path: "/", headers: [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/x")], body: [], status: 400, trace: .nothing),
            Case(name: "binary CloudEvent of a wrong version", path: "/", headers: [("ce-specversion", "0.3"), ("ce-id", "1"), ("ce-source", "/x"), ("ce-type", "t")], body: [], status: 400, trace: .nothing),
            Case(name: "structured CloudEvent without id", path: "/", headers: [("Content-Type", "application/cloudevents+json")],
                 body: json("{\"specversion\":\"1.0\",\"source\":\"/x\",\"type\":\"com.mlconnector.order.changed\"}"), status: 400, trace: .nothing),
            Case(name: "structured CloudEvent that is not JSON", path: "/", headers: [("Content-Type", "application/cloudevents+json")], body: json("{{{"), status: 400, trace: .nothing),
            Case(name: "a CloudEvent of another system", path: "/", headers: [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/x"), ("ce-type", "com.example.order.changed")],
                 body: json("{\"connection\":\"shop\",\"orderId\":1}"), status: 400, trace: .nothing),
            Case(name: "a forged dead letter for an order nobody tried", path: "/", headers: [("ce-specversion", "1.0"), ("ce-id", "1"), ("ce-source", "/x"), ("ce-type", "com.mlconnector.order.changed"), ("ce-knativeerrorcode", "500")],
                 body: json("{\"connection\":\"shop\",\"orderId\":1}"), status: 200, trace: .alert),
            Case(name: "a dead letter naming a connection that does not exist", path: "/", headers: [("ce-specversion", "1.0"), ("ce-id", "3"), ("ce-source", "/x"), ("ce-type", "com.mlconnector.order.changed")],
                 body: json("{\"connection\":\"nobody\",\"orderId\":1}"), status: 200, trace: .nothing),
            Case(name: "a dead letter naming a connection with SQL", path: "/", headers: [("ce-specversion", "1.0"), ("ce-id", "2"), ("ce-source", "/x"), ("ce-type", "com.mlconnector.order.changed")],
                 body: json("{\"connection\":\"shop' OR '1'='1\",\"orderId\":1}"), status: 200, trace: .nothing),
            // Malformed HTTP on a raw socket.
            Case(name: "body shorter than its Content-Length, then closed", raw: json("POST /webhooks/woocommerce/shop HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\nX-WC-Webhook-Signature: x\r\n\r\n{\"id\":1"), status: nil, trace: .nothing),
            Case(name: "garbage request line", raw: json("\u{1}\u{2}GARBAGE\r\n\r\n"), status: nil, trace: .nothing),
            Case(name: "header without a colon", raw: json("POST /webhooks/woocommerce/shop HTTP/1.1\r\nHost: x\r\nNoColonHere\r\nContent-Length: 0\r\n\r\n"), status: nil, trace: .nothing),
        ]
        all.append(Case(name: "request over the hard body limit", headers: signed([]), body: Array(repeating: 0x20, count: 300_000), status: 413, trace: .nothing))
        return all
    }

    @Test func everyHostileRequestGetsItsDocumentedAnswerAndTheServerStaysUp() async throws {
        #expect(Self.cases.count >= 40)
        let h = try await Harness(backend: .sqlite, maxBodyBytes: 64 * 1024)
        let code = try await ConnectionRepository(store: h.store).load("shop", key: h.key).dynamics.businessEventCode.reveal()
        let all = Self.cases + Self.eventCases(code: code)
        #expect(all.count >= 60)
        var settings = try RuntimeSettings(environment: ["MLC_HOST": "127.0.0.1", "PORT": "0", "MLC_MAX_BODY_BYTES": "65536", "MLC_MAX_REQUEST_BYTES": "262144"])
        settings.port = 0
        try await HTTPMode(function: "webhook-receiver", handler: h.function, settings: settings, logger: h.logger).withRunningServer { port in
            for hostile in all {
                let before = Set(try await h.everythingButConnections)
                if let raw = hostile.raw {
                    _ = Self.rawExchange(port: port, raw)
                } else {
                    let status = try await Self.send(port: port, hostile)
                    #expect(status == hostile.status, "\(hostile.name): answered \(status), expected \(hostile.status ?? 0)")
                }
                let added = Set(try await h.everythingButConnections).subtracting(before)
                let allowed: [String]
                switch hostile.trace {
                case .nothing: allowed = []
                case .audit: allowed = ["audit/", "sigfail/", "alert/", "outbox/"]
                case .unusable: allowed = ["delivery/", "alert/", "outbox/"]
                case .handedOff: allowed = ["delivery/", "pending/"]
                case .alert: allowed = ["alert/", "outbox/"]
                }
                let stray = added.filter { key in !allowed.contains { key.hasPrefix($0) } }
                #expect(stray.isEmpty, "\(hostile.name) wrote \(stray.sorted())")
                switch hostile.trace {
                case .audit:
                    #expect(added.contains { $0.hasPrefix("audit/") }, "\(hostile.name): no audit line")
                    // The code is never written down, not even the wrong one presented.
                    for key in added { #expect(!String(decoding: try await h.store.get(key)?.value ?? [], as: UTF8.self).contains(code), "\(hostile.name) stored the code") }
                case .unusable: #expect(try await h.deliveries.contains { $0.state == .unusable && added.contains(Keyspace.delivery("shop", topic: $0.topic, resourceID: $0.resourceID, bodySHA256: $0.bodySHA256)) }, "\(hostile.name): no unusable record")
                case .handedOff: #expect(added.contains { $0.hasPrefix("pending/") }, "\(hostile.name): not handed on")
                case .nothing: #expect(added.isEmpty)
                case .alert: #expect(added.contains { $0.hasPrefix("alert/") }, "\(hostile.name): no alert")
                }
                // Still serving after every case.
                #expect(try await Self.send(port: port, Case(name: "live", method: "GET", path: "/health/live", trace: .nothing)) == 200, "down after \(hostile.name)")
            }
            // And a genuine delivery still goes through.
            let status = try await Self.send(port: port, Case(name: "genuine", headers: Self.signed(Self.base.body), body: Self.base.body, trace: .handedOff))
            #expect(status == 200)
        }
        // The store itself is intact: the hostile text is data, nowhere interpreted.
        #expect(try await h.store.get("connection/shop") != nil)
        let sqlRecord = try await h.deliveries.first { $0.resourceID == "4242" }
        #expect(sqlRecord?.body?.contains("DROP TABLE") == true)
        #expect(try await h.deliveries.contains { $0.topic.hasPrefix("order.updated'") })
    }

    static func send(port: Int, _ hostile: Case) async throws -> Int {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(hostile.path)")
        request.method = .init(rawValue: hostile.method)
        for (name, value) in hostile.headers { request.headers.add(name: name, value: value) }
        if !hostile.body.isEmpty || hostile.method == "POST" { request.body = .bytes(ByteBuffer(bytes: hostile.body)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// Writes `bytes` on a fresh loopback connection, half-closes, and reads the answer (if
    /// any) for at most 5 seconds.
    static func rawExchange(port: Int, _ bytes: [UInt8]) -> String? {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { return nil }
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        shutdown(fd, Int32(SHUT_WR))
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while answer.count < 1 << 16 {
            let n = recv(fd, &buffer, buffer.count, 0)
            if n <= 0 { break }
            answer += buffer[0..<n]
        }
        return String(decoding: answer, as: UTF8.self)
    }

    /// The code is compared in constant time: a guess right in all but its last character takes
    /// as long to refuse as one wrong from the first (interleaved medians, comparator alone).
    @Test func aCodeGuessedByTimingLearnsNothing() {
        let code = Array("Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0Z2FycGx5".utf8)
        let almost = Array(code.dropLast()) + [code.last! ^ 1]
        let wrong = code.map { $0 ^ 0x55 }
        func time(_ guess: [UInt8]) -> UInt64 {
            let start = DispatchTime.now().uptimeNanoseconds
            var accepted = 0
            for _ in 0..<2_000 where Digests.constantTimeEquals(guess, code) { accepted += 1 }
            precondition(accepted == 0)
            return DispatchTime.now().uptimeNanoseconds - start
        }
        var nearly: [UInt64] = [], far: [UInt64] = []
        for _ in 0..<201 {
            nearly.append(time(almost))
            far.append(time(wrong))
        }
        let a = Double(nearly.sorted()[100]), b = Double(far.sorted()[100])
        #expect(max(a, b) / min(a, b) < 1.5, "median \(a) ns vs \(b) ns per 2,000 comparisons")
    }
}
