import AsyncHTTPClient
import ConnectorCore
import Foundation
import NIOCore
import Testing
@testable import WooCommerceClient

/// Every captured REST response of the modelled resources decodes into the models, and the
/// values that matter come out exact.
@Suite struct CaptureDecodingTests {
    let decoder = WooCommerceClient.makeDecoder()

    /// The model each successful capture decodes into, by method and path (ids replaced).
    enum Kind: String { case order, orders, refund, refunds, customer, product, products, variation, variations, productBatch, variationBatch, webhook, webhooks, note, notes, other }

    static func kind(_ capture: Capture) -> Kind {
        let path = capture.apiPath.replacing(/\/\d+/, with: "/N")
        switch (capture.method, path) {
        case (_, "/orders/N"), ("POST", "/orders"): return .order
        case ("GET", "/orders"): return .orders
        case ("POST", "/orders/N/refunds"): return .refund
        case ("GET", "/orders/N/refunds"): return .refunds
        case (_, "/customers/N"), ("POST", "/customers"): return .customer
        case (_, "/products/N"), ("POST", "/products"): return .product
        case ("GET", "/products"): return .products
        case (_, "/products/N/variations/N"), ("POST", "/products/N/variations"): return .variation
        case ("GET", "/products/N/variations"): return .variations
        case ("POST", "/products/batch"): return .productBatch
        case ("POST", "/products/N/variations/batch"): return .variationBatch
        case (_, "/webhooks/N"), ("POST", "/webhooks"): return .webhook
        case ("GET", "/webhooks"): return .webhooks
        case ("POST", "/orders/N/notes"): return .note
        case ("GET", "/orders/N/notes"): return .notes
        default: return .other
        }
    }

    @Test func everyCapturedResourceBodyDecodes() throws {
        var decoded: [Kind: Int] = [:]
        var errors = 0
        for capture in try Capture.all() {
            if !(200..<300).contains(capture.status) {
                // Error bodies go through the error path, whatever their shape.
                let error = WooCommerceError.from(status: capture.status, body: Array(capture.body), retryAfter: nil, request: capture.name)
                #expect(error.code.hasPrefix("woocommerce_") || error.code.hasPrefix("rest_"), "\(capture.name): \(error)")
                #expect(!error.message.isEmpty, "\(capture.name)")
                errors += 1
                continue
            }
            let kind = Self.kind(capture)
            do {
                switch kind {
                case .order: _ = try decoder.decode(WooOrder.self, from: capture.body)
                case .orders: _ = try decoder.decode([WooOrder].self, from: capture.body)
                case .refund: _ = try decoder.decode(WooRefund.self, from: capture.body)
                case .refunds: _ = try decoder.decode([WooRefund].self, from: capture.body)
                case .customer: _ = try decoder.decode(WooCustomer.self, from: capture.body)
                case .product: _ = try decoder.decode(WooProduct.self, from: capture.body)
                case .products: _ = try decoder.decode([WooProduct].self, from: capture.body)
                case .variation: _ = try decoder.decode(WooVariation.self, from: capture.body)
                case .variations: _ = try decoder.decode([WooVariation].self, from: capture.body)
                case .productBatch: _ = try decoder.decode(WooBatchResult<WooProduct>.self, from: capture.body)
                case .variationBatch: _ = try decoder.decode(WooBatchResult<WooVariation>.self, from: capture.body)
                case .webhook: _ = try decoder.decode(WooWebhook.self, from: capture.body)
                case .webhooks: _ = try decoder.decode([WooWebhook].self, from: capture.body)
                case .note: _ = try decoder.decode(WooOrderNote.self, from: capture.body)
                case .notes: _ = try decoder.decode([WooOrderNote].self, from: capture.body)
                case .other: continue
                }
                decoded[kind, default: 0] += 1
            } catch {
                Issue.record("\(capture.name) as \(kind): \(WooCommerceClient.describe(error))")
            }
        }
        // The captures hold each modelled resource; a rename in the fixtures must not silently
        // turn this test into a no-op.
        for kind in [Kind.order, .orders, .refund, .refunds, .customer, .product, .products, .variation, .variations, .productBatch, .variationBatch, .webhook, .webhooks, .note, .notes] {
            #expect(decoded[kind, default: 0] > 0, "no capture decoded as \(kind)")
        }
        #expect(decoded.values.reduce(0, +) >= 50)
        #expect(errors >= 10)
    }

