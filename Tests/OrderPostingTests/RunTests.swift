import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRuntime
import ConnectorSandbox
import ConnectorStore
import ConnectorTestSupport
import Foundation
import Logging
import Synchronization
import Testing
import WooCommerceEmulator

/// Issue 6 item 4: `mlc run`'s core — the four functions in one process behind one listener,
/// the in-process hand-off, and each connection's schedules on an injected clock — against
/// both sandboxes over loopback HTTP.
@Suite struct RunTests {
    static let quiet = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

    func functions(_ h: PostingHarness) -> LocalFunctions {
        var settings = LocalFunctions.Settings()
        settings.poster.entityLeaseWait = 0.01
        settings.poster.entityLeaseAttempts = 2000
        return LocalFunctions(store: h.store, masterKey: h.key, remotes: h.remotes, clock: h.clock, sleeper: h.sleeper, settings: settings,
                              connectionFreshness: 0, logger: h.logger)
    }

    static func listener(_ handler: any FunctionHandler) throws -> HTTPMode {
        var settings = try RuntimeSettings(environment: ["PORT": "0", "MLC_HOST": "127.0.0.1"])
        settings.port = 0
        return HTTPMode(function: "mlc-run", handler: handler, settings: settings, logger: quiet)
    }

    func productCount(_ h: PostingHarness, sku: String) async throws -> Int {
        try await h.shop.send("/products?sku=\(sku)", method: "GET").arrayValue?.count ?? 0
    }

    @Test func aDeliveryTheBackfillScheduleAndTheCatalogScheduleAllWorkInOneProcess() async throws {
        try await PostingHarness.run { h in
            let local = functions(h)
            try await Self.listener(local.router).withRunningServer { port in
                // The store's webhooks point at the one local listener.
                let client = try h.remotes.woocommerce(h.connection)
                for topic in ["order.created", "order.updated"] {
                    _ = try await client.createWebhook(name: "ml-connector \(topic)", topic: topic,
                                                       deliveryURL: "http://127.0.0.1:\(port)/webhooks/woocommerce/\(h.connection.id)", secret: "s3cretForTests")
                }
                let health = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/health/ready"), timeout: .seconds(10))
                #expect(health.status.code == 200)

                // 1. A signed delivery reaches F&O through the in-process hand-off alone (no drain, no poll).
                let delivered = try await h.paidOrder()
                let attempts = await h.woo.runDeliveries()
                #expect(!attempts.isEmpty && attempts.allSatisfy(\.succeeded), "\(attempts)")
                await local.handOff.drain()
                #expect(h.salesOrders(reference: "WC\(delivered)").count == 1)
                #expect(local.handOff.counts.outcomes["posted", default: 0] >= 1)
                #expect(try await h.store.listAll(prefix: Keyspace.pending(h.connection.id, kind: "order")).isEmpty)

                // 2. An order whose webhooks are lost (the emulator drops them) waits for the schedule.
                var faults = WooCommerceEmulator.Faults()
                faults.dropDeliveries = 1_000
                h.woo.setFaults(faults)
                let lost = try await h.paidOrder()
                let dropped = await h.woo.runDeliveries()
                h.woo.setFaults(.init())
                #expect(!dropped.isEmpty && dropped.allSatisfy(\.dropped))
                await local.handOff.drain()
                #expect(h.salesOrders(reference: "WC\(lost)").isEmpty)
                #expect(try await productCount(h, sku: "POSTER-01") == 0)

                let scheduler = LocalScheduler(functions: local, clock: h.clock, sleeper: h.sleeper, purgeInterval: nil, logger: h.logger)
                let backfill = LocalScheduler.Job(connection: h.connection.id, kind: .backfill)
                let catalog = LocalScheduler.Job(connection: h.connection.id, kind: .catalog)
                // Nothing fires at start: the first runs are at the schedules' next times.
                #expect(await scheduler.tick().isEmpty)
                let next = scheduler.nextFireTimes
                let backfillAt = try #require(next[backfill])
                let catalogAt = try #require(next[catalog])
                // The defaults: every 5 and every 15 minutes (UTC), at most that far ahead.
                #expect(backfillAt > h.clock.now() && backfillAt.timeIntervalSince(h.clock.now()) <= 300)
                #expect(catalogAt > h.clock.now() && catalogAt.timeIntervalSince(h.clock.now()) <= 900)
                #expect(Int(backfillAt.timeIntervalSince1970) % 300 == 0 && Int(catalogAt.timeIntervalSince1970) % 900 == 0)
                // One second short of the time: still nothing.
                h.clock.set(backfillAt.addingTimeInterval(-1))
                #expect(await scheduler.tick().isEmpty)

                // 3. Past the backfill time: the poll lists the lost order and posts it through the hand-off.
                h.clock.set(backfillAt)
                let started = await scheduler.tick()
                #expect(started.contains(backfill))
                #expect(started.contains(catalog) == (catalogAt <= backfillAt))
                await scheduler.waitForRuns()
                await local.handOff.drain()
                #expect(scheduler.lastOutcomes[backfill]?.kind == .done)
                #expect(h.salesOrders(reference: "WC\(lost)").count == 1)
                // The webhook's order was listed too, and is still in F&O once.
                #expect(h.salesOrders(reference: "WC\(delivered)").count == 1)
                #expect(try await h.store.getJSON(OrderPollCursor.self, Keyspace.orderPollCursor(h.connection.id)) != nil)
                #expect(try #require(scheduler.nextFireTimes[backfill]) == backfillAt.addingTimeInterval(300))

                // 4. Past the catalog time: F&O's catalog is pushed into WooCommerce.
                if catalogAt > backfillAt {
                    h.clock.set(catalogAt)
                    #expect(await scheduler.tick().contains(catalog))
                    await scheduler.waitForRuns()
                }
                let pushed = try #require(scheduler.lastOutcomes[catalog])
                #expect(pushed.kind == .done, "\(String(decoding: pushed.body, as: UTF8.self))")
                #expect(try await productCount(h, sku: "POSTER-01") == 1)
                #expect(try await productCount(h, sku: "TSHIRT-01") == 1)
                #expect(scheduler.counts.fired[catalog] == 1)
                // A catalog time is also a backfill time (every 15 minutes is every 5): when it
                // came later, backfill-poll ran again there, and found nothing new.
                #expect(scheduler.counts.fired[backfill] == (catalogAt > backfillAt ? 2 : 1))
                await local.handOff.drain()
                #expect(h.salesOrders(reference: "WC\(lost)").count == 1)
                #expect(h.salesOrders(reference: "WC\(delivered)").count == 1)
            }
        }
    }

