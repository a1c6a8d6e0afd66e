import ConnectorConnections
import ConnectorCore
import Foundation
import WooCommerceClient

/// `mlc connection set-secret NAME woocommerce.webhookSecret` (SPEC §2): once the new secret is
/// stored, the store's webhooks that deliver to the connection must sign with it too, or every
/// delivery after the change fails verification. Safe to run again: setting the same secret
/// twice changes nothing.
public enum WebhookSecrets {
    public struct Outcome: Sendable, Equatable {
        /// Ids of the webhooks given the new secret.
        public var updated: [Int]
        /// How many webhooks the store has in all.
        public var total: Int
    }

    /// Gives every webhook whose `delivery_url` is the connection's `woocommerce.deliveryURL`
    /// the connection's (already stored) webhook secret. Throws `invalidConfiguration` when the
    /// connection has no deliveryURL (there is no way to tell its webhooks), and the store's own
    /// error when it cannot be reached — naming how many were already updated.
    public static func propagate(_ connection: Connection, using client: WooCommerceClient) async throws -> Outcome {
        guard let deliveryURL = connection.woocommerce.deliveryURL else {
            throw ConnectorError.invalidConfiguration(
                "connection '\(connection.id)' has no woocommerce.deliveryURL, so its webhooks cannot be told from others",
                fix: "set deliveryURL (mlc connection update) and run set-secret again, or change the secret of its webhooks in WooCommerce > Settings > Advanced > Webhooks")
        }
        let secret = connection.woocommerce.webhookSecret.reveal()
        let webhooks = try await client.allWebhooks()
        var updated: [Int] = []
        for webhook in webhooks.sorted(by: { $0.id < $1.id }) where sameURL(webhook.deliveryURL, deliveryURL) {
            do {
                _ = try await client.updateWebhook(webhook.id, WooWebhookUpdate(secret: secret))
            } catch {
                let cause = (error as? WooCommerceError)?.connectorError ?? (error as? ConnectorError) ?? .remoteUnavailable("\(error)")
                throw ConnectorError.remoteUnavailable(
                    "updated \(updated.count) webhook(s) to \(deliveryURL), then webhook #\(webhook.id) failed: \(cause.message)",
                    fix: cause.fix.isEmpty ? "run set-secret again: it is safe to repeat" : "\(cause.fix); then run set-secret again: it is safe to repeat")
            }
            updated.append(webhook.id)
        }
        return Outcome(updated: updated, total: webhooks.count)
    }

    /// The same delivery URL, ignoring a trailing slash and the case of scheme and host.
    static func sameURL(_ a: String, _ b: String) -> Bool { normalized(a) == normalized(b) }

    private static func normalized(_ url: String) -> String {
        var text = String(Formatting.trimmedSpaces(url))
        while text.hasSuffix("/") { text.removeLast() }
        guard var components = URLComponents(string: text) else { return text }
        components.scheme = components.scheme?.lowercased()
        components.host = components.host?.lowercased()
        return components.string ?? text
    }
}
