import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRuntime
import ConnectorSamples
import ConnectorStore
import Foundation
import Logging
import NIOCore
import WooCommerceAPI

/// `mlc demo` as far as this build goes: every real WooCommerce delivery in the captures is sent
/// over loopback HTTP to a live webhook-receiver on a throwaway store, with duplicates, a forged
/// one and one from a cloned staging site; then the store is read back and checked.
public struct WebhookDemo: Sendable {
    public struct Row: Sendable {
        public var delivery: String
        public var topic: String
        public var expected: Int
        public var status: Int
        public var result: String
        public var ok: Bool { expected == status }
    }

    public struct Report: Sendable {
        public var rows: [Row]
        public var pendingOrders: [String]
        public var pendingCustomers: [String]
        public var deliveryRecords: Int
        public var unusableRecords: Int
        public var auditLines: Int
        public var alerts: Int
        public var problems: [String]
        public var storeURL: String
    }

    let storeURL: String
    let log: @Sendable (String) -> Void

    public init(storeURL: String, log: @escaping @Sendable (String) -> Void) {
        self.storeURL = storeURL
        self.log = log
    }

    public func run() async throws -> Report {
        let store = try await StoreFactory.open(storeURL)
        do {
            let report = try await run(store: store)
            try await store.close()
            return report
        } catch {
            try? await store.close()
            throw error
        }
    }

    private func run(store: any KeyValueStore) async throws -> Report {
        let key = MasterKey.generate()
        let connectionJSON = """
            {"schemaVersion":1,"id":"demo","sandbox":true,
             "woocommerce":{"baseURL":"\(Samples.captureStoreURL)","consumerKey":"ck_demo","consumerSecret":"cs_demo","webhookSecret":"\(Samples.captureWebhookSecret)"},
             "dynamics":{"environmentURL":"https://demo.operations.dynamics.com","tenantId":"demo-tenant","clientId":"demo-client","clientSecret":"demo-client-secret","legalEntity":"usmf"}}
            """
        let connection = try ConnectionFile.parse(Data(connectionJSON.utf8), source: "demo connection")
        try await ConnectionRepository(store: store).add(connection, key: key)
        log("Connection 'demo' added (secrets sealed under an ephemeral master key \(key.id)).")

        let deliveries = try Samples.realDeliveries()
        var logger = Logger(label: "webhook-receiver") { label in JSONLogHandler(label: label, sink: DiscardingSink(), level: .critical) }
        logger.logLevel = .critical
        var settings = try RuntimeSettings(environment: ["PORT": "0", "MLC_HOST": "127.0.0.1", "MLC_STORE_URL": storeURL])
        settings.port = 0
        let handler = WebhookReceiverFunction(store: store, masterKey: key, settings: IntakeSettings(maxBodyBytes: settings.maxBodyBytes, retention: settings.retention))
        let server = HTTPMode(function: "webhook-receiver", handler: handler, settings: settings, logger: logger)

        let rows: [Row] = try await server.withRunningServer { port in
            let url = "http://127.0.0.1:\(port)/webhooks/woocommerce/demo"
            var rows: [Row] = []
            for delivery in deliveries {
                rows.append(try await Self.send(delivery, to: url, label: delivery.name, expected: 200))
            }
            for name in ["05", "19", "21"] {
                let delivery = try Samples.realDelivery(name)
                for round in 1...3 {
                    rows.append(try await Self.send(delivery, to: url, label: "\(delivery.name) (repeat \(round))", expected: 200))
                }
            }
            var forged = try Samples.realDelivery("05")
            forged.body[10] ^= 0x01
            rows.append(try await Self.send(forged, to: url, label: "05 with one byte changed (forged)", expected: 401))
            var staging = try Samples.realDelivery("19")
            staging.headers = staging.headers.map { $0.name == "X-WC-Webhook-Source" ? ($0.name, "https://staging.example.com/") : $0 }
            rows.append(try await Self.send(staging, to: url, label: "19 from a cloned staging site", expected: 403))
            return rows
        }

        let pending = try await store.listAll(prefix: Keyspace.pending("demo"))
        let records = try await store.listAll(prefix: Keyspace.deliveries("demo")).compactMap { try? DeliveryRecord.decode($0.value) }
        let audit = try await AuditTrail(store: store, clock: SystemWallClock(), retention: .seconds(60)).list(connection: "demo")
        let alerts = try await AlertCenter(store: store, clock: SystemWallClock()).list(connection: "demo")
        let pendingOrders = pending.filter { $0.key.contains("/order/") }.map { String($0.key.split(separator: "/").last!) }.sorted { Int($0)! < Int($1)! }
        let pendingCustomers = pending.filter { $0.key.contains("/customer/") }.map { String($0.key.split(separator: "/").last!) }

        var problems: [String] = rows.filter { !$0.ok }.map { "\($0.delivery): expected HTTP \($0.expected), got \($0.status)" }
        let signed = deliveries.filter(\.signed)
        if records.count != signed.count {
            problems.append("expected one delivery record per distinct signed delivery (\(signed.count)), found \(records.count)")
        }
        let expectedOrders = Set(signed.filter { ($0.header("X-WC-Webhook-Topic") ?? "").hasPrefix("order.") && $0.header("X-WC-Webhook-Topic") != "order.deleted" }
            .compactMap { if case .resource(let id) = DeliveryBody.classify($0.body) { String(id) } else { nil } })
        if Set(pendingOrders) != expectedOrders {
            problems.append("pending orders \(pendingOrders) differ from the orders delivered \(expectedOrders.sorted())")
        }
        if audit.count != 2 {
            problems.append("expected 2 audit lines (the forged and the staging delivery), found \(audit.count)")
        }
        return Report(rows: rows, pendingOrders: pendingOrders, pendingCustomers: pendingCustomers, deliveryRecords: records.count,
                      unusableRecords: records.filter { $0.state == .unusable }.count, auditLines: audit.count, alerts: alerts.count,
                      problems: problems, storeURL: storeURL)
    }

    static func send(_ delivery: CapturedDelivery, to url: String, label: String, expected: Int) async throws -> Row {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in delivery.headers where !["host", "content-length", "connection", "accept-encoding"].contains(name.lowercased()) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(delivery.body)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        var body = try await response.body.collect(upTo: 64 * 1024)
        let text = body.readString(length: body.readableBytes) ?? ""
        let status = Int(response.status.code)
        var result = text
        if let object = (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] {
            if let status = object["status"] as? String { result = status }
            else if let error = object["error"] as? String { result = error }
            else if let ping = object["ping"] { result = "ping of webhook \(ping)" }
        }
        return Row(delivery: label, topic: delivery.header("X-WC-Webhook-Topic") ?? "(ping)", expected: expected, status: status, result: result)
    }
}

/// Drops log lines (the demo prints its own table).
struct DiscardingSink: LogSink {
    func write(line: String) {}
}