    @Test func guestOrderWithCouponTaxShippingAndFeeIsExact() throws {
        let order = try decoder.decode(WooOrder.self, from: Capture.load("order-get-coupon-tax-shipping-fee-guest").body)
        #expect(order.id == 32 && order.number == "32" && order.status == "processing" && order.currency == "USD")
        #expect(order.customerID == 0 && order.isGuest)
        #expect(order.billing.email == "alan.turing@example.com" && order.billing.country == "US" && order.shipping.email == "")
        #expect(order.total == Decimal(string: "73.22")! && order.totalTax == Decimal(string: "4.24")!)
        #expect(order.discountTotal == 6 && order.discountTax == Decimal(string: "0.35")! && order.cartTax == Decimal(string: "3.51")!)
        #expect(order.shippingTotal == 10 && order.shippingTax == Decimal(string: "0.73")!)
        #expect(order.pricesIncludeTax == false && order.paymentMethod == "bacs" && order.transactionID == "TXN-CA-0001")
        #expect(order.dateCreated == "2026-11-26T19:51:23")
        #expect(order.datePaidGMT == Formatting.parseTimestamp("2026-11-26T19:51:23Z"))

        let widget = order.lineItems[0]
        #expect(widget.sku == "MLC-WIDGET-001" && widget.quantity == 2 && widget.variationID == 0)
        #expect(widget.subtotal == Decimal(string: "39.98")! && widget.total == Decimal(string: "35.99")! && widget.totalTax == Decimal(string: "2.61")!)
        // The float price 17.995 comes out exactly, not as 17.994999999…
        #expect(widget.price == Decimal(string: "17.995")!)
        #expect("\(widget.price!)" == "17.995")
        #expect(widget.taxes == [WooLineTax(id: 1, total: Decimal(string: "2.61"), subtotal: Decimal(string: "2.90"))])
        let tee = order.lineItems[1]
        #expect(tee.variationID == 29 && tee.taxClass == "reduced-rate" && tee.price == Decimal(string: "17.99")!)

        #expect(order.taxLines.map(\.rateID) == [1, 2])
        #expect(order.taxLines[0].ratePercent == Decimal(string: "7.25")! && order.taxLines[1].ratePercent == 3)
        #expect(order.taxLines[0].rateCode == "US-CA-CA STATE TAX-1" && order.taxLines[0].shippingTaxTotal == Decimal(string: "0.73")!)
        #expect(order.shippingLines.first?.methodID == "flat_rate" && order.shippingLines.first?.taxes.first?.subtotal == nil)
        #expect(order.feeLines.first?.name == "Gift wrap" && order.feeLines.first?.total == 5 && order.feeLines.first?.totalTax == Decimal(string: "0.36")!)
        let coupon = try #require(order.couponLines.first)
        #expect(coupon.code == "mlc10" && coupon.discount == 6 && coupon.discountTax == Decimal(string: "0.35")! && coupon.nominalAmount == 10)
    }

    @Test func refundsAreNegativeLinesAndPositiveAmounts() throws {
        let refund = try decoder.decode(WooRefund.self, from: Capture.load("refund-create-line-items-with-tax").body)
        #expect(refund.amount == Decimal(string: "19.29")! && refund.reason == "One widget returned" && refund.refundedPayment == false)
        let line = try #require(refund.lineItems.first)
        #expect(line.quantity == -1 && line.total == Decimal(string: "-17.99")! && line.totalTax == Decimal(string: "-1.30")!)
        #expect(line.taxes.first?.total == Decimal(string: "-1.30")!)
        #expect(line.refundedItemID == 16)
        #expect(refund.taxLines?.first?.taxTotal == Decimal(string: "-1.30")!)

        let amountOnly = try decoder.decode(WooRefund.self, from: Capture.load("refund-create-amount-only").body)
        #expect(amountOnly.lineItems.isEmpty && amountOnly.amount > 0)

        let order = try decoder.decode(WooOrder.self, from: Capture.load("order-get-after-two-refunds").body)
        #expect(order.refunds.count == 2)
        #expect(order.refunds.allSatisfy { $0.total < 0 })
        #expect(order.refunds.map(\.total).contains(Decimal(string: "-19.29")!))
        #expect(order.total == Decimal(string: "73.22")!)
    }

