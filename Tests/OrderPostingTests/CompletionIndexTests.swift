import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import DynamicsClient
import Foundation
import Testing

/// backfill-poll's completion reads only the orders still open — an index order-poster writes
/// when it posts and completion clears — and stops reading a sales order F&O cancelled.
@Suite struct CompletionIndexTests {
    @Test func onlyOpenOrdersAreReadAndACancelledSalesOrderLeavesTheIndex() async throws {
        try await PostingHarness.run { h in
            let connections = StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: h.clock, freshness: 0)
            let completion = OrderCompletion(store: h.store, connections: connections, remotes: h.remotes, clock: h.clock)
            let invoiced = try await h.paidOrder()
            let cancelled = try await h.paidOrder()
            let open = try await h.paidOrder()
            for id in [invoiced, cancelled, open] { #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)")) }
            func indexed() async throws -> Set<Int> {
                let prefix = Keyspace.openOrders("acme")
                return Set(try await h.store.listAll(prefix: prefix).compactMap { Int($0.key.dropFirst(prefix.count)) })
            }
            #expect(try await indexed() == [invoiced, cancelled, open])

            _ = try await h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: "WC\(invoiced)")
            let fo = try h.remotes.dynamics(h.connection)
            try await fo.update(ODataKey(FOEntity.salesOrderHeaders, ["dataAreaId": .string("usmf"), "SalesOrderNumber": .string("WC\(cancelled)")]),
                                ODataRecord(["SalesOrderStatus": .string("Canceled")]))
            let report = try await completion.run(connectionID: "acme", logger: h.logger)
            #expect(report.completed == 1 && report.skipped == 1 && report.notFullyInvoiced == 1, "\(report.json)")
            #expect(try await indexed() == [open])
            #expect(try await h.shop.send("/orders/\(invoiced)", method: "GET")["status"]?.stringValue == "completed")
            #expect(try await h.shop.send("/orders/\(cancelled)", method: "GET")["status"]?.stringValue == "processing")
            let link = try await h.store.getJSON(OrderLink.self, Keyspace.orderLink("acme", orderID: cancelled))?.value
            #expect(link?.completionSkipped?.contains("cancelled") == true)

            // The next run reads only the one still open.
            let again = try await completion.run(connectionID: "acme", logger: h.logger)
            #expect(again.checked == 1 && again.completed == 0)
        }
    }
}
