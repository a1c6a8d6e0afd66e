import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorSamples
import ConnectorStore
import ConnectorTestSupport
import Foundation
import Logging
import Synchronization
import Testing
import WooCommerceAPI

/// A receiver over a fresh store with the captures' connection ("shop") and a second one
/// ("other") with a different secret.
struct Harness {
    let store: any KeyValueStore
    let key = MasterKey.generate()
    let function: WebhookReceiverFunction
    let logger: Logger
    let logs: CapturingLogSink
    let wakeUps: RecordingWakeUp

    let clock: ManualWallClock

    init(backend: StoreBackend = .memory, store override: (any KeyValueStore)? = nil, maxBodyBytes: Int = 2 * 1024 * 1024) async throws {
        let store: any KeyValueStore
        if let override { store = override } else { store = try await backend.make() }
        self.store = store
        let repo = ConnectionRepository(store: store)
        try await repo.add(try TestConnections.make(id: "shop", webhookSecret: Samples.captureWebhookSecret, baseURL: Samples.captureStoreURL, prefix: "WC"), key: key)
        try await repo.add(try TestConnections.make(id: "other", webhookSecret: "another-stores-secret", baseURL: "https://other.example.com", prefix: "OT"), key: key)
        (logger, logs) = TestLogging.logger()
        wakeUps = RecordingWakeUp()
        clock = ManualWallClock(Date())
        function = WebhookReceiverFunction(store: store, masterKey: key, settings: IntakeSettings(maxBodyBytes: maxBodyBytes), clock: clock, wakeUp: wakeUps)
    }

    func deliver(_ delivery: CapturedDelivery, to connection: String = "shop", body: [UInt8]? = nil, headers: [String: String?] = [:]) async -> Outcome {
        var h = delivery.lowercasedHeaders
        for (name, value) in headers { h[name.lowercased()] = value }
        let request = HTTPRequestEnvelope(method: "POST", path: "/webhooks/woocommerce/\(connection)", headers: h, body: body ?? delivery.body)
        return await function.handle(request: request, context: InvocationContext(function: "webhook-receiver", invocationID: "t", logger: logger))
    }

    func keys(_ prefix: String) async throws -> [String] { try await store.listAll(prefix: prefix).map(\.key) }
    var pendingOrders: [String] { get async throws { try await keys(Keyspace.pending("shop")).filter { $0.contains("/order/") } } }
    var deliveries: [DeliveryRecord] {
        get async throws {
            try await store.listAll(prefix: Keyspace.deliveries("shop")).map { try DeliveryRecord.decode($0.value) }
        }
    }
    /// Everything the store holds besides the two connection records.
    var everythingButConnections: [String] { get async throws { try await store.listAll(prefix: "").map(\.key).filter { !$0.hasPrefix("connection/") } } }
}

final class RecordingWakeUp: WakeUpSender {
    let events = Mutex<[CloudEvent]>([])
    func send(_ event: CloudEvent, logger: Logger) { events.withLock { $0.append(event) } }
    func drain() async {}
}

@Suite("webhook-receiver on real WooCommerce deliveries")
struct WebhookIntakeTests {
    static let deliveries = (try? Samples.realDeliveries()) ?? []

    @Test func theCapturesAreLoaded() {
        #expect(Self.deliveries.count == 24)
        #expect(Self.deliveries.filter(\.signed).count == 23)
    }

    @Test("every signed real delivery verifies with its recorded secret and is answered 200", arguments: deliveries.filter(\.signed).map(\.name))
    func signedDeliveryIsAccepted(name: String) async throws {
        let delivery = try Samples.realDelivery(name)
        #expect(WebhookSignature.isValid(try #require(delivery.header("X-WC-Webhook-Signature")), body: delivery.body, secret: delivery.webhookSecret))
        let h = try await Harness()
        let outcome = await h.deliver(delivery)
        #expect(outcome.status == 200)
        #expect(outcome.kind == .done)
        let records = try await h.deliveries
        #expect(records.count == 1)
        #expect(records.first?.state != .unusable)
    }

    @Test("the ping gets 200 and stores nothing")
    func ping() async throws {
        let h = try await Harness()
        let ping = try Samples.realDelivery("01")
        #expect(!ping.signed)
        let outcome = await h.deliver(ping)
        #expect(outcome.status == 200)
        #expect(try await h.everythingButConnections.isEmpty)
    }

