import ConnectorCore
import ConnectorSandbox
import Foundation
import Testing
@testable import ConnectorFlows

/// The push holds little per SKU at once: the adoption listing is adopted page by page, and
/// product batches are cut as index ranges of the plan and recorded as each answers. These
/// check that nothing is lost or doubled on the way.
@Suite struct CatalogPagingTests {
    /// 150 of 230 catalog SKUs already in WooCommerce (made by hand): the listing spans several
    /// pages, every one of them is adopted, the other 80 are created — each SKU once.
    @Test func anAdoptionListingOverSeveralPagesAdoptsEveryExistingSKUOnce() async throws {
        try await CatalogHarness.run { h in
            try Sandbox.seedCatalog(h.dynamics, items: 230, masters: 0, variants: 0)
            for range in [0..<100, 100..<150] {
                let items = range.map { n in #"{"name":"Hand-made \#(n)","type":"simple","sku":"\#(Sandbox.benchItem(n))","regular_price":"1.00","status":"publish"}"# }
                try await h.shop.send("/products/batch", #"{"create":[\#(items.joined(separator: ","))]}"#)
            }
            let before = try await h.skus()
            #expect(before.count >= 150, "more than one listing page of 100")

            let report = try await h.run()
            #expect(report.failed == 0, "\(report.changes.filter { $0.action == .fail }.prefix(3))")
            let adopted = Set(report.changes.filter { $0.action == .adopt }.map(\.sku))
            #expect(adopted == Set((0..<150).map(Sandbox.benchItem)), "every hand-made product is adopted, wherever its page")
            let created = Set(report.changes.filter { $0.action == .create }.map(\.sku))
            #expect(created.isSuperset(of: (150..<230).map(Sandbox.benchItem)) && created.isDisjoint(with: adopted))

            let after = try await h.skus()
            #expect(Set(after).count == after.count, "a SKU twice in WooCommerce: \(Dictionary(grouping: after) { $0 }.filter { $0.value.count > 1 }.keys.sorted().prefix(5))")
            #expect(Set(after).isSuperset(of: (0..<230).map(Sandbox.benchItem)))
            let states = try await h.push.states(connectionID: h.connection.id)
            #expect((0..<230).map(Sandbox.benchItem).allSatisfy { states[$0] != nil }, "every SKU's state is recorded")
            #expect(states["BENCH-00000"]?.pushed["price"] == "5.99", "the adopted product got F&O's price")

            let again = try await h.run()
            #expect(again.created == 0 && again.updated == 0 && again.wooWrites == 0)
        }
    }

    /// Creates first, then updates, ≤ 100 per batch, one batch holding the last creates and the
    /// first updates — the cut the push always made.
    @Test func productBatchesCoverCreatesThenUpdatesOnce() {
        let chunks = CatalogExecutor.productChunks(creates: 150, updates: 120, size: 100)
        #expect(chunks.map(\.creates) == [0..<100, 100..<150, 150..<150])
        #expect(chunks.map(\.updates) == [0..<0, 0..<50, 50..<120])
        #expect(chunks.allSatisfy { $0.creates.count + $0.updates.count <= 100 })
        #expect(CatalogExecutor.productChunks(creates: 0, updates: 0, size: 100).isEmpty)
        let onlyUpdates = CatalogExecutor.productChunks(creates: 0, updates: 201, size: 100)
        #expect(onlyUpdates.map(\.updates) == [0..<100, 100..<200, 200..<201] && onlyUpdates.allSatisfy(\.creates.isEmpty))
    }
}
