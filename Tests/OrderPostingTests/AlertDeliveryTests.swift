import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorRuntime
import ConnectorStore
import Foundation
import Logging
import Synchronization
import Testing

/// A chat service's incoming webhook on loopback: records every body, answers `status`.
final class ChatWebhook: FunctionHandler {
    private let state = Mutex<(bodies: [String], status: Int)>(([], 200))
    var bodies: [String] { state.withLock { $0.bodies } }
    func answer(_ status: Int) { state.withLock { $0.status = status } }

    func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        let status = state.withLock { state -> Int in
            if state.status == 200 { state.bodies.append(String(decoding: request.body, as: UTF8.self)) }
            return state.status
        }
        return status == 200 ? .done(200, json: "{}", reason: "ok") : .reject(status, "down")
    }

    func handle(event: CloudEvent, context: InvocationContext) async -> Outcome { .reject(400, "no events") }
}

/// SPEC §10: announced alerts reach the connection's alert webhook once per window, in order,
/// and wait in the store while the chat service is down.
@Suite struct AlertDeliveryTests {
    @Test func announcedAlertsReachTheChatWebhookOnceAndWaitWhileItIsDown() async throws {
        try await PostingHarness.run { h in
            let chat = ChatWebhook()
            var settings = try RuntimeSettings(environment: ["PORT": "0", "MLC_HOST": "127.0.0.1"])
            settings.port = 0
            try await HTTPMode(function: "chat", handler: chat, settings: settings, logger: h.logger).withRunningServer { port in
                var connection = h.connection
                connection.alerts.webhookURL = SecretValue("http://127.0.0.1:\(port)/hooks/alerts")
                try await ConnectionRepository(store: h.store).update(connection, key: h.key)
                // The chat URL is a credential: sealed in the store, masked when shown.
                let raw = String(decoding: try await h.store.get(Keyspace.connection("acme"))?.value ?? [], as: UTF8.self)
                #expect(!raw.isEmpty && !raw.contains("/hooks/alerts"))
                #expect(try await ConnectionRepository(store: h.store).loadMasked("acme").connection.alerts.webhookURL.reveal().hasPrefix("••••••"))
                let connections = StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: h.clock, freshness: 0)
                var pollSettings = BackfillPoll.Settings()
                pollSettings.manageWebhooks = false
                let poll = BackfillPoll(store: h.store, connections: connections, remotes: h.remotes, clock: h.clock, settings: pollSettings,
                                        alertTransport: LiveAlertTransport())
                let alerts = AlertCenter(store: h.store, clock: h.clock)
                let window = Duration.seconds(3600)

                // Down: the first alert waits in the outbox.
                chat.answer(503)
                await alerts.raise(connection: "acme", reason: "record-parked", detail: "order 7: no mapping for SKU X", window: window, logger: h.logger)
                #expect(try await poll.poll(connectionID: "acme", logger: h.logger).alertsSent == 0)
                #expect(try await h.store.listAll(prefix: Keyspace.alertOutbox("acme")).count == 1)

                // Up again: it goes, then a second reason; a repeat within the window is only counted.
                chat.answer(200)
                h.clock.advance(by: 1)
                await alerts.raise(connection: "acme", reason: "webhook-disabled", detail: "webhook 12 disabled", window: window, logger: h.logger)
                await alerts.raise(connection: "acme", reason: "record-parked", detail: "order 8: no mapping for SKU Y", window: window, logger: h.logger)
                #expect(try await poll.poll(connectionID: "acme", logger: h.logger).alertsSent == 2)
                #expect(chat.bodies.count == 2)
                let texts = chat.bodies.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: String])?["text"] }
                #expect(texts.count == 2)
                #expect(texts.first?.contains("connection acme · record-parked: order 7: no mapping for SKU X") == true)
                #expect(texts.last?.contains("webhook-disabled") == true)
                #expect(try await h.store.listAll(prefix: Keyspace.alertOutbox("acme")).isEmpty)

                // Nothing new: nothing sent.
                #expect(try await poll.poll(connectionID: "acme", logger: h.logger).alertsSent == 0)
                #expect(chat.bodies.count == 2)
            }
        }
    }
}
