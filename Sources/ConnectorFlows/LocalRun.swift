import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation
import Logging
import Synchronization

/// The four functions of SPEC §2 built in one process over one store — what `mlc run` (and
/// `mlc backfill`) serve instead of four Knative services: the receiver and backfill-poll hand
/// on to order-poster through an in-process queue instead of `K_SINK`, and the schedules are
/// fired by ``LocalScheduler`` instead of PingSources.
public struct LocalFunctions: Sendable {
    public struct Settings: Sendable {
        /// Records' retention (deliveries, pending work, audit lines).
        public var retention: Duration = .seconds(30 * 86_400)
        /// Bodies above this are recorded as unusable.
        public var maxBodyBytes = 2 * 1024 * 1024
        /// Wake-ups waiting for order-poster at most; beyond it new ones are dropped (the work
        /// is durable in the store's `pending/` keys; the next backfill tick re-hands it).
        public var handOffCapacity = 1_000
        /// Orders order-poster works at once from the queue.
        public var handOffWorkers = 2
        public var poster = OrderPoster.Settings()
        public var poll = BackfillPoll.Settings()
        public var catalog = CatalogPush.Settings()
        public init() {}
    }

    public let store: any KeyValueStore
    public let connections: StoredConnections
    public let receiver: WebhookReceiverFunction
    public let orderPoster: OrderPosterFunction
    public let backfillPoll: BackfillPollFunction
    public let catalogPush: CatalogPushFunction
    /// The in-process hand-off from the receiver and the poll to order-poster.
    public let handOff: InProcessHandOff

    /// Builds all four over `store`, opening connections with `masterKey` and talking to the
    /// remote systems through `remotes`; `clock` and `sleeper` are the connector's.
    public init(store: any KeyValueStore, masterKey: MasterKey, remotes: any RemoteSystems, clock: any WallClock, sleeper: any Sleeper,
                settings: Settings = .init(), connectionFreshness: TimeInterval = 2, alertTransport: (any AlertTransport)? = nil, logger: Logger) {
        self.store = store
        let connections = StoredConnections(repository: ConnectionRepository(store: store, clock: clock), key: masterKey, clock: clock, freshness: connectionFreshness)
        self.connections = connections
        var posterSettings = settings.poster
        posterSettings.retention = settings.retention
        let poster = OrderPoster(store: store, connections: connections, remotes: remotes, clock: clock, sleeper: sleeper, settings: posterSettings)
        let customers = CustomerSync(store: store, connections: connections, remotes: remotes, clock: clock, retention: settings.retention, sharingLeasesWith: poster)
        orderPoster = OrderPosterFunction(poster: poster, store: store, customers: customers)
        // Wake-ups go to the function of their type: orders to order-poster, F&O invoice events
        // to backfill-poll's completion (built below, with this hand-off as its own sink).
        let routes = HandOffRoutes(orderPoster: orderPoster)
        handOff = InProcessHandOff(consumer: routes, capacity: settings.handOffCapacity, workers: settings.handOffWorkers, logger: logger)
        receiver = WebhookReceiverFunction(store: store, masterKey: masterKey,
                                           settings: IntakeSettings(maxBodyBytes: settings.maxBodyBytes, retention: settings.retention),
                                           clock: clock, wakeUp: handOff)
        var pollSettings = settings.poll
        pollSettings.retention = settings.retention
        let poll = BackfillPollFunction(poll: BackfillPoll(store: store, connections: connections, remotes: remotes, clock: clock, wakeUp: handOff, settings: pollSettings,
                                                           alertTransport: alertTransport),
                                        completion: OrderCompletion(store: store, connections: connections, remotes: remotes, clock: clock))
        backfillPoll = poll
        routes.backfillPoll.withLock { $0 = poll }
        var catalogSettings = settings.catalog
        catalogSettings.retention = settings.retention
        catalogPush = CatalogPushFunction(push: CatalogPush(store: store, connections: connections, remotes: remotes, clock: clock, sleeper: sleeper, settings: catalogSettings))
    }

    /// One front door for all four: requests go to the receiver (WooCommerce deliveries, F&O
    /// business events); CloudEvents go to the function that takes their type.
    public var router: LocalRouter { LocalRouter(functions: self) }
}

