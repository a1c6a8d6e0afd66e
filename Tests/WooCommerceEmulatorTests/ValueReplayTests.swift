import ConnectorCore
import Foundation
import Testing
@testable import WooCommerceEmulator

/// The captured session replayed step by step: every value equals the real one, except those
/// that depend on the real store's history (ids, dates, order keys, links).
@Suite struct ValueReplayTests {
    struct Step {
        var capture: String
        /// Where the emulator's ids differ from the real store's.
        var target: String?
        var body: WooJSON?
    }

    @Test func capturedSessionValuesMatch() async throws {
        var configuration = WooCommerceEmulator.Configuration.captured
        configuration.calculateTaxes = false
        let clock = ManualWallClock(captureStart)
        let emulator = WooCommerceEmulator(configuration: configuration, clock: clock)
        // Ids here: product 10, order 11, refund 12, tee 13, variations 14-16, coupon 17, customer 2, order 18.
        let steps: [Step] = [
            Step(capture: "product-create"),
            Step(capture: "order-create"),
            Step(capture: "order-set-paid"),
            Step(capture: "refund-create"),
            Step(capture: "refunds-list"),
            Step(capture: "order-get"),
            Step(capture: "settings-calc-taxes-enable"),
            Step(capture: "tax-rate-create-standard"),
            Step(capture: "tax-rate-create-reduced-rate"),
            Step(capture: "taxes-list"),
            Step(capture: "tax-classes-list"),
            Step(capture: "product-variable-create"),
            Step(capture: "product-variations-batch-create", target: "/wp-json/wc/v3/products/13/variations/batch"),
            Step(capture: "product-variations-list", target: "/wp-json/wc/v3/products/13/variations"),
            Step(capture: "product-variable-get-after-variations", target: "/wp-json/wc/v3/products/13"),
            Step(capture: "product-variation-update-stock", target: "/wp-json/wc/v3/products/13/variations/14"),
            Step(capture: "coupon-create-percent"),
            Step(capture: "customer-create"),
            Step(capture: "customer-get"),
            Step(capture: "customer-update"),
            Step(capture: "order-create-coupon-tax-shipping-fee-guest", body: nil),
            Step(capture: "order-get-coupon-tax-shipping-fee-guest", target: "/wp-json/wc/v3/orders/18"),
            // Captured after order 32 reduced the M stock to 19.
            Step(capture: "products-by-variation-sku"),
        ]
        for step in steps {
            clock.advance(by: 1)
            let capture = try RESTCapture.load(step.capture)
            var body = step.body
            if step.capture == "order-create-coupon-tax-shipping-fee-guest", var o = capture.body?.objectValue {
                o["line_items"] = [.obj(["product_id": 10, "quantity": 2]), .obj(["product_id": 13, "variation_id": 15, "quantity": 1])]
                body = .object(o)
            }
            let response = await replay(capture, on: emulator, body: body, target: step.target)
            #expect(response.status == capture.status, "\(step.capture): \(response.text.prefix(300))")
            var ignoring = volatileKeys
            if step.capture.hasPrefix("order-") && step.capture.hasSuffix("coupon-tax-shipping-fee-guest") {
                // coupon_info carries the coupon's post id; the line meta ids differ.
                ignoring.insert("meta_data")
            }
            let differences = valueDifferences(response.json, capture.json, ignoring: ignoring)
            #expect(differences.isEmpty, "\(step.capture): \(differences)")
            // The same response headers (transport ones aside), and the same Allow and Link.
            if let real = capture.headers {
                let transport: Set<String> = ["date", "server", "content-length", "connection", "keep-alive"]
                let theirs = Set(real.map { $0.name.lowercased() }).subtracting(transport)
                let mine = Set(response.headers.map { $0.name.lowercased() }).subtracting(transport)
                #expect(mine == theirs, "\(step.capture) headers")
                #expect(response.header("Allow") == capture.header("Allow"), "\(step.capture) Allow")
                if step.target == nil { #expect(response.header("Link") == capture.header("Link"), "\(step.capture) Link") }
            }
        }
    }
}
