import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import Foundation
import Logging
import Testing
import WooCommerceAPI
import WooCommerceClient
import WooCommerceEmulator

/// Issue 6 item 2 (SPEC §9): backfill-poll keeps the store's webhooks healthy — it creates the
/// connector's own, heals one WooCommerce disabled, and the poll recovers whatever a broken
/// webhook lost; repeated bad signatures from one webhook raise "wrong secret on webhook N".
@Suite struct WebhookHealthTests {
    func makePoll(_ h: PostingHarness, settings: BackfillPoll.Settings = .init()) -> BackfillPoll {
        let connections = StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: h.clock, freshness: 0)
        return BackfillPoll(store: h.store, connections: connections, remotes: h.remotes, clock: h.clock, settings: settings)
    }

    func alerts(_ h: PostingHarness, _ reason: String) async throws -> [AlertRecord] {
        try await AlertCenter(store: h.store, clock: h.clock).list(connection: h.connection.id).filter { $0.reason == reason }
    }

    func managed(_ h: PostingHarness) async throws -> ManagedWebhooks? {
        try await h.store.getJSON(ManagedWebhooks.self, Keyspace.managedWebhooks(h.connection.id))?.value
    }

    @Test func theFirstPollCreatesTheConnectorsWebhooksOnceAndTheyDeliver() async throws {
        try await PostingHarness.run { h in
            let poll = makePoll(h)
            let first = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            let report = try #require(first.webhooks)
            #expect(report.created.count == h.connection.woocommerce.topics.count)
            let hooks = h.woo.webhooks()
            #expect(Set(hooks.map(\.topic)) == Set(h.connection.woocommerce.topics))
            #expect(hooks.allSatisfy { $0.status == "active" && $0.deliveryURL == h.connection.woocommerce.deliveryURL })
            #expect(try await managed(h)?.webhooks.map(\.id).sorted() == hooks.map(\.id).sorted())

            // A second poll creates nothing more.
            let second = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(second.webhooks?.created == [])
            #expect(h.woo.webhooks().count == hooks.count)

            // They sign with the connection's secret: a new order is delivered and accepted.
            let id = try await h.paidOrder()
            let attempts = await h.woo.runDeliveries()
            #expect(!attempts.isEmpty && attempts.allSatisfy { $0.status == 200 })
            #expect(try await h.store.get(Keyspace.pending(h.connection.id, kind: "order", resourceID: String(id))) != nil)
        }
    }

    /// The issue's must-show: deliveries to a dead URL for 10 orders; WooCommerce disables the
    /// webhook on the 7th failure; the next poll raises one alert, re-enables it, and the 10
    /// orders reach F&O exactly once.
    @Test func aWebhookDisabledByFailuresIsHealedAndItsOrdersReachF_OOnce() async throws {
        try await PostingHarness.run { h in
            let poll = makePoll(h)
            _ = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            let created = try #require(h.woo.webhooks().first { $0.topic == "order.created" })

            // The receiver's address breaks (port 1 on loopback: nothing listens).
            try await h.shop.send("/webhooks/\(created.id)", #"{"delivery_url":"http://127.0.0.1:1/webhooks/woocommerce/acme"}"#, method: "PUT")
            var ids: [Int] = []
            var failures = 0
            for _ in 0..<10 {
                ids.append(try await h.paidOrder())
                failures += await h.woo.runDeliveries().filter { $0.webhookID == created.id && !$0.succeeded }.count
            }
            #expect(failures == 7, "WooCommerce sends until the 7th consecutive failure, then nothing")
            #expect(h.woo.webhooks().first { $0.id == created.id }?.status == "disabled")

            let healed = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(healed.webhooks?.disabled == [created.id])
            #expect(healed.webhooks?.reenabled == [created.id])
            let after = try #require(h.woo.webhooks().first { $0.id == created.id })
            #expect(after.status == "active")
            #expect(after.deliveryURL == h.connection.woocommerce.deliveryURL, "pointed back at the connection's deliveryURL")
            #expect(after.failureCount == 6, "WooCommerce keeps the count on re-enable")
            let raised = try await alerts(h, "webhook-disabled")
            #expect(raised.count == 1 && raised.first?.count == 1)
            #expect(raised.first?.detail.contains("webhook \(created.id) (order.created)") == true)
            #expect(raised.first?.detail.contains("next single failed delivery disables it again") == true)
            for id in ids { #expect(try await h.store.get(Keyspace.pending(h.connection.id, kind: "order", resourceID: String(id))) != nil) }

            await h.drainUntilDone()
            for id in ids { #expect(h.salesOrders(reference: "WC\(id)").count == 1) }

            // The next poll: nothing disabled, no second alert, nothing handed on again.
            let calm = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(calm.webhooks?.disabled == [])
            #expect(calm.handedOn == 0)
            #expect(try await alerts(h, "webhook-disabled").first?.total == 1)
            await h.drainUntilDone()
            for id in ids { #expect(h.salesOrders(reference: "WC\(id)").count == 1) }
        }
    }

    @Test func withReenablingOffTheWebhookStaysDisabledAndTheAlertSaysHowToFixIt() async throws {
        try await PostingHarness.run { h in
            var connection = h.connection
            connection.woocommerce.reenableDisabledWebhooks = false
            try await ConnectionRepository(store: h.store).update(connection, key: h.key)
            let poll = makePoll(h)
            _ = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            let created = try #require(h.woo.webhooks().first { $0.topic == "order.created" })
            try await h.shop.send("/webhooks/\(created.id)", #"{"delivery_url":"http://127.0.0.1:1/x"}"#, method: "PUT")
            for _ in 0..<7 {
                _ = try await h.paidOrder()
                await h.woo.runDeliveries()
            }
            let report = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(report.webhooks?.disabled == [created.id])
            #expect(report.webhooks?.reenabled == [])
            #expect(h.woo.webhooks().first { $0.id == created.id }?.status == "disabled")
            #expect(try await alerts(h, "webhook-disabled").first?.detail.contains("reenableDisabledWebhooks is false") == true)
        }
    }

    @Test func theConnectorsOwnWebhookIsAdoptedAStrangersIsLeftAloneAndAPausedOneAlerts() async throws {
        try await PostingHarness.run { h in
            let client = try h.remotes.woocommerce(h.connection)
            let url = try #require(h.connection.woocommerce.deliveryURL)
            // Created by the connector just before a crash: its id never reached the store.
            let own = try await client.createWebhook(name: WebhookHealth.managedName(connection: "acme", topic: "order.created"), topic: "order.created", deliveryURL: url, secret: "not-yet-set")
            // Made by hand for the same URL: covers its topic, never managed.
            let stranger = try await client.createWebhook(name: "merchant's hook", topic: "order.updated", deliveryURL: url, secret: "s3cretForTests")
            let report = try #require(try await makePoll(h).poll(connectionID: h.connection.id, logger: h.logger).webhooks)
            #expect(report.adopted == [own.id])
            #expect(!report.created.contains(own.id) && !report.managed.contains(stranger.id))
            #expect(h.woo.webhooks().filter { $0.topic == "order.created" || $0.topic == "order.updated" }.count == 2)
            #expect(try await managed(h)?.unmanaged == [stranger.id])
            // The adopted one got the connection's secret: its deliveries verify.
            let id = try await h.paidOrder()
            let attempts = await h.woo.runDeliveries()
            #expect(attempts.contains { $0.webhookID == own.id && $0.status == 200 })
            #expect(try await h.store.get(Keyspace.pending(h.connection.id, kind: "order", resourceID: String(id))) != nil)

            // Paused by a person: one alert, left paused. Deleted by a person: created again.
            let managedHooks = try #require(try await managed(h)).webhooks
            let deleted = try #require(managedHooks.first { $0.topic == "customer.updated" })
            _ = try await client.updateWebhook(own.id, WooWebhookUpdate(status: "paused"))
            _ = try await client.deleteWebhook(deleted.id)
            let next = try #require(try await makePoll(h).poll(connectionID: h.connection.id, logger: h.logger).webhooks)
            #expect(next.paused == [own.id])
            #expect(h.woo.webhooks().first { $0.id == own.id }?.status == "paused")
            #expect(try await alerts(h, "webhook-paused").count == 1)
            #expect(next.created.count == 1)
            #expect(h.woo.webhooks().filter { $0.topic == "customer.updated" }.count == 1)
        }
    }

    /// Dropped deliveries are found by the poll; orders whose webhooks arrived are not handed
    /// on again by it — also when the delivery and the poll race.
    @Test func droppedDeliveriesAreRecoveredAndDeliveredOnesAreNotPostedTwice() async throws {
        try await PostingHarness.run { h in
            let poll = makePoll(h)
            _ = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            var delivered: [Int] = []
            for _ in 0..<3 { delivered.append(try await h.paidOrder()) }
            await h.woo.runDeliveries()
            await h.drainUntilDone()
            var faults = WooCommerceEmulator.Faults()
            faults.dropDeliveries = 1000
            h.woo.setFaults(faults)
            var dropped: [Int] = []
            for _ in 0..<3 { dropped.append(try await h.paidOrder()) }
            #expect(await h.woo.runDeliveries().allSatisfy(\.dropped))
            h.woo.setFaults(.init())
            for id in dropped { #expect(try await h.store.get(Keyspace.pending(h.connection.id, kind: "order", resourceID: String(id))) == nil) }

            let report = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(report.handedOn == dropped.count, "the poster marked the delivered orders' states as handled")
            await h.drainUntilDone()
            for id in delivered + dropped { #expect(h.salesOrders(reference: "WC\(id)").count == 1) }

            // Both paths at once for new orders: deliveries and a poll race, then the drain.
            var raced: [Int] = []
            for _ in 0..<3 { raced.append(try await h.paidOrder()) }
            async let deliveries = h.woo.runDeliveries()
            async let polled = poll.poll(connectionID: h.connection.id, logger: h.logger)
            _ = await deliveries
            _ = try await polled
            await h.drainUntilDone()
            for id in delivered + dropped + raced { #expect(h.salesOrders(reference: "WC\(id)").count == 1) }
            #expect(h.dynamics.records("CustomerPaymentJournalLines").count == (delivered + dropped + raced).count)
        }
    }

    /// A posted order later refunded in full, cancelled or trashed — with every webhook lost —
    /// is seen by the poll (all statuses, trash too) and handled per SPEC §8.
    @Test func lostChangesAfterPostingAreSeenAndHandled() async throws {
        try await PostingHarness.run { h in
            var settings = BackfillPoll.Settings()
            settings.manageWebhooks = false
            let poll = makePoll(h, settings: settings)
            let refunded = try await h.paidOrder()
            let cancelled = try await h.paidOrder()
            let trashed = try await h.paidOrder()
            _ = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            await h.drainUntilDone()
            for id in [refunded, cancelled, trashed] { #expect(h.salesOrders(reference: "WC\(id)").count == 1) }

            h.clock.advance(by: 60)
            try await h.shop.send("/orders/\(refunded)/refunds", #"{"amount":"32.17","reason":"all of it","api_refund":false}"#)
            try await h.shop.send("/orders/\(cancelled)", #"{"status":"cancelled"}"#, method: "PUT")
            try await h.shop.send("/orders/\(trashed)", method: "DELETE")
            let report = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(report.handedOn == 3)
            #expect(report.trashed == 1)
            await h.drainUntilDone()

            let refunds = h.dynamics.records("CustomerPaymentJournalLines").filter { ($0["PaymentReference"]?.stringValue ?? "").hasPrefix("WC\(refunded)R") }
            #expect(refunds.count == 1)
            let records = AuditRecords(store: h.store, clock: h.clock, retention: .seconds(60))
            #expect(try await records.load(connection: "acme", kind: "order", id: String(cancelled))?.state == .parked)
            #expect(try await records.load(connection: "acme", kind: "order", id: String(trashed))?.state == .parked)
            #expect(try await alerts(h, "record-parked").first?.total == 2)
            #expect(h.salesOrders(reference: "WC\(cancelled)").count == 1, "nothing changed in F&O")

            // Polled again: the refund is not posted twice.
            _ = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            await h.drainUntilDone()
            #expect(h.dynamics.records("CustomerPaymentJournalLines").filter { ($0["PaymentReference"]?.stringValue ?? "").hasPrefix("WC\(refunded)R") }.count == 1)
        }
    }

    @Test func repeatedBadSignaturesFromOneWebhookRaiseWrongSecretOnWebhookN() async throws {
        try await PostingHarness.run { h in
            _ = try await makePoll(h).poll(connectionID: h.connection.id, logger: h.logger)
            let hooks = try #require(try await managed(h)).webhooks.map(\.id).sorted()
            let (first, second) = (String(hooks[0]), String(hooks[1]))
            let intake = WebhookIntake(store: h.store, connections: StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: h.clock, freshness: 0), clock: h.clock)
            let body = Array(#"{"id":1,"status":"processing"}"#.utf8)
            func delivery(webhookID: String, secret: String) -> HTTPRequestEnvelope {
                HTTPRequestEnvelope(method: "POST", path: "/webhooks/woocommerce/acme", headers: [
                    "x-wc-webhook-signature": WebhookSignature.sign(body, secret: secret),
                    "x-wc-webhook-id": webhookID, "x-wc-webhook-topic": "order.updated",
                    "x-wc-webhook-source": h.connection.woocommerce.baseURL + "/",
                ], body: body)
            }
            for _ in 0..<2 { #expect(await intake.receive(connectionID: "acme", request: delivery(webhookID: first, secret: "old-secret"), logger: h.logger).status == 401) }
            // Another webhook's failure counts for that webhook only.
            #expect(await intake.receive(connectionID: "acme", request: delivery(webhookID: second, secret: "old-secret"), logger: h.logger).status == 401)
            #expect(try await alerts(h, "wrong-secret-webhook-\(first)").isEmpty)
            #expect(await intake.receive(connectionID: "acme", request: delivery(webhookID: first, secret: "old-secret"), logger: h.logger).status == 401)
            let raised = try await alerts(h, "wrong-secret-webhook-\(first)")
            #expect(raised.count == 1)
            #expect(raised.first?.detail.hasPrefix("wrong secret on webhook \(first): 3 deliveries") == true)
            #expect(try await alerts(h, "wrong-secret-webhook-\(second)").isEmpty)
            // An id no webhook of this store has (anyone can send one) counts nowhere and stores no counter.
            for _ in 0..<5 { #expect(await intake.receive(connectionID: "acme", request: delivery(webhookID: "987654", secret: "old-secret"), logger: h.logger).status == 401) }
            #expect(try await alerts(h, "wrong-secret-webhook-987654").isEmpty)
            #expect(try await h.store.get(Keyspace.signatureFailures("acme", webhookID: "987654")) == nil)
            // A header that is no webhook id counts nowhere; the right secret still verifies.
            #expect(await intake.receive(connectionID: "acme", request: delivery(webhookID: "../x", secret: "old-secret"), logger: h.logger).status == 401)
            #expect(await intake.receive(connectionID: "acme", request: delivery(webhookID: first, secret: "s3cretForTests"), logger: h.logger).status == 200)
        }
    }
}