/// Routes what the one local listener receives: every HTTP request to webhook-receiver (it
/// answers 404 for paths it does not serve), every CloudEvent to the function of its type.
public struct LocalRouter: FunctionHandler {
    let functions: LocalFunctions

    public func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        await functions.receiver.handle(request: request, context: context)
    }

    public func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        switch event.type {
        case OrderPosterFunction.orderChanged, OrderPosterFunction.ordersDrain:
            return await functions.orderPoster.handle(event: event, context: context)
        case BackfillPollFunction.tick, BackfillPollFunction.invoiced:
            return await functions.backfillPoll.handle(event: event, context: context)
        case CatalogPushFunction.catalogSync:
            return await functions.catalogPush.handle(event: event, context: context)
        default:
            return .reject(400, "mlc run takes \(OrderPosterFunction.orderChanged), \(OrderPosterFunction.ordersDrain), \(BackfillPollFunction.tick) and \(CatalogPushFunction.catalogSync) events, not \(Formatting.bounded(event.type)) (schedules fire inside mlc run; no ping is needed)")
        }
    }
}

/// Where an in-process wake-up goes, by its type.
final class HandOffRoutes: FunctionHandler {
    let orderPoster: OrderPosterFunction
    let backfillPoll = Mutex<BackfillPollFunction?>(nil)

    init(orderPoster: OrderPosterFunction) { self.orderPoster = orderPoster }

    func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        if event.type == BackfillPollFunction.invoiced, let poll = backfillPoll.withLock({ $0 }) {
            return await poll.handle(event: event, context: context)
        }
        return await orderPoster.handle(event: event, context: context)
    }

    func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        await orderPoster.handle(request: request, context: context)
    }
}

/// `K_SINK` inside one process: wake-ups for order-poster wait in a bounded queue and a few
/// workers hand them to it. Losing one (queue full, process stopped) loses nothing: the work
/// is pending in the store, and backfill-poll re-hands pending work older than its stale age.
public final class InProcessHandOff: WakeUpSender {
    struct State {
        var queue: [CloudEvent] = []
        var head = 0
        /// Wake-ups queued and not yet started, by what they name (a repeat is not queued twice).
        var queued: Set<String> = []
        var busy = 0
        var stopped = false
        var idle: [CheckedContinuation<Void, Never>] = []
        var outcomes: [String: Int] = [:]
        var dropped = 0
        var pendingCount: Int { queue.count - head }
    }

    let consumer: any FunctionHandler
    let capacity: Int
    let workers: Int
    let logger: Logger
    private let state = Mutex(State())

    public init(consumer: any FunctionHandler, capacity: Int = 1_000, workers: Int = 2, logger: Logger) {
        self.consumer = consumer
        self.capacity = max(1, capacity)
        self.workers = max(1, workers)
        self.logger = logger
    }

    static func dedupeKey(_ event: CloudEvent) -> String {
        event.type + "|" + String(decoding: event.data ?? [], as: UTF8.self)
    }

    public func send(_ event: CloudEvent, logger: Logger) {
        let key = Self.dedupeKey(event)
        enum Decision { case queued(startWorker: Bool), repeated, full, stopped }
        let decision: Decision = state.withLock { s in
            if s.stopped { return .stopped }
            if s.queued.contains(key) { return .repeated }
            guard s.pendingCount < capacity else { s.dropped += 1; return .full }
            s.queue.append(event)
            s.queued.insert(key)
            guard s.busy < workers else { return .queued(startWorker: false) }
            s.busy += 1
            return .queued(startWorker: true)
        }
        switch decision {
        case .queued(let start):
            if start { Task { await self.work() } }
        case .repeated:
            logger.debug("handoff.coalesced", metadata: ["event.type": "\(event.type)"])
        case .full:
            logger.warning("handoff.dropped", metadata: ["event.type": "\(event.type)", "reason": "queue full", "capacity": "\(capacity)"])
        case .stopped:
            logger.info("handoff.dropped", metadata: ["event.type": "\(event.type)", "reason": "stopping"])
        }
    }

