import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import Foundation
import Logging
import Synchronization
import Testing
import WooCommerceClient
import WooCommerceEmulator

/// Wake-ups the poll sent, kept for the assertions.
final class RecordedWakeUps: WakeUpSender {
    private let events = Mutex<[CloudEvent]>([])
    func send(_ event: CloudEvent, logger: Logger) { events.withLock { $0.append(event) } }
    func drain() async {}
    var sent: [CloudEvent] { events.withLock { $0 } }
    /// The order ids the wake-ups named, in order.
    var orderIDs: [Int] {
        sent.compactMap { event in
            (try? JSONSerialization.jsonObject(with: Data(event.data ?? [])) as? [String: Any])?["orderId"] as? Int
        }
    }
}

/// Issue 6 item 1: backfill-poll finds every order WooCommerce changed (no webhooks at all),
/// hands each new state on once, and only ever moves its cursor forward.
@Suite struct BackfillPollTests {
    func makePoll(_ h: PostingHarness, wakeUp: RecordedWakeUps? = nil, settings: BackfillPoll.Settings = .init()) -> BackfillPoll {
        let connections = StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: h.clock, freshness: 0)
        return BackfillPoll(store: h.store, connections: connections, remotes: h.remotes, clock: h.clock, wakeUp: wakeUp, settings: settings)
    }

    func pendingOrderIDs(_ h: PostingHarness) async throws -> Set<Int> {
        let prefix = Keyspace.pending(h.connection.id, kind: "order")
        return Set(try await h.store.listAll(prefix: prefix).compactMap { Int($0.key.dropFirst(prefix.count)) })
    }

    func cursor(_ h: PostingHarness) async throws -> Date? {
        try await h.store.getJSON(OrderPollCursor.self, Keyspace.orderPollCursor(h.connection.id))?.value.modifiedAt
    }

    /// Three paid orders, one left pending payment, one cancelled — no webhook anywhere.
    func placeOrders(_ h: PostingHarness) async throws -> (paid: [Int], unpaid: Int, cancelled: Int) {
        var paid: [Int] = []
        for _ in 0..<3 { paid.append(try await h.paidOrder()) }
        let unpaid = try await h.paidOrder(paymentMethod: "bacs", setPaid: false)
        let cancelled = try await h.paidOrder(paymentMethod: "bacs", setPaid: false)
        try await h.shop.send("/orders/\(cancelled)", #"{"status":"cancelled"}"#, method: "PUT")
        return (paid, unpaid, cancelled)
    }

    @Test func oneMissedWebhookDayIsHandedOnOnceAndPosted() async throws {
        try await PostingHarness.run { h in
            let placed = try await placeOrders(h)
            let all = Set(placed.paid + [placed.unpaid, placed.cancelled])
            let wakeUps = RecordedWakeUps()
            let poll = makePoll(h, wakeUp: wakeUps)

            // The first poll (cursor absent: from the connection's startDate) sees every status.
            let first = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(first.listed == 5)
            #expect(first.handedOn == 5)
            #expect(first.since == h.connection.orders.startDate)
            #expect(try await pendingOrderIDs(h) == all)
            #expect(Set(wakeUps.orderIDs) == all)
            #expect(wakeUps.sent.allSatisfy { $0.type == OrderPosterFunction.orderChanged })
            let listedStatuses = Set(try await h.remotes.woocommerce(h.connection).allOrders(WooOrderQuery()).map(\.status))
            #expect(listedStatuses.isSuperset(of: ["pending", "cancelled", "processing"]))
            let newest = try await h.remotes.woocommerce(h.connection).allOrders(WooOrderQuery()).compactMap(\.dateModifiedGMT).max()
            #expect(first.cursor == newest)
            #expect(try await cursor(h) == newest)

            // Again: the overlap re-reads them all, nothing is new, nothing is woken.
            let second = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(second.listed == 5)
            #expect(second.handedOn == 0)
            #expect(wakeUps.sent.count == 5)
            #expect(second.since == newest!.addingTimeInterval(-Double(h.connection.orders.pollOverlapMinutes) * 60))

            // What the poll handed on is exactly what order-poster consumes: the paid ones are posted.
            await h.drainUntilDone()
            #expect(try await pendingOrderIDs(h).isEmpty)
            for id in placed.paid { #expect(h.salesOrders(reference: "WC\(id)").count == 1) }
            #expect(h.salesOrders(reference: "WC\(placed.unpaid)").isEmpty)
            #expect(h.salesOrders(reference: "WC\(placed.cancelled)").isEmpty)

            // A later change to one order is a new state: handed on again by the next poll, alone.
            try await h.shop.send("/orders/\(placed.paid[0])", #"{"status":"completed"}"#, method: "PUT")
            let third = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(third.handedOn == 1)
            #expect(try await pendingOrderIDs(h) == [placed.paid[0]])
            #expect(wakeUps.orderIDs.last == placed.paid[0])
            await h.drainUntilDone()
            #expect(h.salesOrders(reference: "WC\(placed.paid[0])").count == 1)
            #expect(try await poll.poll(connectionID: h.connection.id, logger: h.logger).handedOn == 0)
        }
    }

    @Test func twoPollsTogetherEndWithTheLaterCursorAndEveryOrderHandedOn() async throws {
        try await PostingHarness.run { h in
            var ids: [Int] = []
            for _ in 0..<6 { ids.append(try await h.paidOrder()) }
            let poll = makePoll(h)
            let connection = h.connection.id
            let logger = h.logger
            async let a = poll.poll(connectionID: connection, logger: logger)
            async let b = poll.poll(connectionID: connection, logger: logger)
            let (ra, rb) = try await (a, b)
            let newest = try await h.remotes.woocommerce(h.connection).allOrders(WooOrderQuery()).compactMap(\.dateModifiedGMT).max()
            #expect(try await cursor(h) == newest)
            #expect(ra.listed == 6 && rb.listed == 6)
            // Between them every order was handed on exactly once: the pending work's atomic
            // insert decides which poll hands each order on.
            #expect(ra.handedOn + rb.handedOn == 6)
            #expect(try await pendingOrderIDs(h) == Set(ids))

            // A cursor already later (another run got further) is never moved back, even by a
            // poll whose overlap still lists (older) orders.
            let later = newest!.addingTimeInterval(300)
            _ = try await h.store.setJSON(Keyspace.orderPollCursor(connection), OrderPollCursor(modifiedAt: later, updatedAt: h.clock.now()))
            let behind = try await poll.poll(connectionID: connection, logger: logger)
            #expect(behind.listed == 6)
            #expect(behind.cursor == later)
            #expect(try await cursor(h) == later)

            // Handed on once each, posted once each.
            await h.drainUntilDone()
            for id in ids { #expect(h.salesOrders(reference: "WC\(id)").count == 1) }
        }
    }

    @Test func pagingReadsToTheEndAcrossManySmallPages() async throws {
        try await PostingHarness.run { h in
            var ids: [Int] = []
            for _ in 0..<7 { ids.append(try await h.paidOrder()) }
            var settings = BackfillPoll.Settings()
            settings.perPage = 2
            let report = try await makePoll(h, settings: settings).poll(connectionID: h.connection.id, logger: h.logger)
            #expect(report.listed == 7)
            #expect(report.handedOn == 7)
            #expect(!report.truncated)
            #expect(try await pendingOrderIDs(h) == Set(ids))
        }
    }

    @Test func aPollStoppedAtItsBoundIsResumedWhereItStopped() async throws {
        try await PostingHarness.run { h in
            var ids: [Int] = []
            for _ in 0..<5 { ids.append(try await h.paidOrder()) }
            var small = BackfillPoll.Settings()
            small.perPage = 2
            small.maxRequests = 1
            let first = try await makePoll(h, settings: small).poll(connectionID: h.connection.id, logger: h.logger)
            #expect(first.truncated)
            #expect(first.handedOn == 2)
            let stored = try #require(try await h.store.getJSON(OrderPollCursor.self, Keyspace.orderPollCursor(h.connection.id))?.value)
            #expect(stored.truncated == true)

            // The next poll resumes one second before the cursor (not a whole overlap before) and reads to the end.
            let next = try await makePoll(h).poll(connectionID: h.connection.id, logger: h.logger)
            #expect(next.since == stored.modifiedAt.addingTimeInterval(-1))
            #expect(!next.truncated)
            #expect(next.handedOn == 3)
            #expect(try await pendingOrderIDs(h) == Set(ids))
            let after = try #require(try await h.store.getJSON(OrderPollCursor.self, Keyspace.orderPollCursor(h.connection.id))?.value)
            #expect(after.truncated == nil)
            let third = try await makePoll(h).poll(connectionID: h.connection.id, logger: h.logger)
            #expect(third.since == after.modifiedAt.addingTimeInterval(-Double(h.connection.orders.pollOverlapMinutes) * 60))
        }
    }

    @Test func pendingWorkLeftTooLongIsWokenAgain() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            let wakeUps = RecordedWakeUps()
            let poll = makePoll(h, wakeUp: wakeUps)
            let first = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(first.handedOn == 1 && first.reHanded == 0)
            #expect(wakeUps.orderIDs == [id])

            // Its wake-up was lost; 16 minutes later the poll sends it again (nothing new to hand on).
            h.clock.advance(by: 16 * 60)
            let later = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            #expect(later.handedOn == 0)
            #expect(later.reHanded == 1)
            #expect(wakeUps.orderIDs == [id, id])
            #expect(wakeUps.sent[0].id != wakeUps.sent[1].id)

            // The re-sent wake-up is an ordinary order.changed event order-poster takes.
            let function = OrderPosterFunction(poster: h.poster, store: h.store)
            let outcome = await function.handle(event: wakeUps.sent[1], context: InvocationContext(function: "order-poster", invocationID: "t", logger: h.logger))
            #expect(outcome.kind == .done)
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
        }
    }

    @Test func theFunctionAnswersTicksAndPings() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            let function = BackfillPollFunction(poll: makePoll(h))
            let context = InvocationContext(function: "backfill-poll", invocationID: "t", logger: h.logger)
            let tick = CloudEvent(id: "t1", source: "/test", type: BackfillPollFunction.tick, data: Array(#"{"connection":"acme"}"#.utf8))
            let outcome = await function.handle(event: tick, context: context)
            #expect(outcome.kind == .done)
            let body = try #require(try JSONSerialization.jsonObject(with: Data(outcome.body)) as? [String: Any])
            #expect(body["listed"] as? Int == 1)
            #expect(body["handedOn"] as? Int == 1)
            #expect(body["reHanded"] as? Int == 0)
            #expect(body["cursor"] is String)
            #expect(try await pendingOrderIDs(h) == [id])

            // A ping without data polls every connection.
            let ping = CloudEvent(id: "p1", source: "/test", type: BackfillPollFunction.ping, data: nil)
            let all = await function.handle(event: ping, context: context)
            #expect(all.kind == .done)
            #expect(String(decoding: all.body, as: UTF8.self).contains(#""connection":"acme""#))

            // Unknown connection: rejected 404; a tick without a connection: 400; another type: 400.
            let unknown = await function.handle(event: CloudEvent(id: "t2", source: "/test", type: BackfillPollFunction.tick, data: Array(#"{"connection":"nope"}"#.utf8)), context: context)
            #expect(unknown.kind == .reject && unknown.status == 404)
            let bare = await function.handle(event: CloudEvent(id: "t3", source: "/test", type: BackfillPollFunction.tick, data: nil), context: context)
            #expect(bare.kind == .reject && bare.status == 400)
            let other = await function.handle(event: CloudEvent(id: "t4", source: "/test", type: "com.example.other", data: nil), context: context)
            #expect(other.kind == .reject && other.status == 400)
        }
    }

    @Test func woocommerceDownIsARetryAndTheCursorStays() async throws {
        try await PostingHarness.run { h in
            _ = try await h.paidOrder()
            let poll = makePoll(h)
            _ = try await poll.poll(connectionID: h.connection.id, logger: h.logger)
            let before = try await cursor(h)
            // WooCommerce's host answers 503 to everything (more than the client's own retries).
            let second = try await h.paidOrder()
            var faults = WooCommerceEmulator.Faults()
            faults.apiFaults = Array(repeating: .serviceUnavailable, count: 20)
            h.woo.setFaults(faults)
            let function = BackfillPollFunction(poll: poll)
            let tick = CloudEvent(id: "t", source: "/test", type: BackfillPollFunction.tick, data: Array(#"{"connection":"acme"}"#.utf8))
            let context = InvocationContext(function: "backfill-poll", invocationID: "t", logger: h.logger)
            let outcome = await function.handle(event: tick, context: context)
            #expect(outcome.kind == .retry)
            #expect(try await cursor(h) == before)
            #expect(try await pendingOrderIDs(h).count == 1)

            // Once the host is back, the order listed during the outage is handed on.
            h.woo.setFaults(.init())
            let after = await function.handle(event: tick, context: context)
            #expect(after.kind == .done)
            #expect(try await pendingOrderIDs(h).contains(second))
            #expect(try await cursor(h)! >= before!)
        }
    }
}
