import ConnectorCore
import Foundation
import Testing
@testable import WooCommerceEmulator

/// Replays the real requests of `fixtures/woocommerce-real/rest` against the emulator, set up
/// as the captured store (home URL and keys), and checks status, paging and error headers, and
/// a body with the same keys and value types (exact where the value does not depend on ids).
@Suite struct RESTReplayTests {
    func capturedStore(https: Bool = true, at date: Date = captureStart) -> (WooCommerceEmulator, ManualWallClock) {
        var configuration = WooCommerceEmulator.Configuration.captured
        configuration.treatRequestsAsHTTPS = https
        configuration.calculateTaxes = false
        let clock = ManualWallClock(date)
        return (WooCommerceEmulator(configuration: configuration, clock: clock), clock)
    }

    func expectSameShape(_ response: EmulatorResponse, _ capture: RESTCapture, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(response.status == capture.status, "\(capture.name): \(response.text)", sourceLocation: sourceLocation)
        let differences = shapeDifferences(response.json, capture.json)
        #expect(differences.isEmpty, "\(capture.name): \(differences)", sourceLocation: sourceLocation)
    }

    @Test func simpleProductOrderPaymentAndRefundError() async throws {
        let (emulator, clock) = capturedStore()
        let productCapture = try RESTCapture.load("product-create")
        let product = await replay(productCapture, on: emulator)
        expectSameShape(product, productCapture)
        // Same id sequence and clock as the real store: the body is byte-for-byte the same.
        #expect(product.text == productCapture.rawBody)
        #expect(product.header("Location") == "https://127.0.0.1:8443/wp-json/wc/v3/products/10")

        clock.advance(by: 7)
        let orderCapture = try RESTCapture.load("order-create")
        let order = await replay(orderCapture, on: emulator)
        expectSameShape(order, orderCapture)
        #expect(order.json["id"] == 11)
        #expect(order.json["total"] == "64.97")
        #expect(order.json["currency_symbol"] == "\u{20AC}")
        #expect(order.json["line_items"]?.arrayValue?.first?["price"] == .double(19.99))

        clock.advance(by: 1)
        let paidCapture = try RESTCapture.load("order-set-paid")
        let paid = await replay(paidCapture, on: emulator)
        expectSameShape(paid, paidCapture)
        #expect(paid.json["status"] == "processing")
        #expect(paid.json["date_paid"] == paidCapture.json["date_paid"])
        #expect(emulator.product(10)?["stock_quantity"] == 47)

        let refundError = try RESTCapture.load("refund-api-refund-default-error")
        let refused = await replay(refundError, on: emulator)
        #expect(refused.status == 500)
        #expect(refused.text == refundError.rawBody)
    }

    @Test func errorBodiesMatchExactly() async throws {
        let (emulator, _) = capturedStore()
        _ = await replay(try RESTCapture.load("product-create"), on: emulator)
        for name in ["product-update-invalid-enum-single", "product-update-number-price-single", "orders-list-per-page-101", "products-batch-101-items"] {
            let capture = try RESTCapture.load(name)
            let response = await replay(capture, on: emulator)
            #expect(response.status == capture.status, "\(name)")
            #expect(response.text == capture.rawBody, "\(name)")
        }
        let wrongSecret = try RESTCapture.load("products-wrong-secret")
        let response = await emulator.handle(EmulatorRequest(method: "GET", target: wrongSecret.target, headers: [
            ("Authorization", "Basic " + Data("\(emulator.credentials.consumerKey):cs_wrong".utf8).base64EncodedString()),
        ]))
        #expect(response.status == 401)
        #expect(response.text == wrongSecret.rawBody)
        #expect(response.header("Vary") == "Origin")
        #expect(response.header("WWW-Authenticate") == nil)
        let unknownKey = await emulator.handle(EmulatorRequest(method: "GET", target: "/wp-json/wc/v3/products", headers: [
            ("Authorization", "Basic " + Data("ck_nobody:cs_nobody".utf8).base64EncodedString()),
        ]))
        #expect(unknownKey.status == 401)
        #expect(unknownKey.json["code"] == "woocommerce_rest_cannot_view")
    }

