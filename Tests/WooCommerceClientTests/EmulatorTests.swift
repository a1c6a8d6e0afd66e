import AsyncHTTPClient
import ConnectorCore
import Foundation
import Testing
import WooCommerceClient
import WooCommerceEmulator

/// The client over real HTTP against the WooCommerce emulator on 127.0.0.1:0. No sleeping:
/// the emulator and the client share a manual clock.
@Suite struct AuthenticationTests {
    @Test(arguments: [WooCommerceClient.Configuration.AuthMode.basic, .query, .oauth1])
    func eachAuthModeReadsAndWrites(mode: WooCommerceClient.Configuration.AuthMode) async throws {
        try await withHarness(authMode: mode) { h in
            let id = try await h.seedOrder()
            let ping = try await h.client.ping()
            #expect(ping.orderCount == 1)
            #expect(try await h.client.order(id).id == id)
            let updated = try await h.client.updateOrder(id, status: "completed")
            #expect(updated.status == "completed")
            // Several OAuth requests in the same clock second: each nonce is new.
            _ = try await h.client.addOrderNote(orderID: id, note: "posted to F&O as SO-1")
        }
    }

    @Test func oauth1WithSHA1AndAHomeURLOverride() async throws {
        try await withHarness(authMode: .oauth1, store: { $0.homeURL = "https://127.0.0.1:8443" }) { h in
            // Signing over the URL called (not the home URL) is what the real store rejects.
            let naive = try h.client { _ in }
            let error = await wooError { _ = try await naive.ping() }
            #expect(error?.status == 401 && error?.message == "Invalid signature - provided signature does not match.")

            let sha1 = try h.client {
                $0.homeURL = "https://127.0.0.1:8443"
                $0.signatureMethod = .hmacSHA1
            }
            #expect(try await sha1.ping().orderCount == 0)
        }
    }

    @Test func basicOverWhatTheStoreSeesAsHTTPIsThePermanentCannotView() async throws {
        // The store does not see HTTPS (e.g. a proxy terminates TLS without telling WordPress):
        // the keys are ignored and the real store answers 401 woocommerce_rest_cannot_view.
        try await withHarness(authMode: .basic, store: { $0.treatRequestsAsHTTPS = false }) { h in
            let error = try #require(await wooError { _ = try await h.client.orders(WooOrderQuery()) })
            #expect(error.status == 401 && error.code == "woocommerce_rest_cannot_view" && error.message == "Sorry, you cannot list resources.")
            let connector = error.connectorError
            #expect(connector == .credentialsRejected && connector.disposition == .permanent)
            #expect(connector.description.contains("woocommerce_rest_cannot_view") && connector.fix.contains("authMode"))
        }
    }

    @Test func wrongSecretAndReadOnlyKeysArePermanent() async throws {
        try await withHarness(authMode: .basic, store: { $0.keyPermissions = .read }) { h in
            let wrong = try h.client { $0.consumerSecret = "cs_wrong" }
            let e1 = try #require(await wooError { _ = try await wrong.ping() })
            #expect(e1.code == "woocommerce_rest_authentication_error" && e1.message == "Consumer secret is invalid." && !e1.isTransient)

            // The store refuses the write on the key's permission before it looks at the id.
            let e2 = try #require(await wooError { _ = try await h.client.updateOrder(1, status: "completed") })
            #expect(e2.status == 401 && e2.message == "The API key provided does not have write permissions.")
            #expect(e2.connectorError == .credentialsRejected)
        }
        try await withHarness(authMode: .query) { h in
            let wrong = try h.client { $0.consumerSecret = "cs_wrong" }
            let error = try #require(await wooError { _ = try await wrong.ping() })
            #expect(error.code == "woocommerce_rest_authentication_error")
            // The query string (which holds the secret in this mode) is never in the error.
            #expect(!error.description.contains("cs_wrong") && !error.connectorError.description.contains("cs_wrong"))
        }
    }

