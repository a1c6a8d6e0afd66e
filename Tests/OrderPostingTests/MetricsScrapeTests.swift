import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
@testable import ConnectorRemotes
import ConnectorFlows
import ConnectorRuntime
import ConnectorStore
import ConnectorTestSupport
import CoreMetrics
import DynamicsClient
import DynamicsEmulator
import WooCommerceEmulator
import Foundation
import Logging
import NIOHTTP1
import Synchronization
import Testing

/// SPEC §11 and issue 8's must-show: `/metrics`, scraped from a fresh process after real flows
/// ran on the same store, shows the flows' gauges with the right values — and the process that
/// ran the flows counted its F&O and WooCommerce calls.
@Suite struct MetricsScrapeTests {
    static func get(_ url: String, method: NIOHTTP1.HTTPMethod = .GET, headers: [(String, String)] = [], body: String? = nil) async throws -> (status: Int, text: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(Array(body.utf8)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), buffer.readString(length: buffer.readableBytes) ?? "")
    }

    @Test func aFreshServerOverTheSameStoreShowsTheFlowsGauges() async throws {
        let directory = TemporaryDirectory.make("mlc-metrics")
        let url = "sqlite:\(directory.appendingPathComponent("state.sqlite").path)"
        let key = MasterKey.generate()
        let flows = ProcessMetrics()
        let end = Mutex<Date?>(nil)
        let emulatorCalls = Mutex<[String: Int]>([:])

        // 1. The flows, in "another process": the sandboxes, one order posted, one parked (its
        //    payment method is not mapped), one left pending for 90 s; the call metrics go to `flows`.
        let first = try await StoreFactory.open(url)
        try await withMetricsFactory(flows.factory) {
            try await PostingHarness.run(store: first, options: PostingHarness.Options(), key: key) { h in
                let posted = try await h.paidOrder()
                let unmapped = try await h.paidOrder(paymentMethod: "paypal")
                // F&O throttles once on the way (Retry-After 7 s, waited through the recording sleeper).
                var faults = DynamicsEmulator.Faults()
                faults.throttleNext = 1
                faults.throttleRetryAfter = 7
                h.dynamics.setFaults(faults)
                #expect(await h.post(posted) == .posted(salesOrderNumber: "WC\(posted)"))
                guard case .parked = await h.post(unmapped) else { Issue.record("expected parked"); return }
                let waiting = try await h.paidOrder()
                try await h.store.set(Keyspace.pending("acme", kind: "order", resourceID: String(waiting)),
                                      PendingWork(connection: "acme", kind: "order", resourceID: String(waiting), firstSeenAt: h.clock.now(), origin: "test").encoded())
                h.clock.advance(by: 90)
                end.withLock { $0 = h.clock.now() }
                // What the F&O sandbox itself saw (token requests are not OData calls).
                for entry in h.dynamics.requestLog where entry.tokenValid != nil {
                    emulatorCalls.withLock { $0["\(entry.method) \(entry.status)", default: 0] += 1 }
                }
            }
        }
        try await first.close()
        let now = try #require(end.withLock { $0 })

        // The calls the flows made, as their own audit timelines recorded them (a second observer
        // of the same client), agree with the call counters by method and status.
        let reopened = try await StoreFactory.open(url)
        let records = try await AuditRecords(store: reopened, clock: ManualWallClock(now), retention: .seconds(86_400)).list(connection: "acme")
        var timelineCalls: [String: Int] = [:]
        for record in records {
            for event in record.timeline where event.step == "call" && event.detail == "F&O" {
                let parts = (event.call ?? "").components(separatedBy: " ")
                let status = (event.call ?? "").components(separatedBy: "→ ").last?.components(separatedBy: " ").first ?? "?"
                timelineCalls["\(parts.first ?? "?") \(status)", default: 0] += 1
            }
        }
        let callScrape = MetricsExposition(flows.render())
        var counted: [String: Int] = [:]
        for sample in callScrape.samples(named: "mlc_fo_calls_total") {
            #expect(sample.labels["host"] == "127.0.0.1")
            counted["\(sample.labels["method"] ?? "?") \(sample.labels["status"] ?? "?")", default: 0] += Int(sample.value)
        }
        #expect(!timelineCalls.isEmpty)
        #expect(counted == emulatorCalls.withLock { $0 }, "\(counted) vs the sandbox's log \(emulatorCalls.withLock { $0 })")
        // The sandbox throttles inside the `$batch` (a 429 part in a 200 answer): the status label
        // is the HTTP one, the throttle is counted where throttledUntil is written.
        #expect(callScrape.value("mlc_fo_throttled_total", ["host": "127.0.0.1"]) == 1)
        #expect(counted == timelineCalls, "\(callScrape.samples(named: "mlc_fo_calls_total").map { "\($0.labels) \($0.value)" })")
        #expect(callScrape.samples(named: "mlc_fo_calls_total").allSatisfy { $0.labels["entity"] != "other" })
        #expect(callScrape.samples(named: "mlc_fo_call_duration_seconds_count").reduce(0) { $0 + $1.value } == Double(timelineCalls.values.reduce(0, +)))
        // Both orders were read from WooCommerce (their ids are not labels).
        let wooOrderReads = callScrape.samples(named: "mlc_woo_calls_total").filter { $0.labels["resource"] == "orders" && $0.labels["method"] == "GET" && $0.labels["status"] == "200" }
        #expect(wooOrderReads.reduce(0) { $0 + $1.value } >= 2, "\(callScrape.samples(named: "mlc_woo_calls_total").map { "\($0.labels) \($0.value)" })")
        #expect(callScrape.samples(named: "mlc_woo_calls_total").allSatisfy { !($0.labels["resource"] ?? "").contains(where: \.isNumber) })

        // 2. A fresh webhook-receiver over the same file, with its own (empty) process metrics.
        let fresh = ProcessMetrics()
        let endpoint = MetricsEndpoint(process: fresh, store: reopened, gauges: StatusMetrics.gauges, clock: ManualWallClock(now))
        var settings = try RuntimeSettings(environment: ["PORT": "0", "MLC_HOST": "127.0.0.1"])
        settings.port = 0
        let (logger, _) = TestLogging.logger()
        let receiver = WebhookReceiverFunction(store: reopened, masterKey: key, settings: IntakeSettings())
        try await HTTPMode(function: "webhook-receiver", handler: receiver, settings: settings, logger: logger, metrics: endpoint).withRunningServer { port in
            let base = "http://127.0.0.1:\(port)"
            let scraped = try await Self.get(base + "/metrics")
            #expect(scraped.status == 200)
            let scrape = MetricsExposition(scraped.text)
            let acme = ["connection": "acme"]
            #expect(scrape.value("mlc_store_gauges_up") == 1)
            #expect(scrape.value("mlc_connections") == 1)
            #expect(scrape.value("mlc_connection_gauges_up", acme) == 1)
            #expect(scrape.value("mlc_pending_orders", acme) == 1)
            // 90 s on the injected clock (the store keeps the time to the millisecond).
            let age = try #require(scrape.value("mlc_oldest_pending_order_age_seconds", acme))
            #expect(abs(age - 90) < 0.001, "\(age)")
            #expect(scrape.value("mlc_pending_customers", acme) == 0)
            #expect(scrape.value("mlc_paused", acme) == 0)
            #expect(scrape.value("mlc_fo_throttled", acme) == 0)
            #expect(scrape.value("mlc_records", ["connection": "acme", "kind": "order", "state": "posted"]) == 1)
            #expect(scrape.value("mlc_records", ["connection": "acme", "kind": "order", "state": "parked"]) == 1)
            let parked = scrape.samples(named: "mlc_parked_records")
            #expect(parked.count == 1)
            #expect(parked.first?.value == 1)
            #expect(parked.first?.labels["connection"] == "acme")
            #expect(parked.first?.labels["reason"]?.contains("paypal") == true, "\(parked.map(\.labels))")
            #expect(scrape.value("mlc_alert_window_count", ["connection": "acme", "reason": "record-parked"]) == 1)
            #expect(scrape.type("mlc_pending_orders") == "gauge")
            #expect(scrape.samples(named: "mlc_requests_total").isEmpty)
            #expect(scrape.samples(named: "mlc_fo_calls_total").isEmpty, "a fresh process has made no calls")

            // A forged delivery is refused — and counted.
            let forged = try await Self.get(base + "/webhooks/woocommerce/acme", method: .POST, headers: [
                ("content-type", "application/json"), ("x-wc-webhook-topic", "order.updated"), ("x-wc-webhook-resource", "order"),
                ("x-wc-webhook-event", "updated"), ("x-wc-webhook-signature", "bm90IHRoZSBzaWduYXR1cmU="), ("x-wc-webhook-id", "1"),
                ("x-wc-webhook-delivery-id", "forged-1"),
            ], body: #"{"id":1}"#)
            let after = MetricsExposition(try await Self.get(base + "/metrics").text)
            let requests = after.samples(named: "mlc_requests_total")
            #expect(requests.count == 1)
            #expect(requests.first?.labels["function"] == "webhook-receiver")
            #expect(requests.first?.labels["status"] == String(forged.status))
            #expect(requests.first?.labels["outcome"] == (forged.status < 300 ? "done" : "reject"))
            #expect(requests.first?.value == 1)
            // The gauges are still read from the store, not cached from the first scrape.
            #expect(after.value("mlc_pending_orders", acme) == 1)
        }
        try await reopened.close()
    }

    /// As an operator would: `mlc demo` on a SQLite file, then the order-poster binary in http
    /// mode over that file (a fresh process that ran nothing), scraped over loopback. Its gauges
    /// must say what `mlc status` reads from the same file.
    @Test func theOrderPosterBinaryScrapedAfterMlcDemo() async throws {
        let directory = TemporaryDirectory.make("mlc-metrics-cli")
        let url = "sqlite:\(directory.appendingPathComponent("demo.sqlite").path)"
        let demo = try await ProcessRunner.run(try PackagePaths.executable("mlc"), ["demo", "--store", url], timeout: 300)
        #expect(demo.status == 0, "\(demo.stdout)\(demo.stderr)")

        let poster = try ProcessRunner.start(try PackagePaths.executable("order-poster"), [], environment: [
            "MLC_MODE": "http", "PORT": "0", "MLC_HOST": "127.0.0.1", "MLC_STORE_URL": url, "MLC_MASTER_KEY": Self.randomKey(),
        ])
        defer { if poster.process.isRunning { poster.signal(SIGKILL) } }
        #expect(await poster.waitForOutput(timeout: 60) { $0.contains("http.listening") }, "\(poster.stdoutSoFar)\(poster.stderrSoFar)")
        let line = try #require(poster.stdoutSoFar.split(separator: "\n").first { $0.contains("http.listening") })
        let object = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        let port = try #require((object["port"] as? String).flatMap(Int.init) ?? object["port"] as? Int)
        let scraped = try await Self.get("http://127.0.0.1:\(port)/metrics")
        poster.signal(SIGTERM)
        let ended = try await poster.wait(timeout: 30)
        #expect(ended.status == 0, "\(ended.stdout)\(ended.stderr)")
        #expect(scraped.status == 200)

        let scrape = MetricsExposition(scraped.text)
        let store = try await StoreFactory.open(url)
        let (connection, _) = try await ConnectionRepository(store: store).loadMasked("demo")
        let report = try await StatusReport(store: store, clock: SystemWallClock()).connection(connection)
        try await store.close()
        let demoLabels = ["connection": "demo"]
        #expect(scrape.value("mlc_store_gauges_up") == 1)
        #expect(scrape.value("mlc_connections") == 1)
        let posted = report.records["order"]?[.posted] ?? 0
        #expect(posted > 0, "the demo posts orders")
        #expect(scrape.value("mlc_records", ["connection": "demo", "kind": "order", "state": "posted"]) == Double(posted))
        #expect(scrape.value("mlc_pending_orders", demoLabels) == Double(report.pendingOrders))
        #expect(scrape.value("mlc_paused", demoLabels) == (report.paused ? 1 : 0))
        #expect(scrape.samples(named: "mlc_parked_records").reduce(0) { $0 + $1.value } == Double(report.parkedReasons.reduce(0) { $0 + $1.count }))
        let delivered = try #require(report.lastDelivery, "the demo's deliveries are recorded")
        #expect(scrape.value("mlc_last_delivery_timestamp_seconds", demoLabels) == delivered.timeIntervalSince1970)
        // The binary made no calls and handled nothing: its process counters are empty.
        #expect(scrape.samples(named: "mlc_fo_calls_total").isEmpty && scrape.samples(named: "mlc_requests_total").isEmpty)
    }

    static func randomKey() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }

    /// Every WooCommerce request is counted by status — 429 also as a throttle, no answer as 0 —
    /// whatever the logger's level (the client's log lines are the hook).
    @Test func wooCallsAreCountedByStatusAndThrottle() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            let metrics = ProcessMetrics()
            let remotes = LiveRemoteSystems(httpClient: .shared, store: h.store, clock: h.clock, sleeper: h.sleeper, signingClock: SystemWallClock(),
                                            logger: h.logger, metricsFactory: metrics.factory)
            var faults = WooCommerceEmulator.Faults()
            faults.apiFaults = [.tooManyRequests(retryAfter: 7), .serviceUnavailable]
            h.woo.setFaults(faults)
            let client = try remotes.woocommerce(h.connection)
            for _ in 0..<3 { _ = try? await client.order(id) }

            let scrape = MetricsExposition(metrics.render())
            func calls(_ status: String) -> Double? {
                scrape.value("mlc_woo_calls_total", ["host": "127.0.0.1", "resource": "orders", "method": "GET", "status": status])
            }
            #expect(calls("429") == 1 && calls("503") == 1 && calls("200") == 1,
                    "\(scrape.samples(named: "mlc_woo_calls_total").map { "\($0.labels) \($0.value)" })")
            #expect(scrape.samples(named: "mlc_woo_calls_total").count == 3)
            #expect(scrape.value("mlc_woo_throttled_total", ["host": "127.0.0.1"]) == 1)
            // Latency for the three answered requests.
            #expect(scrape.value("mlc_woo_call_duration_seconds_count", ["host": "127.0.0.1", "resource": "orders"]) == 3)
        }
    }

    /// The hook itself: the client's two per-request lines, at any logger level; other lines pass
    /// through to the real handler at its own level only.
    @Test func wooLogLinesAreTheHook() {
        let seen = Mutex<[String]>([])
        let sink = CapturingLogSink()
        var logger = Logger(label: "t") { label in JSONLogHandler(label: label, sink: sink, level: .info) }
        logger.handler = WooCallObservingLogHandler(inner: logger.handler) { request, status, milliseconds in
            seen.withLock { $0.append("\(request) \(status) \(milliseconds.map(String.init) ?? "-")") }
        }
        logger.debug("woocommerce response", metadata: ["woo.request": "GET /wp-json/wc/v3/orders/1", "woo.status": "200", "woo.duration_ms": "12"])
        logger.warning("woocommerce request failed", metadata: ["woo.request": "GET /wp-json/wc/v3/orders/2", "woo.code": "connect_timeout"])
        logger.debug("something else", metadata: ["woo.request": "GET /x"])
        logger.info("kept")
        #expect(seen.withLock { $0 } == ["GET /wp-json/wc/v3/orders/1 200 12", "GET /wp-json/wc/v3/orders/2 0 -"])
        // The debug line stays below the real handler's level; the warning and the info line reach it.
        #expect(sink.lines.count == 2)
        #expect(sink.lines.contains { $0.contains("woocommerce request failed") } && sink.lines.contains { $0.contains("kept") })
        // A copy turned down (the client's transport logger) neither logs nor observes below it.
        var quiet = logger
        quiet.logLevel = .notice
        quiet.debug("woocommerce response", metadata: ["woo.request": "GET /wp-json/wc/v3/orders/3", "woo.status": "200"])
        #expect(seen.withLock { $0 }.count == 2)
    }

    /// A call that finds F&O's throttledUntil still ahead is counted with the wait it found.
    @Test func heldBackCallsAreCounted() async throws {
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_800_000_000))
        let metrics = ProcessMetrics()
        let gate = MeteredThrottleGate(inner: StoreThrottleGate(store: MemoryStore(clock: clock), clock: clock), clock: clock,
                                       metrics: RemoteCallMetrics(factory: metrics.factory))
        let environment = "https://acme.operations.dynamics.com"
        #expect(await gate.heldUntil(environment: environment) == nil)
        await gate.hold(environment: environment, until: clock.now().addingTimeInterval(30))
        clock.advance(by: 10)
        #expect(await gate.heldUntil(environment: environment) == Date(timeIntervalSince1970: 1_800_000_030))
        clock.advance(by: 25)
        _ = await gate.heldUntil(environment: environment)
        let scrape = MetricsExposition(metrics.render())
        let host = ["host": "acme.operations.dynamics.com"]
        #expect(scrape.value("mlc_fo_throttled_total", host) == 1)
        #expect(scrape.value("mlc_fo_throttle_waits_total", host) == 1)
        #expect(scrape.value("mlc_fo_throttle_wait_seconds_total", host) == 20)
    }

    static func woo(_ request: String) -> String {
        let (method, resource) = RemoteCallMetrics.wooResource(request)
        return "\(method) \(resource)"
    }

    @Test func callLabelsStayLowCardinality() {
        #expect(RemoteCallMetrics.dynamicsEntity("/data/SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='WC1')?cross-company=true") == "SalesOrderHeadersV2")
        #expect(RemoteCallMetrics.dynamicsEntity("/data/$batch") == "$batch")
        #expect(RemoteCallMetrics.dynamicsEntity("/data/CustomersV3?$filter=x eq 'y'") == "CustomersV3")
        #expect(RemoteCallMetrics.dynamicsEntity("/oauth2/token") == "other")
        #expect(RemoteCallMetrics.dynamicsEntity("/data/Bad Name") == "other")
        #expect(Self.woo("GET /wp-json/wc/v3/orders/123") == "GET orders")
        #expect(Self.woo("POST /wp-json/wc/v3/orders/123/notes") == "POST orders/notes")
        #expect(Self.woo("PUT /wp-json/wc/v3/products/5/variations/9") == "PUT products/variations")
        #expect(Self.woo("POST /wp-json/wc/v3/products/batch") == "POST products/batch")
        #expect(Self.woo("GET /wp-json/wc/v3/products/Weird%20SKU") == "GET other")
        #expect(Self.woo("GET /orders/7/notes") == "GET orders/notes")
        #expect(Self.woo("GET /wp-json/wc/v3/a/1/b/2/c/d/Bad") == "GET a/b/c")
        #expect(Self.woo("GET /wp-json/wc/v3/orders?page=2") == "GET other")
        #expect(Self.woo("GET") == "other other")
        #expect(RemoteCallMetrics.dynamicsEntity("/data/") == "other")
        #expect(RemoteCallMetrics.host("https://Shop.Example.com:8443/wp") == "shop.example.com")
    }
}