    /// `mlc backfill`'s listing: an explicit window, read to the end across small pages, never
    /// moving the poll cursor; an order already handed on in its current state is listed only.
    @Test func aWindowIsListedToItsEndAndLeavesThePollCursorAlone() async throws {
        try await PostingHarness.run { h in
            var ids: [Int] = []
            for _ in 0..<7 { ids.append(try await h.paidOrder()) }
            var settings = BackfillPoll.Settings()
            settings.perPage = 2
            let poll = BackfillPoll(store: h.store, connections: StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: h.clock, freshness: 0),
                                    remotes: h.remotes, clock: h.clock, settings: settings)
            let pages = Mutex<[Int]>([])
            let early = try await poll.handOnWindow(connectionID: h.connection.id, since: Self.at("2026-01-01T00:00:00Z"), until: Self.at("2026-01-02T00:00:00Z"), logger: h.logger)
            #expect(early.listed == 0 && early.handedOn == 0)
            let window = try await poll.handOnWindow(connectionID: h.connection.id, since: Date().addingTimeInterval(-3600), until: nil, logger: h.logger) { listed in
                pages.withLock { $0.append(listed) }
            }
            #expect(window.listed == 7 && window.handedOn == 7 && !window.truncated)
            #expect(pages.withLock { $0 }.last == 7 && pages.withLock { $0 }.count >= 4)
            let prefix = Keyspace.pending(h.connection.id, kind: "order")
            #expect(Set(try await h.store.listAll(prefix: prefix).compactMap { Int($0.key.dropFirst(prefix.count)) }) == Set(ids))
            #expect(try await h.store.get(Keyspace.orderPollCursor(h.connection.id)) == nil)
            // The same states again: listed, not handed on.
            let again = try await poll.handOnWindow(connectionID: h.connection.id, since: Date().addingTimeInterval(-3600), until: nil, logger: h.logger)
            #expect(again.listed == 7 && again.handedOn == 0)
            // A bound on requests stops early and says so.
            let bounded = try await poll.handOnWindow(connectionID: h.connection.id, since: Date().addingTimeInterval(-3600), until: nil, maxRequests: 1, logger: h.logger)
            #expect(bounded.truncated && bounded.listed == 2)
        }
    }

    /// A connection for a store that is never called (the runner below does no I/O).
    static func offlineConnection(_ id: String, prefix: String, backfill: String = "*/5 * * * *", catalog: Bool = false) throws -> Connection {
        var connection = try TestConnections.make(id: id, webhookSecret: "s3cret", prefix: prefix)
        connection.schedules.backfill = backfill
        connection.catalog.enabled = catalog
        return connection
    }

    static func at(_ text: String) -> Date { Formatting.parseTimestamp(text)! }

    @Test func aScheduleWhosePreviousRunIsStillGoingIsSkippedNeverRunTwice() async throws {
        let store = MemoryStore()
        let key = MasterKey.generate()
        try await ConnectionRepository(store: store).add(try Self.offlineConnection("acme", prefix: "WA"), key: key)
        let clock = ManualWallClock(Self.at("2026-11-27T10:02:00Z"))
        let (starts, started) = AsyncStream<String>.makeStream()
        let gate = Gate()
        let scheduler = LocalScheduler(store: store, clock: clock, sleeper: RecordingSleeper(advancing: clock), purgeInterval: nil, logger: Self.quiet) { job, event, _ in
            started.yield(event.id)
            await gate.wait()
            return .done(200, json: "{}")
        }
        let job = LocalScheduler.Job(connection: "acme", kind: .backfill)
        #expect(await scheduler.tick().isEmpty)
        #expect(scheduler.nextFireTimes[job] == Self.at("2026-11-27T10:05:00Z"))

        clock.set(Self.at("2026-11-27T10:05:00Z"))
        #expect(await scheduler.tick() == [job])
        var ids = starts.makeAsyncIterator()
        // The event names its slot, as a PingSource tick should be keyed.
        #expect(await ids.next() == "acme-backfill-\(Int(Self.at("2026-11-27T10:05:00Z").timeIntervalSince1970))")
        #expect(scheduler.running == [job])

        // The next slot comes while the first run is still going: skipped, not run beside it.
        clock.set(Self.at("2026-11-27T10:10:00Z"))
        #expect(await scheduler.tick().isEmpty)
        #expect(scheduler.counts.skipped[job] == 1)
        #expect(scheduler.counts.fired[job] == 1)
        #expect(scheduler.nextFireTimes[job] == Self.at("2026-11-27T10:15:00Z"))

        // Once it has finished, the next slot runs again.
        gate.open()
        await scheduler.waitForRuns()
        #expect(scheduler.running.isEmpty)
        clock.set(Self.at("2026-11-27T10:15:00Z"))
        #expect(await scheduler.tick() == [job])
        #expect(await ids.next() == "acme-backfill-\(Int(Self.at("2026-11-27T10:15:00Z").timeIntervalSince1970))")
        await scheduler.waitForRuns()
        #expect(scheduler.counts.fired[job] == 2)
        started.finish()
    }

    @Test func connectionsAddedChangedAndRemovedWhileRunningArePickedUp() async throws {
        let store = MemoryStore()
        let key = MasterKey.generate()
        let repository = ConnectionRepository(store: store)
        try await repository.add(try Self.offlineConnection("acme", prefix: "WA"), key: key)
        let clock = ManualWallClock(Self.at("2026-11-27T10:02:30Z"))
        let ran = Mutex<[String]>([])
        let scheduler = LocalScheduler(store: store, clock: clock, sleeper: RecordingSleeper(advancing: clock), refreshInterval: 60, purgeInterval: nil, logger: Self.quiet) { job, _, _ in
            ran.withLock { $0.append(job.description) }
            return .done(200, json: "{}")
        }
        let acmeBackfill = LocalScheduler.Job(connection: "acme", kind: .backfill)
        await scheduler.tick()
        // The catalog is off for acme: only its backfill is scheduled.
        #expect(scheduler.nextFireTimes == [acmeBackfill: Self.at("2026-11-27T10:05:00Z")])

        // Changed and added while running: seen at the next refresh (a minute later), not before.
        try await repository.update(try Self.offlineConnection("acme", prefix: "WA", backfill: "0 * * * *", catalog: true), key: key)
        try await repository.add(try Self.offlineConnection("beta", prefix: "WB", backfill: "*/2 * * * *"), key: key)
        clock.set(Self.at("2026-11-27T10:03:00Z"))
        await scheduler.tick()
        #expect(scheduler.nextFireTimes.count == 1)
        clock.set(Self.at("2026-11-27T10:03:30Z"))
        await scheduler.tick()
        #expect(scheduler.nextFireTimes == [
            acmeBackfill: Self.at("2026-11-27T11:00:00Z"),
            LocalScheduler.Job(connection: "acme", kind: .catalog): Self.at("2026-11-27T10:15:00Z"),
            LocalScheduler.Job(connection: "beta", kind: .backfill): Self.at("2026-11-27T10:04:00Z"),
        ])
        clock.set(Self.at("2026-11-27T10:04:00Z"))
        #expect(await scheduler.tick() == [LocalScheduler.Job(connection: "beta", kind: .backfill)])
        await scheduler.waitForRuns()

        // Removed: its schedules stop at the next refresh.
        _ = try await repository.remove("beta", purge: false)
        clock.set(Self.at("2026-11-27T10:05:00Z"))
        #expect(await scheduler.tick().isEmpty)
        #expect(scheduler.nextFireTimes.keys.allSatisfy { $0.connection == "acme" })
        clock.set(Self.at("2026-11-27T10:06:00Z"))
        #expect(await scheduler.tick().isEmpty)
        #expect(ran.withLock { $0 } == ["beta/backfill"])
    }

    @Test func theRunLoopSleepsUntilTheNextTimeThroughTheInjectedSleeper() async throws {
        let store = MemoryStore()
        try await ConnectionRepository(store: store).add(try Self.offlineConnection("acme", prefix: "WA", backfill: "*/10 * * * *"), key: MasterKey.generate())
        let clock = ManualWallClock(Self.at("2026-11-27T10:00:30Z"))
        let sleeper = SettlingSleeper(clock: clock)
        let ran = Mutex<[String]>([])
        let scheduler = LocalScheduler(store: store, clock: clock, sleeper: sleeper, refreshInterval: 60, purgeInterval: nil, logger: Self.quiet) { _, event, _ in
            ran.withLock { $0.append(event.id) }
            return .done(200, json: "{}")
        }
        sleeper.settle = { await scheduler.waitForRuns() }
        let loop = Task {
            await scheduler.run()
        }
        // Bounded: the loop is stopped once the sleeper has moved the clock past 10:25.
        var yields = 0
        while clock.now() < Self.at("2026-11-27T10:25:00Z") && yields < 1_000_000 {
            await Task.yield()
            yields += 1
        }
        loop.cancel()
        await loop.value
        await scheduler.waitForRuns()
        #expect(clock.now() >= Self.at("2026-11-27T10:25:00Z"))
        // Each wait ends at a refresh (every minute) or a fire time, never later; the first
        // waits run to the refreshes, the one before 10:10 is cut short to fire on time.
        #expect(sleeper.recorded.allSatisfy { $0 > 0 && $0 <= 60 })
        #expect(sleeper.recorded.prefix(10) == [60, 60, 60, 60, 60, 60, 60, 60, 60, 30])
        let slot = { (text: String) in "acme-backfill-\(Int(Self.at(text).timeIntervalSince1970))" }
        #expect(ran.withLock { $0 }.prefix(2) == [slot("2026-11-27T10:10:00Z"), slot("2026-11-27T10:20:00Z")])
    }

    @Test func theHandOffIsBoundedCoalescesRepeatsAndDrains() async throws {
        let gate = Gate()
        let (starts, started) = AsyncStream<String>.makeStream()
        let consumer = BlockingConsumer(gate: gate, started: started)
        let handOff = InProcessHandOff(consumer: consumer, capacity: 2, workers: 1, logger: Self.quiet)
        func event(_ order: Int) -> CloudEvent {
            CloudEvent(id: "e\(order)", source: "/test", type: OrderPosterFunction.orderChanged, data: Array("{\"connection\":\"acme\",\"orderId\":\(order)}".utf8))
        }
        handOff.send(event(1), logger: Self.quiet)
        var iterator = starts.makeAsyncIterator()
        #expect(await iterator.next() == "e1")
        // The worker is busy with 1; the queue holds two more, a third is dropped, a repeat of 2 coalesces.
        handOff.send(event(2), logger: Self.quiet)
        handOff.send(event(3), logger: Self.quiet)
        handOff.send(event(4), logger: Self.quiet)
        handOff.send(event(2), logger: Self.quiet)
        #expect(handOff.counts.dropped == 1)
        gate.open()
        await handOff.drain()
        #expect(consumer.handled == ["e1", "e2", "e3"])
        #expect(handOff.counts.outcomes == ["posted": 3])
        // After a stop nothing more is taken (the work would stay pending in the store).
        handOff.stop()
        handOff.send(event(5), logger: Self.quiet)
        await handOff.drain()
        #expect(consumer.handled.count == 3)
        started.finish()
    }

    @Test func aConnectionFileWithABadScheduleIsRefusedNamingTheKeyAndTheField() throws {
        var json = #"{"schemaVersion":1,"id":"acme","woocommerce":{"baseURL":"https://shop.example.com","consumerKey":"ck","consumerSecret":"cs","webhookSecret":"w"},"#
        json += #""dynamics":{"environmentURL":"https://acme.operations.dynamics.com","tenantId":"t","clientId":"c","clientSecret":"s","legalEntity":"usmf"},"#
        json += #""schedules":{"backfill":"*/5 * * * *","catalog":"0 25 * * *"}}"#
        do {
            _ = try ConnectionFile.parse(Data(json.utf8), source: "acme.json")
            Issue.record("a schedule with hour 25 was accepted")
        } catch let error as ConnectorError {
            #expect(error.description.contains("schedules.catalog"))
            #expect(error.description.contains("hour field"))
            #expect(error.description.contains("outside 0-23"))
        }
        // Names, lists, steps and the OR rule are all accepted.
        let good = json.replacingOccurrences(of: "0 25 * * *", with: "0 2,14 1 * MON-FRI")
        #expect(try ConnectionFile.parse(Data(good.utf8), source: "acme.json").schedules.catalog == "0 2,14 1 * MON-FRI")
    }
}