    @Test(arguments: [WooCommerceClient.Configuration.AuthMode.basic, .query, .oauth1])
    func noSecretIsEverLogged(mode: WooCommerceClient.Configuration.AuthMode) async throws {
        try await withHarness(authMode: mode) { h in
            _ = try await h.client.ping()
            _ = await wooError { _ = try await h.client.order(12345) }
            let lines = h.logs.lines
            #expect(lines.contains { $0.contains("woocommerce response") && $0.contains("404") })
            let secret = h.woo.credentials.consumerSecret
            let basic = Data("\(h.woo.credentials.consumerKey):\(secret)".utf8).base64EncodedString()
            #expect(!lines.contains { $0.contains(secret) || $0.contains(basic) || $0.contains("oauth_signature") })
        }
    }

    @Test func oauthReplayAndClockSkewAreRejected() async throws {
        try await withHarness(authMode: .oauth1) { h in
            // A client whose nonces repeat: the second request is a replay.
            let fixed = try WooCommerceClient(configuration: h.client.configuration, httpClient: h.http, clock: h.clock, nonces: FixedNonce())
            _ = try await fixed.ping()
            let replay = try #require(await wooError { _ = try await fixed.ping() })
            #expect(replay.message == "Invalid nonce - nonce has already been used." && !replay.isTransient)

            // A client clock 20 minutes off.
            let skewed = ManualWallClock(h.clock.now().addingTimeInterval(-20 * 60))
            let late = try WooCommerceClient(configuration: h.client.configuration, httpClient: h.http, clock: skewed, nonces: CountingNonceSource(prefix: "late"))
            let error = try #require(await wooError { _ = try await late.ping() })
            #expect(error.message == "Invalid timestamp.")
        }
    }
}

struct FixedNonce: NonceSource {
    func nextNonce() -> String { "always-the-same" }
}

@Suite struct OrderTests {
    @Test func pagingTwoHundredFiftyOrdersByHundreds() async throws {
        try await withHarness { h in
            var ids: [Int] = []
            for i in 0..<250 {
                ids.append(try await h.seedOrder())
                // Distinct modification times, so `orderby=modified` has one answer.
                if i % 10 == 9 { h.clock.advance(by: 1) }
            }
            let first = try await h.client.orders(WooOrderQuery(perPage: 100))
            #expect(first.items.count == 100 && first.total == 250 && first.totalPages == 3 && first.hasMore)
            let last = try await h.client.orders(WooOrderQuery(page: 3, perPage: 100))
            #expect(last.items.count == 50 && !last.hasMore)
            let beyond = try await h.client.orders(WooOrderQuery(page: 4, perPage: 100))
            #expect(beyond.items.isEmpty && !beyond.hasMore)

            let all = try await h.client.allOrders(WooOrderQuery(perPage: 100))
            #expect(all.map(\.id).sorted() == ids.sorted())
            #expect(Set(all.map(\.id)).count == 250)
            // Ascending by modification time.
            let dates = all.compactMap(\.dateModifiedGMT)
            #expect(dates.count == 250 && dates == dates.sorted())

            let bounded = await wooError { _ = try await h.client.allOrders(WooOrderQuery(perPage: 100), maxPages: 2) }
            #expect(bounded?.code == "client_invalid_request" && bounded?.message.contains("maxPages") == true)
            let tooBig = await wooError { _ = try await h.client.orders(WooOrderQuery(perPage: 101)) }
            #expect(tooBig?.connectorError == .invalidInput)
        }
    }

