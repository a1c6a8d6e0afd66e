import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorMapping
import ConnectorSandbox
import ConnectorStore
import ConnectorTestSupport
import DynamicsEmulator
import Foundation
import Testing
import WooCommerceClient
import WooCommerceEmulator

/// A web shop's day — 50 varied orders — posted into the F&O sandbox through the real webhook
/// path, then the same day again under every fault the issue names; F&O must end in the same
/// state each time (SPEC §8 "exactly once, to the cent").
@Suite(.serialized) struct ShopDayTests {
    struct Expectation: Sendable {
        var posted: Bool
        var payment: Bool
        var refunds: Int
    }

    /// Places the day's orders (deterministic ids in a fresh store) and returns what F&O must hold.
    static func placeDay(_ h: PostingHarness) async throws -> [Int: Expectation] {
        let shop = h.shop
        let mug = try await shop.simpleProduct(sku: "MUG-01", name: "Coffee mug", price: "12.50", stock: 1000)
        let poster = try await shop.send("/products", #"{"name":"Poster A2","type":"simple","sku":"POSTER-01","regular_price":"19.99","tax_class":"reduced-rate","manage_stock":true,"stock_quantity":1000,"status":"publish"}"#)["id"]?.intValue ?? 0
        let (tshirt, variations) = try await shop.variableProduct(sku: "TSHIRT-01", name: "T-shirt", price: "24.00", variants: [("M", "Blue"), ("L", "Blue"), ("M", "Red")])
        try await shop.send("/coupons", #"{"code":"welcome10","discount_type":"percent","amount":"10"}"#)
        let billing = #""billing":{"first_name":"Ada","last_name":"Lovelace","address_1":"1 Main St","city":"Springfield","state":"CA","postcode":"90001","country":"US","email":"ada@example.com"}"#
        let ada = try await shop.send("/customers", #"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace",\#(billing)}"#)["id"]?.intValue ?? 0
        let guest = SandboxShop.californiaBilling
        let shipping = #""shipping_lines":[{"method_id":"flat_rate","method_title":"Flat rate","total":"5.00"}]"#
        var expected: [Int: Expectation] = [:]
        var refundLater: [(order: Int, amounts: [String])] = []
        for i in 0..<50 {
            let json: String
            var expectation = Expectation(posted: true, payment: true, refunds: 0)
            switch i % 10 {
            case 0: json = #"{"customer_id":\#(ada),"payment_method":"stripe","set_paid":true,\#(billing),"line_items":[{"product_id":\#(mug),"quantity":2}],\#(shipping)}"#
            case 1: json = #"{"payment_method":"stripe","set_paid":true,\#(guest),"line_items":[{"product_id":\#(tshirt),"variation_id":\#(variations[0]),"quantity":2},{"product_id":\#(poster),"quantity":1}],"coupon_lines":[{"code":"welcome10"}],"fee_lines":[{"name":"Gift wrap","total":"3.00"}]}"#
            case 2: json = #"{"customer_id":\#(ada),"currency":"EUR","payment_method":"stripe","set_paid":true,"billing":{"first_name":"Ada","last_name":"Lovelace","address_1":"Hauptstr. 1","city":"Berlin","postcode":"10115","country":"DE","email":"ada@example.com"},"line_items":[{"product_id":\#(poster),"quantity":3}]}"#
            case 3:
                json = #"{"payment_method":"cod","status":"processing",\#(guest),"line_items":[{"product_id":\#(tshirt),"variation_id":\#(variations[2]),"quantity":1}],\#(shipping)}"#
                expectation.payment = false
            case 4: json = #"{"payment_method":"stripe","set_paid":true,\#(guest),"line_items":[{"product_id":\#(mug),"quantity":1},{"product_id":\#(poster),"quantity":2}],\#(shipping)}"#
            case 5:
                let customer = try await shop.send("/customers", #"{"email":"shopper\#(i)@example.com","first_name":"Shopper","last_name":"No\#(i)","billing":{"first_name":"Shopper","last_name":"No\#(i)","address_1":"\#(i) Elm St","city":"Fresno","state":"CA","postcode":"93650","country":"US","email":"shopper\#(i)@example.com"}}"#)["id"]?.intValue ?? 0
                json = #"{"customer_id":\#(customer),"payment_method":"stripe","set_paid":true,"billing":{"first_name":"Shopper","last_name":"No\#(i)","address_1":"\#(i) Elm St","city":"Fresno","state":"CA","postcode":"93650","country":"US","email":"shopper\#(i)@example.com"},"line_items":[{"product_id":\#(tshirt),"variation_id":\#(variations[1]),"quantity":1}]}"#
            case 6: json = #"{"customer_id":\#(ada),"payment_method":"stripe","set_paid":true,\#(billing),"line_items":[{"product_id":\#(mug),"quantity":4}],\#(shipping)}"#
            case 7: json = #"{"payment_method":"stripe","set_paid":true,\#(guest),"line_items":[{"product_id":\#(poster),"quantity":2},{"product_id":\#(mug),"quantity":2}],\#(shipping)}"#
            case 8:
                json = #"{"payment_method":"stripe","set_paid":false,\#(guest),"line_items":[{"product_id":\#(mug),"quantity":1}]}"#
                expectation = Expectation(posted: false, payment: false, refunds: 0)
            default: json = #"{"payment_method":"stripe","set_paid":true,\#(guest),"line_items":[{"product_id":\#(tshirt),"variation_id":\#(variations[0]),"quantity":3}],\#(shipping)}"#
            }
            let id = try await shop.order(json)
            if i % 10 == 6 { refundLater.append((id, ["12.50"])); expectation.refunds = 1 }
            if i % 10 == 7 { refundLater.append((id, ["5.00", "10.00"])); expectation.refunds = 2 }
            expected[id] = expectation
        }
        for (order, amounts) in refundLater {
            for amount in amounts {
                try await shop.send("/orders/\(order)/refunds", #"{"amount":"\#(amount)","reason":"partial refund","api_refund":false}"#)
            }
        }
        return expected
    }

    /// What F&O holds, independent of the numbers F&O assigns: per reference, the lines and the
    /// journal lines; and the customers.
    static func state(_ h: PostingHarness) -> [String] {
        let dynamics = h.dynamics
        var out: [String] = []
        let lines = dynamics.records("SalesOrderLines")
        for header in dynamics.records("SalesOrderHeadersV2") {
            let number = header["SalesOrderNumber"]?.stringValue ?? ""
            let mine = lines.filter { $0["SalesOrderNumber"]?.stringValue == number }.map { line in
                ["OrderLineReference", "ItemNumber", "ProductSizeId", "ProductColorId", "OrderedSalesQuantity", "SalesPrice", "LineAmount"].map { line[$0]?.description ?? "" }.joined(separator: "|")
            }.sorted()
            out.append("order \(header["CustomersOrderReference"]?.description ?? "") \(header["OrderingCustomerAccountNumber"]?.description ?? "") \(header["CurrencyCode"]?.description ?? ""): " + mine.joined(separator: "; "))
        }
        for line in dynamics.records("CustomerPaymentJournalLines") {
            out.append("journal " + ["PaymentReference", "AccountDisplayValue", "CreditAmount", "DebitAmount", "CurrencyCode"].map { line[$0]?.description ?? "" }.joined(separator: "|"))
        }
        for customer in dynamics.records("CustomersV3") { out.append("customer \(customer["CustomerAccount"]?.description ?? "")") }
        return out.sorted()
    }

    /// Checks the day against the expectations and WooCommerce's own totals.
    static func check(_ h: PostingHarness, _ expected: [Int: Expectation]) async throws {
        let woo = try h.remotes.woocommerce(h.connection)
        let journal = h.dynamics.records("CustomerPaymentJournalLines")
        for (id, expectation) in expected.sorted(by: { $0.key < $1.key }) {
            let reference = "WC\(id)"
            let headers = h.salesOrders(reference: reference)
            let record = try await AuditRecords(store: h.store, clock: h.clock, retention: .seconds(60)).load(connection: h.connection.id, kind: "order", id: String(id))
            #expect(headers.count == (expectation.posted ? 1 : 0), "order \(id): \(headers.count) sales orders; record \(record?.state.rawValue ?? "none"): \(record?.reason ?? "")")
            if expectation.posted, let number = headers.first?["SalesOrderNumber"]?.stringValue {
                let order = try await woo.order(id)
                #expect(h.lineAmounts(salesOrder: number).reduce(0, +) == order.total - order.totalTax, "order \(id): F&O net differs from WooCommerce")
                #expect(headers.first?["CustomersOrderReference"]?.stringValue == reference, "order \(id): the reference was changed")
            }
            let payments = journal.filter { $0["PaymentReference"]?.stringValue == "\(reference)P" }
            #expect(payments.count == (expectation.payment ? 1 : 0), "order \(id): \(payments.count) payment lines")
            let refunds = journal.filter { ($0["PaymentReference"]?.stringValue ?? "").hasPrefix("\(reference)R") }
            #expect(refunds.count == expectation.refunds, "order \(id): \(refunds.count) refund lines")
            #expect(refunds.allSatisfy { ($0["DebitAmount"]?.decimalValue ?? 0) > 0 && ($0["CreditAmount"]?.decimalValue ?? 0) == 0 })
        }
        // No write reached F&O without a valid token.
        let writes = h.dynamics.requestLog.filter { $0.target.hasPrefix("/data") && $0.method != "GET" }
        #expect(!writes.isEmpty)
        #expect(writes.allSatisfy { $0.tokenValid == true || $0.status == 401 })
        let parked = try await AuditRecords(store: h.store, clock: h.clock, retention: .seconds(60)).list(connection: h.connection.id, state: .parked)
        #expect(parked.isEmpty, "parked: \(parked.map { "\($0.id): \($0.reason ?? "")" })")
    }

    /// Plays the day: webhooks (optionally repeated), deliveries, then drains until nothing is pending.
    static func play(_ h: PostingHarness, repeatDeliveries: Int = 0, beforeDrain: @Sendable (PostingHarness) async -> Void = { _ in },
                     drain: (@Sendable (PostingHarness) async -> Void)? = nil) async throws -> [Int: Expectation] {
        try await h.createWebhooks()
        let expected = try await placeDay(h)
        var faults = WooCommerceEmulator.Faults()
        faults.duplicateDeliveries = repeatDeliveries > 0 ? 10_000 * repeatDeliveries : 0
        h.woo.setFaults(faults)
        if repeatDeliveries > 0 {
            // Each duplicate round sends every queued delivery once more.
            for _ in 0..<repeatDeliveries { _ = await h.woo.runDeliveries() }
        }
        let attempts = await h.woo.runDeliveries()
        h.woo.setFaults(.init())
        #expect(attempts.allSatisfy { $0.succeeded })
        let pending = try await h.store.listAll(prefix: Keyspace.pending(h.connection.id, kind: "order"))
        #expect(pending.count == expected.count, "every order was handed on")
        await beforeDrain(h)
        if let drain { await drain(h) } else { await h.drainUntilDone() }
        return expected
    }

    /// The day played once without faults on `store` (a fresh memory store when nil): F&O's final state.
    static func baseline(store: (any KeyValueStore)? = nil) async throws -> [String] {
        let box = StateBox()
        try await PostingHarness.run(store: store) { h in
            let expected = try await play(h)
            try await check(h, expected)
            await box.set(state(h))
        }
        return await box.value
    }

    actor StateBox {
        var value: [String] = []
        func set(_ v: [String]) { value = v }
    }

    static func same(_ name: String, _ state: [String], _ baseline: [String]) {
        #expect(state.count == baseline.count, "\(name): \(state.count) F&O facts, baseline \(baseline.count)")
        let missing = Set(baseline).subtracting(state), extra = Set(state).subtracting(baseline)
        #expect(missing.isEmpty && extra.isEmpty, "\(name): missing \(missing.sorted().prefix(3)), extra \(extra.sorted().prefix(3))")
    }

    @Test(arguments: StoreBackend.available)
    func fiftyVariedOrdersLandExactlyOnce(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        let state = try await Self.baseline(store: store)
        #expect(state.filter { $0.hasPrefix("order ") }.count == 45)
        try await store.close()
    }

    @Test func theSameStateUnderFaults() async throws {
        let baseline = try await Self.baseline()

        // Every delivery sent 5 times.
        try await PostingHarness.run { h in
            let expected = try await Self.play(h, repeatDeliveries: 4)
            try await Self.check(h, expected)
            Self.same("deliveries ×5", Self.state(h), baseline)
        }
        // A 429 on every 3rd call (Retry-After 1 s, waited through the recording sleeper), and the token expiring mid-run.
        try await PostingHarness.run { h in
            let expected = try await Self.play(h, beforeDrain: { h in
                var faults = DynamicsEmulator.Faults()
                faults.throttleEvery = 3
                faults.throttleRetryAfter = 1
                h.dynamics.setFaults(faults)
            }, drain: { h in
                let function = OrderPosterFunction(poster: h.poster, store: h.store, drainLimit: 20)
                let context = InvocationContext(function: "order-poster", invocationID: "t", logger: h.logger)
                _ = await function.drain(connection: h.connection.id, context: context)
                h.dynamics.expireTokens()
                await h.drainUntilDone()
            })
            #expect(h.sleeper.recorded.contains(1))
            #expect(h.dynamics.requestLog.contains { $0.status == 429 })
            #expect(h.dynamics.requestLog.contains { $0.status == 401 })
            h.dynamics.setFaults(.init())
            try await Self.check(h, expected)
            Self.same("429 storm + token expiry", Self.state(h), baseline)
        }
        // F&O answering 503 for a while, then recovering: the drains complete everything.
        try await PostingHarness.run { h in
            let expected = try await Self.play(h, beforeDrain: { h in
                var faults = DynamicsEmulator.Faults()
                faults.failNext = 40
                faults.failStatus = 503
                faults.failAsHTMLGatewayPage = true
                h.dynamics.setFaults(faults)
            })
            try await Self.check(h, expected)
            Self.same("503 for a while", Self.state(h), baseline)
        }
        // Two order-posters on the same pending set at once.
        try await PostingHarness.run { h in
            let expected = try await Self.play(h, drain: { h in
                async let a: Int = h.drainUntilDone(concurrency: 3)
                async let b: Int = h.drainUntilDone(concurrency: 3)
                _ = await (a, b)
                await h.drainUntilDone()
            })
            try await Self.check(h, expected)
            Self.same("two posters", Self.state(h), baseline)
        }
        // 50 concurrent duplicates of one order, before the drain.
        try await PostingHarness.run { h in
            let expected = try await Self.play(h, beforeDrain: { h in
                let first = await withTaskGroup(of: PostResult.self) { group in
                    for _ in 0..<50 { group.addTask { await h.post(18) } }
                    var results: [PostResult] = []
                    for await result in group { results.append(result) }
                    return results
                }
                #expect(first.contains(.posted(salesOrderNumber: "WC18")))
            })
            try await Self.check(h, expected)
            Self.same("50 concurrent duplicates", Self.state(h), baseline)
        }
    }

    /// "Saved, then the response was lost" on the header, on the lines with the payment, and on
    /// a refund's journal line — with F&O numbering the orders, so each is its own write.
    @Test func lostAnswersOnHeaderLineAndPaymentChangeNothing() async throws {
        let baseline = try await Self.baseline()
        var options = PostingHarness.Options()
        options.supplySalesOrderNumber = false
        try await PostingHarness.run(options: options) { h in
            let expected = try await Self.play(h, beforeDrain: { h in
                var faults = DynamicsEmulator.Faults()
                faults.loseResponsesOfNextWrites = 3
                h.dynamics.setFaults(faults)
            }, drain: { h in
                let context = InvocationContext(function: "order-poster", invocationID: "t", logger: h.logger)
                _ = await OrderPosterFunction(poster: h.poster, store: h.store, concurrency: 1).drain(connection: h.connection.id, context: context)
                #expect(h.dynamics.faults.loseResponsesOfNextWrites == 0, "all three lost answers were used")
                await h.drainUntilDone()
            })
            try await Self.check(h, expected)
            Self.same("lost answers", Self.state(h), baseline)
        }
    }
}