    @Test func productsVariationsAndWebhooks() throws {
        let variable = try decoder.decode(WooProduct.self, from: Capture.load("product-variable-get-after-variations").body)
        #expect(variable.type == "variable" && variable.variations == [28, 29, 30] && variable.regularPrice == nil)
        #expect(variable.attributes.first?.options == ["S", "M", "L"])

        let variations = try decoder.decode([WooVariation].self, from: Capture.load("product-variations-list").body)
        let large = try #require(variations.first { $0.sku == "MLC-TEE-L" })
        #expect(large.regularPrice == 22 && large.salePrice == 21 && large.manageStock == .managed && large.stockQuantity == 20)
        #expect(large.attributes == [WooVariationAttribute(id: 0, name: "Size", option: "L")])
        #expect(variations.contains { $0.salePrice == nil })

        let bySKU = try decoder.decode([WooProduct].self, from: Capture.load("products-by-variation-sku").body)
        #expect(bySKU.first?.type == "variation" && bySKU.first?.sku == "MLC-TEE-M" && bySKU.first?.parentID == 27)
        #expect(bySKU.first?.attributes.first?.options == ["M"])

        let webhooks = try decoder.decode([WooWebhook].self, from: Capture.load("webhooks-list-with-failing-webhook").body)
        #expect(!webhooks.isEmpty && webhooks.allSatisfy { $0.topic.contains(".") && $0.resource + "." + $0.event == $0.topic })
        let created = try decoder.decode(WooWebhook.self, from: Capture.load("webhook-create").body)
        #expect(created.dateModifiedGMT == nil && created.deliveryURL == "http://127.0.0.1:8080/wc-webhook/customer-created" && created.status == "active")
        let disabled = try decoder.decode(WooWebhook.self, from: Capture.load("webhook-failure-seq-07-get-after-failure-7").body)
        #expect(disabled.status == "disabled")
    }

    @Test func batchWithPerItemErrorsKeepsThemInPlace() throws {
        let result = try decoder.decode(WooBatchResult<WooProduct>.self, from: Capture.load("products-batch-mixed-errors").body)
        #expect(result.update.count == 3 && result.create.isEmpty)
        #expect(result.update[0].item?.id == 10)
        #expect(result.update[1].error?.code == "woocommerce_rest_product_invalid_id" && result.update[1].error?.status == 400)
        #expect(result.update[2].error?.code == "product_invalid_sku")
        #expect(result.failures.map(\.id) == [999999, 27])
        #expect(result.update[1].error?.connectorError == .remoteRejected)
    }

    @Test func customerAndNotes() throws {
        let customer = try decoder.decode(WooCustomer.self, from: Capture.load("customer-get").body)
        #expect(customer.id == 2 && customer.email == "grace.hopper@example.com" && customer.billing.company == "Navy Labs")
        #expect(customer.shipping.phone == "+1 415 555 0101" && customer.dateModifiedGMT != nil)
        let note = try decoder.decode(WooOrderNote.self, from: Capture.load("order-note-create-customer").body)
        #expect(note.customerNote)
    }

    @Test func errorBodiesKeepCodeAndStatus() throws {
        let wrongSecret = try Capture.load("products-wrong-secret")
        let e1 = WooCommerceError.from(status: wrongSecret.status, body: Array(wrongSecret.body), retryAfter: nil, request: "GET /x")
        #expect(e1.code == "woocommerce_rest_authentication_error" && e1.message == "Consumer secret is invalid." && e1.status == 401)
        #expect(e1.connectorError == .credentialsRejected && e1.connectorError.disposition == .permanent)
        #expect(e1.connectorError.description.contains("woocommerce_rest_authentication_error"))
        #expect(e1.connectorError.fix.contains("authMode"))

        // `data` as a bare integer, HTTP 500, but not an outage.
        let refund = try Capture.load("refund-api-refund-default-error")
        let e2 = WooCommerceError.from(status: refund.status, body: Array(refund.body), retryAfter: nil, request: "POST /x")
        #expect(e2.code == "woocommerce_rest_cannot_create_order_refund" && e2.connectorError == .remoteRejected && e2.connectorError.disposition == .permanent)

        let perPage = try Capture.load("orders-list-per-page-101")
        let e3 = WooCommerceError.from(status: perPage.status, body: Array(perPage.body), retryAfter: nil, request: "GET /x")
        #expect(e3.code == "rest_invalid_param" && e3.connectorError == .remoteRejected)
        #expect(e3.connectorError.message.contains("per_page"))

        let tooLarge = try Capture.load("products-batch-101-items")
        let e4 = WooCommerceError.from(status: tooLarge.status, body: Array(tooLarge.body), retryAfter: nil, request: "POST /x")
        #expect(e4.status == 413 && e4.connectorError.disposition == .permanent)
    }

