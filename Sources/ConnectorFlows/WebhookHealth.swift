import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation
import Logging
import WooCommerceClient

extension Keyspace {
    /// The webhooks the connector created for a connection (ids, topics, last seen status).
    /// Under `cursors(connection)`: it never expires and only `connection remove --purge` clears
    /// it — forgetting an id would turn the connector's own webhook into a stranger's.
    public static func managedWebhooks(_ connection: String) -> String { cursors(connection) + "webhooks" }

    /// One webhook check at a time per connection.
    public static func webhookHealthLease(_ connection: String) -> String { "lease/webhooks/\(StoreKey.segment(connection))" }

    /// Signature failures of one webhook id in the current window.
    public static func signatureFailures(_ connection: String, webhookID: String) -> String {
        "sigfail/\(StoreKey.segment(connection))/\(StoreKey.segment(webhookID))"
    }
}

/// The webhooks the connector manages for one connection, as stored.
public struct ManagedWebhooks: Codable, Sendable, Equatable {
    public struct Entry: Codable, Sendable, Equatable {
        public var id: Int
        public var topic: String
        public var createdAt: Date
        /// What the last check saw: `active`, `paused`, `disabled` or `missing`.
        public var status: String
        /// The last time the connector re-enabled it.
        public var reenabledAt: Date?
        /// How often the connector re-enabled it.
        public var reenabledCount: Int?
    }

    public var webhooks: [Entry]
    /// When the last check ran (nil: never).
    public var checkedAt: Date?
    /// Webhooks delivering to the connection's URL that the connector did not create (left alone).
    public var unmanaged: [Int]?

    public init(webhooks: [Entry] = [], checkedAt: Date? = nil, unmanaged: [Int]? = nil) {
        self.webhooks = webhooks
        self.checkedAt = checkedAt
        self.unmanaged = unmanaged
    }
}

/// What one webhook check did.
public struct WebhookHealthReport: Sendable, Equatable {
    /// Why nothing was checked (no deliveryURL, another check running).
    public var skipped: String?
    public var managed: [Int] = []
    public var created: [Int] = []
    public var adopted: [Int] = []
    /// Found disabled by WooCommerce (after delivery failures).
    public var disabled: [Int] = []
    public var reenabled: [Int] = []
    /// Paused by a person: reported, never touched.
    public var paused: [Int] = []
    /// The poll reads from here at the latest: the last good delivery of a disabled webhook.
    public var backfillFrom: Date?

    public init(skipped: String? = nil) { self.skipped = skipped }
}

/// SPEC §9 webhook health, run by backfill-poll: the connector manages only webhooks whose ids it
/// recorded when it created them (with the connection's secret); missing topics are created at
/// the connection's deliveryURL; a `disabled` one raises one alert, is re-enabled when the
/// connection allows it, and the window since its last good delivery is read again at once.
public struct WebhookHealth: Sendable {
    public struct Settings: Sendable {
        /// How long one check may hold the connection's webhook lease.
        public var leaseTTL: Duration = .seconds(120)
        /// How far back the catch-up reads when a disabled webhook never delivered anything.
        public var maxCatchUp: TimeInterval = 7 * 86_400
        public init() {}
    }

    let store: any KeyValueStore
    let clock: any WallClock
    let alerts: AlertCenter
    let settings: Settings

    public init(store: any KeyValueStore, clock: any WallClock, settings: Settings = Settings()) {
        self.store = store
        self.clock = clock
        self.alerts = AlertCenter(store: store, clock: clock)
        self.settings = settings
    }

    /// The name the connector gives its webhooks: how a webhook created just before a crash
    /// (id not yet recorded) is recognised and adopted instead of duplicated.
    public static func managedName(connection: String, topic: String) -> String { "ml-connector \(connection) \(topic)" }

    /// Checks and heals the connection's webhooks. Throws only what stopped the check (store or
    /// WooCommerce unavailable); the poll goes on without it.
    public func check(_ connection: Connection, client: WooCommerceClient, logger: Logger) async throws -> WebhookHealthReport {
        guard let deliveryURL = connection.woocommerce.deliveryURL else {
            return WebhookHealthReport(skipped: "the connection has no woocommerce.deliveryURL, so its webhooks are not managed")
        }
        guard let lease = try await store.acquireLease(Keyspace.webhookHealthLease(connection.id), owner: UUID.random().uuidString.lowercased(), ttl: settings.leaseTTL).lease else {
            return WebhookHealthReport(skipped: "another poll is checking the webhooks")
        }
        do {
            let report = try await heal(connection, deliveryURL: deliveryURL, client: client, logger: logger)
            _ = try? await store.releaseLease(lease)
            return report
        } catch {
            _ = try? await store.releaseLease(lease)
            throw error
        }
    }

