import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import DynamicsEmulator
import Foundation
import Testing

/// SPEC §4: the dead-letter sink is the connector's own receiver. A dead letter alerts; the work
/// stays pending (SPEC §8: only permanent errors park), so an order the platform gave up waking
/// during an F&O outage is still posted once F&O is back — and a forged dead letter changes
/// nothing but an alert.
@Suite struct DeadLetterTests {
    func deadLetter(_ orderID: Int, connection: String = "acme") -> CloudEvent {
        CloudEvent(id: "acme-order-\(orderID)-x", source: "/ml-connector/webhook-receiver/acme", type: OrderPosterFunction.orderChanged,
                   extensions: ["knativeerrordest": "http://order-poster.ml-connector.svc.cluster.local", "knativeerrorcode": "503"],
                   data: Array("{\"connection\":\"\(connection)\",\"orderId\":\(orderID)}".utf8))
    }

    @Test func aDeadLetterAlertsAndTheWorkStaysPendingUntilItIsPosted() async throws {
        try await PostingHarness.run { h in
            let receiver = WebhookReceiverFunction(store: h.store, masterKey: h.key, settings: IntakeSettings(), clock: h.clock)
            let context = InvocationContext(function: "webhook-receiver", invocationID: "t", logger: h.logger)
            let failing = try await h.paidOrder()
            try await h.store.set(Keyspace.pending("acme", kind: "order", resourceID: String(failing)),
                                  PendingWork(connection: "acme", kind: "order", resourceID: String(failing), firstSeenAt: h.clock.now(), origin: "test").encoded())
            // F&O down: order-poster tries and fails (transient); the platform gives up waking it.
            var faults = DynamicsEmulator.Faults()
            faults.failNext = 100
            faults.failStatus = 503
            h.dynamics.setFaults(faults)
            guard case .retryLater = await h.post(failing) else { Issue.record("expected a transient failure"); return }
            h.dynamics.setFaults(.init())
            let before = try await h.store.listAll(prefix: "").filter { !$0.key.hasPrefix("alert/") && !$0.key.hasPrefix("outbox/") }

            for _ in 0..<3 { #expect(await receiver.handle(event: deadLetter(failing), context: context).status == 200) }
            let alert = try await AlertCenter(store: h.store, clock: h.clock).list(connection: "acme").first { $0.reason == "dead-letter" }
            #expect(alert?.total == 3 && alert?.count == 3, "one alert announced, the repeats counted")
            #expect(alert?.detail.contains("for order \(failing)") == true && alert?.detail.contains("last answer 503") == true)
            let after = try await h.store.listAll(prefix: "").filter { !$0.key.hasPrefix("alert/") && !$0.key.hasPrefix("outbox/") }
            #expect(after.map(\.key) == before.map(\.key) && after.map(\.version) == before.map(\.version), "a dead letter changes no state")

            // A dead letter for a connection that does not exist raises nothing at all.
            #expect(await receiver.handle(event: deadLetter(1, connection: "nobody"), context: context).status == 200)
            #expect(try await h.store.listAll(prefix: Keyspace.alerts("nobody")).isEmpty)

            // F&O back: the drains post it once.
            await h.drainUntilDone()
            #expect(h.salesOrders(reference: "WC\(failing)").count == 1)
        }
    }

    /// The PingSource safety net: a `dev.knative.sources.ping` tick drains order-poster's
    /// pending work of every connection.
    @Test func aPingDrainsWhatTheWakeUpsLeft() async throws {
        try await PostingHarness.run { h in
            let ids = [try await h.paidOrder(), try await h.paidOrder()]
            for id in ids {
                try await h.store.set(Keyspace.pending("acme", kind: "order", resourceID: String(id)),
                                      PendingWork(connection: "acme", kind: "order", resourceID: String(id), firstSeenAt: h.clock.now(), origin: "test").encoded())
            }
            let function = OrderPosterFunction(poster: h.poster, store: h.store)
            let tick = CloudEvent(id: "ping-1", source: "/apis/v1/namespaces/ml-connector/pingsources/orders-drain", type: "dev.knative.sources.ping", data: Array("{}".utf8))
            let outcome = await function.handle(event: tick, context: InvocationContext(function: "order-poster", invocationID: "t", logger: h.logger))
            #expect(outcome.status == 200, "\(String(decoding: outcome.body, as: UTF8.self))")
            for id in ids { #expect(h.salesOrders(reference: "WC\(id)").count == 1) }
            #expect(try await h.store.listAll(prefix: Keyspace.pending("acme")).isEmpty)
        }
    }
}