/// Moves a manual clock like `RecordingSleeper`, but first lets the runs already started finish
/// — as real waiting would — so a loop stepping through simulated hours does not outrun them.
final class SettlingSleeper: Sleeper {
    let clock: ManualWallClock
    private let waits = Mutex<[TimeInterval]>([])
    private let settler = Mutex<(@Sendable () async -> Void)?>(nil)

    init(clock: ManualWallClock) { self.clock = clock }

    var settle: (@Sendable () async -> Void)? {
        get { settler.withLock { $0 } }
        set { settler.withLock { $0 = newValue } }
    }

    // A fake: records the wait and moves the manual clock on at once — nothing really sleeps.
    func sleep(seconds: TimeInterval) async throws {  // fake: advances the manual clock, never waits
        try Task.checkCancellation()
        await settle?()
        waits.withLock { $0.append(seconds) }
        clock.advance(by: seconds)
    }

    var recorded: [TimeInterval] { waits.withLock { $0 } }
}

/// Opens once; every waiter (before or after) passes.
final class Gate: Sendable {
    private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func wait() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let passNow = state.withLock { s -> Bool in
                if s.open { return true }
                s.waiters.append(continuation)
                return false
            }
            if passNow { continuation.resume() }
        }
    }

    func open() {
        let waiters = state.withLock { s -> [CheckedContinuation<Void, Never>] in
            s.open = true
            defer { s.waiters = [] }
            return s.waiters
        }
        for waiter in waiters { waiter.resume() }
    }
}

