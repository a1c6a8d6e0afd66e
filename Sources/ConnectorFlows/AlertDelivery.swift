import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation
import Logging

extension Keyspace {
    /// Announced alerts waiting for the connection's alert webhook.
    public static func alertOutbox(_ connection: String) -> String { "outbox/\(StoreKey.segment(connection))/alert/" }
}

/// Sends one JSON body to an incoming-webhook URL; answers the HTTP status.
public protocol AlertTransport: Sendable {
    func post(url: String, json: [UInt8]) async throws -> Int
}

/// SPEC §10: announced alerts go to the connection's alert webhook (Slack- and Teams-compatible
/// `{"text": …}`), once per alert window, in the order they were raised. Sent by backfill-poll
/// from the store's outbox, so an alert raised by any function reaches people even when the
/// chat service was down when it happened.
public struct AlertDelivery: Sendable {
    /// How long an unsent alert waits in the outbox.
    public static let outboxTTL: Duration = .seconds(7 * 86_400)
    /// At most this many per run (the rest go next run).
    public static let batch = 20

    public struct Report: Sendable, Equatable {
        public var sent = 0
        /// Why sending stopped (the rest stay queued), nil when all went.
        public var failure: String?
    }

    let store: any KeyValueStore
    let transport: any AlertTransport

    public init(store: any KeyValueStore, transport: any AlertTransport) {
        self.store = store
        self.transport = transport
    }

    /// The chat message of one alert.
    public static func message(_ alert: AlertRecord) -> [UInt8] {
        let text = "ml-connector · connection \(alert.connection) · \(alert.reason): \(alert.detail)"
        return Array("{\"text\":\(JSONText.quoted(text))}".utf8)
    }

    /// Sends what the connection's outbox holds. Without a webhook URL the outbox is cleared
    /// (the alerts are in the log and the store's alert records already).
    public func deliver(_ connection: Connection, logger: Logger) async -> Report {
        var report = Report()
        let items: [StoredValue]
        do {
            items = try await store.list(prefix: Keyspace.alertOutbox(connection.id), after: nil, limit: Self.batch).items
        } catch {
            report.failure = "the store is unavailable: \(error)"
            return report
        }
        for item in items {
            let url = connection.alerts.webhookURL.reveal()
            if !url.isEmpty, let alert = try? StoreJSON.decoder.decode(AlertRecord.self, from: Data(item.value)) {
                do {
                    let status = try await transport.post(url: url, json: Self.message(alert))
                    guard (200..<300).contains(status) else {
                        report.failure = "the alert webhook answered \(status)"
                        break
                    }
                    report.sent += 1
                } catch {
                    report.failure = "the alert webhook could not be reached: \(error)"
                    break
                }
            }
            _ = try? await store.delete(item.key, expectedVersion: nil)
        }
        if let failure = report.failure {
            // Not an alert itself: that would only queue another message for the same webhook.
            logger.warning("alert.webhook_failed", metadata: ["error": "\(failure)", "queued": "\(items.count - report.sent)"])
        }
        return report
    }
}