    private func heal(_ connection: Connection, deliveryURL: String, client: WooCommerceClient, logger: Logger) async throws -> WebhookHealthReport {
        let key = Keyspace.managedWebhooks(connection.id)
        var (record, version) = try await store.getJSON(ManagedWebhooks.self, key).map { ($0.value, Optional($0.version)) } ?? (ManagedWebhooks(), nil)
        let existing = try await client.allWebhooks()
        let byID = Dictionary(existing.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var report = WebhookHealthReport()
        let now = clock.now()
        let window = Duration.seconds(connection.alerts.windowMinutes * 60)

        // Persists the record after every change to WooCommerce: an id created and not recorded
        // would be adopted by name next time, but never lost silently.
        func save() async throws {
            record.checkedAt = clock.now()
            let bytes = try StoreJSON.encode(record)
            if let current = version {
                guard case .swapped(version: let next) = try await store.compareAndSwap(key, expectedVersion: current, bytes, ttl: nil) else {
                    throw ConnectorError.conflict("the managed webhook record changed during the check", fix: "nothing to do: the next poll checks again")
                }
                version = next
            } else {
                guard case .inserted(version: let next) = try await store.insertIfAbsent(key, bytes, ttl: nil) else {
                    throw ConnectorError.conflict("the managed webhook record appeared during the check", fix: "nothing to do: the next poll checks again")
                }
                version = next
            }
        }

        // 1. The webhooks already managed.
        var kept: [ManagedWebhooks.Entry] = []
        for var entry in record.webhooks {
            guard let webhook = byID[entry.id] else {
                // Deleted in WooCommerce: forgotten here, its topic is created again below.
                logger.warning("webhook.missing", metadata: ["webhook.id": "\(entry.id)", "webhook.topic": "\(entry.topic)"])
                continue
            }
            if !WebhookSecrets.sameURL(webhook.deliveryURL, deliveryURL) {
                _ = try await client.updateWebhook(webhook.id, WooWebhookUpdate(deliveryURL: deliveryURL))
                logger.notice("webhook.delivery_url_updated", metadata: ["webhook.id": "\(webhook.id)"])
            }
            entry.status = webhook.status
            switch webhook.status {
            case "disabled":
                report.disabled.append(webhook.id)
                let lastGood = try await lastGoodDelivery(connection.id, webhookID: webhook.id, topic: webhook.topic)
                let from = lastGood ?? max(entry.createdAt, now.addingTimeInterval(-settings.maxCatchUp))
                report.backfillFrom = min(report.backfillFrom ?? from, from)
                let since = lastGood.map { "its last good delivery at \(Formatting.timestamp($0))" } ?? "no good delivery on record; read back to \(Formatting.timestamp(from))"
                if connection.woocommerce.reenableDisabledWebhooks {
                    _ = try await client.updateWebhook(webhook.id, WooWebhookUpdate(status: "active"))
                    entry.status = "active"
                    entry.reenabledAt = now
                    entry.reenabledCount = (entry.reenabledCount ?? 0) + 1
                    report.reenabled.append(webhook.id)
                    await alerts.raise(
                        connection: connection.id, reason: "webhook-disabled",
                        detail: "WooCommerce at \(connection.woocommerce.baseURL) disabled webhook \(webhook.id) (\(webhook.topic)) after repeated failed deliveries to \(deliveryURL); the connector re-enabled it and read orders again since \(since). A re-enabled webhook keeps its failure count: the next single failed delivery disables it again, so check that \(deliveryURL) answers 2xx",
                        window: window, logger: logger)
                } else {
                    await alerts.raise(
                        connection: connection.id, reason: "webhook-disabled",
                        detail: "WooCommerce at \(connection.woocommerce.baseURL) disabled webhook \(webhook.id) (\(webhook.topic)) after repeated failed deliveries to \(deliveryURL); it stays disabled (woocommerce.reenableDisabledWebhooks is false) and backfill-poll alone finds orders (read again since \(since)). Fix the delivery URL, then set it active in WooCommerce > Settings > Advanced > Webhooks",
                        window: window, logger: logger)
                }
            case "paused":
                report.paused.append(webhook.id)
                await alerts.raise(
                    connection: connection.id, reason: "webhook-paused",
                    detail: "webhook \(webhook.id) (\(webhook.topic)) at \(connection.woocommerce.baseURL) was paused in WooCommerce; the connector leaves it paused and backfill-poll alone finds those changes. Set it active again in WooCommerce > Settings > Advanced > Webhooks",
                    window: window, logger: logger)
            default:
                break
            }
            kept.append(entry)
        }
        let changed = kept != record.webhooks
        record.webhooks = kept
        if changed { try await save() }

        // 2. Topics without a managed webhook: adopt the connector's own by name (a creation
        // whose id was not recorded), leave a stranger's active one alone, else create.
        let managedIDs = Set(record.webhooks.map(\.id))
        var unmanaged: [Int] = []
        for topic in connection.woocommerce.topics where !record.webhooks.contains(where: { $0.topic == topic }) {
            let name = Self.managedName(connection: connection.id, topic: topic)
            let sameTarget = existing.filter { !managedIDs.contains($0.id) && $0.topic == topic && WebhookSecrets.sameURL($0.deliveryURL, deliveryURL) }
            if let own = sameTarget.first(where: { $0.name == name }) {
                // Its secret is not readable: set it, so it is the connector's for sure.
                var changes = WooWebhookUpdate(secret: connection.woocommerce.webhookSecret.reveal())
                if own.status == "disabled" && connection.woocommerce.reenableDisabledWebhooks { changes.status = "active" }
                let updated = try await client.updateWebhook(own.id, changes)
                record.webhooks.append(.init(id: own.id, topic: topic, createdAt: own.dateCreatedGMT ?? now, status: updated.status))
                try await save()
                report.adopted.append(own.id)
                logger.notice("webhook.adopted", metadata: ["webhook.id": "\(own.id)", "webhook.topic": "\(topic)"])
                continue
            }
            if let stranger = sameTarget.first(where: { $0.status == "active" }) {
                unmanaged.append(stranger.id)
                continue
            }
            let created = try await client.createWebhook(name: name, topic: topic, deliveryURL: deliveryURL, secret: connection.woocommerce.webhookSecret.reveal())
            record.webhooks.append(.init(id: created.id, topic: topic, createdAt: now, status: created.status))
            try await save()
            report.created.append(created.id)
            logger.notice("webhook.created", metadata: ["webhook.id": "\(created.id)", "webhook.topic": "\(topic)"])
        }
        for webhook in existing where !managedIDs.contains(webhook.id) && !record.webhooks.contains(where: { $0.id == webhook.id })
            && WebhookSecrets.sameURL(webhook.deliveryURL, deliveryURL) && !unmanaged.contains(webhook.id) {
            unmanaged.append(webhook.id)
        }
        record.unmanaged = unmanaged.isEmpty ? nil : unmanaged.sorted()
        try await save()
        report.managed = record.webhooks.map(\.id).sorted()
        logger.info("webhook.checked", metadata: [
            "managed": "\(report.managed.count)", "created": "\(report.created.count)", "reenabled": "\(report.reenabled.count)",
            "disabled": "\(report.disabled.count)", "paused": "\(report.paused.count)",
        ])
        return report
    }

    /// The newest signed delivery the receiver recorded from `webhookID` (a delivery record is
    /// written only for genuine deliveries, so each one was a success for WooCommerce).
    func lastGoodDelivery(_ connection: String, webhookID: Int, topic: String) async throws -> Date? {
        let prefix = Keyspace.deliveries(connection) + StoreKey.segment(topic) + "/"
        var newest: Date?
        for item in try await store.listAll(prefix: prefix) {
            guard let record = try? DeliveryRecord.decode(item.value), record.webhookID == String(webhookID) else { continue }
            if newest.map({ record.receivedAt > $0 }) ?? true { newest = record.receivedAt }
        }
        return newest
    }
}

/// SPEC §9: repeated signature failures for one webhook id raise "wrong secret on webhook N".
struct SignatureFailures: Sendable {
    /// Failures within one window before the alert.
    static let threshold = 3

