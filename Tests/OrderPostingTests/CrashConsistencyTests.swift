import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import ConnectorTestSupport
import DynamicsEmulator
import Foundation
import Testing

/// Issue 9 item 2: the order-poster binary killed with SIGKILL at every step of posting (no
/// unwinding, nothing flushed), restarted, and the order re-delivered — F&O ends with exactly
/// one sales order with all its lines and one payment line, for every crash point, on every
/// store another process can share (SQLite, and PostgreSQL when scripts/test started one).
@Suite(.serialized) struct CrashConsistencyTests {
    struct Case: Sendable, CustomStringConvertible {
        var point: String
        var supplySalesOrderNumber: Bool
        var description: String { "\(point) (\(supplySalesOrderNumber ? "number supplied" : "F&O numbers"))" }
    }

    static let cases: [Case] = [
        "order.after-lease", "order.after-customer", "order.after-journal-header", "order.after-journal-counter",
        "order.after-changeset", "order.after-link",
    ].map { Case(point: $0, supplySalesOrderNumber: true) } + [
        "order.after-header", "order.after-header-link", "order.after-changeset", "order.after-link",
    ].map { Case(point: $0, supplySalesOrderNumber: false) }

    static let backends = StoreBackend.shared

    @Test(arguments: backends, cases)
    func killedAtEveryStepThenRestartedPostsExactlyOnce(backend: StoreBackend, crash: Case) async throws {
        let url = StoreBackend.smallPool(try backend.freshURL())
        let store = try await StoreFactoryForTests.open(url)
        var options = PostingHarness.Options()
        options.supplySalesOrderNumber = crash.supplySalesOrderNumber
        try await PostingHarness.run(store: store, options: options) { h in
            let id = try await h.paidOrder()
            let environment = ["MLC_MODE": "once", "MLC_STORE_URL": url, "MLC_MASTER_KEY": h.key.base64, "MLC_LOG_LEVEL": "error"]
            let event = #"{"specversion":"1.0","id":"crash-\#(id)","source":"/test","type":"com.mlconnector.order.changed","data":{"connection":"acme","orderId":\#(id)}}"#
            let poster = try PackagePaths.executable("order-poster")

            let killed = try await ProcessRunner.run(poster, ["--stdin"], environment: environment.merging(["MLC_TEST_CRASH_AT": crash.point]) { $1 }, stdin: event)
            #expect(killed.status == SIGKILL, "the process must die at \(crash.point): \(killed.stdout) \(killed.stderr)")
            #expect(killed.stderr.contains("crash point \(crash.point)"))
            #expect(!killed.stdout.contains("\"outcome\""), "no result line from a killed process")

            // The dead worker's leases lapse (their expiry itself is covered by the store
            // conformance suite); then the order is delivered again.
            for lease in try await h.store.listAll(prefix: "lease/") { _ = try await h.store.delete(lease.key, expectedVersion: nil) }
            let restarted = try await ProcessRunner.run(poster, ["--stdin"], environment: environment, stdin: event)
            #expect(restarted.status == 0, "\(restarted.stdout) \(restarted.stderr)")
            let again = try await ProcessRunner.run(poster, ["--stdin"], environment: environment, stdin: event)
            #expect(again.status == 0, "\(again.stdout) \(again.stderr)")

            let orders = h.salesOrders(reference: "WC\(id)")
            #expect(orders.count == 1)
            let number = try #require(orders.first?["SalesOrderNumber"]?.stringValue)
            #expect(h.rows("SalesOrderLines", "SalesOrderNumber", number).count == 2, "the mug and the shipping line")
            #expect(h.lineAmounts(salesOrder: number).reduce(0, +) == Decimal(30))
            let payments = h.rows("CustomerPaymentJournalLines", "PaymentReference", "WC\(id)P")
            #expect(payments.count == 1)
            #expect(payments.first?["CreditAmount"]?.decimalValue == Decimal(string: "32.17"))
            let record = try await AuditRecords(store: h.store, clock: h.clock, retention: .seconds(60)).load(connection: "acme", kind: "order", id: String(id))
            #expect(record?.state == .posted)
            let link = try await h.store.getJSON(OrderLink.self, Keyspace.orderLink("acme", orderID: id))?.value
            #expect(link?.linesComplete == true && link?.salesOrderNumber == number && link?.payment != nil)
        }
        try await store.close()
    }
}

/// The backfill poll killed after its hand-offs and before its cursor write: the next poll
/// re-reads the window, hands nothing on twice, and every order is posted once.
@Suite(.serialized) struct PollCrashTests {
    @Test(arguments: StoreBackend.shared)
    func killedBeforeTheCursorWriteThenPolledAgain(backend: StoreBackend) async throws {
        let url = StoreBackend.smallPool(try backend.freshURL())
        let store = try await StoreFactoryForTests.open(url)
        try await PostingHarness.run(store: store) { h in
            var ids: [Int] = []
            for _ in 0..<5 { ids.append(try await h.paidOrder()) }
            let environment = ["MLC_MODE": "once", "MLC_STORE_URL": url, "MLC_MASTER_KEY": h.key.base64, "MLC_LOG_LEVEL": "error"]
            let tick = #"{"specversion":"1.0","id":"crash-poll","source":"/test","type":"com.mlconnector.backfill.tick","data":{"connection":"acme"}}"#
            let poll = try PackagePaths.executable("backfill-poll")

            let killed = try await ProcessRunner.run(poll, ["--stdin"], environment: environment.merging(["MLC_TEST_CRASH_AT": "poll.before-cursor"]) { $1 }, stdin: tick)
            #expect(killed.status == SIGKILL, "\(killed.stdout) \(killed.stderr)")
            #expect(try await h.store.get(Keyspace.orderPollCursor("acme")) == nil, "the cursor was not written")
            #expect(try await h.store.listAll(prefix: Keyspace.pending("acme", kind: "order")).count == ids.count, "the hand-offs were durable before the kill")

            for lease in try await h.store.listAll(prefix: "lease/") { _ = try await h.store.delete(lease.key, expectedVersion: nil) }
            let again = try await ProcessRunner.run(poll, ["--stdin"], environment: environment, stdin: tick)
            #expect(again.status == 0, "\(again.stdout) \(again.stderr)")
            #expect(again.stdout.contains("\"handedOn\":0"), "nothing handed on twice: \(again.stdout)")
            #expect(try await h.store.get(Keyspace.orderPollCursor("acme")) != nil)
            await h.drainUntilDone()
            for id in ids { #expect(h.salesOrders(reference: "WC\(id)").count == 1) }
        }
        try await store.close()
    }
}
