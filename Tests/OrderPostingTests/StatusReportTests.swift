import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import ConnectorTestSupport
import Foundation
import Testing

/// `mlc status` reads what an on-call engineer needs from the store alone (SPEC §11).
@Suite struct StatusReportTests {
    @Test func theStoreAloneTellsWhatIsPendingParkedAndAlerted() async throws {
        try await PostingHarness.run { h in
            let posted = try await h.paidOrder()
            let unmapped = try await h.paidOrder(paymentMethod: "paypal")
            #expect(await h.post(posted) == .posted(salesOrderNumber: "WC\(posted)"))
            guard case .parked = await h.post(unmapped) else { Issue.record("expected parked"); return }
            let waiting = try await h.paidOrder()
            try await h.store.set(Keyspace.pending("acme", kind: "order", resourceID: String(waiting)),
                                  PendingWork(connection: "acme", kind: "order", resourceID: String(waiting), firstSeenAt: h.clock.now(), origin: "test").encoded())
            h.clock.advance(by: 90)
            try await ConnectionControl(store: h.store).setPaused("acme", true, at: h.clock.now())

            let report = try await StatusReport(store: h.store, clock: h.clock).connection(h.connection)
            #expect(report.paused)
            #expect(report.pendingOrders == 1)
            #expect(Int(report.oldestPendingSeconds ?? 0) == 90)
            #expect(report.records["order"]?[.posted] == 1)
            #expect(report.records["order"]?[.parked] == 1)
            #expect(report.parkedReasons.first?.reason.contains("paypal") == true)
            #expect(report.alerts.contains { $0.reason == "record-parked" })
            let text = StatusReport.text(report, now: h.clock.now())
            #expect(text.contains("PAUSED") && text.contains("1 order(s), oldest 90s old") && text.contains("order records: posted 1, parked 1"))
        }
    }

    /// The issue's must-show: from a fresh `mlc status` process over the same store file — the
    /// stuck order's age, the parked reason, the webhooks and the last poll.
    @Test func aFreshMlcStatusProcessReadsTheStoreFile() async throws {
        let directory = TemporaryDirectory.make("mlc-status")
        let url = "sqlite:" + directory.appendingPathComponent("store.sqlite").path
        let store = try await StoreFactoryForTests.open(url)
        try await PostingHarness.run(store: store) { h in
            let unmapped = try await h.paidOrder(paymentMethod: "paypal")
            guard case .parked = await h.post(unmapped) else { Issue.record("expected parked"); return }
            let connections = StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: h.clock, freshness: 0)
            _ = try await BackfillPoll(store: h.store, connections: connections, remotes: h.remotes, clock: h.clock).poll(connectionID: "acme", logger: h.logger)
            let stuck = try await h.paidOrder()
            try await h.store.set(Keyspace.pending("acme", kind: "order", resourceID: String(stuck)),
                                  PendingWork(connection: "acme", kind: "order", resourceID: String(stuck), firstSeenAt: Date().addingTimeInterval(-600), origin: "test").encoded())

            let result = try await ProcessRunner.run(try PackagePaths.executable("mlc"), ["status", "--connection", "acme"], environment: ["MLC_STORE_URL": url])
            #expect(result.status == 0)
            let text = result.stdout
            #expect(text.range(of: #"pending: \d+ order\(s\), oldest 6\d\ds old"#, options: .regularExpression) != nil, "\(text)")
            #expect(text.contains("parked ×1: ") && text.contains("paypal"))
            #expect(text.contains("order.created active") && text.contains("checked"))
            #expect(!text.contains("last poll: never"))
            #expect(text.contains("alert record-parked: 1 in the window"))
        }
        try await store.close()
    }

    /// SPEC §11: a paused connection still records deliveries, posts nothing, and resumes.
    @Test func aPausedConnectionRecordsDeliveriesAndPostsNothingUntilResumed() async throws {
        try await PostingHarness.run { h in
            try await h.createWebhooks()
            let control = ConnectionControl(store: h.store)
            try await control.setPaused("acme", true, at: h.clock.now())
            let id = try await h.paidOrder()
            let attempts = await h.woo.runDeliveries()
            #expect(!attempts.isEmpty && attempts.allSatisfy { $0.status == 200 })
            #expect(try await h.store.get(Keyspace.pending("acme", kind: "order", resourceID: String(id))) != nil)
            await h.drainUntilDone(rounds: 2)
            #expect(h.salesOrders(reference: "WC\(id)").isEmpty)
            #expect(try await h.store.get(Keyspace.pending("acme", kind: "order", resourceID: String(id))) != nil)

            // What the platform sees meanwhile: a wake-up and a drain are answered 200 "paused",
            // never a retry (Knative would retry it to a dead letter and an alert every tick).
            let function = OrderPosterFunction(poster: h.poster, store: h.store)
            let context = InvocationContext(function: "order-poster", invocationID: "paused-test", logger: h.logger)
            let wakeUp = CloudEvent(id: "w1", source: "/test", type: OrderPosterFunction.orderChanged,
                                    data: Array("{\"connection\":\"acme\",\"orderId\":\(id)}".utf8))
            let answered = await function.handle(event: wakeUp, context: context)
            #expect(answered.kind == .done && answered.status == 200 && answered.reason == "paused", "\(answered)")
            let drained = await function.drain(connection: nil, context: context)
            #expect(drained.kind == .done && String(decoding: drained.body, as: UTF8.self).contains("\"pausedConnections\":1"), "\(drained)")
            #expect(h.salesOrders(reference: "WC\(id)").isEmpty)
            #expect(try await h.store.get(Keyspace.pending("acme", kind: "order", resourceID: String(id))) != nil)

            try await control.setPaused("acme", false, at: h.clock.now())
            await h.drainUntilDone()
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
            #expect(try await h.store.get(Keyspace.pending("acme", kind: "order", resourceID: String(id))) == nil)
        }
    }
}
