import ConnectorCore
import ConnectorFlows
import Foundation
import Testing
import WooCommerceEmulator

/// Toward WooCommerce: batches of at most 100, a paced request rate, and back-off on 429/503 —
/// all waits through the recording sleeper (nothing sleeps).
@Suite struct CatalogPacingTests {
    @Test func moreThanAHundredItemsGoInBatchesOfAtMostAHundred() async throws {
        try await CatalogHarness.run { h in
            for n in 1...120 { try h.addSimple(String(format: "BULK-%03d", n), name: "Bulk \(n)", price: "1.00", onHand: n) }
            let report = try await h.run()
            #expect(report.failed == 0)
            #expect(report.created == 126)
            #expect(report.wooWrites == 3, "123 products in two batches, the T-shirt's variations in one")
            let listed = try await h.shop.send("/products?per_page=100&page=2", method: "GET").arrayValue ?? []
            #expect(listed.count == 23)
            #expect(try await h.run().wooWrites == 0)
        }
    }

    @Test func throttlingAndUnavailabilityAreWaitedOutAndRequestsArePaced() async throws {
        try await CatalogHarness.run(catalog: { $0.wooRequestsPerSecond = 4; $0.wooConcurrency = 1 }) { h in
            var faults = WooCommerceEmulator.Faults()
            faults.apiFaults = [.tooManyRequests(retryAfter: 7), .serviceUnavailable]
            h.woo.setFaults(faults)
            let report = try await h.run()
            #expect(report.failed == 0 && report.created == 6)
            let waits = h.sleeper.recorded
            #expect(waits.contains(7), "Retry-After of the 429: \(waits)")
            #expect(waits.starts(with: [7, 2]), "the 429 waits its Retry-After, the 503 after it the doubled back-off: \(waits)")
            #expect(waits.filter { abs($0 - 0.25) < 0.001 }.count >= 2, "paced at 4 requests per second: \(waits)")
        }
    }
}
