import ConnectorCore
import ConnectorSamples
import Foundation
import Testing
import WooCommerceAPI
@testable import WooCommerceEmulator

/// The delivery engine against a real receiver on 127.0.0.1 (port 0), checked against the
/// real deliveries and with the connector's own signature verifier.
@Suite struct DeliveryTests {
    static let secret = Samples.captureWebhookSecret

    func store(_ clock: ManualWallClock) -> WooCommerceEmulator {
        var configuration = WooCommerceEmulator.Configuration.captured
        configuration.calculateTaxes = false
        return WooCommerceEmulator(configuration: configuration, clock: clock)
    }

    func hook(_ emulator: WooCommerceEmulator, _ topic: String, _ url: URL) async -> Int {
        let response = await call(emulator, "POST", "/webhooks", .obj([
            "name": .string("test \(topic)"), "topic": .string(topic), "delivery_url": .string(url.absoluteString + "/hook/" + topic), "secret": .string(Self.secret),
        ]))
        return response.json["id"]?.intValue ?? -1
    }

    /// The transport headers (Host, Content-Length, Connection, Accept-Encoding) depend on the
    /// HTTP client; everything else must be the real set.
    static func wooHeaderNames(_ names: [String]) -> Set<String> {
        Set(names.map { $0.lowercased() }).subtracting(["host", "content-length", "connection", "accept-encoding", "transfer-encoding"])
    }

    @Test func deliveriesLookAndVerifyLikeTheRealOnes() async throws {
        let clock = ManualWallClock(captureStart)
        let emulator = store(clock)
        let receiver = Receiver()
        try await receiver.run { url in
            let orderCreated = await hook(emulator, "order.created", url)
            let orderUpdated = await hook(emulator, "order.updated", url)
            _ = await hook(emulator, "product.updated", url)
            // The pings: unsigned, form-encoded, no X-WC-* headers.
            let pings = receiver.requests
            #expect(pings.count == 3)
            let realPing = try #require(try Samples.realDeliveries().first { !$0.signed })
            #expect(pings.first?.body == Array("webhook_id=\(orderCreated)".utf8))
            #expect(Self.wooHeaderNames(pings.first?.headers.map(\.name) ?? []) == Self.wooHeaderNames(realPing.headers.map(\.name)))
            #expect(pings.first?.header("Content-Type") == "application/x-www-form-urlencoded")

            _ = await call(emulator, "POST", "/products", .obj(["name": "Widget / Ünïcode €", "type": "simple", "regular_price": "19.99", "sku": "W-1", "manage_stock": true, "stock_quantity": 5]))
            _ = await call(emulator, "POST", "/orders", .obj(["line_items": [.obj(["product_id": 10, "quantity": 2])], "set_paid": true]))
            #expect(emulator.pendingDeliveryCount == 3)
            let attempts = await emulator.runDeliveries()
            // In the order the hooks fired: created, the stock reduction of the payment, updated.
            #expect(attempts.map(\.topic) == ["order.created", "product.updated", "order.updated"])
            #expect(attempts.allSatisfy { $0.succeeded })

            let deliveries = Array(receiver.requests.dropFirst(3))
            #expect(deliveries.count == 3)
            let real = try #require(try Samples.realDeliveries().first { $0.name.hasPrefix("03-") })
            let realNames = Self.wooHeaderNames(real.headers.map(\.name))
            for delivery in deliveries {
                let names = Self.wooHeaderNames(delivery.headers.map(\.name))
                #expect(names == realNames)
                #expect(delivery.header("User-Agent") == "WooCommerce/10.0.2 Hookshot (WordPress/6.8.8)")
                #expect(delivery.header("Content-Type") == "application/json")
                #expect(delivery.header("X-WC-Webhook-Source") == "https://127.0.0.1:8443/")
                let signature = try #require(delivery.header("X-WC-Webhook-Signature"))
                #expect(WebhookSignature.isValid(signature, body: delivery.body, secret: Self.secret))
                #expect(!WebhookSignature.isValid(signature, body: delivery.body + [0x20], secret: Self.secret))
                let deliveryID = try #require(delivery.header("X-WC-Webhook-Delivery-ID"))
                #expect(deliveryID.count == 32 && deliveryID.allSatisfy { $0.isHexDigit })
            }
            // PHP escaping on the wire.
            let product = try #require(deliveries.first { $0.header("X-WC-Webhook-Topic") == "product.updated" })
            let created0 = try #require(deliveries.first { $0.header("X-WC-Webhook-Topic") == "order.created" })
            let updated0 = try #require(deliveries.first { $0.header("X-WC-Webhook-Topic") == "order.updated" })
            let text = String(decoding: product.body, as: UTF8.self)
            #expect(text.contains(#"Widget \/ \u00dcn\u00efcode \u20ac"#))
            #expect(text.contains(#"https:\/\/127.0.0.1:8443\/"#))
            // Same key set and value types as the real order.created body.
            let created = try WooJSON.parse(created0.body)
            let differences = shapeDifferences(created, try WooJSON.parse(real.body))
            #expect(differences.isEmpty, "\(differences)")
            // Both order deliveries carry the state at send time (paid), with the same body.
            #expect(created0.body == updated0.body)
            #expect(created["status"] == "processing")
            #expect(created0.header("X-WC-Webhook-ID") == String(orderCreated))
            #expect(updated0.header("X-WC-Webhook-ID") == String(orderUpdated))
            // wp_hash(webhook id . second): the same id again within the same second.
            _ = await call(emulator, "PUT", "/orders/11", .obj(["customer_note": "again"]))
            await emulator.runDeliveries()
            #expect(receiver.requests.last?.header("X-WC-Webhook-Delivery-ID") == updated0.header("X-WC-Webhook-Delivery-ID"))
            clock.advance(by: 1)
            _ = await call(emulator, "PUT", "/orders/11", .obj(["customer_note": "later"]))
            await emulator.runDeliveries()
            #expect(receiver.requests.last?.header("X-WC-Webhook-Delivery-ID") != updated0.header("X-WC-Webhook-Delivery-ID"))
        }
    }

