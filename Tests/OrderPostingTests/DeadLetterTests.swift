import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import DynamicsEmulator
import Foundation
import Testing

/// SPEC §4: the dead-letter sink is the connector's own receiver — it parks the item and alerts.
@Suite struct DeadLetterTests {
    func deadLetter(_ orderID: Int) -> CloudEvent {
        CloudEvent(id: "acme-order-\(orderID)-x", source: "/ml-connector/webhook-receiver/acme", type: OrderPosterFunction.orderChanged,
                   extensions: ["knativeerrordest": "http://order-poster.ml-connector.svc.cluster.local", "knativeerrorcode": "503"],
                   data: Array("{\"connection\":\"acme\",\"orderId\":\(orderID)}".utf8))
    }

    @Test func anOrderThePosterKeptFailingIsParkedAndAlertedThenReplayedOnce() async throws {
        try await PostingHarness.run { h in
            let receiver = WebhookReceiverFunction(store: h.store, masterKey: h.key, settings: IntakeSettings(), clock: h.clock)
            let context = InvocationContext(function: "webhook-receiver", invocationID: "t", logger: h.logger)
            let failing = try await h.paidOrder()
            let healthy = try await h.paidOrder()
            for id in [failing, healthy] {
                try await h.store.set(Keyspace.pending("acme", kind: "order", resourceID: String(id)),
                                      PendingWork(connection: "acme", kind: "order", resourceID: String(id), firstSeenAt: h.clock.now(), origin: "test").encoded())
            }
            // F&O down: order-poster tries the first order and fails (transient, stays pending).
            var faults = DynamicsEmulator.Faults()
            faults.failNext = 100
            faults.failStatus = 503
            h.dynamics.setFaults(faults)
            guard case .retryLater = await h.post(failing) else { Issue.record("expected a transient failure"); return }
            h.dynamics.setFaults(.init())

            // The platform gave up on both wake-ups: only the one really tried is parked.
            let parked = await receiver.handle(event: deadLetter(failing), context: context)
            #expect(parked.status == 200)
            #expect(String(decoding: parked.body, as: UTF8.self).contains("acme:order:\(failing)"))
            let echo = await receiver.handle(event: deadLetter(healthy), context: context)
            #expect(echo.status == 200 && String(decoding: echo.body, as: UTF8.self).contains("\"parked\":null"))
            let records = AuditRecords(store: h.store, clock: h.clock, retention: .seconds(86_400))
            let record = try await records.load(connection: "acme", kind: "order", id: String(failing))
            #expect(record?.state == .parked)
            #expect(record?.reason?.contains("mlc replay acme:order:\(failing)") == true)
            #expect(try await h.store.get(Keyspace.pending("acme", kind: "order", resourceID: String(failing))) == nil)
            #expect(try await h.store.get(Keyspace.pending("acme", kind: "order", resourceID: String(healthy))) != nil)
            let alert = try await AlertCenter(store: h.store, clock: h.clock).list(connection: "acme").first { $0.reason == "dead-letter" }
            #expect(alert?.total == 2)
            #expect(alert?.detail.contains("503") == true)

            // The drain posts the healthy one; the parked one waits for a person, then posts once.
            await h.drainUntilDone()
            #expect(h.salesOrders(reference: "WC\(healthy)").count == 1)
            #expect(h.salesOrders(reference: "WC\(failing)").isEmpty)
            #expect(await h.post(failing) == .posted(salesOrderNumber: "WC\(failing)"))
            #expect(h.salesOrders(reference: "WC\(failing)").count == 1)
        }
    }
}