/// An order-poster stand-in that holds each event until the gate opens, keeping what it got.
final class BlockingConsumer: FunctionHandler {
    let gate: Gate
    let started: AsyncStream<String>.Continuation
    private let seen = Mutex<[String]>([])

    init(gate: Gate, started: AsyncStream<String>.Continuation) {
        self.gate = gate
        self.started = started
    }

    var handled: [String] { seen.withLock { $0 } }

    func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        started.yield(event.id)
        await gate.wait()
        seen.withLock { $0.append(event.id) }
        return .done(200, json: "{}", reason: "posted")
    }

    func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome { .reject(400, "events only") }
}

/// `mlc run` takes F&O's business events on the same listener and hands them to backfill-poll's
/// completion in-process: an invoiced order is completed without any schedule firing.
@Suite struct RunCompletionTests {
    @Test func anInvoiceEventPostedToTheOneListenerCompletesTheOrder() async throws {
        try await PostingHarness.run { h in
            var settings = LocalFunctions.Settings()
            settings.poster.entityLeaseWait = 0.01
            let local = LocalFunctions(store: h.store, masterKey: h.key, remotes: h.remotes, clock: h.clock, sleeper: h.sleeper, settings: settings,
                                       connectionFreshness: 0, logger: h.logger)
            try await RunTests.listener(local.router).withRunningServer { port in
                let id = try await h.paidOrder()
                #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
                let code = try await ConnectionRepository(store: h.store).load(h.connection.id, key: h.key).dynamics.businessEventCode.reveal()
                h.dynamics.setBusinessEventEndpoint("http://127.0.0.1:\(port)/events/dynamics/\(h.connection.id)?code=\(code)", company: "usmf")
                let invoice = try await h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: "WC\(id)")
                await local.handOff.drain()
                let order = try await h.shop.send("/orders/\(id)", method: "GET")
                #expect(order["status"]?.stringValue == "completed")
                let notes = try await h.shop.send("/orders/\(id)/notes", method: "GET").arrayValue?.compactMap { $0["note"]?.stringValue } ?? []
                #expect(notes.contains { $0.contains(invoice) })
            }
        }
    }
}
