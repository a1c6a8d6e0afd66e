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

    /// Issue 9 item 5: two stores with their own API keys, orders with the same ids and
    /// different contents, drained at the same time on one store and one F&O: each sales order
    /// carries its own store's order — one connection's credentials never reach the other's calls
    /// (a wrong key pair would be refused by the other sandbox).
    @Test func oneConnectionsCredentialsNeverReachAnothersCalls() async throws {
        var alpha = PostingHarness.Options()
        alpha.wooKeys = ("ck_alpha000000000000000000000000000000000", "cs_alpha000000000000000000000000000000000")
        try await PostingHarness.run(options: alpha) { a in
            var options = PostingHarness.Options()
            options.connectionID = "beta"
            options.prefix = "WB"
            options.wooKeys = ("ck_beta0000000000000000000000000000000000", "cs_beta0000000000000000000000000000000000")
            try await PostingHarness.run(store: a.store, options: options, dynamics: a.dynamics, foURL: a.dynamicsURL, key: a.key) { b in
                // Alpha sells 2 mugs + shipping (net 30.00); beta 5 mugs of its own at 12.50 (net 62.50).
                let betaMug = try await b.shop.simpleProduct(sku: "MUG-01", name: "Coffee mug", price: "12.50")
                var pairs: [(alpha: Int, beta: Int)] = []
                for _ in 0..<5 {
                    let first = try await a.paidOrder()
                    let second = try await b.shop.order(#"{"payment_method":"stripe","payment_method_title":"Card","set_paid":true,\#(SandboxShop.californiaBilling),"line_items":[{"product_id":\#(betaMug),"quantity":5}]}"#)
                    pairs.append((first, second))
                }
                #expect(pairs.contains { $0.alpha == $0.beta }, "both stores number their orders alike")
                let alphaIDs = pairs.map(\.alpha), betaIDs = pairs.map(\.beta)
                // Both connections' orders posted at the same time, through one store and one F&O.
                async let postedA = withTaskGroup(of: PostResult.self) { group in
                    for id in alphaIDs { group.addTask { await a.post(id) } }
                    return await group.reduce(into: [PostResult]()) { $0.append($1) }
                }
                async let postedB = withTaskGroup(of: PostResult.self) { group in
                    for id in betaIDs { group.addTask { await b.post(id) } }
                    return await group.reduce(into: [PostResult]()) { $0.append($1) }
                }
                let (resultsA, resultsB) = await (postedA, postedB)
                // Nothing failed for a reason other than the shared journal lease; those go again.
                for result in resultsA + resultsB {
                    if case .posted = result { continue }
                    #expect("\(result)".contains("journal is held by another worker"), "\(result)")
                }
                for id in alphaIDs { #expect(await a.post(id) == .posted(salesOrderNumber: "WC\(id)")) }
                for id in betaIDs { #expect(await b.post(id) == .posted(salesOrderNumber: "WB\(id)")) }
                for pair in pairs {
                    #expect(a.lineAmounts(salesOrder: "WC\(pair.alpha)").reduce(0, +) == 30, "alpha's order \(pair.alpha) carries alpha's contents")
                    #expect(a.lineAmounts(salesOrder: "WB\(pair.beta)").reduce(0, +) == Decimal(string: "62.5"), "beta's order \(pair.beta) carries beta's contents")
                }
                #expect(a.dynamics.requestLog.allSatisfy { $0.tokenValid != false || $0.status == 401 })
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
