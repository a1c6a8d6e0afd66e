import ConnectorCore
import ConnectorStore
import Foundation
import Logging

/// One alert record per (connection, reason): the first occurrence in a window is announced,
/// later ones in the same window only raise the count (SPEC §10).
public struct AlertRecord: Codable, Sendable, Equatable {
    public var connection: String
    public var reason: String
    public var detail: String
    public var windowStart: Date
    public var lastAt: Date
    /// Occurrences in the current window.
    public var count: Int
    /// Occurrences ever.
    public var total: Int
}

/// Raises alerts: an error-level log line with `alert=true`, a record in the store, deduplicated
/// per connection and reason per window, and queued for the connection's alert webhook.
public struct AlertCenter: Sendable {
    let store: any KeyValueStore
    let clock: any WallClock

    /// An alert record is forgotten this long after its last occurrence.
    public static let recordTTL: Duration = .seconds(30 * 86_400)

    public init(store: any KeyValueStore, clock: any WallClock) {
        self.store = store
        self.clock = clock
    }

    /// Records one occurrence; returns true when it opened a new window (was announced).
    @discardableResult
    public func raise(connection: String, reason: String, detail: String, window: Duration, logger: Logger) async -> Bool {
        let key = Keyspace.alert(connection, reason: reason)
        let now = clock.now()
        for _ in 0..<5 {
            do {
                let previous = try await store.getJSON(AlertRecord.self, key)
                if let (current, version) = previous, now < current.windowStart.addingTimeInterval(Double(window.components.seconds)) {
                    var next = current
                    next.count += 1
                    next.total += 1
                    next.lastAt = now
                    next.detail = detail
                    if case .swapped = try await store.compareAndSwapJSON(key, expectedVersion: version, next, ttl: Self.recordTTL) { return false }
                    continue
                }
                // A new window: the first occurrence is announced.
                let record = AlertRecord(connection: connection, reason: reason, detail: detail, windowStart: now, lastAt: now, count: 1, total: (previous?.value.total ?? 0) + 1)
                let wrote: Bool
                if let previous {
                    wrote = try await store.compareAndSwapJSON(key, expectedVersion: previous.version, record, ttl: Self.recordTTL).swapped
                } else {
                    wrote = try await store.insertJSONIfAbsent(key, record, ttl: Self.recordTTL).inserted
                }
                if wrote {
                    logger.error("alert", metadata: ["alert": .stringConvertible(true), "connection": "\(connection)", "alert.reason": "\(reason)", "alert.detail": "\(detail)"])
                    await queueForWebhook(record, logger: logger)
                    return true
                }
            } catch {
                // The store is what failed: the log line is the only record left.
                logger.error("alert", metadata: ["alert": .stringConvertible(true), "connection": "\(connection)", "alert.reason": "\(reason)", "alert.detail": "\(detail)", "store.error": "\(error)"])
                return true
            }
        }
        // Lost every race for the record: still make sure a person hears about it.
        logger.error("alert", metadata: ["alert": .stringConvertible(true), "connection": "\(connection)", "alert.reason": "\(reason)", "alert.detail": "\(detail)", "alert.note": "alert record contended"])
        return true
    }

    /// An announced alert also waits in the connection's outbox until backfill-poll has sent it
    /// to the alert webhook (`AlertDelivery`): durable, so a chat service that is down only
    /// delays it.
    private func queueForWebhook(_ record: AlertRecord, logger: Logger) async {
        let key = Keyspace.alertOutbox(record.connection) + Formatting.pad(Int(record.windowStart.unixMilliseconds), 15) + "-" + StoreKey.segment(record.reason)
        do {
            _ = try await store.setJSON(key, record, ttl: AlertDelivery.outboxTTL)
        } catch {
            logger.error("alert.outbox_write_failed", metadata: ["error": "\(error)"])
        }
    }

    /// The alert records of `connection`.
    public func list(connection: String) async throws -> [AlertRecord] {
        try await store.listAll(prefix: Keyspace.alerts(connection)).compactMap {
            try? StoreJSON.decoder.decode(AlertRecord.self, from: Data($0.value))
        }
    }
}
