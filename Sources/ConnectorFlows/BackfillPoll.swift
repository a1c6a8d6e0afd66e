import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation
import Logging
import WooCommerceClient

extension Keyspace {
    /// The order poll's cursor of a connection: the newest `date_modified_gmt` it has handed on
    /// everything up to. Under `cursors(connection)`, so it never expires and only `--purge`
    /// clears it.
    public static func orderPollCursor(_ connection: String) -> String { cursors(connection) + "orders" }

    /// The state (hash) of one order the poll last handed on. Expires after
    /// `BackfillPoll.Settings.seenTTL` (default 90 days): it only has to outlive the time an
    /// order can fall inside the poll window again; an expired one costs at most one more
    /// hand-off, which the idempotent order-poster answers with "already posted". It holds no
    /// personal data (a hash), and the TTL keeps it from growing one key per order forever
    /// (`connection remove` does not clear `seen/`).
    public static func orderSeen(_ connection: String, orderID: Int) -> String { "seen/\(StoreKey.segment(connection))/order/\(orderID)" }
    public static func ordersSeen(_ connection: String) -> String { "seen/\(StoreKey.segment(connection))/order/" }

    /// When the last poll of a connection finished (for `mlc status` and /metrics).
    public static func lastPoll(_ connection: String) -> String { cursors(connection) + "last-poll" }
}

/// The last finished poll of a connection, as stored.
public struct LastPoll: Codable, Sendable, Equatable {
    public var at: Date
    public var listed: Int
    public var handedOn: Int
}

/// The poll cursor as stored.
public struct OrderPollCursor: Codable, Sendable, Equatable {
    /// Everything modified up to here was handed on (the next poll re-reads from here minus the overlap).
    public var modifiedAt: Date
    public var updatedAt: Date
    /// The poll that wrote it stopped at its request bound: the next one resumes one second
    /// before it instead of a whole overlap before (a window holding more changes than one
    /// poll reads would otherwise be re-read from its start forever).
    public var truncated: Bool?

    public init(modifiedAt: Date, updatedAt: Date, truncated: Bool? = nil) {
        self.modifiedAt = modifiedAt
        self.updatedAt = updatedAt
        self.truncated = truncated
    }
}

/// What one poll of one connection did.
public struct BackfillReport: Sendable, Equatable {
    public var connection: String
    /// Orders WooCommerce listed (each id once).
    public var listed = 0
    /// Orders whose state was new and were written as pending work.
    public var handedOn = 0
    /// Stale pending orders whose wake-up was sent again.
    public var reHanded = 0
    /// The `modified_after` this poll asked for.
    public var since: Date
    /// The cursor after the poll (nil: none yet, nothing listed).
    public var cursor: Date?
    /// The listing stopped at its bound; the next poll continues from the cursor.
    public var truncated = false
    /// Trashed orders listed (`status=any` leaves them out, so they are listed on their own).
    public var trashed = 0
    /// What the webhook check did (nil when it did not run).
    public var webhooks: WebhookHealthReport?
    /// Why the webhook check failed (the poll went on without it).
    public var webhookError: String?
    /// Alerts sent to the connection's alert webhook by this poll.
    public var alertsSent = 0
}

/// SPEC §2/§4 backfill-poll, its polling backbone: lists WooCommerce orders modified since the
/// cursor (minus an overlap) in all statuses, hands on each order whose current state it has
/// not handed on yet (pending work first, then a wake-up), moves the cursor forward only after
/// those hand-offs are durable, and re-sends the wake-up of pending work left too long.
public struct BackfillPoll: Sendable {
    public struct Settings: Sendable {
        /// Pending order work older than this gets its wake-up sent again.
        public var staleAge: TimeInterval = 15 * 60
        /// Orders per listing request (WooCommerce allows 1…100).
        public var perPage = 100
        /// Listing requests per poll at most; the rest is read by the next poll.
        public var maxRequests = 100
        /// First run without `orders.startDate`: this far back.
        public var firstRunLookback: TimeInterval = 24 * 3600
        /// How long an order's handed-on state is remembered.
        public var seenTTL: Duration = .seconds(90 * 86_400)
        /// Pending work expires after this (as the receiver's).
        public var retention: Duration = .seconds(30 * 86_400)
        /// Check and heal the connection's webhooks in every poll (SPEC §9).
        public var manageWebhooks = true
        /// Also list trashed orders (a trashed order after posting parks, SPEC §8).
        public var listTrash = true
        public var webhookHealth = WebhookHealth.Settings()
        public init() {}
    }

