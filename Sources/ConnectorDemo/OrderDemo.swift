import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorRuntime
import ConnectorSandbox
import ConnectorStore
import DynamicsClient
import DynamicsEmulator
import Foundation
import Logging
import WooCommerceClient
import WooCommerceEmulator

/// `mlc demo`: the main job end to end on the embedded default (SPEC §13). Both sandboxes run
/// in-process on loopback ports; a shop's day is played against them — catalog, customers,
/// paid orders with variations, a coupon, shipping and a fee, a guest, a second currency, a
/// partial refund, cash on delivery and an unpaid order — with signed webhooks (repeated, one
/// forged), F&O faults (a 429, a lost answer) and a second full replay; then both systems are
/// read back and reconciled. Any order missing, duplicated or off by a cent is a problem.
public struct OrderDemo: Sendable {
    public struct Report: Sendable {
        public var rows: [Reconciler.Row]
        public var problems: [String]
        public var notes: [String]
        public var storeURL: String
    }

    let storeURL: String
    let log: @Sendable (String) -> Void

    public init(storeURL: String, log: @escaping @Sendable (String) -> Void) {
        self.storeURL = storeURL
        self.log = log
    }

    static let connectionID = "demo"
    static let webhookSecret = "demoWebhookSecret0123456789abcdef"

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
        let quiet = Logger(label: "demo") { label in JSONLogHandler(label: label, sink: DiscardingSink(), level: .critical) }
        let woo = Sandbox.wooCommerce(logger: quiet)
        let dynamics = try Sandbox.dynamics(logger: quiet)
        let key = MasterKey.generate()
        var settings = try RuntimeSettings(environment: ["PORT": "0", "MLC_HOST": "127.0.0.1", "MLC_STORE_URL": storeURL])
        settings.port = 0
        let receiver = HTTPMode(function: "webhook-receiver",
                                handler: WebhookReceiverFunction(store: store, masterKey: key, settings: IntakeSettings(maxBodyBytes: settings.maxBodyBytes, retention: settings.retention)),
                                settings: settings, logger: quiet)
        let log = self.log
        let storeURL = self.storeURL
        return try await woo.withRunningServer { wooURL in
            try await dynamics.withRunningServer { foURL in
                try await receiver.withRunningServer { port in
                    try await Self.play(store: store, key: key, woo: woo, wooURL: wooURL, dynamics: dynamics, foURL: foURL,
                                        receiverURL: "http://127.0.0.1:\(port)", storeURL: storeURL, logger: quiet, log: log)
                }
            }
        }
    }

    private static func play(store: any KeyValueStore, key: MasterKey, woo: WooCommerceEmulator, wooURL: URL, dynamics: DynamicsEmulator, foURL: URL,
                             receiverURL: String, storeURL: String, logger: Logger, log: @Sendable (String) -> Void) async throws -> Report {
        var problems: [String] = []
        var notes: [String] = []
        let started = Date().addingTimeInterval(-60)
        let wooBase = wooURL.absoluteString.hasSuffix("/") ? String(wooURL.absoluteString.dropLast()) : wooURL.absoluteString
        let foBase = foURL.absoluteString.hasSuffix("/") ? String(foURL.absoluteString.dropLast()) : foURL.absoluteString
        let connectionJSON = Sandbox.connectionJSON(id: connectionID, wooURL: wooBase, woo: woo, dynamicsURL: foBase, webhookSecret: webhookSecret,
                                                    deliveryURL: "\(receiverURL)/webhooks/woocommerce/\(connectionID)", publishNew: true)
        let connection = try ConnectionFile.parse(Data(connectionJSON.utf8), source: "demo connection")
        try await ConnectionRepository(store: store).add(connection, key: key)
        log("1. Sandboxes up: WooCommerce \(wooBase) (OAuth 1.0a over plain HTTP), F&O + Entra \(foBase); webhook-receiver \(receiverURL).")
        log("   Connection '\(connectionID)' added, secrets sealed under an ephemeral master key \(key.id).")

        let clock = SystemWallClock()
        var retry = RetryPolicy()
        retry.maxRetryAfter = 5
        let remotes = LiveRemoteSystems(httpClient: .shared, store: store, clock: clock, sleeper: SystemSleeper(), retry: retry, logger: logger)
        let client = try remotes.woocommerce(connection)
        let ping = await ConnectionCheck(remotes: remotes).ping(connection)
        for result in ping where !result.ok { problems.append("ping \(result.system): \(result.detail)") }

        // 2. backfill-poll's first run creates the webhooks the connector manages; then the
        // catalog and a registered customer.
        let connections = StoredConnections(repository: ConnectionRepository(store: store), key: key)
        let backfill = BackfillPollFunction(poll: BackfillPoll(store: store, connections: connections, remotes: remotes, clock: clock),
                                            completion: OrderCompletion(store: store, connections: connections, remotes: remotes, clock: clock))
        let tick = CloudEvent(id: "demo-tick-1", source: "/ml-connector/demo", type: BackfillPollFunction.tick, data: Array("{\"connection\":\"\(connectionID)\"}".utf8))
        let firstPoll = await backfill.handle(event: tick, context: InvocationContext(function: "backfill-poll", invocationID: "demo-1", logger: logger))
        if firstPoll.kind != .done { problems.append("the first backfill-poll run: \(String(decoding: firstPoll.body, as: UTF8.self))") }
        let webhooks = try await client.allWebhooks().filter { $0.deliveryURL == connection.woocommerce.deliveryURL }
        if webhooks.count != connection.woocommerce.topics.count { problems.append("backfill-poll created \(webhooks.count) webhooks, expected \(connection.woocommerce.topics.count)") }
        let shop = SandboxShop(woo: woo)
        try await shop.configureTaxes()
        // The catalog comes from F&O: released products, variants, prices and available stock.
        let catalog = CatalogPush(store: store, connections: StoredConnections(repository: ConnectionRepository(store: store), key: key),
                                  remotes: remotes, clock: clock, sleeper: SystemSleeper())
        let pushed = try await catalog.push(connectionID: connectionID, logger: logger)
        if pushed.failed > 0 || pushed.safetyValve != nil { problems.append("catalog push: \(pushed.summary)\(pushed.safetyValve.map { " — \($0)" } ?? "")") }
        func productID(_ sku: String) async throws -> Int {
            guard let id = try await shop.send("/products?sku=\(sku)", method: "GET").arrayValue?.first?["id"]?.intValue else {
                throw ConnectorError.notFound("\(sku) was not pushed to the WooCommerce sandbox")
            }
            return id
        }
        let mug = try await productID("MUG-01")
        let poster = try await productID("POSTER-01")
        let tshirt = try await productID("TSHIRT-01")
        var variations: [Int] = []
        for sku in ["TSHIRT-01-M-BLUE", "TSHIRT-01-L-BLUE", "TSHIRT-01-M-RED"] { variations.append(try await productID(sku)) }
        _ = try await shop.send("/coupons", #"{"code":"welcome10","discount_type":"percent","amount":"10"}"#)
        let ada = try await shop.send("/customers", #"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","billing":{"first_name":"Ada","last_name":"Lovelace","address_1":"1 Main St","city":"Springfield","state":"CA","postcode":"90001","country":"US","email":"ada@example.com"}}"#)
        let adaID = ada["id"]?.intValue ?? 0
        log("2. Catalog pushed from F&O to WooCommerce (\(pushed.summary)): MUG-01, POSTER-01, TSHIRT-01 with 3 variations, prices and available stock; coupon welcome10; customer Ada (\(adaID)); backfill-poll created \(webhooks.count) webhooks → the receiver (\(webhooks.map(\.topic).joined(separator: ", "))).")

        // 3. A shop's day.
        let address = SandboxShop.californiaBilling
        var expected: [Int: DemoExpectation] = [:]
        let o1 = try await shop.order(#"{"customer_id":\#(adaID),"payment_method":"stripe","payment_method_title":"Card","set_paid":true,"billing":{"first_name":"Ada","last_name":"Lovelace","address_1":"1 Main St","city":"Springfield","state":"CA","postcode":"90001","country":"US","email":"ada@example.com"},"line_items":[{"product_id":\#(mug),"quantity":2}],"shipping_lines":[{"method_id":"flat_rate","method_title":"Flat rate","total":"5.00"}]}"#)
        expected[o1] = .init(label: "registered, card, shipping", posted: true, payment: true, refunds: 1)
        let o2 = try await shop.order(#"{"payment_method":"stripe","payment_method_title":"Card","set_paid":true,\#(address),"line_items":[{"product_id":\#(tshirt),"variation_id":\#(variations[0]),"quantity":2},{"product_id":\#(poster),"quantity":1}],"coupon_lines":[{"code":"welcome10"}],"fee_lines":[{"name":"Gift wrap","total":"3.00"}]}"#)
        expected[o2] = .init(label: "guest, variation, coupon, fee", posted: true, payment: true, refunds: 0)
        let o3 = try await shop.order(#"{"customer_id":\#(adaID),"currency":"EUR","payment_method":"stripe","payment_method_title":"Card","set_paid":true,"billing":{"first_name":"Ada","last_name":"Lovelace","address_1":"Hauptstr. 1","city":"Berlin","postcode":"10115","country":"DE","email":"ada@example.com"},"line_items":[{"product_id":\#(poster),"quantity":3}]}"#)
        expected[o3] = .init(label: "second currency (EUR)", posted: true, payment: true, refunds: 0)
        let o4 = try await shop.order(#"{"payment_method":"cod","payment_method_title":"Cash on delivery","status":"processing",\#(address),"line_items":[{"product_id":\#(tshirt),"variation_id":\#(variations[2]),"quantity":1}]}"#)
        expected[o4] = .init(label: "cash on delivery (no payment line)", posted: true, payment: false, refunds: 0)
        let o5 = try await shop.order(#"{"payment_method":"stripe","payment_method_title":"Card","set_paid":false,\#(address),"line_items":[{"product_id":\#(mug),"quantity":1}]}"#)
        expected[o5] = .init(label: "unpaid (pending): not posted", posted: false, payment: false, refunds: 0)
        _ = try await shop.send("/orders/\(o1)/refunds", #"{"amount":"12.50","reason":"One mug arrived broken","api_refund":false}"#)
        log("3. Orders placed: \(expected.keys.sorted().map { "\($0) (\(expected[$0]!.label))" }.joined(separator: ", ")); partial refund of 12.50 on \(o1).")

        // 4. Deliveries: each twice (WooCommerce repeats), and one forged.
        var faults = WooCommerceEmulator.Faults()
        faults.duplicateDeliveries = 1_000
        woo.setFaults(faults)
        let attempts = await woo.runDeliveries()
        woo.setFaults(.init())
        let failed = attempts.filter { !$0.succeeded }
        if !failed.isEmpty { problems.append("\(failed.count) webhook deliveries were not answered 2xx: \(failed.map { "\($0.topic) \($0.resourceID) → \($0.status.map(String.init) ?? "no answer")" })") }
        let forged = try await Self.forgedDelivery(to: connection.woocommerce.deliveryURL!, source: wooBase, orderID: o1)
        if forged != 401 { problems.append("a forged delivery was answered \(forged), not 401") }
        let pending = try await store.listAll(prefix: Keyspace.pending(connectionID, kind: "order")).count
        log("4. \(attempts.count) signed deliveries (every one sent twice) answered 2xx; the forged one \(forged); \(pending) orders pending for order-poster.")

        // 5. order-poster drains, through a 429 and an answer lost after F&O saved.
        var foFaults = DynamicsEmulator.Faults()
        foFaults.throttleNext = 1
        foFaults.throttleRetryAfter = 1
        foFaults.loseResponsesOfNextWrites = 1
        dynamics.setFaults(foFaults)
        let orderPoster = OrderPoster(store: store, connections: connections, remotes: remotes, clock: clock, sleeper: SystemSleeper())
        let posterFunction = OrderPosterFunction(poster: orderPoster, store: store,
                                                 customers: CustomerSync(store: store, connections: connections, remotes: remotes, clock: clock, retention: .seconds(86_400), sharingLeasesWith: orderPoster))
        let context = InvocationContext(function: "order-poster", invocationID: "demo", logger: logger)
        var drains = 0
        var outcome = Outcome.retry("not yet")
        while outcome.kind == .retry && drains < 5 {
            drains += 1
            // Later drains would wait out each retry delay; the demo does not wait.
            outcome = await posterFunction.drain(connection: connectionID, context: context, honourRetryDelays: drains == 1)
        }
        dynamics.setFaults(.init())
        log("5. order-poster: \(drains) drain(s) through a 429 and a lost answer → \(String(decoding: outcome.body, as: UTF8.self))")

        // 6. Everything again: a replay of every order must change nothing in F&O.
        let before = dynamics.records("SalesOrderHeadersV2").count + dynamics.records("SalesOrderLines").count + dynamics.records("CustomerPaymentJournalLines").count + dynamics.records("CustomersV3").count
        for id in expected.keys.sorted() {
            _ = await posterFunction.poster.post(connectionID: connectionID, orderID: id, logger: logger)
        }
        let after = dynamics.records("SalesOrderHeadersV2").count + dynamics.records("SalesOrderLines").count + dynamics.records("CustomerPaymentJournalLines").count + dynamics.records("CustomersV3").count
        if before != after { problems.append("replaying every order changed F&O: \(before) records before, \(after) after") }
        log("6. Replayed all \(expected.count) orders: F&O unchanged (\(after) records).")

        // 7. A delivery lost on the way: backfill-poll finds the order and it is posted.
        let o6 = try await shop.order(#"{"payment_method":"stripe","payment_method_title":"Card","set_paid":true,\#(address),"line_items":[{"product_id":\#(poster),"quantity":2}]}"#)
        expected[o6] = .init(label: "webhook lost, found by backfill-poll", posted: true, payment: true, refunds: 0)
        var drop = WooCommerceEmulator.Faults()
        drop.dropDeliveries = 1_000
        woo.setFaults(drop)
        let lost = await woo.runDeliveries()
        woo.setFaults(.init())
        let polled = await backfill.handle(event: CloudEvent(id: "demo-tick-2", source: tick.source, type: tick.type, data: tick.data),
                                           context: InvocationContext(function: "backfill-poll", invocationID: "demo-2", logger: logger))
        if polled.kind != .done { problems.append("backfill-poll: \(String(decoding: polled.body, as: UTF8.self))") }
        var drainsAfterPoll = 0
        repeat {
            drainsAfterPoll += 1
            outcome = await posterFunction.drain(connection: connectionID, context: context, honourRetryDelays: false)
        } while outcome.kind == .retry && drainsAfterPoll < 5
        log("7. Order \(o6) placed with its \(lost.count) deliveries dropped; backfill-poll handed it on → order-poster posted it as WC\(o6).")

        // 8. F&O invoices order \(o1) in full: its business event reaches webhook-receiver, and
        // backfill-poll completes the WooCommerce order with the invoice number in a note.
        let code = try await ConnectionRepository(store: store).load(connectionID, key: key).dynamics.businessEventCode.reveal()
        dynamics.setBusinessEventEndpoint("\(receiverURL)/events/dynamics/\(connectionID)?code=\(code)", company: "usmf")
        let invoice = try await dynamics.markInvoiced(company: "usmf", salesOrderNumber: "WC\(o1)")
        let completed = await backfill.handle(event: CloudEvent(id: "demo-tick-3", source: tick.source, type: tick.type, data: tick.data),
                                              context: InvocationContext(function: "backfill-poll", invocationID: "demo-3", logger: logger))
        if completed.kind != .done { problems.append("backfill-poll (completion): \(String(decoding: completed.body, as: UTF8.self))") }
        let o1Status = try await shop.send("/orders/\(o1)", method: "GET")["status"]?.stringValue ?? "?"
        let o1Notes = try await shop.send("/orders/\(o1)/notes", method: "GET").arrayValue?.compactMap { $0["note"]?.stringValue } ?? []
        if o1Status != "completed" { problems.append("order \(o1) was invoiced in F&O (\(invoice)) but is \(o1Status) in WooCommerce") }
        if !o1Notes.contains(where: { $0.contains(invoice) }) { problems.append("order \(o1) has no note naming invoice \(invoice)") }
        let o2Status = try await shop.send("/orders/\(o2)", method: "GET")["status"]?.stringValue ?? "?"
        if o2Status == "completed" { problems.append("order \(o2) was completed without an invoice") }
        log("8. F&O invoiced WC\(o1) as \(invoice); the business event reached webhook-receiver; backfill-poll set WooCommerce order \(o1) \(o1Status) with a note naming \(invoice). Order \(o2) (not invoiced) stays \(o2Status).")
        // The status change is delivered like any other: order-poster sees nothing new to post.
        _ = await woo.runDeliveries()
        _ = await posterFunction.drain(connection: connectionID, context: context, honourRetryDelays: false)

        // 9. Read back and reconcile.
        let rows = try await Reconciler(store: store, remotes: remotes).report(connection: connection, since: started)
        for row in rows where !row.isOK { problems.append("order \(row.number): \(row.differences.joined(separator: "; "))") }
        let headers = dynamics.records("SalesOrderHeadersV2")
        let journal = dynamics.records("CustomerPaymentJournalLines")
        for (id, expectation) in expected.sorted(by: { $0.key < $1.key }) {
            let count = headers.filter { $0["CustomersOrderReference"]?.stringValue == "WC\(id)" }.count
            if count != (expectation.posted ? 1 : 0) { problems.append("order \(id) (\(expectation.label)): \(count) F&O sales orders, expected \(expectation.posted ? 1 : 0)") }
            let payments = journal.filter { $0["PaymentReference"]?.stringValue == "WC\(id)P" }.count
            if payments != (expectation.payment ? 1 : 0) { problems.append("order \(id) (\(expectation.label)): \(payments) payment lines, expected \(expectation.payment ? 1 : 0)") }
            let refunds = journal.filter { ($0["PaymentReference"]?.stringValue ?? "").hasPrefix("WC\(id)R") }.count
            if refunds != expectation.refunds { problems.append("order \(id) (\(expectation.label)): \(refunds) refund lines, expected \(expectation.refunds)") }
        }
        if rows.count != expected.count { problems.append("reconciliation saw \(rows.count) orders, expected \(expected.count)") }
        let parked = try await AuditRecords(store: store, clock: clock, retention: .seconds(60)).list(connection: connectionID, state: .parked)
        for record in parked { problems.append("order \(record.id) parked: \(record.reason ?? "")") }
        notes.append("F&O now holds \(headers.count) sales orders, \(dynamics.records("SalesOrderLines").count) lines, \(journal.count) payment journal lines, \(dynamics.records("CustomersV3").count) customers.")
        notes.append("Audit: mlc audit list --store \(storeURL)   then   mlc audit show \(connectionID):order:\(o1) --store \(storeURL)")
        notes.append("Operator's view: mlc status --store \(storeURL)")
        return Report(rows: rows, problems: problems, notes: notes, storeURL: storeURL)
    }

    /// A delivery with a valid shape and a wrong signature, as an attacker would send it.
    static func forgedDelivery(to url: String, source: String, orderID: Int) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "X-WC-Webhook-Source", value: source + "/")
        request.headers.add(name: "X-WC-Webhook-Topic", value: "order.updated")
        request.headers.add(name: "X-WC-Webhook-Resource", value: "order")
        request.headers.add(name: "X-WC-Webhook-Event", value: "updated")
        request.headers.add(name: "X-WC-Webhook-ID", value: "1")
        request.headers.add(name: "X-WC-Webhook-Delivery-ID", value: "forged")
        request.headers.add(name: "X-WC-Webhook-Signature", value: "bm90IHRoZSByaWdodCBzaWduYXR1cmUgYXQgYWxsIQ==")
        request.body = .bytes(Array(#"{"id":\#(orderID),"status":"cancelled"}"#.utf8))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 64 * 1024)
        return Int(response.status.code)
    }
}

struct DemoExpectation {
    var label: String
    var posted: Bool
    var payment: Bool
    var refunds: Int
}

/// Drops log lines (the demo prints its own story).
struct DiscardingSink: LogSink {
    func write(line: String) {}
}
