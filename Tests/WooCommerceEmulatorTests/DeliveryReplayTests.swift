import ConnectorCore
import ConnectorSamples
import Foundation
import Testing
import WooCommerceAPI
@testable import WooCommerceEmulator

/// The captured session again, now with webhooks: after each step the queue runs, and every
/// delivery must carry the same values as the real delivery of that step (ids, dates and links
/// aside), verify with the connector's verifier, and have the real topic/resource/event.
@Suite struct DeliveryReplayTests {
    struct Step {
        var capture: String
        var target: String?
        /// The real deliveries this step produced, in order.
        var deliveries: [String]
    }

    @Test func deliveriesCarryTheRealValues() async throws {
        var configuration = WooCommerceEmulator.Configuration.captured
        configuration.calculateTaxes = false
        let clock = ManualWallClock(captureStart)
        let emulator = WooCommerceEmulator(configuration: configuration, clock: clock)
        let real = Dictionary(uniqueKeysWithValues: try Samples.realDeliveries().map { ($0.name, $0) })
        let receiver = Receiver()
        try await receiver.run { url in
            for topic in ["order.created", "order.updated", "product.created", "product.updated", "coupon.created", "customer.created", "customer.updated", "order.deleted"] {
                _ = await call(emulator, "POST", "/webhooks", .obj(["topic": .string(topic), "delivery_url": .string(url.absoluteString + "/" + topic), "secret": .string(Samples.captureWebhookSecret)]))
            }
            let pings = receiver.requests.count
            #expect(pings == 8)
            // Ids here: product 10, order 11, refund 12, tee 13, variations 14-16, coupon 17, customer 2, order 18.
            let steps: [Step] = [
                Step(capture: "product-create", deliveries: ["02-product-created"]),
                Step(capture: "order-create", deliveries: ["03-order-created-pending", "04-order-updated-fired-by-create"]),
                Step(capture: "order-set-paid", deliveries: ["06-product-updated-stock-reduced", "05-order-updated-set-paid"]),
                Step(capture: "refund-create", deliveries: ["07-product-updated-restocked-by-refund", "08-order-updated-refunded"]),
                Step(capture: "settings-calc-taxes-enable", deliveries: []),
                Step(capture: "tax-rate-create-standard", deliveries: []),
                Step(capture: "tax-rate-create-reduced-rate", deliveries: []),
                Step(capture: "product-variable-create", deliveries: ["02-product-created"]),
                Step(capture: "product-variations-batch-create", target: "/wp-json/wc/v3/products/13/variations/batch", deliveries: ["17-product-created-variation", "", ""]),
                Step(capture: "product-variation-update-stock", target: "/wp-json/wc/v3/products/13/variations/14", deliveries: ["18-product-updated-variation-stock-set"]),
                Step(capture: "coupon-create-percent", deliveries: ["13-coupon-created"]),
                Step(capture: "customer-create", deliveries: ["14-customer-created", "15-customer-updated-fired-by-create"]),
                Step(capture: "customer-update", deliveries: ["16-customer-updated"]),
            ]
            for step in steps {
                clock.advance(by: 1)
                let capture = try RESTCapture.load(step.capture)
                let before = receiver.requests.count
                let response = await replay(capture, on: emulator, target: step.target)
                #expect(response.status == capture.status, "\(step.capture)")
                await emulator.runDeliveries()
                let sent = Array(receiver.requests.dropFirst(before))
                #expect(sent.count == step.deliveries.count, "\(step.capture): \(sent.map { $0.header("X-WC-Webhook-Topic") ?? "" })")
                for (delivery, name) in zip(sent, step.deliveries) where !name.isEmpty {
                    let expected = try #require(real[name])
                    for header in ["X-WC-Webhook-Topic", "X-WC-Webhook-Resource", "X-WC-Webhook-Event", "X-WC-Webhook-Source", "User-Agent", "Content-Type"] {
                        #expect(delivery.header(header) == expected.header(header), "\(name) \(header)")
                    }
                    #expect(WebhookSignature.isValid(try #require(delivery.header("X-WC-Webhook-Signature")), body: delivery.body, secret: Samples.captureWebhookSecret))
                    let mine = try WooJSON.parse(delivery.body), theirs = try WooJSON.parse(expected.body)
                    var ignoring = volatileKeys
                    if step.capture == "product-variable-create" {
                        // Compared for shape only: the real 02 is the simple product.
                        #expect(shapeDifferences(mine, theirs).filter { !$0.contains("only in") }.isEmpty, "\(name)")
                        continue
                    }
                    if step.capture == "refund-create" { ignoring.insert("meta_data") }
                    let differences = valueDifferences(mine, theirs, ignoring: ignoring)
                    #expect(differences.isEmpty, "\(step.capture) → \(name): \(differences)")
                }
            }
            // Delivery 09: an on-hold order whose line is given by SKU (stock reduced at once),
            // then 10: trashing it sends only `{"id":N}`.
            // Captured before taxes were switched on.
            _ = await call(emulator, "PUT", "/settings/general/woocommerce_calc_taxes", .obj(["value": "no"]))
            clock.advance(by: 1)
            var before = receiver.requests.count
            let onHold = await call(emulator, "POST", "/orders", .obj([
                "status": "on-hold", "billing": .obj(["first_name": "Grace", "email": "grace@example.com"]),
                "line_items": [.obj(["sku": "MLC-WIDGET-001", "quantity": 1])],
            ]))
            await emulator.runDeliveries()
            let created = try #require(receiver.requests.dropFirst(before).first { $0.header("X-WC-Webhook-Topic") == "order.created" })
            let differences = valueDifferences(try WooJSON.parse(created.body), try WooJSON.parse(try #require(real["09-order-created-on-hold"]).body))
            #expect(differences.isEmpty, "09: \(differences)")
            let onHoldID = try #require(onHold.json["id"]?.intValue)
            before = receiver.requests.count
            _ = await call(emulator, "DELETE", "/orders/\(onHoldID)")
            await emulator.runDeliveries()
            let trashed = Array(receiver.requests.dropFirst(before))
            #expect(trashed.map { $0.header("X-WC-Webhook-Topic") } == ["order.deleted"])
            #expect(trashed.first.map { String(decoding: $0.body, as: UTF8.self) } == "{\"id\":\(onHoldID)}")
            let realTrash = try #require(real["10-order-deleted-trashed"])
            #expect(trashed.first?.header("X-WC-Webhook-Event") == realTrash.header("X-WC-Webhook-Event"))
            #expect(WebhookSignature.isValid(try #require(trashed.first?.header("X-WC-Webhook-Signature")), body: try #require(trashed.first).body, secret: Samples.captureWebhookSecret))
        }
    }

    /// Order 32 of the captures (taxes, coupon, shipping, fee, variation), its two partial
    /// refunds and its completion, as deliveries 19–23 show them.
    @Test func taxedOrderRefundsAndCompletionDeliveries() async throws {
        var configuration = WooCommerceEmulator.Configuration.captured
        configuration.calculateTaxes = false
        let clock = ManualWallClock(captureStart)
        let emulator = WooCommerceEmulator(configuration: configuration, clock: clock)
        let real = Dictionary(uniqueKeysWithValues: try Samples.realDeliveries().map { ($0.name, $0) })
        for name in ["settings-calc-taxes-enable", "tax-rate-create-standard", "tax-rate-create-reduced-rate", "product-create", "product-variable-create", "coupon-create-percent"] {
            _ = await replay(try RESTCapture.load(name), on: emulator)
        }
        _ = await replay(try RESTCapture.load("product-variations-batch-create"), on: emulator, target: "/wp-json/wc/v3/products/11/variations/batch")
        let receiver = Receiver()
        try await receiver.run { url in
            for topic in ["order.updated", "product.updated"] {
                _ = await call(emulator, "POST", "/webhooks", .obj(["topic": .string(topic), "delivery_url": .string(url.absoluteString + "/" + topic), "secret": .string(Samples.captureWebhookSecret)]))
            }
            func deliveries(after count: Int, topic: String) -> [WooJSON] {
                receiver.requests.dropFirst(count).filter { $0.header("X-WC-Webhook-Topic") == topic }.compactMap { try? WooJSON.parse($0.body) }
            }
            func expectSame(_ mine: WooJSON?, _ name: String, ignoring extra: Set<String> = []) throws {
                let theirs = try WooJSON.parse(try #require(real[name]).body)
                let differences = valueDifferences(try #require(mine), theirs, ignoring: volatileKeys.union(extra))
                #expect(differences.isEmpty, "\(name): \(differences)")
            }
            clock.advance(by: 60)
            var count = receiver.requests.count
            let capture = try RESTCapture.load("order-create-coupon-tax-shipping-fee-guest")
            var body = try #require(capture.body?.objectValue)
            body["line_items"] = [.obj(["product_id": 10, "quantity": 2]), .obj(["product_id": 11, "variation_id": 14, "quantity": 1])] // coupon 12, variations 13-15
            let order = await replay(capture, on: emulator, body: .object(body))
            let orderID = try #require(order.json["id"]?.intValue)
            let widgetLine = try #require(order.json["line_items"]?.arrayValue?.first?["id"]?.intValue)
            await emulator.runDeliveries()
            // The coupon_info meta carries the coupon's post id.
            try expectSame(deliveries(after: count, topic: "order.updated").first, "19-order-updated-coupon-tax-shipping-fee-paid", ignoring: ["meta_data"])
            try expectSame(deliveries(after: count, topic: "product.updated").first { $0["type"] == "variation" }, "20-product-updated-variation-stock-reduced-by-order")

            clock.advance(by: 22)
            count = receiver.requests.count
            let refundBody: WooJSON = .obj(["reason": "One widget returned", "api_refund": false, "line_items": [.obj(["id": .int(widgetLine), "quantity": 1, "refund_total": .double(17.99), "refund_tax": [.obj(["id": 1, "refund_total": .double(1.3)])]])]])
            _ = await call(emulator, "POST", "/orders/\(orderID)/refunds", refundBody)
            await emulator.runDeliveries()
            try expectSame(deliveries(after: count, topic: "order.updated").first, "21-order-updated-partial-refund-line-items", ignoring: ["meta_data"])

            clock.advance(by: 4)
            count = receiver.requests.count
            _ = await replay(try RESTCapture.load("refund-create-amount-only"), on: emulator, target: "/wp-json/wc/v3/orders/\(orderID)/refunds")
            await emulator.runDeliveries()
            try expectSame(deliveries(after: count, topic: "order.updated").first, "22-order-updated-partial-refund-amount-only", ignoring: ["meta_data"])

            clock.advance(by: 14)
            count = receiver.requests.count
            _ = await replay(try RESTCapture.load("order-update-completed-customer-note"), on: emulator, target: "/wp-json/wc/v3/orders/\(orderID)")
            await emulator.runDeliveries()
            try expectSame(deliveries(after: count, topic: "order.updated").first, "23-order-updated-completed", ignoring: ["meta_data"])
            // Notes fire nothing.
            count = receiver.requests.count
            _ = await replay(try RESTCapture.load("order-note-create-customer"), on: emulator, target: "/wp-json/wc/v3/orders/\(orderID)/notes")
            #expect(await emulator.runDeliveries().isEmpty)
        }
    }
}