    let store: any KeyValueStore
    let connections: any ConnectionSource
    let remotes: any RemoteSystems
    let clock: any WallClock
    let wakeUp: (any WakeUpSender)?
    let settings: Settings
    let alertTransport: (any AlertTransport)?

    public init(store: any KeyValueStore, connections: any ConnectionSource, remotes: any RemoteSystems, clock: any WallClock,
                wakeUp: (any WakeUpSender)? = nil, settings: Settings = Settings(), alertTransport: (any AlertTransport)? = nil) {
        self.alertTransport = alertTransport
        self.store = store
        self.connections = connections
        self.remotes = remotes
        self.clock = clock
        self.wakeUp = wakeUp
        var checked = settings
        checked.perPage = min(100, max(1, settings.perPage))
        checked.maxRequests = max(1, settings.maxRequests)
        self.settings = checked
    }

    struct Seen: Codable { var hash: String; var handedAt: Date }

    /// One poll of one connection. Throws `ConnectorError` (transient: try again, the cursor
    /// was not moved; notFound: no such connection).
    public func poll(connectionID: String, logger baseLogger: Logger) async throws -> BackfillReport {
        var logger = baseLogger
        logger[metadataKey: "connection"] = "\(connectionID)"
        guard let connection = try await connections.connection(connectionID) else {
            throw ConnectorError.notFound("no connection \(connectionID)", fix: "list them with: mlc connection list")
        }
        let client = try remotes.woocommerce(connection)
        let cursorKey = Keyspace.orderPollCursor(connectionID)
        let stored: OrderPollCursor?
        do { stored = try await store.getJSON(OrderPollCursor.self, cursorKey)?.value } catch { throw Self.storeError(error) }
        var since: Date
        if let stored, stored.truncated == true {
            since = stored.modifiedAt.addingTimeInterval(-1)
        } else if let stored {
            since = stored.modifiedAt.addingTimeInterval(-Double(max(0, connection.orders.pollOverlapMinutes)) * 60)
        } else {
            // First run: from the connection's startDate, else a day back (orders older than
            // that are `mlc backfill`'s job, not the schedule's).
            since = connection.orders.startDate ?? clock.now().addingTimeInterval(-settings.firstRunLookback)
        }
        // Webhook health first: a disabled webhook widens this poll back to its last good
        // delivery. A failed check is reported, never a reason to skip the poll.
        var webhooks: WebhookHealthReport?
        var webhookError: String?
        if settings.manageWebhooks {
            do {
                webhooks = try await WebhookHealth(store: store, clock: clock, settings: settings.webhookHealth).check(connection, client: client, logger: logger)
            } catch {
                webhookError = (RemoteError.connectorError(error) ?? Self.storeError(error)).description
                logger.warning("webhook.check_failed", metadata: ["error": "\(webhookError ?? "")"])
            }
            if let from = webhooks?.backfillFrom, from < since { since = from }
        }
        var report = BackfillReport(connection: connectionID, since: since)
        report.webhooks = webhooks
        report.webhookError = webhookError

        // Keyset paging on `date_modified_gmt` (ascending): each request asks for what changed
        // after the newest change read so far (minus one second: `modified_after` is strict and
        // second-grained), so an order modified while we page moves to the end instead of
        // shifting an unread one onto a page already read. Page numbers only advance when a
        // whole page held nothing new (more orders in one second than a page).
        var after = since
        var page = 1
        var newest: Date?
        var listedIDs = Set<Int>()
        var requests = 0
        while true {
            if requests >= settings.maxRequests { report.truncated = true; break }
            requests += 1
            let current: WooPage<WooOrder>
            do {
                current = try await client.orders(WooOrderQuery(modifiedAfter: after, orderBy: "modified", ascending: true, page: page, perPage: settings.perPage))
            } catch {
                throw Self.remoteError(error)
            }
            var fresh = 0
            for order in current.items {
                if let modified = order.dateModifiedGMT, newest.map({ modified > $0 }) ?? true { newest = modified }
                guard listedIDs.insert(order.id).inserted else { continue }
                fresh += 1
                if try await handOn(order, connection: connectionID, logger: logger) { report.handedOn += 1 }
            }
            // A page past the end answers `200 []` (and X-WP-Total 0): that is the end.
            guard !current.items.isEmpty, current.hasMore || current.items.count == settings.perPage else { break }
            if fresh == 0 {
                page += 1
            } else if let newest, newest.addingTimeInterval(-1) > after {
                after = newest.addingTimeInterval(-1)
                page = 1
            } else {
                page += 1
            }
        }
        report.listed = listedIDs.count
        // Trashed orders in the same window (they never move the cursor: the next poll lists
        // them again and finds their state seen).
        if settings.listTrash && !report.truncated {
            var trashPage = 1
            while requests < settings.maxRequests {
                requests += 1
                let current: WooPage<WooOrder>
                do {
                    current = try await client.orders(WooOrderQuery(modifiedAfter: since, statuses: ["trash"], orderBy: "modified", ascending: true, page: trashPage, perPage: settings.perPage))
                } catch {
                    throw Self.remoteError(error)
                }
                for order in current.items where listedIDs.insert(order.id).inserted {
                    report.trashed += 1
                    if try await handOn(order, connection: connectionID, logger: logger) { report.handedOn += 1 }
                }
                guard !current.items.isEmpty, current.hasMore else { break }
                trashPage += 1
            }
        }

        // Every hand-off above is durable: only now may the cursor move.
        CrashPoint.hit("poll.before-cursor")
        report.cursor = try await advanceCursor(cursorKey, to: newest ?? (stored == nil ? since : nil), truncated: report.truncated)
        report.reHanded = try await reHandStale(connectionID, logger: logger)
        if let alertTransport {
            report.alertsSent = await AlertDelivery(store: store, transport: alertTransport).deliver(connection, logger: logger).sent
        }
        do {
            _ = try await store.setJSON(Keyspace.lastPoll(connectionID), LastPoll(at: clock.now(), listed: report.listed, handedOn: report.handedOn))
        } catch {
            throw Self.storeError(error)
        }
        logger.info("backfill.polled", metadata: [
            "listed": "\(report.listed)", "handed_on": "\(report.handedOn)", "re_handed": "\(report.reHanded)",
            "cursor": "\(report.cursor.map(Formatting.timestamp) ?? "none")", "truncated": "\(report.truncated)", "trashed": "\(report.trashed)",
        ])
        return report
    }