    /// One worker: takes wake-ups until the queue is empty.
    private func work() async {
        while true {
            let next: CloudEvent? = state.withLock { s in
                guard s.head < s.queue.count else {
                    s.busy -= 1
                    if s.busy == 0 {
                        s.queue.removeAll(keepingCapacity: true)
                        s.head = 0
                    }
                    return nil
                }
                let event = s.queue[s.head]
                s.head += 1
                if s.head >= 1_024 {
                    s.queue.removeFirst(s.head)
                    s.head = 0
                }
                s.queued.remove(Self.dedupeKey(event))
                return event
            }
            guard let event = next else { break }
            var eventLogger = logger
            eventLogger[metadataKey: "event_id"] = "\(Formatting.bounded(event.id, limit: 120))"
            let outcome = await consumer.handle(event: event, context: InvocationContext(function: "order-poster", invocationID: event.id, logger: eventLogger))
            let label = outcome.kind == .done ? outcome.reason : outcome.kind.rawValue
            if outcome.kind != .done {
                eventLogger.info("handoff.not_done", metadata: ["outcome": "\(outcome.kind.rawValue)", "reason": "\(Formatting.bounded(outcome.reason))"])
            }
            state.withLock { $0.outcomes[label, default: 0] += 1 }
        }
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { s in
            guard s.busy == 0 else { return [] }
            defer { s.idle = [] }
            return s.idle
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until every queued wake-up was handed to order-poster and answered.
    public func drain() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let idleNow = state.withLock { s -> Bool in
                if s.busy == 0 { return true }
                s.idle.append(continuation)
                return false
            }
            if idleNow { continuation.resume() }
        }
    }

    /// Takes no new wake-ups (they are dropped, the work stays pending in the store).
    public func stop() { state.withLock { $0.stopped = true } }

    /// How order-poster answered, by outcome (`posted`, `skipped`, `parked`, `drained`,
    /// `retry`, `reject`), and how many wake-ups were dropped because the queue was full.
    public var counts: (outcomes: [String: Int], dropped: Int) { state.withLock { ($0.outcomes, $0.dropped) } }
}

/// Fires each connection's `schedules` (SPEC §6) in one process, as PingSources would:
/// `schedules.backfill` → backfill-poll (`com.mlconnector.backfill.tick`, then an
/// `orders.drain` of that connection through the hand-off), `schedules.catalog`
/// → catalog-push (`com.mlconnector.catalog.sync`, the whole catalog; only when the
/// connection's catalog is enabled). The connection list is read again every
/// `refreshInterval`, so connections added, changed or removed while running are picked up.
/// A schedule whose previous run is still going is skipped (logged), never run twice at once
/// — Kubernetes' `concurrencyPolicy: Forbid`. Time comes from the injected clock and waiting
/// from the injected sleeper, so tests step it without sleeping.
public final class LocalScheduler: Sendable {
    public enum Kind: String, Sendable, CaseIterable { case backfill, catalog }

    /// One schedule of one connection.
    public struct Job: Hashable, Sendable, CustomStringConvertible {
        public var connection: String
        public var kind: Kind
        public init(connection: String, kind: Kind) {
            self.connection = connection
            self.kind = kind
        }
        public var description: String { "\(connection)/\(kind.rawValue)" }
    }

    struct Entry {
        var expression: String
        var cron: CronExpression
        var next: Date
    }

    struct State {
        var entries: [Job: Entry] = [:]
        var running: [Job: Task<Void, Never>] = [:]
        var lastRefresh: Date?
        var lastPurge: Date?
        var fired: [Job: Int] = [:]
        var skipped: [Job: Int] = [:]
        var outcomes: [Job: Outcome] = [:]
    }

    /// Runs one schedule's event: the function of its kind (or, in tests, anything).
    public typealias Runner = @Sendable (Job, CloudEvent, InvocationContext) async -> Outcome

    let store: any KeyValueStore
    let runner: Runner
    let clock: any WallClock
    let sleeper: any Sleeper
    let refreshInterval: TimeInterval
    let purgeInterval: TimeInterval?
    let logger: Logger
    private let state = Mutex(State())

