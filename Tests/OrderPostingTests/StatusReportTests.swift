import ConnectorCore
import ConnectorFlows
import ConnectorStore
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
}