    @Test("flipping any single byte of a body is answered 401 and stores nothing but an audit line", arguments: deliveries.filter(\.signed).map(\.name))
    func flippedByteIsForged(name: String) async throws {
        let delivery = try Samples.realDelivery(name)
        let secret = delivery.webhookSecret
        let signature = try #require(delivery.header("X-WC-Webhook-Signature"))
        // Every position fails the signature check itself…
        var body = delivery.body
        for i in body.indices {
            body[i] ^= 0x20
            #expect(!WebhookSignature.isValid(signature, body: body, secret: secret), "byte \(i) of \(name)")
            body[i] ^= 0x20
        }
        // …and through the receiver, the first, a middle and the last byte are refused and leave only an audit line.
        let h = try await Harness()
        for position in [0, delivery.body.count / 2, delivery.body.count - 1] {
            var forged = delivery.body
            forged[position] ^= 0x01
            let outcome = await h.deliver(delivery, body: forged)
            #expect(outcome.status == 401)
            #expect(outcome.kind == .reject)
        }
        // An audit line each; the signature failures of that webhook are counted, and the third
        // raises "wrong secret on webhook N" (SPEC §9) — nothing else is stored.
        let stored = try await h.everythingButConnections
        #expect(stored.filter { $0.hasPrefix("audit/shop/") }.count == 3)
        #expect(stored.allSatisfy { ["audit/shop/", "sigfail/shop/", "alert/shop/", "outbox/shop/"].contains(where: $0.hasPrefix) }, "\(stored)")
    }

    @Test("another connection's secret, a missing or malformed signature: 401, nothing stored but an audit line")
    func wrongSecret() async throws {
        let h = try await Harness()
        let delivery = try Samples.realDelivery("05")
        #expect(await h.deliver(delivery, to: "other").status == 401)
        let resigned = WebhookSignature.sign(delivery.body, secret: "another-stores-secret")
        #expect(await h.deliver(delivery, headers: ["X-WC-Webhook-Signature": resigned]).status == 401)
        #expect(await h.deliver(delivery, headers: ["X-WC-Webhook-Signature": nil]).status == 401)
        #expect(await h.deliver(delivery, headers: ["X-WC-Webhook-Signature": "not base64 at all"]).status == 401)
        // An audit line each, and the per-webhook signature-failure counters (SPEC §9).
        let stored = try await h.everythingButConnections
        #expect(stored.filter { $0.hasPrefix("audit/") }.count == 4)
        #expect(stored.allSatisfy { ["audit/", "sigfail/", "alert/", "outbox/"].contains(where: $0.hasPrefix) }, "\(stored)")
    }

    @Test func unknownConnectionIs404() async throws {
        let h = try await Harness()
        let delivery = try Samples.realDelivery("05")
        for id in ["nobody", "..%2Fshop", "SHOP", "shop%00", String(repeating: "a", count: 41)] {
            #expect(await h.deliver(delivery, to: id).status == 404, "\(id)")
        }
        #expect(try await h.everythingButConnections.isEmpty)
    }

    @Test("the store URL matches with and without the trailing slash; another host gets 403", arguments: [
        ("https://127.0.0.1:8443/", 200), ("https://127.0.0.1:8443", 200), ("HTTPS://127.0.0.1:8443//", 200),
        ("https://127.0.0.1:443/", 403), ("http://127.0.0.1:8443/", 403), ("https://staging.example.com/", 403),
        ("https://127.0.0.1:8443/shop/", 403),
    ])
    func sourceMatching(source: String, status: Int) async throws {
        let h = try await Harness()
        #expect(await h.deliver(try Samples.realDelivery("05"), headers: ["X-WC-Webhook-Source": source]).status == status)
        #expect(StoreURL.sameStore("https://shop.example.com:443/", "https://SHOP.example.com"))
    }

    @Test func missingSourceIs403() async throws {
        let h = try await Harness()
        #expect(await h.deliver(try Samples.realDelivery("05"), headers: ["X-WC-Webhook-Source": nil]).status == 403)
    }