    /// Fires `functions`' backfill-poll and catalog-push. `purgeInterval`: how often records
    /// past their retention are removed (nil: not here).
    public convenience init(functions: LocalFunctions, clock: any WallClock, sleeper: any Sleeper, refreshInterval: TimeInterval = 60,
                            purgeInterval: TimeInterval? = 15 * 60, logger: Logger) {
        self.init(store: functions.store, clock: clock, sleeper: sleeper, refreshInterval: refreshInterval, purgeInterval: purgeInterval, logger: logger) { job, event, context in
            switch job.kind {
            case .backfill:
                let outcome = await functions.backfillPoll.handle(event: event, context: context)
                // Then a drain of the connection: customer changes have no wake-up of their own
                // (SPEC §4), and work whose retry delay has passed is taken without waiting
                // for its stale age.
                let drain = CloudEvent(id: event.id + "-drain", source: event.source, type: OrderPosterFunction.ordersDrain,
                                       data: Array("{\"connection\":\(JSONText.quoted(job.connection))}".utf8))
                functions.handOff.send(drain, logger: context.logger)
                return outcome
            case .catalog:
                return await functions.catalogPush.handle(event: event, context: context)
            }
        }
    }

    /// Fires `runner` for the schedules of the connections in `store`.
    public init(store: any KeyValueStore, clock: any WallClock, sleeper: any Sleeper, refreshInterval: TimeInterval = 60,
                purgeInterval: TimeInterval? = 15 * 60, logger: Logger, runner: @escaping Runner) {
        self.store = store
        self.runner = runner
        self.clock = clock
        self.sleeper = sleeper
        self.refreshInterval = max(1, refreshInterval)
        self.purgeInterval = purgeInterval
        self.logger = logger
    }

    /// Reads the connections and their schedules. A new schedule (or a changed expression)
    /// first fires at its next time after now; a removed connection's schedules stop (a run in
    /// flight finishes). A connection whose schedule cannot be parsed is logged and skipped.
    public func refresh() async {
        let now = clock.now()
        let repository = ConnectionRepository(store: store, clock: clock)
        let summaries: [ConnectionSummary]
        do {
            summaries = try await repository.list()
        } catch {
            logger.warning("schedule.refresh_failed", metadata: ["error": "\(error)"])
            state.withLock { $0.lastRefresh = now }
            return
        }
        var wanted: [Job: String] = [:]
        for summary in summaries {
            let connection: Connection
            do { connection = try await repository.loadMasked(summary.id).connection } catch {
                logger.warning("schedule.connection_unreadable", metadata: ["connection": "\(summary.id)", "error": "\(error)"])
                continue
            }
            wanted[Job(connection: summary.id, kind: .backfill)] = connection.schedules.backfill
            if connection.catalog.enabled { wanted[Job(connection: summary.id, kind: .catalog)] = connection.schedules.catalog }
        }
        var parsed: [Job: CronExpression] = [:]
        for (job, expression) in wanted {
            do { parsed[job] = try CronExpression(expression) } catch {
                logger.error("schedule.invalid", metadata: ["schedule": "\(job)", "error": "\(error)"])
            }
        }
        let changes: [String] = state.withLock { s in
            var changes: [String] = []
            for job in s.entries.keys where parsed[job] == nil {
                s.entries[job] = nil
                changes.append("-\(job)")
            }
            for (job, cron) in parsed {
                if let entry = s.entries[job], entry.expression == cron.text { continue }
                guard let next = cron.next(after: now) else { continue }
                s.entries[job] = Entry(expression: cron.text, cron: cron, next: next)
                changes.append("+\(job)@\(Formatting.timestamp(next))")
            }
            s.lastRefresh = now
            return changes
        }
        for change in changes.sorted() {
            logger.info("schedule.updated", metadata: ["change": "\(change)"])
        }
    }

