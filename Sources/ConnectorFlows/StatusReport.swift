import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation

/// `mlc status` (SPEC §11): what an on-call engineer needs, read from the store alone — so it is
/// right even when every function has scaled to zero.
public struct StatusReport: Sendable {
    public struct Connection: Sendable {
        public var id: String
        public var paused: Bool
        public var pendingOrders: Int
        /// Age of the oldest pending order, in seconds.
        public var oldestPendingSeconds: Double?
        public var pendingCustomers: Int
        /// F&O invoice events waiting for order completion.
        public var pendingInvoices: Int = 0
        /// Pending work waiting out a retry delay.
        public var delayed: Int
        /// Audit records by kind (order, customer, product) and state.
        public var records: [String: [AuditRecord.State: Int]]
        /// Parked records by reason (the first 80 characters), most frequent first.
        public var parkedReasons: [(reason: String, count: Int)]
        public var alerts: [AlertRecord]
        public var lastDelivery: Date?
        public var pollCursor: Date?
        public var pollUpdatedAt: Date?
        public var throttledUntil: Date?
        /// When backfill-poll last finished a poll of this connection.
        public var lastPollAt: Date?
        /// The webhooks the connector manages, as its last check saw them.
        public var webhooks: ManagedWebhooks?
    }

    let store: any KeyValueStore
    let clock: any WallClock

    public init(store: any KeyValueStore, clock: any WallClock) {
        self.store = store
        self.clock = clock
    }

    struct Throttle: Codable { var until: Date }

    public func connection(_ connection: ConnectorConnections.Connection) async throws -> Connection {
        let id = connection.id
        let now = clock.now()
        var pendingOrders = 0, pendingCustomers = 0, pendingInvoices = 0, delayed = 0
        var oldest: Date?
        for item in try await store.listAll(prefix: Keyspace.pending(id)) {
            guard let work = try? StoreJSON.decoder.decode(PendingWork.self, from: Data(item.value)) else { continue }
            switch work.kind {
            case "order":
                pendingOrders += 1
                oldest = min(oldest ?? work.firstSeenAt, work.firstSeenAt)
            case "customer":
                pendingCustomers += 1
            default:
                pendingInvoices += 1
            }
            if let retryAt = work.retryAt, retryAt > now { delayed += 1 }
        }
        let records = try await AuditRecords(store: store, clock: clock, retention: .seconds(1)).list(connection: id)
        var states: [String: [AuditRecord.State: Int]] = [:]
        var reasons: [String: Int] = [:]
        for record in records {
            states[record.kind, default: [:]][record.state, default: 0] += 1
            if record.state == .parked { reasons[String((record.reason ?? "").prefix(80)), default: 0] += 1 }
        }
        var lastDelivery: Date?
        for item in try await store.listAll(prefix: Keyspace.deliveries(id)) {
            if let record = try? DeliveryRecord.decode(item.value) { lastDelivery = max(lastDelivery ?? record.receivedAt, record.receivedAt) }
        }
        let cursor = try await store.getJSON(OrderPollCursor.self, Keyspace.orderPollCursor(id))?.value
        let host = URLComponents(string: connection.dynamics.environmentURL)?.host ?? connection.dynamics.environmentURL
        let throttle = try await store.getJSON(Throttle.self, Keyspace.throttle(environment: host))?.value.until
        return Connection(
            id: id, paused: try await ConnectionControl(store: store).isPaused(id), pendingOrders: pendingOrders,
            oldestPendingSeconds: oldest.map { now.timeIntervalSince($0) }, pendingCustomers: pendingCustomers, pendingInvoices: pendingInvoices, delayed: delayed,
            records: states, parkedReasons: reasons.sorted { $0.value > $1.value }.map { ($0.key, $0.value) },
            alerts: try await AlertCenter(store: store, clock: clock).list(connection: id), lastDelivery: lastDelivery,
            pollCursor: cursor?.modifiedAt, pollUpdatedAt: cursor?.updatedAt, throttledUntil: throttle.flatMap { $0 > now ? $0 : nil },
            lastPollAt: try await store.getJSON(LastPoll.self, Keyspace.lastPoll(id))?.value.at,
            webhooks: try await store.getJSON(ManagedWebhooks.self, Keyspace.managedWebhooks(id))?.value)
    }

    /// The report as lines a person reads at night.
    public static func text(_ c: Connection, now: Date) -> String {
        func age(_ date: Date?) -> String { date.map { "\(Formatting.timestamp($0)) (\(Int(now.timeIntervalSince($0)))s ago)" } ?? "never" }
        var out = "connection \(c.id)\(c.paused ? " — PAUSED (deliveries recorded, nothing posted)" : "")\n"
        out += "  pending: \(c.pendingOrders) order(s)\(c.oldestPendingSeconds.map { ", oldest \(Int($0))s old" } ?? ""), \(c.pendingCustomers) customer(s), \(c.pendingInvoices) invoice event(s), \(c.delayed) waiting out a retry delay\n"
        for (kind, counts) in c.records.sorted(by: { $0.key < $1.key }) {
            var parts: [String] = []
            for state in AuditRecord.State.allCases {
                if let count = counts[state] { parts.append("\(state.rawValue) \(count)") }
            }
            out += "  \(kind) records: " + parts.joined(separator: ", ") + "\n"
        }
        for (reason, count) in c.parkedReasons.prefix(5) { out += "    parked ×\(count): \(reason)\n" }
        out += "  last delivery: \(age(c.lastDelivery)); poll cursor: \(c.pollCursor.map(Formatting.timestamp) ?? "none") (written \(age(c.pollUpdatedAt)))\n"
        out += "  last poll: \(age(c.lastPollAt))\n"
        if let hooks = c.webhooks {
            let list = hooks.webhooks.sorted { $0.id < $1.id }.map { "#\($0.id) \($0.topic) \($0.status)" + (($0.reenabledCount ?? 0) > 0 ? " (re-enabled ×\($0.reenabledCount!))" : "") }
            out += "  webhooks: \(list.isEmpty ? "none managed" : list.joined(separator: ", "))\(hooks.unmanaged.map { "; not the connector's: \($0.map { "#\($0)" }.joined(separator: ", "))" } ?? "") (checked \(age(hooks.checkedAt)))\n"
        } else {
            out += "  webhooks: not checked yet (backfill-poll checks them)\n"
        }
        out += "  F&O throttled until: \(c.throttledUntil.map(Formatting.timestamp) ?? "not throttled")\n"
        for alert in c.alerts { out += "  alert \(alert.reason): \(alert.count) in the window (\(alert.total) ever), last \(age(alert.lastAt)) — \(alert.detail.prefix(120))\n" }
        return out
    }
}