    @Test func batchErrorsInPlaceAndNoSchemaValidation() async throws {
        let (emulator, _) = capturedStore()
        _ = await replay(try RESTCapture.load("product-create"), on: emulator)
        _ = await replay(try RESTCapture.load("product-variable-create"), on: emulator)
        let variations = try RESTCapture.load("product-variations-batch-create")
        let variable = try #require(emulator.product(11)?["id"]?.intValue)
        let created = await replay(variations, on: emulator, target: "/wp-json/wc/v3/products/\(variable)/variations/batch")
        expectSameShape(created, variations)
        let sku = try #require(created.json["create"]?.arrayValue?.first?["id"]?.intValue)

        let mixed = try RESTCapture.load("products-batch-mixed-errors")
        let body: WooJSON = .obj(["update": [.obj(["id": 10, "short_description": "widget (batch update)"]), .obj(["id": 999999, "name": "No such product"]), .obj(["id": .int(variable), "sku": "MLC-TEE-S"])]])
        let response = await replay(mixed, on: emulator, body: body)
        #expect(response.status == 200)
        let items = try #require(response.json["update"]?.arrayValue)
        #expect(items.count == 3)
        #expect(items[0]["short_description"] == "widget (batch update)")
        #expect(items[1] == mixed.json["update"]?.arrayValue?[1])
        #expect(items[2]["error"]?["code"] == "product_invalid_sku")
        #expect(items[2]["error"]?["data"]?["resource_id"] == .int(sku))
        #expect(items[2]["error"]?["data"]?["unique_sku"] == "MLC-TEE-S-1")

        let lax = try RESTCapture.load("products-batch-invalid-enum-and-number-price")
        let accepted = await replay(lax, on: emulator)
        #expect(accepted.status == 200)
        #expect(accepted.json["update"]?.arrayValue?.allSatisfy { $0["error"] == nil } == true)

        let bySKU = try RESTCapture.load("products-by-variation-sku")
        let found = await replay(bySKU, on: emulator)
        expectSameShape(found, bySKU)
        #expect(found.json.arrayValue?.first?["name"] == "ML Connector Tee - M")
        #expect(found.json.arrayValue?.first?["type"] == "variation")
    }

