import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation

/// The store's gauges for `GET /metrics` (SPEC §11): what `mlc status` shows, per connection, as
/// Prometheus gauges — read at scrape time, so they are right after a scale-to-zero.
///
/// The functions pass ``gauges(store:clock:)`` to `FunctionMain.main(name:gauges:build:)`; the samples
/// are plain tuples (the runtime's `StoreGaugeSample`) so the flows need no metrics library.
/// docs/operations.md lists every name.
public enum StatusMetrics {
    public typealias Sample = (name: String, help: String, labels: [(String, String)], value: Double)

    /// Parked reasons shown one by one per connection; the rest are summed as `(other)`.
    public static let maxParkedReasons = 10

    /// Every connection's gauges. A connection whose report cannot be read gets
    /// `mlc_connection_gauges_up 0` and the others still show; a store that cannot list the
    /// connections fails the whole read (the scrape then says `mlc_store_gauges_up 0`).
    public static func gauges(store: any KeyValueStore, clock: any WallClock) async throws -> [Sample] {
        let repository = ConnectionRepository(store: store)
        let ids = try await repository.list().map(\.id).sorted()
        var samples: [Sample] = [("mlc_connections", "Connections in the store", [], Double(ids.count))]
        let reporter = StatusReport(store: store, clock: clock)
        for id in ids {
            do {
                let report = try await reporter.connection(try await repository.loadMasked(id).connection)
                samples += Self.samples(report, now: clock.now())
                samples.append(("mlc_connection_gauges_up", "1 when this connection's status could be read from the store", [("connection", id)], 1))
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                samples.append(("mlc_connection_gauges_up", "1 when this connection's status could be read from the store", [("connection", id)], 0))
            }
        }
        return samples
    }

    /// One connection's status report as gauges. (Fields added to `StatusReport.Connection`, such
    /// as the webhook status, get their gauges here.)
    public static func samples(_ c: StatusReport.Connection, now: Date) -> [Sample] {
        let connection = ("connection", c.id)
        var out: [Sample] = [
            ("mlc_paused", "1 while the connection is paused (deliveries recorded, nothing posted)", [connection], c.paused ? 1 : 0),
            ("mlc_pending_orders", "Orders waiting to be posted to F&O", [connection], Double(c.pendingOrders)),
            ("mlc_oldest_pending_order_age_seconds", "Age of the oldest order waiting to be posted (0 when none waits)", [connection], c.oldestPendingSeconds.map { max(0, $0) } ?? 0),
            ("mlc_pending_customers", "Customer updates waiting to be applied", [connection], Double(c.pendingCustomers)),
            ("mlc_pending_delayed", "Pending work waiting out a retry delay", [connection], Double(c.delayed)),
            ("mlc_fo_throttled", "1 while F&O has asked this connection's environment to wait", [connection], c.throttledUntil == nil ? 0 : 1),
        ]
        for (kind, counts) in c.records.sorted(by: { $0.key < $1.key }) {
            for state in AuditRecord.State.allCases {
                out.append(("mlc_records", "Audit records by kind and state", [connection, ("kind", kind), ("state", state.rawValue)], Double(counts[state] ?? 0)))
            }
        }
        let reasons = c.parkedReasons.sorted { $0.count != $1.count ? $0.count > $1.count : $0.reason < $1.reason }
        for (reason, count) in reasons.prefix(maxParkedReasons) {
            out.append(("mlc_parked_records", "Parked records by reason (its first 80 characters)", [connection, ("reason", reason)], Double(count)))
        }
        let rest = reasons.dropFirst(maxParkedReasons).reduce(0) { $0 + $1.count }
        if rest > 0 { out.append(("mlc_parked_records", "Parked records by reason (its first 80 characters)", [connection, ("reason", "(other)")], Double(rest))) }
        for alert in c.alerts {
            let labels = [connection, ("reason", alert.reason)]
            out.append(("mlc_alert_window_count", "Occurrences of an alert in its current deduplication window", labels, Double(alert.count)))
            out.append(("mlc_alert_count", "Occurrences of an alert ever", labels, Double(alert.total)))
            out.append(("mlc_alert_last_timestamp_seconds", "When an alert last occurred (Unix time)", labels, alert.lastAt.timeIntervalSince1970))
        }
        if let at = c.lastDelivery {
            out.append(("mlc_last_delivery_timestamp_seconds", "When the last webhook delivery was received (Unix time)", [connection], at.timeIntervalSince1970))
        }
        if let at = c.lastPollAt ?? c.pollUpdatedAt {
            out.append(("mlc_last_poll_timestamp_seconds", "When backfill-poll last finished a poll (Unix time)", [connection], at.timeIntervalSince1970))
        }
        if let at = c.pollUpdatedAt {
            out.append(("mlc_poll_cursor_written_timestamp_seconds", "When backfill-poll last moved its cursor (Unix time)", [connection], at.timeIntervalSince1970))
        }
        if c.pendingInvoices > 0 {
            out.append(("mlc_pending_invoices", "F&O invoice events waiting for order completion", [connection], Double(c.pendingInvoices)))
        }
        if let hooks = c.webhooks {
            for hook in hooks.webhooks {
                let labels = [connection, ("topic", hook.topic), ("webhook", String(hook.id))]
                out.append(("mlc_webhook_active", "1 while a webhook the connector manages was active at the last check", labels, hook.status == "active" ? 1 : 0))
                out.append(("mlc_webhook_reenabled_count", "How often the connector re-enabled a webhook WooCommerce had disabled", labels, Double(hook.reenabledCount ?? 0)))
            }
            if let at = hooks.checkedAt {
                out.append(("mlc_webhooks_checked_timestamp_seconds", "When backfill-poll last checked the webhooks (Unix time)", [connection], at.timeIntervalSince1970))
            }
        }
        if let at = c.pollCursor {
            out.append(("mlc_poll_cursor_timestamp_seconds", "The order modification time backfill-poll has read up to (Unix time)", [connection], at.timeIntervalSince1970))
        }
        if let at = c.throttledUntil {
            out.append(("mlc_fo_throttled_until_timestamp_seconds", "Until when F&O has asked this connection's environment to wait (Unix time)", [connection], at.timeIntervalSince1970))
        }
        return out
    }
}