    @Test("a signed non-JSON body is answered 200, recorded as unusable and alerted")
    func nonJSONBody() async throws {
        let h = try await Harness()
        let delivery = try Samples.realDelivery("05")
        let body = Array("<html>Fatal error</html>".utf8)
        let outcome = await h.deliver(delivery, body: body, headers: ["X-WC-Webhook-Signature": WebhookSignature.sign(body, secret: Samples.captureWebhookSecret)])
        #expect(outcome.status == 200)
        let record = try #require(try await h.deliveries.first)
        #expect(record.state == .unusable)
        #expect(try await h.pendingOrders.isEmpty)
        let alerts = try await AlertCenter(store: h.store, clock: SystemWallClock()).list(connection: "shop")
        #expect(alerts.map(\.reason) == ["unusable-delivery"])
        #expect(h.logs.lines.contains { $0.contains("\"alert\":true") && $0.contains("unusable-delivery") })
    }

    @Test("a signed oversized body is answered 200, recorded as unusable and alerted")
    func oversizedBody() async throws {
        let h = try await Harness(maxBodyBytes: 1024)
        let delivery = try Samples.realDelivery("19")
        #expect(delivery.body.count > 1024)
        let outcome = await h.deliver(delivery)
        #expect(outcome.status == 200)
        let record = try #require(try await h.deliveries.first)
        #expect(record.state == .unusable)
        #expect(record.reason?.contains("over the 1024-byte limit") == true)
        #expect(record.body == nil)
        #expect(try await AlertCenter(store: h.store, clock: SystemWallClock()).list(connection: "shop").count == 1)
    }