    @Test func htmlBodiesBecomeAShortLine() {
        let html = Array("<html><head><title>502 Bad Gateway</title></head><body>\n<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n</body></html>\n".utf8)
        let error = WooCommerceError.from(status: 502, body: html, retryAfter: nil, request: "GET /x")
        #expect(error.code == "http_error")
        #expect(error.message == "HTTP 502, non-JSON body: 502 Bad Gateway 502 Bad Gateway nginx")
        #expect(error.isTransient)
        let long = WooCommerceError.from(status: 400, body: Array(String(repeating: "x", count: 10_000).utf8), retryAfter: nil, request: "")
        #expect(long.message.count <= 230 && long.connectorError == .remoteRejected)
        #expect(WooCommerceError.from(status: 500, body: [0xff, 0xfe], retryAfter: nil, request: "").message.hasPrefix("HTTP 500"))
    }

    @Test func aNonJSONSuccessBodyIsAPermanentInvalidResponse() throws {
        let client = try WooCommerceClient(
            configuration: .init(baseURL: "https://shop.example.com", consumerKey: "ck", consumerSecret: "cs"),
            httpClient: .shared)
        let page = WooCommerceClient.Response(status: 200, headers: [:], body: ByteBuffer(string: "<html><body>Please log in</body></html>"), request: "GET /wp-json/wc/v3/orders/1")
        #expect(throws: WooCommerceError.self) { try client.decode(WooOrder.self, page) }
        do {
            _ = try client.decode(WooOrder.self, page)
        } catch let error as WooCommerceError {
            #expect(error.code == "invalid_response" && error.status == 200 && !error.isTransient)
            #expect(error.connectorError.fix.contains("baseURL"))
        }
        let missingTotal = WooCommerceClient.Response(status: 200, headers: [:], body: ByteBuffer(string: #"{"id":1,"total":"x"}"#), request: "GET /o")
        do {
            _ = try client.decode(WooOrder.self, missingTotal)
            Issue.record("decoded an order without its fields")
        } catch let error as WooCommerceError {
            #expect(error.message.hasPrefix("missing $.") || error.message.contains("$."))
        }
    }

    @Test func redirectsAndTransportErrorsNameTheFixWithoutTheSecret() {
        let redirect = WooCommerceError(status: 301, code: "http_redirect", message: "the store redirects to https://www.shop.example.com/wp-json/wc/v3/orders")
        #expect(redirect.connectorError == .invalidConfiguration && redirect.connectorError.fix.contains("baseURL"))
        struct Leaky: Error, CustomStringConvertible { var description: String { "failed GET https://s/x?consumer_key=ck&consumer_secret=cs_top" } }
        let error = WooCommerceClient.transportError(Leaky(), request: "GET /x", hiding: "cs_top")
        #expect(error.code == "transport_failed" && error.isTransient && !error.message.contains("cs_top"))
    }

    @Test func datesAndRetryAfter() {
        #expect(WooDate.parseGMT("2026-11-26T19:51:23") == Date(timeIntervalSince1970: 1_795_722_683))
        #expect(WooDate.formatGMT(Date(timeIntervalSince1970: 1_795_722_683)) == "2026-11-26T19:51:23")
        #expect(WooDate.parseGMT("26/11/2026") == nil)
        let now = Date(timeIntervalSince1970: 1_795_722_683)
        #expect(WooCommerceClient.retryAfterSeconds("30", now: now) == 30)
        #expect(WooCommerceClient.retryAfterSeconds("Thu, 26 Nov 2026 19:52:23 GMT", now: now) == 60)
        #expect(WooCommerceClient.retryAfterSeconds("soon", now: now) == nil)
    }
}