    /// Under OAuth the filters (colons in dates, commas in statuses) are signed too.
    @Test(arguments: [WooCommerceClient.Configuration.AuthMode.basic, .oauth1])
    func modifiedAfterAndStatusFilters(mode: WooCommerceClient.Configuration.AuthMode) async throws {
        try await withHarness(authMode: mode) { h in
            let early = try await h.seedOrder(#"{"status":"processing"}"#)
            h.clock.advance(by: 3600)
            let cutoff = h.clock.now()
            h.clock.advance(by: 60)
            let late = try await h.seedOrder(#"{"status":"on-hold"}"#)
            let completed = try await h.seedOrder(#"{"status":"completed"}"#)
            let after = try await h.client.allOrders(WooOrderQuery(modifiedAfter: cutoff))
            #expect(Set(after.map(\.id)) == [late, completed])
            let before = try await h.client.allOrders(WooOrderQuery(modifiedBefore: cutoff))
            #expect(before.map(\.id) == [early])
            let paid = try await h.client.allOrders(WooOrderQuery(statuses: ["processing", "completed"]))
            #expect(Set(paid.map(\.id)) == [early, completed])
        }
    }

    @Test func anOrderCreatedInTheStoreReadsBackTyped() async throws {
        try await withHarness { h in
            // A product and a registered customer, then an order with shipping, a fee and set_paid.
            let product = try await h.client.createProduct(WooProductInput(name: "Widget", type: "simple", status: "publish", sku: "W-1", regularPrice: .amount(Decimal(string: "19.99")!), manageStock: true, stockQuantity: 10))
            #expect(product.regularPrice == Decimal(string: "19.99")! && product.stockQuantity == 10 && product.manageStock == .managed)
            let customer = await h.woo.send("POST", "/customers", json: wooJSON(#"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","billing":{"country":"GB","city":"London"}}"#))
            let customerID = try #require(try WooJSON.parse(customer.body)["id"]?.intValue)
            let id = try await h.seedOrder(#"""
                {"customer_id":\#(customerID),"set_paid":true,"transaction_id":"T-9","payment_method":"stripe","payment_method_title":"Card",
                 "billing":{"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com","country":"GB"},
                 "line_items":[{"product_id":\#(product.id),"quantity":3}],
                 "shipping_lines":[{"method_id":"flat_rate","method_title":"Flat","total":"4.50"}],
                 "fee_lines":[{"name":"Gift wrap","total":"1.00","tax_status":"none"}]}
                """#)
            let order = try await h.client.order(id)
            #expect(order.customerID == customerID && !order.isGuest && order.status == "processing")
            #expect(order.transactionID == "T-9" && order.datePaidGMT == h.clock.now().roundedDownToSecond)
            let line = try #require(order.lineItems.first)
            #expect(line.productID == product.id && line.sku == "W-1" && line.quantity == 3 && line.subtotal == Decimal(string: "59.97")!)
            #expect(order.shippingLines.first?.total == Decimal(string: "4.50")! && order.feeLines.first?.total == 1)
            let expected = Decimal(string: "59.97")! + Decimal(string: "4.50")! + 1 + order.totalTax
            #expect(order.total == expected)
            // What the emulator holds is what the client decoded.
            #expect(h.woo.order(id)?["total"]?.stringValue == order.total.formatted2)

            let fetched = try await h.client.customer(customerID)
            #expect(fetched.email == "ada@example.com" && fetched.firstName == "Ada" && fetched.billing.city == "London")
            let missing = await wooError { _ = try await h.client.customer(9999) }
            #expect(missing?.status == 404 && missing?.connectorError == .notFound)
            let noOrder = await wooError { _ = try await h.client.order(9999) }
            #expect(noOrder?.code == "woocommerce_rest_shop_order_invalid_id" && noOrder?.connectorError == .notFound)
        }
    }

    @Test func refundsAndNotes() async throws {
        try await withHarness { h in
            let product = try await h.client.createProduct(WooProductInput(name: "Widget", type: "simple", status: "publish", sku: "W-2", regularPrice: .amount(20)))
            let id = try await h.seedOrder(#"{"set_paid":true,"line_items":[{"product_id":\#(product.id),"quantity":2}]}"#)
            let order = try await h.client.order(id)
            let itemID = try #require(order.lineItems.first?.id)
            let first = await h.woo.send("POST", "/orders/\(id)/refunds", json: wooJSON(#"{"reason":"one back","api_refund":false,"line_items":[{"id":\#(itemID),"quantity":1,"refund_total":20}]}"#))
            #expect(first.status == 201)
            h.clock.advance(by: 5)
            let second = await h.woo.send("POST", "/orders/\(id)/refunds", json: wooJSON(#"{"amount":"2.50","reason":"goodwill","api_refund":false}"#))
            #expect(second.status == 201)

            let refunds = try await h.client.refunds(orderID: id)
            #expect(refunds.count == 2)
            let lineRefund = try #require(refunds.first { $0.reason == "one back" })
            #expect(lineRefund.amount == 20 && lineRefund.lineItems.first?.total == -20 && lineRefund.lineItems.first?.quantity == -1)
            #expect(lineRefund.lineItems.first?.refundedItemID == itemID)
            let goodwill = try #require(refunds.first { $0.reason == "goodwill" })
            #expect(goodwill.amount == Decimal(string: "2.50")! && goodwill.lineItems.isEmpty)
            let after = try await h.client.order(id)
            #expect(after.refunds.map(\.total).sorted() == [-20, Decimal(string: "-2.50")!])

            let note = try await h.client.addOrderNote(orderID: id, note: "refund journal posted")
            #expect(note.note == "refund journal posted" && !note.customerNote)
            let missing = await wooError { _ = try await h.client.refunds(orderID: 424242) }
            #expect(missing?.status == 404 && missing?.connectorError == .notFound)
        }
    }
}

extension Date {
    var roundedDownToSecond: Date { Date(timeIntervalSince1970: timeIntervalSince1970.rounded(.down)) }
}

extension Decimal {
    /// Two decimals, as WooCommerce writes totals.
    var formatted2: String {
        var value = self
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, 2, .plain)
        let text = "\(rounded)"
        guard let dot = text.firstIndex(of: ".") else { return text + ".00" }
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        return text + String(repeating: "0", count: max(0, 2 - decimals))
    }
}

@Suite struct CatalogTests {
    @Test func productsAndVariations() async throws {
        try await withHarness { h in
            let tee = try await h.client.createProduct(WooProductInput(
                name: "Tee", type: "variable", status: "publish", sku: "TEE",
                attributes: [WooProductAttributeInput(name: "Size", variation: true, options: ["S", "M"])]))
            #expect(tee.type == "variable")
            let small = try await h.client.createVariation(productID: tee.id, WooVariationInput(
                sku: "TEE-S", regularPrice: .amount(20), manageStock: true, stockQuantity: 5, attributes: [WooVariationAttribute(name: "Size", option: "S")]))
            #expect(small.sku == "TEE-S" && small.regularPrice == 20 && small.stockQuantity == 5)
            let updated = try await h.client.updateVariation(productID: tee.id, id: small.id, WooVariationInput(salePrice: .amount(Decimal(string: "17.50")!), stockQuantity: 18))
            #expect(updated.salePrice == Decimal(string: "17.50")! && updated.stockQuantity == 18)
            let cleared = try await h.client.updateVariation(productID: tee.id, id: small.id, WooVariationInput(salePrice: .clear))
            #expect(cleared.salePrice == nil)

            let list = try await h.client.variations(productID: tee.id)
            #expect(list.map(\.id) == [small.id] && list.first?.attributes.first?.option == "S")
            // A variation SKU finds the variation through /products.
            let bySKU = try await h.client.products(sku: "TEE-S")
            #expect(bySKU.map(\.id) == [small.id] && bySKU.first?.type == "variation")
            #expect(bySKU.first?.attributes.first?.options == ["S"])
            #expect(try await h.client.products(sku: "NOPE").isEmpty)
            #expect(try await h.client.product(tee.id).variations == [small.id])

            let renamed = try await h.client.updateProduct(tee.id, WooProductInput(name: "Tee 2", shortDescription: "soft"))
            #expect(renamed.name == "Tee 2" && renamed.shortDescription == "soft" && renamed.sku == "TEE")
            let page = try await h.client.products(page: 1, perPage: 10)
            #expect(page.items.map(\.id) == [tee.id] && page.total == 1)
        }
    }

    @Test func batchIsNotAtomicAndReportsPerItemErrors() async throws {
        try await withHarness { h in
            let a = try await h.client.createProduct(WooProductInput(name: "A", type: "simple", sku: "A-1", regularPrice: .amount(1)))
            let b = try await h.client.createProduct(WooProductInput(name: "B", type: "simple", sku: "B-1", regularPrice: .amount(2)))
            let result = try await h.client.batchProducts(WooBatch(
                create: [WooProductInput(name: "C", type: "simple", sku: "C-1", regularPrice: .amount(3))],
                update: [WooBatchUpdate(id: a.id, changes: WooProductInput(regularPrice: .amount(Decimal(string: "1.50")!))),
                         WooBatchUpdate(id: 999_999, changes: WooProductInput(name: "ghost"))],
                delete: [b.id]))
            #expect(result.create.first?.item?.sku == "C-1")
            #expect(result.update.first?.item?.regularPrice == Decimal(string: "1.50")!)
            let failure = try #require(result.update.last?.error)
            #expect(failure.code == "woocommerce_rest_product_invalid_id" && failure.status == 400 && failure.connectorError == .remoteRejected)
            #expect(result.failures.map(\.id) == [999_999])
            #expect(result.delete.first?.item?.id == b.id)
            // The successes stayed committed.
            #expect(try await h.client.product(a.id).regularPrice == Decimal(string: "1.50")!)
            #expect(await wooError { _ = try await h.client.product(b.id) }?.status == 404)

            // Over 100 items is refused before sending.
            let big = WooBatch(update: (0..<101).map { WooBatchUpdate(id: a.id, changes: WooProductInput(description: "x\($0)")) })
            let refused = try #require(await wooError { _ = try await h.client.batchProducts(big) })
            #expect(refused.status == nil && refused.message.contains("101") && refused.message.contains("100") && refused.connectorError == .invalidInput)
            #expect(try await h.client.product(a.id).description == "")

            let tee = try await h.client.createProduct(WooProductInput(name: "Tee", type: "variable", attributes: [WooProductAttributeInput(name: "Size", variation: true, options: ["S", "M"])]))
            let variations = try await h.client.batchVariations(productID: tee.id, WooBatch(
                create: [WooVariationInput(sku: "T-S", regularPrice: .amount(10), attributes: [WooVariationAttribute(name: "Size", option: "S")]),
                         WooVariationInput(sku: "T-M", regularPrice: .amount(11), attributes: [WooVariationAttribute(name: "Size", option: "M")])],
                update: [WooBatchUpdate(id: 424_242, changes: WooVariationInput(stockQuantity: 1))]))
            #expect(variations.create.compactMap(\.item?.sku) == ["T-S", "T-M"])
            #expect(variations.failures.count == 1 && variations.failures.first?.id == 424_242)
            #expect(try await h.client.variations(productID: tee.id).count == 2)
        }
    }
}

@Suite struct FaultTests {
    @Test func tooManyRequestsAndServiceUnavailableAreTransientWithRetryAfter() async throws {
        try await withHarness { h in
            var faults = WooCommerceEmulator.Faults()
            faults.apiFaults = [.tooManyRequests(retryAfter: 30), .serviceUnavailable]
            h.woo.setFaults(faults)
            let limited = try #require(await wooError { _ = try await h.client.ping() })
            #expect(limited.status == 429 && limited.retryAfter == 30 && limited.isTransient)
            #expect(limited.connectorError == .throttled && limited.connectorError.disposition == .transient && limited.connectorError.retryAfter == 30)
            #expect(limited.code == "http_error" && limited.message.contains("Too Many Requests"))
            let unavailable = try #require(await wooError { _ = try await h.client.orders(WooOrderQuery()) })
            #expect(unavailable.status == 503 && unavailable.isTransient && unavailable.message.contains("Service Unavailable"))
            #expect(unavailable.connectorError == .remoteUnavailable)
            // The faults are used up: the next call works.
            #expect(try await h.client.ping().orderCount == 0)
        }
    }

    @Test func aSlowStoreTimesOutAsTransient() async throws {
        try await withHarness(client: { $0.requestTimeout = 0.2 }) { h in
            var faults = WooCommerceEmulator.Faults()
            // The emulator really waits this long before answering (its only delay switch).
            faults.responseDelay = .milliseconds(700)
            h.woo.setFaults(faults)
            let error = try #require(await wooError { _ = try await h.client.ping() })
            #expect(error.code == "transport_timeout" && error.isTransient && error.status == nil && error.connectorError == .remoteUnavailable)
            h.woo.setFaults(WooCommerceEmulator.Faults())
        }
    }

    @Test func aRefusedConnectionIsTransient() async throws {
        // Port 1 on loopback: nothing listens there.
        let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
        let client = try WooCommerceClient(
            configuration: .init(baseURL: "http://127.0.0.1:1", consumerKey: "ck", consumerSecret: "cs", authMode: .oauth1, sandbox: true, requestTimeout: 1),
            httpClient: http, clock: ManualWallClock(), nonces: CountingNonceSource())
        let error = await wooError { _ = try await client.ping() }
        try await http.shutdown()
        #expect(error?.status == nil && error?.isTransient == true && error?.connectorError == .remoteUnavailable)
        #expect(["transport_failed", "transport_timeout"].contains(error?.code ?? ""))
    }
}

@Suite struct WebhookTests {
    @Test func createListUpdateDelete() async throws {
        try await withHarness { h in
            // Nothing listens on the delivery URL; the ping on create fails and is ignored, as
            // in the real store.
            let created = try await h.client.createWebhook(name: "mlc order.updated", topic: "order.updated", deliveryURL: "http://127.0.0.1:1/hook", secret: "abc123")
            #expect(created.status == "active" && created.topic == "order.updated" && created.resource == "order" && created.event == "updated")
            #expect(created.deliveryURL == "http://127.0.0.1:1/hook" && created.dateModifiedGMT == nil)
            // Requested paused: created active by the store, then paused by the client.
            let paused = try await h.client.createWebhook(name: "mlc customer.updated", topic: "customer.updated", deliveryURL: "http://127.0.0.1:1/c", secret: "abc123", status: "paused")
            #expect(paused.status == "paused")
            #expect(h.woo.webhooks().map(\.status) == ["active", "paused"])

            let page = try await h.client.webhooks(perPage: 1)
            #expect(page.items.count == 1 && page.total == 2 && page.totalPages == 2)
            #expect(Set(try await h.client.allWebhooks().map(\.id)) == [created.id, paused.id])
            #expect(try await h.client.allWebhooks(status: "paused").map(\.id) == [paused.id])

            let moved = try await h.client.updateWebhook(created.id, WooWebhookUpdate(status: "paused", secret: "def456", deliveryURL: "http://127.0.0.1:1/new"))
            #expect(moved.status == "paused" && moved.deliveryURL == "http://127.0.0.1:1/new" && moved.dateModifiedGMT != nil)
            #expect(h.woo.webhooks().first { $0.id == created.id }?.deliveryURL == "http://127.0.0.1:1/new")
            #expect(try await h.client.webhook(created.id).status == "paused")

            let deleted = try await h.client.deleteWebhook(created.id)
            #expect(deleted.id == created.id)
            #expect(h.woo.webhooks().map(\.id) == [paused.id])
            let gone = try #require(await wooError { _ = try await h.client.deleteWebhook(created.id) })
            #expect(gone.status == 404 && gone.connectorError == .notFound)
            let badTopic = try #require(await wooError { _ = try await h.client.createWebhook(name: "x", topic: "order.exploded", deliveryURL: "http://127.0.0.1:1/x", secret: "s") })
            #expect(badTopic.status == 400 && badTopic.code.contains("invalid_topic") && badTopic.connectorError == .remoteRejected)
        }
    }
}