    struct Count: Codable { var count: Int; var windowStart: Date }

    let store: any KeyValueStore
    let clock: any WallClock
    let alerts: AlertCenter

    /// Counts one failure of `webhookID` and raises the alert once the threshold is reached.
    /// Only webhooks the last health check saw delivering to the connection (its own and
    /// strangers' at the same URL) are counted: the door is public, so an id anyone can invent
    /// costs no store write and no alert.
    func record(connection: String, webhookID: String, source: String?, window: Duration, logger: Logger) async {
        guard !webhookID.isEmpty, webhookID.count <= 20, webhookID.allSatisfy(\.isASCII), webhookID.allSatisfy(\.isNumber), let id = Int(webhookID) else { return }
        guard let known = try? await store.getJSON(ManagedWebhooks.self, Keyspace.managedWebhooks(connection))?.value,
              known.webhooks.contains(where: { $0.id == id }) || (known.unmanaged ?? []).contains(id) else { return }
        let key = Keyspace.signatureFailures(connection, webhookID: webhookID)
        let now = clock.now()
        let seconds = Double(window.components.seconds)
        var count = 0
        do {
            for _ in 0..<5 {
                let current = try await store.getJSON(Count.self, key)
                var next = Count(count: 1, windowStart: now)
                if let current, now < current.value.windowStart.addingTimeInterval(seconds) {
                    next = Count(count: current.value.count + 1, windowStart: current.value.windowStart)
                }
                let wrote: Bool
                if let current {
                    wrote = try await store.compareAndSwapJSON(key, expectedVersion: current.version, next, ttl: window).swapped
                } else {
                    wrote = try await store.insertJSONIfAbsent(key, next, ttl: window).inserted
                }
                if wrote { count = next.count; break }
            }
        } catch {
            logger.error("signature_failures.write_failed", metadata: ["error": "\(error)"])
            return
        }
        guard count >= Self.threshold else { return }
        await alerts.raise(
            connection: connection, reason: "wrong-secret-webhook-\(webhookID)",
            detail: "wrong secret on webhook \(webhookID): \(count) deliveries\(source.map { " from \($0)" } ?? "") failed signature verification in the last \(Int(seconds / 60)) minutes. Give the webhook the connection's secret (mlc connection set-secret \(connection) woocommerce.webhookSecret re-keys the connector's webhooks), or remove it if it is not yours",
            window: window, logger: logger)
    }
}