    /// Order 32 of the captures: coupon 10 %, two tax rates, shipping, a taxable fee, guest.
    @Test func taxesCouponShippingAndFeeAddUpLikeTheRealStore() async throws {
        let (emulator, clock) = capturedStore()
        _ = await replay(try RESTCapture.load("settings-calc-taxes-enable"), on: emulator)
        for name in ["tax-rate-create-standard", "tax-rate-create-reduced-rate"] {
            let capture = try RESTCapture.load(name)
            let response = await replay(capture, on: emulator)
            expectSameShape(response, capture)
            #expect(response.json["rate"] == capture.json["rate"])
        }
        let taxesList = try RESTCapture.load("taxes-list")
        expectSameShape(await replay(taxesList, on: emulator), taxesList)
        let classes = try RESTCapture.load("tax-classes-list")
        #expect(await replay(classes, on: emulator).text == classes.rawBody)

        _ = await replay(try RESTCapture.load("product-create"), on: emulator)
        let variable = await replay(try RESTCapture.load("product-variable-create"), on: emulator)
        let tee = try #require(variable.json["id"]?.intValue)
        let variations = await replay(try RESTCapture.load("product-variations-batch-create"), on: emulator, target: "/wp-json/wc/v3/products/\(tee)/variations/batch")
        let teeM = try #require(variations.json["create"]?.arrayValue?[1]["id"]?.intValue)
        let couponCapture = try RESTCapture.load("coupon-create-percent")
        expectSameShape(await replay(couponCapture, on: emulator), couponCapture)

        clock.advance(by: 60)
        let orderCapture = try RESTCapture.load("order-create-coupon-tax-shipping-fee-guest")
        var body = try #require(orderCapture.body?.objectValue)
        body["line_items"] = [.obj(["product_id": 10, "quantity": 2]), .obj(["product_id": .int(tee), "variation_id": .int(teeM), "quantity": 1])]
        let order = await replay(orderCapture, on: emulator, body: .object(body))
        expectSameShape(order, orderCapture)
        let real = orderCapture.json
        for key in ["status", "discount_total", "discount_tax", "shipping_total", "shipping_tax", "cart_tax", "total", "total_tax", "needs_payment", "needs_processing", "is_editable"] {
            #expect(order.json[key] == real[key], "\(key)")
        }
        for (mine, theirs) in zip(order.json["line_items"]?.arrayValue ?? [], real["line_items"]?.arrayValue ?? []) {
            for key in ["name", "quantity", "tax_class", "subtotal", "subtotal_tax", "total", "total_tax", "sku", "price", "image", "parent_name"] {
                #expect(mine[key] == theirs[key], "line \(key)")
            }
            #expect(mine["taxes"]?.arrayValue?.first?["total"] == theirs["taxes"]?.arrayValue?.first?["total"])
        }
        for (mine, theirs) in zip(order.json["tax_lines"]?.arrayValue ?? [], real["tax_lines"]?.arrayValue ?? []) {
            for key in ["rate_code", "rate_id", "label", "tax_total", "shipping_tax_total", "rate_percent"] { #expect(mine[key] == theirs[key], "tax line \(key)") }
        }
        #expect(order.json["coupon_lines"]?.arrayValue?.first?["discount"] == "6")
        #expect(order.json["coupon_lines"]?.arrayValue?.first?["discount_tax"] == "0.35")
        #expect(order.json["shipping_lines"] == real["shipping_lines"].map { _ in order.json["shipping_lines"]! })
        #expect(order.json["shipping_lines"]?.arrayValue?.first?["taxes"] == [.obj(["id": 1, "total": "0.73", "subtotal": ""])])
        #expect(order.json["fee_lines"]?.arrayValue?.first?["total_tax"] == "0.36")

        // Two partial refunds: line items with tax (amount computed), then amount only.
        let orderID = try #require(order.json["id"]?.intValue)
        let widgetLine = try #require(order.json["line_items"]?.arrayValue?.first?["id"]?.intValue)
        let refundCapture = try RESTCapture.load("refund-create-line-items-with-tax")
        let refundBody: WooJSON = .obj(["reason": "One widget returned", "api_refund": false, "line_items": [.obj(["id": .int(widgetLine), "quantity": 1, "refund_total": .double(17.99), "refund_tax": [.obj(["id": 1, "refund_total": .double(1.3)])]])]])
        clock.advance(by: 22)
        let refund = await replay(refundCapture, on: emulator, body: refundBody, target: "/wp-json/wc/v3/orders/\(orderID)/refunds")
        expectSameShape(refund, refundCapture)
        #expect(refund.json["amount"] == "19.29")
        for key in ["quantity", "subtotal", "subtotal_tax", "total", "total_tax", "taxes", "price"] {
            #expect(refund.json["line_items"]?.arrayValue?.first?[key] == refundCapture.json["line_items"]?.arrayValue?.first?[key], "refund line \(key)")
        }
        #expect(refund.json["tax_lines"]?.arrayValue?.first?["tax_total"] == "-1.30")
        let amountOnly = try RESTCapture.load("refund-create-amount-only")
        clock.advance(by: 4)
        let second = await replay(amountOnly, on: emulator, target: "/wp-json/wc/v3/orders/\(orderID)/refunds")
        expectSameShape(second, amountOnly)

        let after = try RESTCapture.load("order-get-after-two-refunds")
        let fetched = await replay(after, on: emulator, target: "/wp-json/wc/v3/orders/\(orderID)")
        expectSameShape(fetched, after)
        #expect(fetched.json["total"] == "73.22")
        #expect(fetched.json["status"] == "processing")
        #expect(fetched.json["refunds"]?.arrayValue?.map { $0["total"] } == [.string("-5.00"), .string("-19.29")])
        let refunds = try RESTCapture.load("refunds-list-two-partial")
        expectSameShape(await replay(refunds, on: emulator, target: "/wp-json/wc/v3/orders/\(orderID)/refunds"), refunds)

        // Completion, notes.
        let complete = try RESTCapture.load("order-update-completed-customer-note")
        let completed = await replay(complete, on: emulator, target: "/wp-json/wc/v3/orders/\(orderID)")
        expectSameShape(completed, complete)
        #expect(completed.json["date_completed"] != .null)
        for name in ["order-note-create-customer", "order-note-create-private", "order-notes-list"] {
            let capture = try RESTCapture.load(name)
            expectSameShape(await replay(capture, on: emulator, target: "/wp-json/wc/v3/orders/\(orderID)/notes"), capture)
        }
    }

    @Test func customersAndRegisteredCustomerOrder() async throws {
        let (emulator, _) = capturedStore()
        _ = await replay(try RESTCapture.load("product-create"), on: emulator)
        let create = try RESTCapture.load("customer-create")
        let customer = await replay(create, on: emulator)
        expectSameShape(customer, create)
        #expect(customer.json["id"] == 2)
        #expect(customer.json["avatar_url"] == create.json["avatar_url"])
        for name in ["customer-get", "customer-update"] {
            let capture = try RESTCapture.load(name)
            expectSameShape(await replay(capture, on: emulator), capture)
        }
        let orderCapture = try RESTCapture.load("order-create-registered-customer-no-address")
        let order = await replay(orderCapture, on: emulator, body: .obj(["customer_id": 2, "line_items": [.obj(["product_id": 10, "quantity": 1])]]))
        expectSameShape(order, orderCapture)
        #expect(order.json["billing"] == orderCapture.json["billing"])
        let unknown = try RESTCapture.load("order-create-bad-product")
        let bad = await replay(unknown, on: emulator)
        expectSameShape(bad, unknown)
        #expect(bad.json["line_items"]?.arrayValue?.first == unknown.json["line_items"]?.arrayValue?.first.map { line in
            guard case .object(var o) = line else { return line }
            o["id"] = bad.json["line_items"]?.arrayValue?.first?["id"]
            return .object(o)
        })
    }

    @Test func pagingHeadersAndLinksAsCaptured() async throws {
        let (emulator, clock) = capturedStore()
        _ = await replay(try RESTCapture.load("product-create"), on: emulator)
        for _ in 0..<9 {
            clock.advance(by: 1)
            _ = await call(emulator, "POST", "/orders", .obj(["line_items": [.obj(["product_id": 10, "quantity": 1])]]))
        }
        let page1 = try RESTCapture.load("orders-list-page1")
        let response = await replay(page1, on: emulator)
        expectSameShape(response, page1)
        for name in ["Link", "X-WP-Total", "X-WP-TotalPages", "Allow", "Content-Type", "Cache-Control"] {
            #expect(response.header(name) == page1.header(name), "\(name)")
        }
        let beyond = try RESTCapture.load("orders-list-page-beyond-end")
        let past = await replay(beyond, on: emulator)
        #expect(past.status == 200 && past.text == "[]")
        for name in ["Link", "X-WP-Total", "X-WP-TotalPages"] { #expect(past.header(name) == beyond.header(name), "\(name)") }

        // 14 orders modified after 19:05:00, two per page, oldest first.
        clock.set(Date(timeIntervalSince1970: 1_795_719_900 + 1))
        for _ in 0..<14 {
            clock.advance(by: 1)
            _ = await call(emulator, "POST", "/orders", .obj(["line_items": [.obj(["product_id": 10, "quantity": 1])]]))
        }
        let modified = try RESTCapture.load("orders-list-modified-after-page2")
        let page2 = await replay(modified, on: emulator)
        expectSameShape(page2, modified)
        for name in ["Link", "X-WP-Total", "X-WP-TotalPages"] { #expect(page2.header(name) == modified.header(name), "\(name)") }
        let ids = page2.json.arrayValue?.compactMap { $0["id"]?.intValue } ?? []
        #expect(ids == ids.sorted())

        let multi = try RESTCapture.load("orders-list-status-multi")
        _ = await call(emulator, "PUT", "/orders/11", .obj(["set_paid": true]))
        _ = await call(emulator, "PUT", "/orders/12", .obj(["status": "completed"]))
        let filtered = await replay(multi, on: emulator)
        #expect(filtered.header("X-WP-Total") == "2")
        #expect(filtered.header("Link") == multi.header("Link"))
    }

    /// OAuth 1.0a over plain HTTP, replayed in the captured order with the captured signatures:
    /// the base string uses the home URL's host:port (8443) although the request went to 8081,
    /// and the nonce store keeps one nonce per timestamp second.
    @Test func oauthOverPlainHTTPReplaysTheRealOutcomes() async throws {
        let (emulator, _) = capturedStore(https: false, at: Date(timeIntervalSince1970: 1_795_722_796))
        let names = [
            "oauth1-plain-http-signed-get-ok", "oauth1-plain-http-authorization-header-ok", "oauth1-plain-http-bad-signature",
            "oauth1-plain-http-signed-actual-url-rejected", "oauth1-plain-http-nonce-replay", "oauth1-plain-http-nonce-replay-second",
            "products-basic-over-plain-http",
        ]
        for name in names {
            let capture = try RESTCapture.load(name)
            let response = await replay(capture, on: emulator, basic: name == "products-basic-over-plain-http")
            #expect(response.status == capture.status, "\(name): \(response.text)")
            if capture.status == 401 {
                #expect(response.text == capture.rawBody, "\(name)")
                #expect(response.header("Vary") == "Origin")
            }
        }
    }

    @Test func webhookCRUDRules() async throws {
        let (emulator, clock) = capturedStore()
        let capture = try RESTCapture.load("webhook-create")
        // The ping goes to a closed port: creation still succeeds.
        let closed = try await closedPortURL()
        let body: WooJSON = .obj(["name": "ml-connector customer.created", "topic": "customer.created", "delivery_url": .string(closed.absoluteString), "secret": "s", "status": "paused"])
        let created = await replay(capture, on: emulator, body: body)
        expectSameShape(created, capture)
        #expect(created.json["status"] == "active")
        #expect(created.json["secret"] == nil)
        #expect(created.json["date_modified"] == .null)
        #expect(created.header("Location") == "https://127.0.0.1:8443/wp-json/wc/v3/webhooks/1")
        clock.advance(by: 1)
        #expect(await call(emulator, "GET", "/webhooks/99").status == 400)
        #expect(await call(emulator, "PUT", "/webhooks/99", .obj(["status": "active"])).status == 400)
        #expect(await call(emulator, "DELETE", "/webhooks/99?force=true").status == 404)
        #expect(await call(emulator, "DELETE", "/webhooks/1").status == 501)
        let list = try RESTCapture.load("webhooks-list")
        expectSameShape(await replay(list, on: emulator), list)
        #expect(await call(emulator, "DELETE", "/webhooks/1?force=true").status == 200)
        #expect(emulator.webhooks().isEmpty)
    }

    @Test func apiFaultsAnswerBeforeAnythingElse() async {
        let emulator = WooCommerceEmulator(clock: ManualWallClock(captureStart))
        var faults = WooCommerceEmulator.Faults()
        faults.apiFaults = [.tooManyRequests(retryAfter: 7), .serviceUnavailable]
        emulator.setFaults(faults)
        let first = await call(emulator, "GET", "/orders")
        #expect(first.status == 429 && first.header("Retry-After") == "7")
        #expect(await call(emulator, "GET", "/orders").status == 503)
        #expect(await call(emulator, "GET", "/orders").status == 200)
    }

    @Test func cancellingPutsStockBack() async throws {
        let emulator = WooCommerceEmulator(clock: ManualWallClock(captureStart))
        let product = await call(emulator, "POST", "/products", .obj(["name": "W", "regular_price": "2.50", "manage_stock": true, "stock_quantity": 10]))
        let pid = try #require(product.json["id"]?.intValue)
        let order = await call(emulator, "POST", "/orders", .obj(["set_paid": true, "line_items": [.obj(["product_id": .int(pid), "quantity": 3])]]))
        #expect(emulator.product(pid)?["stock_quantity"] == 7)
        #expect(order.json["total"] == "7.50")
        _ = await call(emulator, "PUT", "/orders/\(try #require(order.json["id"]?.intValue))", .obj(["status": "cancelled"]))
        #expect(emulator.product(pid)?["stock_quantity"] == 10)
        let bad = await call(emulator, "GET", "/orders?per_page=abc")
        #expect(bad.status == 400 && bad.json["data"]?["params"]?["per_page"] == "per_page is not of type integer.")
    }

    /// A store east of UTC: `date_*` local, `_gmt` UTC, and the date filters read local time
    /// unless `dates_are_gmt` is set.
    @Test func localDatesAndGMTTwins() async throws {
        var configuration = WooCommerceEmulator.Configuration()
        configuration.utcOffsetSeconds = 3600
        let clock = ManualWallClock(captureStart) // 19:04:50 UTC
        let emulator = WooCommerceEmulator(configuration: configuration, clock: clock)
        let order = await call(emulator, "POST", "/orders", .obj([:]))
        #expect(order.json["date_created"] == "2026-11-26T20:04:50")
        #expect(order.json["date_created_gmt"] == "2026-11-26T19:04:50")
        let local = await call(emulator, "GET", "/orders?modified_after=2026-11-26T20:00:00")
        #expect(local.header("X-WP-Total") == "1")
        let utcTooLate = await call(emulator, "GET", "/orders?modified_after=2026-11-26T20:00:00&dates_are_gmt=true")
        #expect(utcTooLate.header("X-WP-Total") == "0")
        let utc = await call(emulator, "GET", "/orders?modified_after=2026-11-26T19:00:00&dates_are_gmt=true")
        #expect(utc.header("X-WP-Total") == "1")
    }

    @Test func fieldsFilterReadOnlyKeysAndCustomerDelete() async throws {
        var configuration = WooCommerceEmulator.Configuration()
        configuration.keyPermissions = .read
        let readOnly = WooCommerceEmulator(configuration: configuration, clock: ManualWallClock(captureStart))
        let refused = await call(readOnly, "POST", "/orders", .obj([:]))
        #expect(refused.status == 401 && refused.json["message"] == "The API key provided does not have write permissions.")
        #expect(await call(readOnly, "GET", "/orders").status == 200)

        let emulator = WooCommerceEmulator(clock: ManualWallClock(captureStart))
        _ = await call(emulator, "POST", "/orders", .obj(["billing": .obj(["email": "a@b.c", "city": "X"])]))
        let trimmed = await call(emulator, "GET", "/orders?_fields=id,status,billing.email")
        #expect(trimmed.text == #"[{"id":10,"status":"pending","billing":{"email":"a@b.c"}}]"#)
        let customer = await call(emulator, "POST", "/customers", .obj(["email": "g@h.i", "username": "g"]))
        let cid = try #require(customer.json["id"]?.intValue)
        #expect(await call(emulator, "DELETE", "/customers/\(cid)").status == 501)
        #expect(await call(emulator, "DELETE", "/customers/\(cid)?force=true").status == 200)
        #expect(await call(emulator, "GET", "/customers/\(cid)").status == 404)
    }

    @Test func editingLineItemsRecalculatesWithTheSameCoupons() async throws {
        let emulator = WooCommerceEmulator(clock: ManualWallClock(captureStart))
        _ = await call(emulator, "POST", "/taxes", .obj(["country": "US", "state": "CA", "rate": "7.25", "name": "CA State Tax", "shipping": true]))
        let widget = await call(emulator, "POST", "/products", .obj(["name": "Widget", "regular_price": "19.99", "sku": "W"]))
        let gadget = await call(emulator, "POST", "/products", .obj(["name": "Gadget", "regular_price": "20.00", "sku": "G"]))
        _ = await call(emulator, "POST", "/coupons", .obj(["code": "ten", "discount_type": "percent", "amount": "10"]))
        let order = await call(emulator, "POST", "/orders", .obj([
            "billing": .obj(["country": "US", "state": "CA"]), "coupon_lines": [.obj(["code": "ten"])],
            "line_items": [.obj(["product_id": widget.json["id"]!, "quantity": 1])],
        ]))
        let id = try #require(order.json["id"]?.intValue)
        let line = try #require(order.json["line_items"]?.arrayValue?.first?["id"])
        let taxLine = order.json["tax_lines"]?.arrayValue?.first?["id"]
        // The same two lines as order 32 (2 × 19.99 and 1 × 20.00, here both at 7.25 %).
        let edited = await call(emulator, "PUT", "/orders/\(id)", .obj(["line_items": [.obj(["id": line, "quantity": 2]), .obj(["sku": "G", "quantity": 1])]]))
        #expect(edited.json["line_items"]?.arrayValue?.map { $0["total"] } == [.string("35.99"), .string("17.99")])
        #expect(edited.json["discount_total"] == "6.00")
        #expect(edited.json["tax_lines"]?.arrayValue?.first?["id"] == taxLine)
        #expect(edited.json["total"] == .string(Money.string(3599 + 1799 + Money.tax(3599, rate: 72500) + Money.tax(1799, rate: 72500))))
        let removed = await call(emulator, "PUT", "/orders/\(id)", .obj(["line_items": [.obj(["id": line, "quantity": 0])]]))
        #expect(removed.json["line_items"]?.arrayValue?.count == 1)
        #expect(removed.json["line_items"]?.arrayValue?.first?["total"] == "18.00")
        _ = gadget
    }
}
