import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import ConnectorTestSupport
import DynamicsEmulator
import Foundation
import Testing

/// Issue 9 item 5: a whole shop day's logs (trace level, in-process and the function binary's),
/// every audit record and the raw store hold no secret — in clear, base64 or hex — and no
/// access token.
@Suite struct SecretScanTests {
    @Test func noSecretInLogsAuditRecordsOrTheStore() async throws {
        let url = try StoreBackend.sqlite.freshURL()
        let store = try await StoreFactoryForTests.open(url)
        var options = PostingHarness.Options()
        options.captureLogs = true
        try await PostingHarness.run(store: store, options: options) { h in
            let connections = StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: h.clock, freshness: 0)
            let poll = BackfillPoll(store: h.store, connections: connections, remotes: h.remotes, clock: h.clock)
            // Webhooks created by the poll (with the secret), deliveries, a refund, a token
            // expiry mid-run, a parked order, a forged delivery.
            _ = try await poll.poll(connectionID: "acme", logger: h.logger)
            var ids: [Int] = []
            for _ in 0..<3 { ids.append(try await h.paidOrder()) }
            ids.append(try await h.paidOrder(paymentMethod: "paypal"))
            try await h.shop.send("/orders/\(ids[0])/refunds", #"{"amount":"5.00","reason":"late","api_refund":false}"#)
            await h.woo.runDeliveries()
            h.dynamics.expireTokens()
            await h.drainUntilDone()
            _ = try await poll.poll(connectionID: "acme", logger: h.logger)
            let forged = HTTPRequestEnvelope(method: "POST", path: "/webhooks/woocommerce/acme",
                                             headers: ["x-wc-webhook-signature": "AAAA", "x-wc-webhook-id": "1", "x-wc-webhook-topic": "order.updated"], body: Array("{\"id\":1}".utf8))
            _ = await WebhookIntake(store: h.store, connections: connections, clock: h.clock).receive(connectionID: "acme", request: forged, logger: h.logger)
            _ = StatusReport.text(try await StatusReport(store: h.store, clock: h.clock).connection(h.connection), now: h.clock.now())
            #expect(h.salesOrders(reference: "WC\(ids[0])").count == 1, "the day really happened")

            // The function binary on the same store, its logs at trace level.
            let drain = #"{"specversion":"1.0","id":"scan","source":"/test","type":"com.mlconnector.orders.drain","data":{"connection":"acme"}}"#
            let child = try await ProcessRunner.run(try PackagePaths.executable("order-poster"), ["--stdin"],
                                                    environment: ["MLC_MODE": "once", "MLC_STORE_URL": url, "MLC_MASTER_KEY": h.key.base64, "MLC_LOG_LEVEL": "trace"], stdin: drain)
            #expect(child.status == 0, "\(child.stdout) \(child.stderr)")

            let connection = try #require(try await connections.connection("acme"))
            var secrets: [(String, String)] = Connection.secretFields.map { ($0.name, connection[keyPath: $0.keyPath].reveal()) }.filter { !$0.1.isEmpty }
            secrets.append(("master key", h.key.base64))
            #expect(secrets.count == 6)
            func forms(_ secret: String) -> [String] {
                [secret, Data(secret.utf8).base64EncodedString(), Digests.hex(Array(secret.utf8))]
            }
            let logs = (h.logs?.lines ?? []) + child.stdout.split(separator: "\n").map(String.init) + child.stderr.split(separator: "\n").map(String.init)
            #expect(logs.count > 50, "the scan reads a real day's logs (\(logs.count) lines)")
            let dump = try await h.store.listAll(prefix: "").map { $0.key + " " + String(decoding: $0.value, as: UTF8.self) }
            #expect(dump.contains { $0.hasPrefix("audit/") || $0.hasPrefix("record/") })
            let tokenPrefix = "eyJ0eXAiOiJKV1Qi"
            for (name, text) in [("logs", logs), ("store", dump)] {
                for (field, secret) in secrets {
                    for form in forms(secret) {
                        let hits = text.filter { $0.contains(form) }
                        #expect(hits.isEmpty, "\(field) appears in the \(name): \(hits.first.map { String($0.prefix(200)) } ?? "")")
                    }
                }
                #expect(!text.contains { $0.contains(tokenPrefix) }, "an access token appears in the \(name)")
            }
            // A canary proves the scan can see: the store does hold the webhook secret's owner.
            #expect(dump.contains { $0.contains("\"acme\"") })
        }
        try await store.close()
    }
}