    /// The state of an order the poll compares: the fields whose change can mean something to
    /// post (status, amounts, lines, refunds) and the modification time.
    public static func stateHash(_ order: WooOrder) -> String {
        var text = "id=\(order.id)\nstatus=\(order.status)\nmodified=\(order.dateModifiedGMT.map(Formatting.timestamp) ?? "")\n"
        text += "total=\(order.total)\ntax=\(order.totalTax)\nshipping=\(order.shippingTotal)\ncurrency=\(order.currency)\n"
        for line in order.lineItems {
            text += "line=\(line.id)|\(line.productID)|\(line.variationID)|\(line.sku ?? "")|\(line.quantity)|\(line.total)|\(line.totalTax)\n"
        }
        for refund in order.refunds.sorted(by: { $0.id < $1.id }) { text += "refund=\(refund.id)|\(refund.total)\n" }
        return Digests.sha256Hex(Array(text.utf8))
    }

    /// Hands one order on unless its state was handed on already: pending work first (durable),
    /// then the remembered state, then the wake-up. True when it was handed on.
    func handOn(_ order: WooOrder, connection: String, logger: Logger) async throws -> Bool {
        let hash = Self.stateHash(order)
        let seenKey = Keyspace.orderSeen(connection, orderID: order.id)
        do {
            if let seen = try await store.getJSON(Seen.self, seenKey)?.value, seen.hash == hash { return false }
            let now = clock.now()
            let work = PendingWork(connection: connection, kind: "order", resourceID: String(order.id), firstSeenAt: now,
                                   origin: "backfill-poll:\(hash.prefix(16))")
            // Work already pending (a webhook, an earlier poll) stays as it is: its consumer
            // re-reads the order anyway.
            let inserted = try await store.insertIfAbsent(Keyspace.pending(connection, kind: "order", resourceID: String(order.id)), work.encoded(), ttl: settings.retention).inserted
            // Work already pending may be an order-poster run that read an earlier state and is
            // about to clear it: this state counts as handled only once the poll itself handed
            // it on (else the next poll looks again).
            guard inserted else { return false }
            _ = try await store.setJSON(seenKey, Seen(hash: hash, handedAt: now), ttl: settings.seenTTL)
            if let wakeUp {
                wakeUp.send(Self.wakeUpEvent(connection: connection, orderID: order.id, id: "\(connection)-order-\(order.id)-\(hash.prefix(16))"), logger: logger)
            }
            return true
        } catch {
            throw Self.storeError(error)
        }
    }