    /// Starts every schedule whose time has come (refreshing the connection list first when
    /// it is due) and returns the jobs started. A job still running from before is skipped
    /// and its next time moved on.
    @discardableResult
    public func tick() async -> [Job] {
        let now = clock.now()
        let refreshDue = state.withLock { s in s.lastRefresh.map { now.timeIntervalSince($0) >= refreshInterval || now < $0 } ?? true }
        if refreshDue { await refresh() }
        await purgeIfDue(now: now)
        var started: [Job] = []
        var skipped: [Job] = []
        state.withLock { s in
            for (job, entry) in s.entries where entry.next <= now {
                let slot = entry.next
                s.entries[job]?.next = entry.cron.next(after: now) ?? .distantFuture
                if s.running[job] != nil {
                    skipped.append(job)
                    s.skipped[job, default: 0] += 1
                    continue
                }
                s.fired[job, default: 0] += 1
                started.append(job)
                s.running[job] = Task { await self.fire(job, slot: slot) }
            }
        }
        for job in skipped.sorted(by: { $0.description < $1.description }) {
            logger.warning("schedule.skipped", metadata: ["schedule": "\(job)", "reason": "the previous run is still going"])
        }
        return started.sorted { $0.description < $1.description }
    }

    /// One run of one schedule: the event a PingSource would send, to its function.
    private func fire(_ job: Job, slot: Date) async {
        var runLogger = logger
        runLogger[metadataKey: "schedule"] = "\(job)"
        let data = Array("{\"connection\":\(JSONText.quoted(job.connection))}".utf8)
        // The id names the slot, not the moment: a repeated tick of one slot is one event.
        let id = "\(job.connection)-\(job.kind.rawValue)-\(slot.unixMilliseconds / 1000)"
        let type = job.kind == .backfill ? BackfillPollFunction.tick : CatalogPushFunction.catalogSync
        let event = CloudEvent(id: id, source: "/ml-connector/mlc-run/\(job.connection)", type: type, data: data)
        let function = job.kind == .backfill ? "backfill-poll" : "catalog-push"
        let outcome = await runner(job, event, InvocationContext(function: function, invocationID: id, logger: runLogger))
        let level: Logger.Level = outcome.kind == .done ? .info : .warning
        runLogger.log(level: level, "schedule.ran", metadata: [
            "outcome": "\(outcome.kind.rawValue)", "http.status": "\(outcome.status)", "result": "\(Formatting.bounded(String(decoding: outcome.body, as: UTF8.self), limit: 300))",
        ])
        state.withLock { s in
            s.running[job] = nil
            s.outcomes[job] = outcome
        }
    }

    private func purgeIfDue(now: Date) async {
        guard let purgeInterval else { return }
        let due = state.withLock { s -> Bool in
            if let last = s.lastPurge, now.timeIntervalSince(last) < purgeInterval, now >= last { return false }
            s.lastPurge = now
            return true
        }
        guard due else { return }
        do {
            let removed = try await Retention.purge(store, now: now)
            if removed > 0 { logger.info("retention.purged", metadata: ["removed": "\(removed)"]) }
        } catch {
            logger.warning("retention.failed", metadata: ["error": "\(error)"])
        }
    }

    /// Ticks until the task is cancelled, sleeping (through the injected sleeper) until the
    /// next fire time or connection refresh, whichever is first. Runs in flight are not
    /// cancelled with it; ``waitForRuns()`` waits for them.
    public func run() async {
        while !Task.isCancelled {
            await tick()
            let now = clock.now()
            let wake = state.withLock { s -> Date in
                var wake = (s.lastRefresh ?? now).addingTimeInterval(refreshInterval)
                for entry in s.entries.values where entry.next < wake { wake = entry.next }
                return wake
            }
            do {
                try await sleeper.sleep(seconds: max(0.05, wake.timeIntervalSince(now)))
            } catch {
                break
            }
        }
    }

    /// Waits for every schedule run in flight.
    public func waitForRuns() async {
        while true {
            let tasks = state.withLock { Array($0.running.values) }
            if tasks.isEmpty { return }
            for task in tasks { await task.value }
        }
    }

    /// When each schedule fires next.
    public var nextFireTimes: [Job: Date] { state.withLock { $0.entries.mapValues(\.next) } }
    /// How often each schedule was started and skipped so far.
    public var counts: (fired: [Job: Int], skipped: [Job: Int]) { state.withLock { ($0.fired, $0.skipped) } }
    /// The last answer of each schedule's function.
    public var lastOutcomes: [Job: Outcome] { state.withLock { $0.outcomes } }
    /// The schedules running now.
    public var running: Set<Job> { state.withLock { Set($0.running.keys) } }
}