    @Test func pendingDeliveriesCoalescePerWebhookAndResource() async throws {
        let clock = ManualWallClock(captureStart)
        let emulator = store(clock)
        let receiver = Receiver()
        try await receiver.run { url in
            _ = await hook(emulator, "order.updated", url)
            _ = await call(emulator, "POST", "/products", .obj(["name": "Widget", "regular_price": "10.00"]))
            _ = await call(emulator, "POST", "/orders", .obj(["line_items": [.obj(["product_id": 10, "quantity": 1])]]))
            _ = await call(emulator, "PUT", "/orders/11", .obj(["set_paid": true]))
            _ = await call(emulator, "POST", "/orders/11/refunds", .obj(["amount": "1.00", "api_refund": false]))
            let second = await call(emulator, "POST", "/orders", .obj(["line_items": [.obj(["product_id": 10, "quantity": 1])]]))
            let secondID = try #require(second.json["id"]?.intValue)
            #expect(emulator.pendingDeliveryCount == 2)
            let attempts = await emulator.runDeliveries()
            #expect(attempts.map(\.resourceID) == [11, secondID])
            // One delivery carrying both the payment and the refund (real delivery 11).
            let body = try WooJSON.parse(try #require(receiver.requests.dropFirst().first).body)
            #expect(body["status"] == "processing")
            #expect(body["refunds"]?.arrayValue?.count == 1)
            // Trash: `{"id":N}` on order.deleted.
            _ = await hook(emulator, "order.deleted", url)
            _ = await call(emulator, "DELETE", "/orders/\(secondID)")
            await emulator.runDeliveries()
            #expect(receiver.requests.last.map { String(decoding: $0.body, as: UTF8.self) } == "{\"id\":\(secondID)}")
        }
    }

    /// Seven consecutive failures: the counter goes 1…6, the 7th disables; re-enabling keeps
    /// the counter, so the next failure disables at once; only a success resets it.
    @Test func seventhConsecutiveFailureDisablesAndReenablingKeepsTheCounter() async throws {
        let clock = ManualWallClock(captureStart)
        let emulator = store(clock)
        let receiver = Receiver()
        receiver.status.withLock { $0 = 500 }
        try await receiver.run { url in
            let id = await hook(emulator, "order.updated", url)
            _ = await call(emulator, "POST", "/products", .obj(["name": "Widget", "regular_price": "10.00"]))
            _ = await call(emulator, "POST", "/orders", .obj(["line_items": [.obj(["product_id": 10, "quantity": 1])]]))
            var counts: [Int] = []
            for attempt in 1...7 {
                if attempt > 1 { _ = await call(emulator, "PUT", "/orders/11", .obj(["customer_note": .string("n\(attempt)")])) }
                clock.advance(by: 1)
                let result = await emulator.runDeliveries()
                #expect(result.count == 1 && result.first?.status == 500)
                let info = try #require(emulator.webhooks().first)
                counts.append(info.failureCount)
                // The only REST field that moves on a failure is date_modified.
                let shown = await call(emulator, "GET", "/webhooks/\(id)")
                #expect(shown.json["date_modified_gmt"] == .string(WooDate.format(clock.now())))
                #expect(info.status == (attempt == 7 ? "disabled" : "active"), "attempt \(attempt)")
            }
            #expect(counts == [1, 2, 3, 4, 5, 6, 6])
            let rest = await call(emulator, "GET", "/webhooks/\(id)")
            #expect(rest.json["status"] == "disabled")
            #expect(rest.json["failure_count"] == nil)
            // Disabled: later events are not queued at all.
            _ = await call(emulator, "PUT", "/orders/11", .obj(["customer_note": "8th"]))
            #expect(emulator.pendingDeliveryCount == 0)
            // Re-enable: counter still 6, next failure disables again.
            _ = await call(emulator, "PUT", "/webhooks/\(id)", .obj(["status": "active"]))
            #expect(emulator.webhooks().first?.failureCount == 6)
            #expect(emulator.webhooks().first?.status == "active")
            _ = await call(emulator, "PUT", "/orders/11", .obj(["customer_note": "9th"]))
            await emulator.runDeliveries()
            #expect(emulator.webhooks().first?.status == "disabled")
            #expect(emulator.webhooks().first?.failureCount == 6)
            // A success resets.
            receiver.status.withLock { $0 = 200 }
            _ = await call(emulator, "PUT", "/webhooks/\(id)", .obj(["status": "active"]))
            _ = await call(emulator, "PUT", "/orders/11", .obj(["customer_note": "10th"]))
            await emulator.runDeliveries()
            #expect(emulator.webhooks().first?.failureCount == 0)
        }
    }

    @Test func closedPortCountsAsAFailure() async throws {
        let emulator = store(ManualWallClock(captureStart))
        let closed = try await closedPortURL()
        _ = await call(emulator, "POST", "/webhooks", .obj(["topic": "order.created", "delivery_url": .string(closed.absoluteString), "secret": "s"]))
        _ = await call(emulator, "POST", "/orders", .obj([:]))
        let attempts = await emulator.runDeliveries()
        #expect(attempts.first?.status == nil)
        #expect(emulator.webhooks().first?.failureCount == 1)
    }

    @Test func variationStockChangeDeliversTheVariationInProductShape() async throws {
        let clock = ManualWallClock(captureStart)
        let emulator = store(clock)
        let receiver = Receiver()
        try await receiver.run { url in
            _ = await hook(emulator, "product.updated", url)
            _ = await hook(emulator, "product.created", url)
            let parent = await call(emulator, "POST", "/products", .obj(["name": "ML Connector Tee", "type": "variable", "attributes": [.obj(["name": "Size", "options": ["S", "M"], "variation": true])]]))
            let pid = try #require(parent.json["id"]?.intValue)
            let batch = await call(emulator, "POST", "/products/\(pid)/variations/batch", .obj(["create": [
                .obj(["sku": "T-S", "regular_price": "20.00", "manage_stock": true, "stock_quantity": 20, "attributes": [.obj(["name": "Size", "option": "S"])]]),
                .obj(["sku": "T-M", "regular_price": "20.00", "manage_stock": true, "stock_quantity": 20, "attributes": [.obj(["name": "Size", "option": "M"])]]),
            ]]))
            let vid = try #require(batch.json["create"]?.arrayValue?.first?["id"]?.intValue)
            await emulator.runDeliveries()
            let createdTopics = receiver.requests.dropFirst(2).map { $0.header("X-WC-Webhook-Topic") }
            #expect(createdTopics == ["product.updated", "product.created", "product.created"] || createdTopics.filter { $0 == "product.created" }.count == 3)
            let before = receiver.requests.count
            _ = await call(emulator, "PUT", "/products/\(pid)/variations/\(vid)", .obj(["stock_quantity": 18]))
            await emulator.runDeliveries()
            let delivery = try #require(receiver.requests.last)
            #expect(receiver.requests.count == before + 1)
            let body = try WooJSON.parse(delivery.body)
            #expect(body["id"] == .int(vid))
            #expect(body["type"] == "variation")
            #expect(body["name"] == "ML Connector Tee - S")
            #expect(body["stock_quantity"] == 18)
            let real = try #require(try Samples.realDeliveries().first { $0.name.hasPrefix("18-") })
            #expect(shapeDifferences(body, try WooJSON.parse(real.body)).isEmpty)
        }
    }

    @Test func faultSwitchesDropAndDuplicate() async throws {
        let emulator = store(ManualWallClock(captureStart))
        let receiver = Receiver()
        try await receiver.run { url in
            _ = await hook(emulator, "order.created", url)
            var faults = WooCommerceEmulator.Faults()
            faults.dropDeliveries = 1
            faults.duplicateDeliveries = 1
            emulator.setFaults(faults)
            _ = await call(emulator, "POST", "/orders", .obj([:]))
            _ = await call(emulator, "POST", "/orders", .obj([:]))
            let attempts = await emulator.runDeliveries()
            #expect(attempts.map(\.dropped) == [true, false])
            let deliveries = receiver.requests.dropFirst()
            #expect(deliveries.count == 2)
            #expect(deliveries.first.map { Array($0.body) } == deliveries.last.map { Array($0.body) })
            #expect(emulator.webhooks().first?.failureCount == 0)
        }
    }

    @Test func afterEachRequestModeDeliversInTheBackgroundUnlessHeld() async throws {
        var configuration = WooCommerceEmulator.Configuration()
        configuration.deliveryMode = .afterEachRequest
        let emulator = WooCommerceEmulator(configuration: configuration, clock: ManualWallClock(captureStart))
        let receiver = Receiver()
        try await receiver.run { url in
            _ = await hook(emulator, "order.created", url)
            _ = await call(emulator, "POST", "/orders", .obj([:]))
            await emulator.waitForBackgroundDeliveries()
            #expect(receiver.requests.count == 2)
            #expect(emulator.pendingDeliveryCount == 0)
            // Cron delay: held until someone runs the queue.
            var faults = WooCommerceEmulator.Faults()
            faults.holdDeliveries = true
            emulator.setFaults(faults)
            _ = await call(emulator, "POST", "/orders", .obj([:]))
            await emulator.waitForBackgroundDeliveries()
            #expect(emulator.pendingDeliveryCount == 1)
            await emulator.runDeliveries()
            #expect(receiver.requests.count == 3)
        }
    }

    @Test func errorObjectPayloadsAreSignedAndSent() async throws {
        let emulator = store(ManualWallClock(captureStart))
        let receiver = Receiver()
        try await receiver.run { url in
            _ = await hook(emulator, "order.updated", url)
            var faults = WooCommerceEmulator.Faults()
            faults.errorPayloads = 1
            emulator.setFaults(faults)
            let order = await call(emulator, "POST", "/orders", .obj([:]))
            await emulator.runDeliveries()
            let first = try #require(receiver.requests.last)
            #expect(String(decoding: first.body, as: UTF8.self) == #"{"code":"woocommerce_rest_cannot_view","message":"Sorry, you cannot view this resource.","data":{"status":401}}"#)
            #expect(WebhookSignature.isValid(try #require(first.header("X-WC-Webhook-Signature")), body: first.body, secret: Self.secret))
            // Updated, then force-deleted before the queue ran: the internal GET fails.
            let id = try #require(order.json["id"]?.intValue)
            _ = await call(emulator, "PUT", "/orders/\(id)", .obj(["customer_note": "x"]))
            _ = await call(emulator, "DELETE", "/orders/\(id)?force=true")
            await emulator.runDeliveries()
            let gone = try WooJSON.parse(try #require(receiver.requests.last).body)
            #expect(gone["code"] == "woocommerce_rest_shop_order_invalid_id")
        }
    }

    @Test func safeRemoteRulesRefuseOddPortsWithoutConnecting() async throws {
        var configuration = WooCommerceEmulator.Configuration.captured
        configuration.safeRemoteRequests = true
        let emulator = WooCommerceEmulator(configuration: configuration, clock: ManualWallClock(captureStart))
        let receiver = Receiver()
        try await receiver.run { url in
            _ = await hook(emulator, "order.created", url)     // 127.0.0.1 is the site's host, but the port is not allowed
            _ = await call(emulator, "POST", "/orders", .obj([:]))
            let attempts = await emulator.runDeliveries()
            #expect(attempts.first?.status == nil)
            #expect(receiver.requests.isEmpty) // not even the ping
            #expect(emulator.webhooks().first?.failureCount == 1)
        }
        #expect(emulator.isSafeRemote("http://127.0.0.1:8080/hook"))
        #expect(emulator.isSafeRemote("https://127.0.0.1:8443/hook"))
        #expect(!emulator.isSafeRemote("http://10.0.0.5/hook"))
        #expect(emulator.isSafeRemote("https://hooks.example.com/x"))
        #expect(!emulator.isSafeRemote("https://hooks.example.com:9999/x"))
        #expect(WooCommerceEmulator.specialCharsDecode("a&amp;b&lt;") == "a&b<")
    }

    @Test func couponUpdatesAndTrash() async throws {
        let emulator = store(ManualWallClock(captureStart))
        let receiver = Receiver()
        try await receiver.run { url in
            _ = await hook(emulator, "coupon.updated", url)
            _ = await hook(emulator, "coupon.deleted", url)
            let coupon = await call(emulator, "POST", "/coupons", .obj(["code": "MLC10", "discount_type": "percent", "amount": "10"]))
            #expect(coupon.json["code"] == "mlc10")
            let id = try #require(coupon.json["id"]?.intValue)
            let updated = await call(emulator, "PUT", "/coupons/\(id)", .obj(["amount": "15"]))
            #expect(updated.json["amount"] == "15.00")
            _ = await call(emulator, "DELETE", "/coupons/\(id)")
            await emulator.runDeliveries()
            let topics = receiver.requests.dropFirst(2).map { $0.header("X-WC-Webhook-Topic") }
            #expect(topics == ["coupon.updated", "coupon.deleted"])
            #expect(receiver.requests.last.map { String(decoding: $0.body, as: UTF8.self) } == "{\"id\":\(id)}")
            let refused = await call(emulator, "POST", "/orders", .obj(["coupon_lines": [.obj(["code": "mlc10"])]]))
            #expect(refused.status == 400)
        }
    }
}
