import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorRuntime
import ConnectorStore
import ConnectorTestSupport
import DynamicsClient
import DynamicsEmulator
import Foundation
import Logging
import Testing
import WooCommerceClient
import WooCommerceEmulator

/// The probe `mlc connection ping` uses.
let testProbe = LiveConnectionProbe(logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })

/// `mlc connection ping` against both sandboxes, healthy and with each known failure switched on.
@Suite struct ConnectionPingTests {
    func ping(_ h: PostingHarness, _ connection: Connection? = nil) async -> [String: ConnectionCheck.Result] {
        let results = await ConnectionCheck(remotes: h.remotes, probe: testProbe).ping(connection ?? h.connection)
        #expect(results.map(\.system) == ["F&O", "F&O read", "F&O default company", "WooCommerce", "WooCommerce webhooks"], "\(results.map(\.line))")
        return Dictionary(results.map { ($0.system, $0) }, uniquingKeysWith: { a, _ in a })
    }

    @Test("a healthy sandbox passes every step; a missing or paused webhook is a warning, not a failure")
    func healthy() async throws {
        try await PostingHarness.run { h in
            let before = await ConnectionCheck(remotes: h.remotes, probe: testProbe).ping(h.connection)
            #expect(ConnectionCheck.passed(before))
            #expect(before.last?.status == .warning, "no webhook yet: \(before.last?.line ?? "")")
            #expect(before.last?.fix.contains("backfill-poll") == true)

            try await h.createWebhooks()
            let count = try await h.remotes.woocommerce(h.connection).allWebhooks().count
            #expect(count >= 2)
            let steps = await ping(h)
            for (name, step) in steps { #expect(step.status == .ok, "\(name): \(step.line)") }
            #expect(ConnectionCheck.passed(Array(steps.values)))
            #expect(steps["F&O"]?.detail.contains("token for \(h.dynamicsURL.absoluteString.lowercased().trimmingCharacters(in: ["/"]))") == true, "\(steps["F&O"]?.line ?? "")")
            #expect(steps["F&O read"]?.detail.contains("legal entity usmf") == true)
            #expect(steps["WooCommerce"]?.detail.contains("auth oauth1") == true)
            #expect(steps["WooCommerce webhooks"]?.detail.contains("\(count) webhooks, \(count) to \(h.connection.woocommerce.deliveryURL!), all of them active") == true, "\(steps["WooCommerce webhooks"]?.line ?? "")")
            #expect(steps.values.allSatisfy { $0.line.hasPrefix("\($0.system): ok (") && $0.line.contains(" ms) — ") })

            // A webhook paused in the store is named.
            let client = try h.remotes.woocommerce(h.connection)
            let first = try #require(try await client.allWebhooks().first)
            _ = try await client.updateWebhook(first.id, WooWebhookUpdate(status: "paused"))
            let paused = await ping(h)
            #expect(paused["WooCommerce webhooks"]?.status == .warning)
            #expect(paused["WooCommerce webhooks"]?.detail.contains("#\(first.id) \(first.topic) paused") == true, "\(paused["WooCommerce webhooks"]?.line ?? "")")
            #expect(ConnectionCheck.passed(Array(paused.values)))
        }
    }

    @Test("a wrong client secret fails the token step with AADSTS7000215 and says to set the secret's value")
    func wrongClientSecret() async throws {
        try await PostingHarness.run { h in
            var connection = h.connection
            connection.dynamics.clientSecret = SecretValue("not-the-secret")
            let steps = await ping(h, connection)
            let token = try #require(steps["F&O"])
            #expect(token.status == .failed)
            #expect(token.detail.contains("AADSTS7000215"), "\(token.line)")
            #expect(token.fix.hasPrefix("wrong client secret"), "\(token.line)")
            #expect(token.fix.contains("mlc connection set-secret acme dynamics.clientSecret"))
            #expect(steps["F&O read"]?.status == .skipped)
            #expect(steps["WooCommerce"]?.status == .ok, "the other side is still checked")
            #expect(!ConnectionCheck.passed(Array(steps.values)))
            #expect(!token.line.contains("not-the-secret"), "the line never shows the secret")
        }
    }

    @Test("an environment URL Entra does not know fails the token step with AADSTS500011 and says to fix environmentURL")
    func wrongEnvironmentURL() async throws {
        var options = PostingHarness.Options()
        options.dynamics.environmentURL = "https://contoso-prod.operations.dynamics.com"
        try await PostingHarness.run(options: options) { h in
            let steps = await ping(h)
            let token = try #require(steps["F&O"])
            #expect(token.status == .failed)
            #expect(token.detail.contains("AADSTS500011"), "\(token.line)")
            #expect(token.fix.hasPrefix("wrong environment URL"), "\(token.line)")
            #expect(token.fix.contains("dynamics.environmentURL"))
            #expect(!ConnectionCheck.passed(Array(steps.values)))
        }
    }

    @Test("Basic auth over plain HTTP: the store's 401 woocommerce_rest_cannot_view is explained (HTTPS or oauth1)")
    func basicOverPlainHTTP() async throws {
        try await PostingHarness.run { h in
            var connection = h.connection
            connection.woocommerce.authMode = .basic
            let steps = await ping(h, connection)
            let products = try #require(steps["WooCommerce"])
            #expect(products.status == .failed)
            #expect(products.detail.contains("401") && products.detail.contains("woocommerce_rest_cannot_view"), "\(products.line)")
            #expect(products.fix.hasPrefix("Basic auth needs HTTPS"), "\(products.line)")
            #expect(products.fix.contains("oauth1"))
            #expect(steps["WooCommerce webhooks"]?.status == .skipped)
            #expect(steps["F&O"]?.status == .ok)
            #expect(!ConnectionCheck.passed(Array(steps.values)))
        }
    }

    @Test("an F&O user whose default company is not the legal entity: a warning naming the company, cross-company reads still pass")
    func defaultCompanyDiffers() async throws {
        var options = PostingHarness.Options()
        let other = DynamicsEmulator.Client(clientId: "22222222-2222-4222-8222-222222222222", clientSecret: "second-app-secret~42", defaultCompany: "demf")
        options.dynamics.additionalClients = [other]
        try await PostingHarness.run(options: options) { h in
            var connection = h.connection
            connection.dynamics.clientId = other.clientId
            connection.dynamics.clientSecret = SecretValue(other.clientSecret)
            #expect(!h.rows("CustomersV3", "dataAreaId", "usmf").isEmpty, "usmf has customers")
            let steps = await ping(h, connection)
            #expect(steps["F&O"]?.status == .ok)
            #expect(steps["F&O read"]?.status == .ok, "\(steps["F&O read"]?.line ?? "")")
            let company = try #require(steps["F&O default company"])
            #expect(company.status == .warning, "\(company.line)")
            #expect(company.fix == "the app's F&O user has another default company than usmf; the connector always reads with cross-company=true, but check the user's company in F&O (System administration > Users)")
            #expect(ConnectionCheck.passed(Array(steps.values)), "a warning does not fail the ping")

            // The standard client's default company is usmf: no warning.
            #expect(await ping(h)["F&O default company"]?.status == .ok)
        }
    }

    @Test("a store certificate the client does not trust (tls_failed) maps to the caCertificatePEM fix")
    func untrustedCertificateFix() throws {
        let connection = try TestConnections.make(id: "acme", webhookSecret: "w")
        let tls = WooCommerceError(status: nil, code: "tls_failed", message: "certificate verify failed: self signed certificate", request: "GET /wp-json/wc/v3/products")
        #expect(ConnectionCheck.wooFix(tls, connection: connection).contains("woocommerce.caCertificatePEM"))
        // Codes, not message text, choose the fix.
        let refused = WooCommerceError(status: 401, code: "woocommerce_rest_authentication_error", message: "certificate", request: "GET /wp-json/wc/v3/products")
        #expect(!ConnectionCheck.wooFix(refused, connection: connection).contains("caCertificatePEM"))
        #expect(ConnectionCheck.wooFix(refused, connection: connection).contains("consumerSecret"))
        // Over HTTPS the anonymous 401 is not blamed on Basic-over-HTTP.
        let anonymous = WooCommerceError(status: 401, code: "woocommerce_rest_cannot_view", message: "Sorry, you cannot list resources.")
        #expect(!ConnectionCheck.wooFix(anonymous, connection: connection).hasPrefix("Basic auth needs HTTPS"))
        #expect(ConnectionCheck.entraFix(ConnectorError.credentialsRejected("Entra ID refused client x (invalid_client AADSTS7000222)"), connection: connection).contains("expired"))
    }
}

/// `mlc connection set-secret NAME woocommerce.webhookSecret` re-keys the store's webhooks.
@Suite struct WebhookSecretTests {
    @Test("the new webhook secret reaches exactly the webhooks to the deliveryURL, and their deliveries verify with it")
    func propagatesToTheConnectionsWebhooks() async throws {
        try await PostingHarness.run { h in
            // A receiver of our own that reads the connection on every delivery (the harness's
            // keeps it 2 s of real time), so it verifies with whatever secret is stored now.
            let connections = StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: SystemWallClock(), freshness: 0)
            let handler = WebhookReceiverFunction(intake: WebhookIntake(store: h.store, connections: connections, settings: IntakeSettings()))
            var settings = try RuntimeSettings(environment: ["PORT": "0", "MLC_HOST": "127.0.0.1"])
            settings.port = 0
            try await HTTPMode(function: "webhook-receiver", handler: handler, settings: settings, logger: h.logger).withRunningServer { port in
                var connection = h.connection
                connection.woocommerce.deliveryURL = "http://127.0.0.1:\(port)/webhooks/woocommerce/\(connection.id)"
                let client = try h.remotes.woocommerce(connection)
                var ours: Set<Int> = []
                for topic in ["order.created", "order.updated"] {
                    ours.insert(try await client.createWebhook(name: "ml-connector \(topic)", topic: topic, deliveryURL: connection.woocommerce.deliveryURL!, secret: "s3cretForTests").id)
                }
                let elsewhere = try await client.createWebhook(name: "another app", topic: "order.created", deliveryURL: "http://127.0.0.1:9/hooks", secret: "theirs")
                _ = try await h.paidOrder()
                let before = await h.woo.runDeliveries().filter { ours.contains($0.webhookID) && $0.topic.hasPrefix("order.") }
                #expect(!before.isEmpty && before.allSatisfy(\.succeeded), "old secret, before the change: \(before.map(\.status))")

                // The secret is stored first (as set-secret does): deliveries still signed with the old one are refused.
                try await ConnectionRepository(store: h.store).setSecret(connection.id, field: "woocommerce.webhookSecret", value: SecretValue("n3w-webhook-secret"), key: h.key)
                _ = try await h.paidOrder()
                let refused = await h.woo.runDeliveries().filter { ours.contains($0.webhookID) && $0.topic.hasPrefix("order.") }
                #expect(!refused.isEmpty && refused.allSatisfy { !$0.succeeded }, "old-secret deliveries after the change: \(refused.map(\.status))")

                connection.woocommerce.webhookSecret = try await ConnectionRepository(store: h.store).load(connection.id, key: h.key).woocommerce.webhookSecret
                #expect(connection.woocommerce.webhookSecret.reveal() == "n3w-webhook-secret")
                let outcome = try await WebhookSecrets.propagate(connection, using: client)
                #expect(Set(outcome.updated) == ours)
                #expect(!outcome.updated.contains(elsewhere.id))
                #expect(outcome.total == (try await client.allWebhooks().count))

                _ = try await h.paidOrder()
                let verified = await h.woo.runDeliveries().filter { ours.contains($0.webhookID) && $0.topic.hasPrefix("order.") }
                #expect(!verified.isEmpty && verified.allSatisfy(\.succeeded), "new-secret deliveries: \(verified.map(\.status))")

                // Running it again is harmless.
                #expect(Set(try await WebhookSecrets.propagate(connection, using: client).updated) == ours)
            }
        }
    }

    @Test("a store that cannot be reached is a clear error; no deliveryURL is refused with the fix")
    func unreachableStoreAndNoDeliveryURL() async throws {
        try await PostingHarness.run { h in
            // A refused connection: AsyncHTTPClient retries connecting until the request's
            // deadline, so the client gets a short one.
            let unreachable = try WooCommerceClient(
                configuration: .init(baseURL: "http://127.0.0.1:1", consumerKey: "ck", consumerSecret: "cs", authMode: .oauth1, sandbox: true, requestTimeout: 0.3),
                httpClient: .shared)
            do {
                _ = try await WebhookSecrets.propagate(h.connection, using: unreachable)
                Issue.record("an unreachable store was reported as updated")
            } catch let error as WooCommerceError {
                #expect(error.status == nil && ["transport_failed", "transport_timeout"].contains(error.code), "\(error)")
                #expect(error.connectorError.disposition == .transient)
            }
            var noURL = h.connection
            noURL.woocommerce.deliveryURL = nil
            await #expect(throws: ConnectorError.invalidConfiguration) {
                _ = try await WebhookSecrets.propagate(noURL, using: try h.remotes.woocommerce(noURL))
            }
        }
    }
}
