import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import Foundation
import Testing
import WooCommerceEmulator

/// SPEC §12 end to end: the F&O sandbox's catalog pushed to the WooCommerce sandbox over HTTP.
/// "No write" is read from WooCommerce itself: its clock is moved on between runs, so any write
/// would change a product's or variation's `date_modified_gmt`.
@Suite struct CatalogPushTests {
    @Test func theFirstPushCreatesTheSeedCatalogAsDraftsWithPricesAndStock() async throws {
        try await CatalogHarness.run { h in
            try h.addHoodie()
            let report = try await h.run()
            #expect(report.failed == 0, "\(report.changes)")
            // MUG-01, POSTER-01, TSHIRT-01 (+3), HOODIE-01 (+3).
            #expect(report.created == 10)
            #expect(report.wooWrites == 3, "one product batch, one variation batch per master")

            let products = try await h.products()
            #expect(Set(products.keys) == ["MUG-01", "POSTER-01", "TSHIRT-01", "HOODIE-01"])
            let mug = try #require(products["MUG-01"])
            #expect(mug["type"]?.stringValue == "simple")
            #expect(mug["status"]?.stringValue == "draft")
            #expect(Decimal(string: mug["regular_price"]?.stringValue ?? "") == Decimal(string: "12.50"))
            #expect(mug["stock_quantity"]?.intValue == 120)
            #expect(mug["manage_stock"]?.boolValue == true)
            #expect(mug["name"]?.stringValue == "Coffee mug")
            #expect(mug["tax_class"]?.stringValue == "")

            let tshirt = try #require(products["TSHIRT-01"])
            #expect(tshirt["type"]?.stringValue == "variable")
            #expect(tshirt["status"]?.stringValue == "draft")
            let attributes = tshirt["attributes"]?.arrayValue ?? []
            #expect(attributes.compactMap { $0["name"]?.stringValue } == ["Size", "Color"])
            let variations = try await h.variations(try #require(tshirt["id"]?.intValue))
            #expect(Set(variations.keys) == ["TSHIRT-01-M-BLUE", "TSHIRT-01-L-BLUE", "TSHIRT-01-M-RED"])
            #expect(variations["TSHIRT-01-M-BLUE"]?["stock_quantity"]?.intValue == 14)
            #expect(variations["TSHIRT-01-L-BLUE"]?["stock_quantity"]?.intValue == 0)
            #expect(variations["TSHIRT-01-L-BLUE"]?["stock_status"]?.stringValue == "outofstock")
            #expect(variations["TSHIRT-01-M-RED"]?["stock_quantity"]?.intValue == 6)
            #expect(Decimal(string: variations["TSHIRT-01-M-RED"]?["regular_price"]?.stringValue ?? "") == 24)

            let hoodie = try await h.variations(try #require(products["HOODIE-01"]?["id"]?.intValue))
            #expect(Set(hoodie.keys) == ["HOODIE-01-S-GREEN", "HOODIE-01-L-GREEN", "HOODIE-01-L-BLACK"])
            #expect(hoodie["HOODIE-01-L-BLACK"]?["stock_quantity"]?.intValue == 2)
            #expect(Decimal(string: hoodie["HOODIE-01-S-GREEN"]?["regular_price"]?.stringValue ?? "") == Decimal(string: "39.90"))
            #expect(h.sleeper.recorded.allSatisfy { $0 <= 1 }, "paced, never slept for real")
        }
    }

    @Test func anImmediateSecondRunWritesNothing() async throws {
        try await CatalogHarness.run { h in
            try h.addHoodie()
            try await h.run()
            let before = try await h.modifiedDates()
            h.wooClock.advance(by: 120)
            let second = try await h.run()
            #expect(second.wooWrites == 0)
            #expect(second.created == 0 && second.updated == 0 && second.failed == 0)
            #expect(second.unchanged == 10)
            #expect(try await h.modifiedDates() == before, "no product or variation was written")
        }
    }

    @Test func aPriceChangeAnOnHandChangeAndANewItemAreExactlyWhatIsSent() async throws {
        try await CatalogHarness.run { h in
            try await h.run()
            let before = try await h.modifiedDates()
            h.wooClock.advance(by: 120)
            try await h.setSalesPrice("POSTER-01", Decimal(string: "21.50")!)
            try h.onHand("TSHIRT-01", size: "M", color: "Red", warehouse: "12", 5)
            try h.addSimple("CAP-01", name: "Cap", price: "9.95", onHand: 40)

            let report = try await h.run()
            #expect(report.created == 1 && report.updated == 2 && report.failed == 0, "\(report.changes)")
            #expect(Set(report.changes.map(\.sku)) == ["POSTER-01", "TSHIRT-01-M-RED", "CAP-01"])
            #expect(report.changes.first { $0.sku == "POSTER-01" }?.detail == "price: 19.99 → 21.50")

            let after = try await h.modifiedDates()
            let changed = Set(after.keys.filter { after[$0] != before[$0] })
            #expect(changed == ["POSTER-01", "TSHIRT-01-M-RED", "CAP-01"])
            let products = try await h.products()
            #expect(Decimal(string: products["POSTER-01"]?["regular_price"]?.stringValue ?? "") == Decimal(string: "21.50"))
            #expect(products["CAP-01"]?["stock_quantity"]?.intValue == 40)
            #expect(products["CAP-01"]?["status"]?.stringValue == "draft")
            let tshirt = try await h.variations(try #require(products["TSHIRT-01"]?["id"]?.intValue))
            #expect(tshirt["TSHIRT-01-M-RED"]?["stock_quantity"]?.intValue == 11)
        }
    }
}