    /// Moves the cursor to `target` unless it is already there or later; a lost
    /// compare-and-swap re-reads and keeps whichever is later. Returns the cursor after.
    func advanceCursor(_ key: String, to target: Date?, truncated: Bool) async throws -> Date? {
        do {
            for _ in 0..<20 {
                let current = try await store.getJSON(OrderPollCursor.self, key)
                guard let target else { return current?.value.modifiedAt }
                if let current, current.value.modifiedAt > target { return current.value.modifiedAt }
                // At the same instant only a complete read changes anything: it clears `truncated`.
                if let current, current.value.modifiedAt == target, truncated || current.value.truncated != true { return target }
                let value = try StoreJSON.encode(OrderPollCursor(modifiedAt: target, updatedAt: clock.now(), truncated: truncated ? true : nil))
                if let current {
                    if try await store.compareAndSwap(key, expectedVersion: current.version, value, ttl: nil).swapped { return target }
                } else if try await store.insertIfAbsent(key, value, ttl: nil).inserted {
                    return target
                }
            }
        } catch {
            throw Self.storeError(error)
        }
        throw ConnectorError.conflict("the poll cursor kept changing under this poll", fix: "nothing to do: the next poll moves it")
    }

    /// Sends the wake-up of pending order work older than the stale age again (nothing to send
    /// without a sink: the drain takes all pending work anyway). Work waiting out a retry
    /// delay is left alone.
    func reHandStale(_ connection: String, logger: Logger) async throws -> Int {
        guard let wakeUp else { return 0 }
        let prefix = Keyspace.pending(connection, kind: "order")
        let items: [StoredValue]
        do { items = try await store.listAll(prefix: prefix) } catch { throw Self.storeError(error) }
        let now = clock.now()
        var sent = 0
        for item in items {
            guard let orderID = Int(item.key.dropFirst(prefix.count)),
                  let work = try? StoreJSON.decoder.decode(PendingWork.self, from: Data(item.value)) else { continue }
            guard now.timeIntervalSince(work.firstSeenAt) >= settings.staleAge else { continue }
            if let retryAt = work.retryAt, retryAt > now { continue }
            let id = "\(connection)-order-\(orderID)-rehand-\(Int(now.timeIntervalSince1970))"
            wakeUp.send(Self.wakeUpEvent(connection: connection, orderID: orderID, id: id), logger: logger)
            sent += 1
        }
        return sent
    }

    /// `com.mlconnector.order.changed` (SPEC §4), as the receiver sends it, from backfill-poll.
    static func wakeUpEvent(connection: String, orderID: Int, id: String) -> CloudEvent {
        let data = "{\"connection\":\(JSONText.quoted(connection)),\"orderId\":\(orderID)}"
        return CloudEvent(id: id, source: "/ml-connector/backfill-poll/\(connection)", type: OrderPosterFunction.orderChanged, data: Array(data.utf8))
    }

    static func storeError(_ error: any Error) -> ConnectorError {
        if let known = error as? ConnectorError { return known }
        return .storeUnavailable("the store failed during the poll: \(error)")
    }

    static func remoteError(_ error: any Error) -> ConnectorError {
        RemoteError.connectorError(error) ?? .remoteUnavailable("listing WooCommerce orders failed: \(error)")
    }
}