    @Test("a signed REST error object is answered 200, recorded as unusable and alerted once per window")
    func restErrorBody() async throws {
        let h = try await Harness()
        let delivery = try Samples.realDelivery("05")
        for i in 0..<3 {
            let body = Array(#"{"code":"woocommerce_rest_shop_order_invalid_id","message":"Invalid ID.","data":{"status":404},"n":\#(i)}"#.utf8)
            let outcome = await h.deliver(delivery, body: body, headers: ["X-WC-Webhook-Signature": WebhookSignature.sign(body, secret: Samples.captureWebhookSecret)])
            #expect(outcome.status == 200)
        }
        #expect(try await h.deliveries.allSatisfy { $0.state == .unusable })
        let alerts = try await AlertCenter(store: h.store, clock: SystemWallClock()).list(connection: "shop")
        #expect(alerts.count == 1)
        #expect(alerts.first?.count == 3)
        #expect(h.logs.lines.filter { $0.contains("\"alert\":true") }.count == 1)
    }

    @Test("deliveries 12a and 12b (same Delivery-ID, different orders) are both kept")
    func deliveryIDCollision() async throws {
        let h = try await Harness()
        let a = try Samples.realDelivery("12a"), b = try Samples.realDelivery("12b")
        #expect(a.header("X-WC-Webhook-Delivery-ID") == b.header("X-WC-Webhook-Delivery-ID"))
        #expect(await h.deliver(a).status == 200)
        #expect(await h.deliver(b).status == 200)
        #expect(try await h.pendingOrders.count == 2)
        #expect(try await h.deliveries.count == 2)
    }

    @Test("the same delivery replayed 100 times leaves one pending entry")
    func replayedHundredTimes() async throws {
        let h = try await Harness()
        let delivery = try Samples.realDelivery("05")
        var statuses: [String] = []
        for _ in 0..<100 { statuses.append(await h.deliver(delivery).reason) }
        #expect(statuses.first == "handedOff")
        #expect(statuses.dropFirst().allSatisfy { $0 == "duplicate" })
        #expect(try await h.pendingOrders == [Keyspace.pending("shop", kind: "order", resourceID: "11")])
        #expect(try await h.deliveries.count == 1)
        #expect(h.wakeUps.events.withLock { $0.count } == 1)
    }

    @Test("two deliveries of the same order with different bodies in the same second are both kept")
    func sameOrderDifferentBodies() async throws {
        let h = try await Harness()
        let delivery = try Samples.realDelivery("05")
        let text = String(decoding: delivery.body, as: UTF8.self)
        let changed = Array(text.replacingOccurrences(of: "\"customer_note\":\"\"", with: "\"customer_note\":\"leave at door\"").utf8)
        #expect(changed != delivery.body)
        #expect(await h.deliver(delivery).status == 200)
        #expect(await h.deliver(delivery, body: changed, headers: ["X-WC-Webhook-Signature": WebhookSignature.sign(changed, secret: Samples.captureWebhookSecret)]).status == 200)
        let records = try await h.deliveries
        #expect(records.count == 2)
        #expect(Set(records.map(\.resourceID)) == ["11"])
        #expect(try await h.pendingOrders.count == 1, "one order to post; both states are on record")
    }

    @Test("a {\"id\":N} trash notice is recorded, never handed on for posting")
    func trashNotice() async throws {
        let h = try await Harness()
        let delivery = try Samples.realDelivery("10")
        #expect(String(decoding: delivery.body, as: UTF8.self) == #"{"id":14}"#)
        #expect(await h.deliver(delivery).status == 200)
        let record = try #require(try await h.deliveries.first)
        #expect(record.state == .recorded)
        #expect(record.resourceID == "14")
        #expect(try await h.keys(Keyspace.pending("shop")).isEmpty)
    }

    @Test("a repeat that arrives after the order was posted queues nothing again", arguments: [StoreBackend.memory, .sqlite])
    func repeatAfterPostingQueuesNothing(backend: StoreBackend) async throws {
        let h = try await Harness(backend: backend)
        let delivery = try Samples.realDelivery("19")
        #expect(await h.deliver(delivery).reason == "handedOff")
        let pending = Keyspace.pending("shop", kind: "order", resourceID: "32")
        #expect(try await h.store.get(pending) != nil)
        // order-poster finished the order: its pending work is gone (OrderPoster deletes it when
        // the order is posted, skipped or parked).
        #expect(try await h.store.delete(pending, expectedVersion: nil))
        // WooCommerce retries the same delivery later (or someone replays the signed body).
        #expect(await h.deliver(delivery).reason == "duplicate")
        #expect(try await h.store.get(pending) == nil, "a finished or parked order must not be queued again by a repeat")
        #expect(h.wakeUps.events.withLock { $0 }.count == 1)
    }

    @Test("the pending work is durable before the answer, and K_SINK gets an order.changed event")
    func handOffBeforeAnswer() async throws {
        let h = try await Harness(backend: .sqlite)
        #expect(await h.deliver(try Samples.realDelivery("19")).status == 200)
        let pending = try #require(try await h.store.getJSON(PendingWork.self, Keyspace.pending("shop", kind: "order", resourceID: "32")))
        #expect(pending.value.kind == "order")
        let events = h.wakeUps.events.withLock { $0 }
        #expect(events.count == 1)
        #expect(events.first?.type == "com.mlconnector.order.changed")
        #expect(events.first.map { String(decoding: $0.data ?? [], as: UTF8.self) } == #"{"connection":"shop","orderId":32}"#)
    }

    @Test("a failed store write still answers a genuine delivery 200, and is alerted")
    func storeWriteFailure() async throws {
        let faulty = FaultyStore(MemoryStore())
        let h = try await Harness(store: faulty)
        faulty.setFailWrites(true)
        let outcome = await h.deliver(try Samples.realDelivery("05"))
        #expect(outcome.status == 200)
        #expect(outcome.reason == "store write failed")
        #expect(h.logs.lines.contains { $0.contains("\"alert\":true") && $0.contains("store-write-failed") })
        faulty.setFailWrites(false)
        #expect(await h.deliver(try Samples.realDelivery("05")).reason == "handedOff", "the next delivery of the same body is not mistaken for a duplicate")
    }

    @Test("while the store cannot be read, genuine deliveries are still verified with the last good connection and answered 200")
    func storeOutageKeepsAnswering() async throws {
        let faulty = FaultyStore(MemoryStore())
        let h = try await Harness(store: faulty)
        #expect(await h.deliver(try Samples.realDelivery("05")).status == 200)
        h.clock.advance(by: 3600)  // the cached connection is long stale: it must be re-read, and that fails
        faulty.setFailEverything(true)
        let outcome = await h.deliver(try Samples.realDelivery("19"))
        #expect(outcome.status == 200)
        #expect(outcome.reason == "store write failed")
        let forged = await h.deliver(try Samples.realDelivery("19"), body: Array("{}".utf8))
        #expect(forged.status == 401, "the cached secret still refuses a forgery")
    }

    @Test func otherPathsAndMethods() async throws {
        let h = try await Harness()
        let ctx = InvocationContext(function: "webhook-receiver", invocationID: "t", logger: h.logger)
        #expect(await h.function.handle(request: HTTPRequestEnvelope(method: "GET", path: "/webhooks/woocommerce/shop", headers: [:], body: []), context: ctx).status == 405)
        #expect(await h.function.handle(request: HTTPRequestEnvelope(method: "POST", path: "/../../etc/passwd", headers: [:], body: []), context: ctx).status == 404)
    }
}
