import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorMapping
import ConnectorSandbox
import ConnectorStore
import DynamicsClient
import DynamicsEmulator
import Foundation
import Testing
import WooCommerceClient

/// Keys stay apart across connections; a mapping fix followed by a replay posts once; and
/// nothing the connector sends is unknown to the real F&O metadata.
@Suite struct ConnectionScopeTests {
    @Test func twoStoresInOneLegalEntityNeverCollide() async throws {
        try await PostingHarness.run { a in
            var options = PostingHarness.Options()
            options.connectionID = "beta"
            options.prefix = "WB"
            try await PostingHarness.run(store: a.store, options: options, dynamics: a.dynamics, foURL: a.dynamicsURL, key: a.key) { b in
                // Both stores number their orders alike: the same WooCommerce id in each.
                let first = try await a.paidOrder()
                let second = try await b.paidOrder()
                #expect(first == second)
                #expect(await a.post(first) == .posted(salesOrderNumber: "WC\(first)"))
                #expect(await b.post(second) == .posted(salesOrderNumber: "WB\(second)"))
                #expect(a.salesOrders(reference: "WC\(first)").count == 1)
                #expect(a.salesOrders(reference: "WB\(second)").count == 1)
                #expect(a.rows("CustomerPaymentJournalLines", "PaymentReference", "WC\(first)P").count == 1)
                #expect(a.rows("CustomerPaymentJournalLines", "PaymentReference", "WB\(second)P").count == 1)

                // A third connection reusing a prefix in the same environment and legal entity is refused.
                var clash = b.connection
                clash.id = "gamma"
                await #expect(throws: ConnectorError.self) { try await ConnectionRepository(store: a.store).add(clash, key: a.key) }
            }
        }
    }

    @Test func anUnmappedSKUParksNamingItAndAReplayAfterTheFixPostsOnce() async throws {
        try await PostingHarness.run { h in
            let product = try await h.shop.simpleProduct(sku: "WEB-MUG-BLUE", name: "Blue mug (web only SKU)", price: "14.00")
            let id = try await h.shop.order(#"{"payment_method":"stripe","set_paid":true,\#(SandboxShop.californiaBilling),"line_items":[{"product_id":\#(product),"quantity":1}]}"#)
            guard case .parked(let reason) = await h.post(id) else { Issue.record("expected parked"); return }
            #expect(reason.contains("WEB-MUG-BLUE"))
            #expect(h.salesOrders(reference: "WC\(id)").isEmpty)

            // `connection update` with the SKU mapped to the F&O item, then `mlc replay`.
            var fixed = h.connection
            fixed.mapping.items["WEB-MUG-BLUE"] = "MUG-01"
            try await ConnectionRepository(store: h.store).update(fixed, key: h.key)
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
            #expect(h.rows("SalesOrderLines", "SalesOrderNumber", "WC\(id)").first?["ItemNumber"]?.stringValue == "MUG-01")
        }
    }

    /// Every property of every record the mapping produces for the shop's day exists on its
    /// entity set in the real metadata (the emulator's schema is read from entities.json).
    @Test func everySentPropertyExistsInTheRealMetadata() async throws {
        try await PostingHarness.run { h in
            _ = try await ShopDayTests.placeDay(h)
            let woo = try h.remotes.woocommerce(h.connection)
            let orders = try await woo.allOrders(WooOrderQuery())
            let mapper = OrderMapper(connection: h.connection)
            var checked = 0
            for order in orders {
                let refunds = order.refunds.isEmpty ? [] : try await woo.refunds(orderID: order.id)
                var parents: [Int: String] = [:]
                for line in order.lineItems where line.variationID != 0 { parents[line.productID] = try await woo.product(line.productID).sku }
                guard case .planned(let plan) = mapper.plan(order: order, refunds: refunds, parentSKUs: parents) else { continue }
                var records: [(String, PlannedRecord)] = [(FOEntity.salesOrderHeaders, plan.header), (FOEntity.customers, plan.customer.record)]
                records += plan.lines.map { (FOEntity.salesOrderLines, $0.record) }
                records += ([plan.payment].compactMap { $0 } + plan.refunds).map { (FOEntity.paymentJournalLines, $0.record) }
                for (set, record) in records {
                    let schema = try #require(h.dynamics.schema.entitySets[set])
                    for name in record.names {
                        #expect(schema.property(name) != nil, "\(set) has no property \(name)")
                        checked += 1
                    }
                }
                for key in [plan.reference, plan.payment?.reference].compactMap({ $0 }) + plan.refunds.map(\.reference) {
                    #expect(key.count <= 20 && !key.contains("*"))
                }
            }
            #expect(checked > 500)
            // Reads too: every $select and $filter property the client uses.
            let reads: [(String, [String])] = [
                (FOEntity.salesOrderHeaders, FOSalesOrderHeader.select + ["CustomersOrderReference"]),
                (FOEntity.salesOrderLines, FOSalesOrderLine.select), (FOEntity.customers, FOCustomer.select),
                (FOEntity.paymentJournalHeaders, FOPaymentJournalHeader.select), (FOEntity.paymentJournalLines, FOPaymentJournalLine.select + ["PaymentReference"]),
            ]
            for (set, names) in reads {
                let schema = try #require(h.dynamics.schema.entitySets[set])
                for name in names { #expect(schema.property(name) != nil, "\(set) has no property \(name)") }
            }
        }
    }
}
