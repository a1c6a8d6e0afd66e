import ArgumentParser
import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorMapping
import ConnectorRemotes
import ConnectorRuntime
import ConnectorSandbox
import ConnectorStore
import DynamicsClient
import DynamicsEmulator
import Foundation
import Logging
import Synchronization
import WooCommerceClient
import WooCommerceEmulator

/// Hidden: the order-flow benchmark of `bench/run orders` (SPEC §8 targets from the issue).
/// Everything runs in this process: both sandboxes and a webhook-receiver on loopback port 0,
/// a throwaway SQLite store, and the connector's own order poster. Three measurements:
///
/// a. F&O round trips per order in steady state (customer known), counted in the F&O
///    emulator's request log (token requests excluded), with and without a supplied
///    `SalesOrderNumber`;
/// b. orders per minute against an F&O with per-call latency and a rate-limit bucket that
///    answers 429: the connector's drain beside a naive sequential one-call-per-entity poster;
/// c. order placed → sales order in F&O through the webhook path (WooCommerce delivers to the
///    receiver, whose wake-up runs order-poster in-process).
///
/// Prints a markdown table; `--json FILE` writes the machine-readable results. Exits 0 whether
/// or not a target is met; 1 only when the run itself failed (an order not posted).
struct BenchOrders: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-orders", abstract: "Benchmark order posting against the sandboxes (used by bench/run orders).", shouldDisplay: false)

    @Flag(help: "CI sizes: 40 drained orders, 10 steady-state orders, 15 webhook orders.") var quick = false
    @Option(help: "Orders each poster posts in the throughput run (default 200; quick 40).") var orders: Int?
    @Option(name: .customLong("steady-orders"), help: "Orders counted per mode in the round-trip run (default 20; quick 10).") var steadyOrders: Int?
    @Option(name: .customLong("webhook-orders"), help: "Orders placed one after another in the webhook run (default 50; quick 15).") var webhookOrders: Int?
    @Option(name: .customLong("latency-ms"), help: "Latency the F&O emulator adds to every /data call (throughput and webhook runs).") var latencyMs: Double = 50
    @Option(name: .customLong("rate-limit"), help: "F&O emulator's rate-limit bucket, requests per second (0 = off; a $batch is one request).") var rateLimit: Double = 40
    @Option(name: .customLong("rate-burst"), help: "Requests the bucket holds when idle.") var rateBurst: Double = 10
    @Option(help: "Orders the connector's drain works at once.") var concurrency = 4
    @Flag(inversion: .prefixedNo, help: "Also run the throughput pair with the rate-limit bucket off (latency only), to show where the limit binds.") var referenceRun = true
    @Option(name: .customLong("json"), help: "Write the results as JSON here.") var jsonPath: String?
    @Option(name: .customLong("store"), help: "Store URL (default: a SQLite file in a new temp directory, removed afterwards).") var storeURL: String?
    @Flag(name: .customLong("backlog-only"), help: "Only the connector's drain of a backlog of --orders pending orders, with the process's CPU time and RSS (bench/run scale).") var backlogOnly = false

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlc-bench-orders-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let url = storeURL ?? "sqlite:\(directory.path)/state.sqlite"
        let sizes = OrderBench.Sizes(drained: orders ?? (quick ? 40 : 200), steady: steadyOrders ?? (quick ? 10 : 20), webhook: webhookOrders ?? (quick ? 15 : 50),
                                     latencySeconds: latencyMs / 1000, rateLimit: rateLimit, rateBurst: rateBurst, concurrency: max(1, concurrency), referenceRun: referenceRun, backlogOnly: backlogOnly)
        let store: any KeyValueStore
        do { store = CountingStore(try await StoreFactory.open(url)) } catch { Self.exitCleanly(CLIError(error)) }
        let report: OrderBench.Report
        do {
            report = try await OrderBench(sizes: sizes, storeURL: url) { printError("[bench-orders] \($0)") }.run(store: store)
            try? await store.close()
        } catch {
            try? await store.close()
            Self.exitCleanly(CLIError(error))
        }
        print(report.markdown)
        if let jsonPath {
            do { try report.json.write(to: URL(fileURLWithPath: jsonPath)) } catch { Self.exitCleanly(CLIError(message: "cannot write \(jsonPath): \(error)")) }
        }
        if !report.problems.isEmpty { Foundation.exit(1) }
    }
}

/// Hands `com.mlconnector.order.changed` straight to order-poster in this process (what
/// Knative's K_SINK does across processes), so the webhook path is measured end to end.
final class InProcessWakeUp: WakeUpSender {
    let function: OrderPosterFunction
    private let inFlight = Mutex<[UUID: Task<Void, Never>]>([:])

    init(function: OrderPosterFunction) { self.function = function }

    func send(_ event: CloudEvent, logger: Logger) {
        let id = UUID()
        let function = self.function
        inFlight.withLock { tasks in
            tasks[id] = Task {
                _ = await function.handle(event: event, context: InvocationContext(function: "order-poster", invocationID: event.id, logger: logger))
                _ = self.inFlight.withLock { $0.removeValue(forKey: id) }
            }
        }
    }

    func drain() async {
        while true {
            let tasks = inFlight.withLock { Array($0.values) }
            if tasks.isEmpty { return }
            for task in tasks { await task.value }
        }
    }
}

struct OrderBench: Sendable {
    struct Sizes: Sendable {
        var drained: Int
        var steady: Int
        var webhook: Int
        var latencySeconds: Double
        var rateLimit: Double
        var rateBurst: Double
        var concurrency: Int
        var referenceRun: Bool
        /// Only the connector's drain of `drained` pending orders (no round trips, naive poster or webhook run).
        var backlogOnly = false
    }

    struct Report {
        var markdown: String
        var json: Data
        var problems: [String]
    }

    let sizes: Sizes
    let storeURL: String
    let log: @Sendable (String) -> Void

    static let webhookSecret = "benchOrdersWebhookSecret0123456789"
    /// Warm-up orders per connection: the first creates the customer (and the journal), the
    /// second runs with everything known.
    static let warmUp = 2

    func run(store: any KeyValueStore) async throws -> Report {
        let logger = Logger(label: "bench-orders") { _ in SwiftLogNoOpLogHandler() }
        let clock = SystemWallClock()
        let key = MasterKey.generate()
        // The store answers REST calls in-process and delivers webhooks in the background after
        // each request (only the webhook run registers webhooks, so only it gets deliveries).
        var wooConfiguration = WooCommerceEmulator.Configuration()
        wooConfiguration.treatRequestsAsHTTPS = false
        wooConfiguration.deliveryMode = .afterEachRequest
        let woo = WooCommerceEmulator(configuration: wooConfiguration, clock: clock, logger: logger)
        // The emulator's latency goes through its sleeper: a real one, so 50 ms are 50 ms.
        let dynamics = try Sandbox.dynamics(clock: clock, sleeper: SystemSleeper(), logger: logger)
        // The webhook run gets an F&O of its own: the bench looks for each sales order in the
        // emulator's records, which renders every row under the emulator's lock — against the
        // ~900 sales orders of the throughput runs, that look-up itself would slow F&O down.
        let hookDynamics = try Sandbox.dynamics(clock: clock, sleeper: SystemSleeper(), logger: logger)
        // Wired as functions/order-poster wires it (production settings, sealed token cache).
        let connections = StoredConnections(repository: ConnectionRepository(store: store, clock: clock), key: key, clock: clock)
        let remotes = LiveRemoteSystems(httpClient: .shared, store: store, clock: clock, sleeper: SystemSleeper(),
                                        tokenCache: SealedTokenCache(store: store, key: key, clock: clock), logger: logger)
        let poster = OrderPoster(store: store, connections: connections, remotes: remotes, clock: clock, sleeper: SystemSleeper())
        let function = OrderPosterFunction(poster: poster, store: store, concurrency: sizes.concurrency)
        let wakeUp = InProcessWakeUp(function: function)
        var settings = try RuntimeSettings(environment: ["PORT": "0", "MLC_HOST": "127.0.0.1", "MLC_STORE_URL": storeURL])
        settings.port = 0
        let receiver = HTTPMode(function: "webhook-receiver",
                                handler: WebhookReceiverFunction(store: store, masterKey: key, settings: IntakeSettings(maxBodyBytes: settings.maxBodyBytes, retention: settings.retention),
                                                                 clock: clock, wakeUp: wakeUp),
                                settings: settings, logger: logger)
        let results = try await woo.withRunningServer { wooURL in
            try await dynamics.withRunningServer { foURL in
                try await hookDynamics.withRunningServer { hookFOURL in
                    try await receiver.withRunningServer { port in
                        let session = Session(sizes: sizes, store: store, key: key, woo: woo, wooURL: wooURL.absoluteString, dynamics: dynamics, foURL: foURL.absoluteString,
                                              hookDynamics: hookDynamics, hookFOURL: hookFOURL.absoluteString,
                                              receiverURL: "http://127.0.0.1:\(port)", remotes: remotes, function: function, wakeUp: wakeUp, logger: logger, log: log)
                        let results = try await session.run()
                        await wakeUp.drain()
                        await woo.waitForBackgroundDeliveries()
                        return results
                    }
                }
            }
        }
        return Self.report(results, sizes: sizes)
    }
}

// MARK: - The measurements

struct RoundTrips: Sendable {
    var supplied: Bool
    var perOrder: [Int]
    /// OData operations per order (each part of a `$batch` counts).
    var operations: [Int]
    var example: [String]
    /// Store statements per posted order (reads and writes), from the counting wrapper.
    var store: [CountingStore.Counts] = []
    var mean: Double { perOrder.isEmpty ? 0 : Double(perOrder.reduce(0, +)) / Double(perOrder.count) }
    var storeReadsMean: Double { store.isEmpty ? 0 : Double(store.reduce(0) { $0 + $1.reads }) / Double(store.count) }
    var storeWritesMean: Double { store.isEmpty ? 0 : Double(store.reduce(0) { $0 + $1.writes }) / Double(store.count) }
    var max: Int { perOrder.max() ?? 0 }
}

struct Throughput: Sendable {
    var orders: Int
    var posted: Int
    var seconds: Double
    var requests: Int
    var throttled: Int
    var drains: Int
    /// CPU seconds of this whole process (connector, emulators and store) during the drain.
    var cpuSeconds: Double = 0
    /// Of `cpuSeconds`: what the F&O and WooCommerce emulators spent answering requests (their
    /// routing, OData and records, not their HTTP servers): the rest is the connector, its
    /// HTTP clients, the store and both HTTP servers.
    var foEmulatorCPUSeconds: Double = 0
    var wooEmulatorCPUSeconds: Double = 0
    /// Resident set of this process when the drain started, and its peak (VmHWM) when it ended.
    var rssAtStartKiB = 0
    var peakRSSKiB = 0
    var perMinute: Double { seconds > 0 ? Double(posted) / seconds * 60 : 0 }
}

struct WebhookLatency: Sendable {
    var seconds: [Double]
    var missed: Int
    func percentile(_ p: Double) -> Double {
        let sorted = seconds.sorted()
        guard !sorted.isEmpty else { return .nan }
        return sorted[Swift.min(sorted.count - 1, Swift.max(0, Int((Double(sorted.count) * p).rounded(.up)) - 1))]
    }
}

/// The body of the order every run places (set once the catalog exists).
final class OrderMix: Sendable {
    private let body = Mutex("")
    func set(_ json: String) { body.withLock { $0 = json } }
    var orderJSON: String { body.withLock { $0 } }
}

extension DynamicsEmulator.Faults {
    var withoutRateLimit: Self {
        var faults = self
        faults.rateLimitPerSecond = 0
        return faults
    }
}

struct BenchResults: Sendable {
    var roundTrips: [RoundTrips] = []
    var connector: Throughput?
    var naive: Throughput?
    /// The same pair with the rate-limit bucket off (latency only): where the limit binds.
    var connectorOpen: Throughput?
    var naiveOpen: Throughput?
    var webhook: WebhookLatency?
    var problems: [String] = []
}

struct Session: Sendable {
    let sizes: OrderBench.Sizes
    let store: any KeyValueStore
    let key: MasterKey
    let woo: WooCommerceEmulator
    let wooURL: String
    let dynamics: DynamicsEmulator
    let foURL: String
    /// The F&O of the webhook run (fresh, so the look-up of each sales order stays cheap).
    let hookDynamics: DynamicsEmulator
    let hookFOURL: String
    let receiverURL: String
    let remotes: LiveRemoteSystems
    let function: OrderPosterFunction
    let wakeUp: InProcessWakeUp
    let logger: Logger
    let log: @Sendable (String) -> Void

    var shop: SandboxShop { SandboxShop(woo: woo) }
    let mix = OrderMix()

    /// The F&O calls of the run, token requests left out (they are Entra ID, not F&O, and the
    /// token is shared and cached across orders).
    func foRequests(from start: Int) -> [DynamicsEmulator.RequestLogEntry] {
        dynamics.requestLog.dropFirst(start).filter { !$0.target.contains("/oauth2/") }
    }

    var faults: DynamicsEmulator.Faults {
        var faults = DynamicsEmulator.Faults()
        faults.latencySeconds = sizes.latencySeconds
        faults.rateLimitPerSecond = sizes.rateLimit
        faults.rateLimitBurst = sizes.rateBurst
        return faults
    }

    func connection(_ id: String, prefix: String, supply: Bool = true, deliveryURL: String? = nil, dynamicsURL: String? = nil) async throws -> Connection {
        let json = Sandbox.connectionJSON(id: id, wooURL: wooURL, woo: woo, dynamicsURL: dynamicsURL ?? foURL, webhookSecret: OrderBench.webhookSecret,
                                          deliveryURL: deliveryURL, supplySalesOrderNumber: supply, prefix: prefix)
        let connection = try ConnectionFile.parse(Data(json.utf8), source: "bench-orders")
        try await ConnectionRepository(store: store).add(connection, key: key)
        return connection
    }

    /// How many sales orders carry each reference (the records rendered once).
    func salesOrderReferences() -> [String: Int] {
        dynamics.records("SalesOrderHeadersV2").reduce(into: [:]) { counts, row in counts[row["CustomersOrderReference"]?.stringValue ?? "", default: 0] += 1 }
    }

    func salesOrders(reference: String, in emulator: DynamicsEmulator? = nil) -> Int {
        (emulator ?? dynamics).records("SalesOrderHeadersV2").filter { $0["CustomersOrderReference"]?.stringValue == reference }.count
    }

    func run() async throws -> BenchResults {
        var results = BenchResults()
        // Both sandboxes charge the same tax, so F&O's tax agrees with WooCommerce's (SPEC §8).
        try await shop.configureTaxes()
        let mug = try await shop.simpleProduct(sku: "MUG-01", name: "Coffee mug", price: "12.50", stock: 1_000_000)
        let poster = try await shop.simpleProduct(sku: "POSTER-01", name: "Poster A2", price: "19.99", stock: 1_000_000)
        let customer = try await shop.send("/customers", #"{"email":"ada@example.com","first_name":"Ada","last_name":"Lovelace","billing":{"first_name":"Ada","last_name":"Lovelace","address_1":"1 Main St","city":"Springfield","state":"CA","postcode":"90001","country":"US","email":"ada@example.com"}}"#)
        let customerID = customer["id"]?.intValue ?? 0
        mix.set(#"{"customer_id":\#(customerID),"payment_method":"stripe","payment_method_title":"Card","set_paid":true,"billing":{"first_name":"Ada","last_name":"Lovelace","address_1":"1 Main St","city":"Springfield","state":"CA","postcode":"90001","country":"US","email":"ada@example.com"},"line_items":[{"product_id":\#(mug),"quantity":2},{"product_id":\#(poster),"quantity":1}],"shipping_lines":[{"method_id":"flat_rate","method_title":"Flat rate","total":"5.00"}]}"#)

        if sizes.backlogOnly {
            // How cost grows (bench/run scale): one backlog drained, warm (customer known, journal open).
            _ = try await connection("drain", prefix: "WD")
            for _ in 0..<OrderBench.warmUp {
                let orderID = try await placeOrder()
                if case .posted = await function.poster.post(connectionID: "drain", orderID: orderID, logger: logger) {} else { results.problems.append("warm-up order \(orderID) of drain was not posted") }
            }
            let drained = try await measureDrain(faults: faults, label: "backlog of \(sizes.drained)", problems: &results.problems)
            results.connector = drained
            return results
        }

        // a. Round trips per order in steady state, on an F&O without latency or limits (counts do not depend on them).
        dynamics.setFaults(.init())
        for (id, prefix, supply) in [("steady-supplied", "WA", true), ("steady-numbered", "WB", false)] {
            _ = try await connection(id, prefix: prefix, supply: supply)
            for _ in 0..<OrderBench.warmUp {
                let orderID = try await placeOrder()
                if case .posted = await function.poster.post(connectionID: id, orderID: orderID, logger: logger) {} else { results.problems.append("warm-up order \(orderID) of \(id) was not posted") }
            }
            var counts: [Int] = []
            var operations: [Int] = []
            var storeOperations: [CountingStore.Counts] = []
            var example: [String] = []
            for _ in 0..<sizes.steady {
                let orderID = try await placeOrder()
                let start = dynamics.requestLog.count
                let storeBefore = (store as? CountingStore)?.counts
                let result = await function.poster.post(connectionID: id, orderID: orderID, logger: logger)
                if let storeBefore, let after = (store as? CountingStore)?.counts { storeOperations.append(after - storeBefore) }
                guard case .posted = result else { results.problems.append("order \(orderID) of \(id): \(result)"); continue }
                let calls = foRequests(from: start)
                counts.append(calls.count)
                operations.append(calls.reduce(0) { $0 + max(1, $1.batchContentIDs.count) })
                if example.isEmpty { example = calls.map { "\($0.method) \(Self.shortTarget($0))" } }
            }
            results.roundTrips.append(RoundTrips(supplied: supply, perOrder: counts, operations: operations, example: example, store: storeOperations))
            log("round trips (\(supply ? "SalesOrderNumber supplied" : "numbered by F&O")): \(counts)")
        }

        // b. Orders per minute: the same mix, warm (customer known, journal open), against an
        //    F&O with latency and the rate-limit bucket.
        _ = try await connection("drain", prefix: "WD")
        let naiveConnection = try await connection("naive", prefix: "WN")
        for _ in 0..<OrderBench.warmUp {
            let orderID = try await placeOrder()
            if case .posted = await function.poster.post(connectionID: "drain", orderID: orderID, logger: logger) {} else { results.problems.append("warm-up order \(orderID) of drain was not posted") }
        }
        var naive = NaivePoster(woo: try remotes.woocommerce(naiveConnection), fo: try remotes.dynamics(naiveConnection), connection: naiveConnection)
        for _ in 0..<OrderBench.warmUp { try await naive.post(try await placeOrder()) }

        for (faults, reference) in [(faults, false)] + (sizes.referenceRun && sizes.rateLimit > 0 ? [(faults.withoutRateLimit, true)] : []) {
            let label = reference ? "without the rate limit" : "at the rate limit"
            let connector = try await measureDrain(faults: faults, label: label, problems: &results.problems)
            let naiveRun = try await measureNaive(&naive, faults: faults, label: label, problems: &results.problems)
            if reference { results.connectorOpen = connector; results.naiveOpen = naiveRun } else { results.connector = connector; results.naive = naiveRun }
        }

        // c. Order placed → sales order through the webhook path, same F&O (latency and bucket on).
        hookDynamics.setFaults(faults)
        let hookID = "hook"
        let hook = try await connection(hookID, prefix: "WH", deliveryURL: "\(receiverURL)/webhooks/woocommerce/\(hookID)", dynamicsURL: hookFOURL)
        for topic in ["order.created", "order.updated"] {
            _ = try await shop.send("/webhooks", #"{"name":"ml-connector \#(topic)","topic":"\#(topic)","delivery_url":"\#(hook.woocommerce.deliveryURL ?? "")","secret":"\#(OrderBench.webhookSecret)","status":"active"}"#)
        }
        var latencies: [Double] = []
        var missed = 0
        for index in 0..<(OrderBench.warmUp + sizes.webhook) {
            let orderID = try await placeOrder()
            let placed = ContinuousClock.now
            // A benchmark, not a test: the sales order is looked for in the emulator every 5 ms,
            // for at most 30 s, because nothing in the path signals "posted" to the outside.
            var seen: Double?
            while ContinuousClock.now - placed < .seconds(30) {
                if salesOrders(reference: "WH\(orderID)", in: hookDynamics) > 0 { seen = Self.seconds(ContinuousClock.now - placed); break }
                try await Task.sleep(for: .milliseconds(5))
            }
            guard index >= OrderBench.warmUp else { continue }
            if let seen { latencies.append(seen) } else { missed += 1; results.problems.append("webhook order \(orderID) reached no F&O sales order within 30 s") }
        }
        results.webhook = WebhookLatency(seconds: latencies, missed: missed)
        log("webhook: \(latencies.count) orders, \(missed) missed")
        hookDynamics.setFaults(.init())
        return results
    }

    /// The connector's drain (`OrderPosterFunction.drain`, `concurrency` wide) over
    /// `sizes.drained` pending orders, timed from the first drain to the last.
    func measureDrain(faults: DynamicsEmulator.Faults, label: String, problems: inout [String]) async throws -> Throughput {
        dynamics.setFaults(.init())
        var ids: [Int] = []
        for _ in 0..<sizes.drained {
            let orderID = try await placeOrder()
            ids.append(orderID)
            // What the webhook-receiver hands on for a delivery.
            let work = PendingWork(connection: "drain", kind: "order", resourceID: String(orderID), firstSeenAt: Date(), origin: "bench")
            _ = try await store.insertIfAbsent(Keyspace.pending("drain", kind: "order", resourceID: String(orderID)), work.encoded())
        }
        log("throughput \(label): connector drain of \(ids.count) orders, concurrency \(sizes.concurrency)")
        try await Task.sleep(for: .seconds(1))  // the bucket refills: every run starts with a full burst
        dynamics.setFaults(faults)
        let start = dynamics.requestLog.count
        let rssAtStart = ProcessUsage.statusKiB("VmRSS")
        let cpuAtStart = ProcessUsage.cpuSeconds()
        let emulatorsAtStart = (dynamics.servingCPUSeconds, woo.servingCPUSeconds)
        let started = ContinuousClock.now
        var drains = 0
        var outcome = Outcome.retry("not yet")
        // Work that met a transient failure stays pending with a delay; the bench drains again
        // at once (as `mlc demo` does) so every order counts, within a bounded number of drains.
        while outcome.kind == .retry && drains < 20 {
            drains += 1
            outcome = await function.drain(connection: "drain", context: InvocationContext(function: "order-poster", invocationID: "bench-\(drains)", logger: logger), honourRetryDelays: false)
        }
        let elapsed = Self.seconds(ContinuousClock.now - started)
        let cpu = ProcessUsage.cpuSeconds() - cpuAtStart
        let emulators = (dynamics.servingCPUSeconds - emulatorsAtStart.0, woo.servingCPUSeconds - emulatorsAtStart.1)
        let peakRSS = ProcessUsage.statusKiB("VmHWM")
        dynamics.setFaults(.init())
        let calls = foRequests(from: start)
        let references = salesOrderReferences()
        let posted = ids.filter { references["WD\($0)"] == 1 }.count
        if posted != ids.count { problems.append("the drain (\(label)) posted \(posted) of \(ids.count) orders (\(String(decoding: outcome.body, as: UTF8.self)))") }
        log("throughput \(label): connector \(posted) orders in \(String(format: "%.1f", elapsed)) s, \(calls.count) F&O requests")
        return Throughput(orders: ids.count, posted: posted, seconds: elapsed, requests: calls.count, throttled: calls.filter { $0.status == 429 }.count, drains: drains,
                          cpuSeconds: cpu, foEmulatorCPUSeconds: emulators.0, wooEmulatorCPUSeconds: emulators.1, rssAtStartKiB: rssAtStart, peakRSSKiB: peakRSS)
    }

    /// The naive poster over `sizes.drained` orders, one after another.
    func measureNaive(_ naive: inout NaivePoster, faults: DynamicsEmulator.Faults, label: String, problems: inout [String]) async throws -> Throughput {
        dynamics.setFaults(.init())
        var ids: [Int] = []
        for _ in 0..<sizes.drained { ids.append(try await placeOrder()) }
        log("throughput \(label): naive poster, \(ids.count) orders one by one")
        try await Task.sleep(for: .seconds(1))
        dynamics.setFaults(faults)
        let start = dynamics.requestLog.count
        let started = ContinuousClock.now
        for orderID in ids {
            do { try await naive.post(orderID) } catch { problems.append("naive poster (\(label)), order \(orderID): \(error)") }
        }
        let elapsed = Self.seconds(ContinuousClock.now - started)
        dynamics.setFaults(.init())
        let calls = foRequests(from: start)
        let references = salesOrderReferences()
        let posted = ids.filter { references["WN\($0)"] == 1 }.count
        log("throughput \(label): naive \(posted) orders in \(String(format: "%.1f", elapsed)) s, \(calls.count) F&O requests")
        return Throughput(orders: ids.count, posted: posted, seconds: elapsed, requests: calls.count, throttled: calls.filter { $0.status == 429 }.count, drains: 1)
    }

    /// The order mix of every run: a registered customer, 2 lines + shipping, paid by card.
    func placeOrder() async throws -> Int { try await shop.order(mix.orderJSON) }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    /// `POST /data/$batch`, `GET /data/CustomersV3(…)`: the entity, without the query.
    static func shortTarget(_ entry: DynamicsEmulator.RequestLogEntry) -> String {
        let path = entry.target.split(separator: "?").first.map(String.init) ?? entry.target
        let short = path.count > 48 ? String(path.prefix(45)) + "…" : path
        return entry.batchContentIDs.isEmpty ? short : "\(short) [\(entry.batchContentIDs.count) parts]"
    }
}

/// The naive poster the connector is compared with: sequential, one HTTP call per entity
/// through the same `DynamicsClient` (so the same Retry-After handling), no `$batch`, no
/// concurrency, no caching of known customers.
struct NaivePoster {
    let woo: WooCommerceClient
    let fo: DynamicsClient
    let connection: Connection
    var journalBatch: String?
    var nextLine = 1

    init(woo: WooCommerceClient, fo: DynamicsClient, connection: Connection) {
        self.woo = woo
        self.fo = fo
        self.connection = connection
    }

    mutating func post(_ orderID: Int) async throws {
        let order = try await woo.order(orderID)
        guard case .planned(let plan) = OrderMapper(connection: connection).plan(order: order, refunds: [], parentSKUs: [:]) else {
            throw CLIError(message: "order \(orderID) does not map")
        }
        // Customer: GET by key, POST if missing.
        let key = ODataKey(FOEntity.customers, ["dataAreaId": .string(fo.legalEntity), "CustomerAccount": .string(plan.customer.account)])
        if try await fo.read(key, select: ["CustomerAccount"], as: FOCustomer.Account.self) == nil {
            let _: FOCustomer.Account = try await fo.create(FOEntity.customers, plan.customer.record)
        }
        // Header, then each line on its own.
        var header = plan.header
        if let number = plan.suppliedSalesOrderNumber { header["SalesOrderNumber"] = .string(number) }
        let created: FOSalesOrderHeader = try await fo.create(FOEntity.salesOrderHeaders, header)
        for line in plan.lines {
            var record = line.record
            record["SalesOrderNumber"] = .string(created.SalesOrderNumber)
            let _: FOSalesOrderLine = try await fo.create(FOEntity.salesOrderLines, record)
        }
        // The lines read back for the money check.
        let lines = try await fo.read(ODataQuery(FOEntity.salesOrderLines, legalEntity: fo.legalEntity, filter: .eq("SalesOrderNumber", created.SalesOrderNumber),
                                                 select: FOSalesOrderLine.select), as: FOSalesOrderLine.self)
        let net = lines.reduce(Decimal(0)) { $0 + $1.LineAmount }
        guard net == plan.expectedNet else { throw CLIError(message: "order \(orderID): F&O's lines add up to \(net), expected \(plan.expectedNet)") }
        // Payment: the journal header checked (still open?), then the journal line.
        guard let payment = plan.payment else { return }
        if journalBatch == nil {
            var record = ODataRecord()
            record["dataAreaId"] = .string(fo.legalEntity)
            record["JournalName"] = .string(payment.journalName)
            record["Description"] = .string("naive poster")
            let journal: FOPaymentJournalHeader = try await fo.create(FOEntity.paymentJournalHeaders, record)
            journalBatch = journal.JournalBatchNumber
        }
        let batch = journalBatch ?? ""
        let journal = try await fo.read(ODataKey(FOEntity.paymentJournalHeaders, ["dataAreaId": .string(fo.legalEntity), "JournalBatchNumber": .string(batch)]),
                                        select: FOPaymentJournalHeader.select, as: FOPaymentJournalHeader.self)
        guard journal?.isOpen == true else { throw CLIError(message: "the naive poster's journal \(batch) is not open") }
        var record = payment.record
        record["JournalBatchNumber"] = .string(batch)
        record["LineNumber"] = .int(Int64(nextLine))
        let _: FOPaymentJournalLine = try await fo.create(FOEntity.paymentJournalLines, record)
        nextLine += 1
    }
}

// MARK: - Report

extension OrderBench {
    static func report(_ results: BenchResults, sizes: Sizes) -> Report {
        func f(_ value: Double, _ digits: Int = 2) -> String { value.isFinite ? String(format: "%.\(digits)f", value) : "n/a" }
        func verdict(_ pass: Bool?) -> String { pass.map { $0 ? "PASS" : "FAIL" } ?? "n/a" }
        let targets = Dictionary(results.targets.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let fo = "F&O emulator: \(f(sizes.latencySeconds * 1000, 0)) ms per call, rate limit \(sizes.rateLimit > 0 ? "\(f(sizes.rateLimit, 0)) requests/s (burst \(f(sizes.rateBurst, 0)))" : "off")"
        var md = "## orders — order posting against the sandboxes (in-process, loopback)\n\n"
        md += "| measure | result | target | verdict |\n|---|---:|---|---|\n"
        for trips in results.roundTrips {
            let name = trips.supplied ? "round_trips_supplied_number" : "round_trips_numbered_by_fo"
            md += "| F&O round trips per order, steady state, \(trips.supplied ? "SalesOrderNumber supplied" : "numbered by F&O") (mean / max over \(trips.perOrder.count) orders) | \(f(trips.mean)) / \(trips.max) | \(targets[name]?.target ?? "") | \(verdict(targets[name]?.pass)) |\n"
            md += "| store statements per posted order, same run (reads / writes, mean) | \(f(trips.storeReadsMean, 1)) / \(f(trips.storeWritesMean, 1)) | (no target) | |\n"
        }
        if sizes.backlogOnly, let c = results.connector {
            md += "| backlog drained: CPU seconds of the process / peak RSS (connector, emulators and store in one process) | \(f(c.cpuSeconds)) s / \(f(Double(c.peakRSSKiB) / 1024, 1)) MiB | (no target) | |\n"
            md += "| of that CPU: F&O emulator / WooCommerce emulator answering requests / the rest (connector, store, HTTP) | \(f(c.foEmulatorCPUSeconds)) s / \(f(c.wooEmulatorCPUSeconds)) s / \(f(c.cpuSeconds - c.foEmulatorCPUSeconds - c.wooEmulatorCPUSeconds)) s | (no target) | |\n"
        }
        if let c = results.connector {
            md += "| orders/min, connector drain (concurrency \(sizes.concurrency); \(c.posted)/\(c.orders) orders in \(f(c.seconds, 1)) s, \(c.drains) drain(s)) | \(f(c.perMinute, 0)) | | |\n"
        }
        if let n = results.naive {
            md += "| orders/min, naive sequential one call per entity (\(n.posted)/\(n.orders) orders in \(f(n.seconds, 1)) s) | \(f(n.perMinute, 0)) | | |\n"
        }
        if let t = targets["throughput_vs_naive"] {
            md += "| connector ÷ naive | \(t.measured.map { f($0) + "×" } ?? "n/a") | \(t.target) | \(verdict(t.pass)) |\n"
        }
        if let c = results.connectorOpen, let n = results.naiveOpen {
            md += "| reference, rate limit off (latency only): connector / naive orders/min (\(c.posted)/\(c.orders) in \(f(c.seconds, 1)) s; \(n.posted)/\(n.orders) in \(f(n.seconds, 1)) s) | \(f(c.perMinute, 0)) / \(f(n.perMinute, 0)) = \(f(n.perMinute > 0 ? c.perMinute / n.perMinute : .nan))× | (no target) | |\n"
        }
        if let w = results.webhook {
            md += "| order placed → sales order via webhook, p50 / p95 / max (\(w.seconds.count) orders\(w.missed > 0 ? ", \(w.missed) missed" : "")) | \(f(w.percentile(0.5) * 1000, 0)) / \(f(w.percentile(0.95) * 1000, 0)) / \(f((w.seconds.max() ?? .nan) * 1000, 0)) ms | p95 ≤ 2 s | \(verdict(targets["webhook_p95_seconds"]?.pass)) |\n"
        }
        md += "\n"
        md += "- Round trips: F&O requests in the emulator's request log per order, token requests (Entra ID) excluded; the customer is known (warm-up orders first), F&O without latency or limits.\n"
        for trips in results.roundTrips where !trips.example.isEmpty {
            md += "  - \(trips.supplied ? "supplied" : "numbered by F&O"): \(trips.example.joined(separator: ", "))\n"
        }
        md += "- Throughput and webhook runs: \(fo); the same order mix everywhere (registered customer, 2 lines + shipping, card payment).\n"
        if let c = results.connector, let n = results.naive {
            md += "- At the rate limit: F&O requests per order: connector \(f(Double(c.requests) / Double(max(1, c.orders)))) (\(c.requests), \(c.throttled) answered 429, \(f(Double(c.requests) / max(c.seconds, 0.001), 1)) requests/s); "
            md += "naive \(f(Double(n.requests) / Double(max(1, n.orders)))) (\(n.requests), \(n.throttled) answered 429, \(f(Double(n.requests) / max(n.seconds, 0.001), 1)) requests/s). "
            md += "Requests above 2 per order for the connector are re-sent after a 429 (or a 5xx).\n"
            if sizes.rateLimit > 0, let trips = results.roundTrips.first(where: \.supplied), trips.max > 0 {
                // The emulator's bucket counts requests (a `$batch` is one): the ceiling the limit puts on each poster.
                let connectorCeiling = sizes.rateLimit * 60 / Double(trips.max)
                let naivePerOrder = Double(n.requests) / Double(max(1, n.orders))
                md += "- Ceiling set by the bucket (\(f(sizes.rateLimit, 0)) requests/s, a `$batch` is one request): \(f(connectorCeiling, 0)) orders/min for the connector at \(trips.max) requests per order, "
                md += "\(f(naivePerOrder > 0 ? sizes.rateLimit * 60 / naivePerOrder : .nan, 0)) for the naive poster at \(f(naivePerOrder, 1)); the naive poster is bound by latency first "
                md += "(\(f(naivePerOrder, 1)) sequential calls of ≥ \(f(sizes.latencySeconds * 1000, 0)) ms).\n"
            }
        }
        if results.webhook != nil {
            md += "- Webhook path: from the REST create of the order returning (an OAuth-signed call into the WooCommerce emulator's REST router, in-process) to the sales order being in the F&O emulator (polled every 5 ms): "
            md += "the store delivers order.created and order.updated over HTTP to webhook-receiver (HTTP mode, loopback), whose wake-up runs order-poster in-process; orders one after another, \(warmUp) warm-up orders not counted; an F&O emulator of its own with the same latency and bucket, so that looking for each sales order in its records stays cheap.\n"
        }
        for problem in results.problems { md += "- PROBLEM: \(problem)\n" }

        var json: [String: Any] = [
            "config": ["drained_orders": sizes.drained, "steady_orders": sizes.steady, "webhook_orders": sizes.webhook, "warmup_orders": warmUp,
                       "latency_ms": sizes.latencySeconds * 1000, "rate_limit_per_second": sizes.rateLimit, "rate_limit_burst": sizes.rateBurst,
                       "concurrency": sizes.concurrency, "store": "sqlite (temp file)", "backlog_only": sizes.backlogOnly] as [String: Any],
            "round_trips": results.roundTrips.map { ["supplied_sales_order_number": $0.supplied, "per_order": $0.perOrder, "operations_per_order": $0.operations, "mean": $0.mean, "max": $0.max, "example": $0.example] as [String: Any] },
            "problems": results.problems,
        ]
        func throughput(_ t: Throughput) -> [String: Any] {
            ["orders": t.orders, "posted": t.posted, "seconds": t.seconds, "orders_per_minute": t.perMinute, "fo_requests": t.requests, "fo_429": t.throttled, "drains": t.drains,
             "process_cpu_seconds": t.cpuSeconds, "fo_emulator_cpu_seconds": t.foEmulatorCPUSeconds, "woo_emulator_cpu_seconds": t.wooEmulatorCPUSeconds,
             "rss_kib_at_start": t.rssAtStartKiB, "peak_rss_kib": t.peakRSSKiB]
        }
        if let c = results.connector { json["connector"] = throughput(c) }
        if let n = results.naive { json["naive"] = throughput(n) }
        if let c = results.connectorOpen, let n = results.naiveOpen {
            json["reference_without_rate_limit"] = ["connector": throughput(c), "naive": throughput(n), "ratio": n.perMinute > 0 ? c.perMinute / n.perMinute : 0] as [String: Any]
        }
        if let w = results.webhook {
            json["webhook"] = ["orders": w.seconds.count, "missed": w.missed, "p50_ms": w.percentile(0.5) * 1000, "p95_ms": w.percentile(0.95) * 1000,
                               "max_ms": (w.seconds.max() ?? 0) * 1000, "latencies_ms": w.seconds.map { ($0 * 1000 * 10).rounded() / 10 }] as [String: Any]
        }
        json["targets"] = Dictionary(results.targets.map { t in
            (t.name, ["measured": t.measured.map { $0 as Any } ?? NSNull(), "target": t.target, "pass": t.pass.map { $0 as Any } ?? NSNull()] as [String: Any])
        }, uniquingKeysWith: { a, _ in a })
        json["all_targets_pass"] = results.targets.allSatisfy { $0.pass == true }
        json["markdown"] = md
        let data = (try? JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys])) ?? Data("{}".utf8)
        return Report(markdown: md, json: data, problems: results.problems)
    }
}

extension BenchResults {
    struct Target {
        var name: String
        var measured: Double?
        var target: String
        var pass: Bool?
    }

    var targets: [Target] {
        var out: [Target] = []
        for trips in roundTrips {
            let limit = trips.supplied ? 2 : 3
            out.append(Target(name: trips.supplied ? "round_trips_supplied_number" : "round_trips_numbered_by_fo", measured: trips.perOrder.isEmpty ? nil : Double(trips.max),
                              target: "max ≤ \(limit)", pass: trips.perOrder.isEmpty ? nil : trips.max <= limit))
        }
        if let connector, let naive, naive.perMinute > 0 {
            let ratio = connector.perMinute / naive.perMinute
            out.append(Target(name: "throughput_vs_naive", measured: ratio, target: "≥ 5×", pass: ratio >= 5))
        } else {
            out.append(Target(name: "throughput_vs_naive", measured: nil, target: "≥ 5×", pass: nil))
        }
        if let webhook, !webhook.seconds.isEmpty {
            let p95 = webhook.percentile(0.95)
            out.append(Target(name: "webhook_p95_seconds", measured: p95, target: "≤ 2 s", pass: p95 <= 2 && webhook.missed == 0))
        } else {
            out.append(Target(name: "webhook_p95_seconds", measured: nil, target: "≤ 2 s", pass: nil))
        }
        return out
    }
}

/// Counts the statements the connector sends its store (one per protocol call; a group insert
/// is one statement), for "store statements per posted order".
final class CountingStore: KeyValueStore {
    struct Counts: Sendable {
        var reads = 0
        var writes = 0
        static func - (a: Counts, b: Counts) -> Counts { Counts(reads: a.reads - b.reads, writes: a.writes - b.writes) }
    }

    private let inner: any KeyValueStore
    private let tally = Mutex(Counts())

    init(_ inner: any KeyValueStore) { self.inner = inner }

    var counts: Counts { tally.withLock { $0 } }
    private func read() { tally.withLock { $0.reads += 1 } }
    private func write() { tally.withLock { $0.writes += 1 } }

    func get(_ key: String) async throws -> StoredValue? { read(); return try await inner.get(key) }
    func set(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> Int64 { write(); return try await inner.set(key, value, ttl: ttl) }
    func insertIfAbsent(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> InsertOutcome { write(); return try await inner.insertIfAbsent(key, value, ttl: ttl) }
    func insertIfAbsent(_ entries: [StoreEntry]) async throws -> [Int64?] { write(); return try await inner.insertIfAbsent(entries) }
    func compareAndSwap(_ key: String, expectedVersion: Int64, _ value: [UInt8], ttl: Duration?) async throws -> SwapOutcome {
        write(); return try await inner.compareAndSwap(key, expectedVersion: expectedVersion, value, ttl: ttl)
    }
    func delete(_ key: String, expectedVersion: Int64?) async throws -> Bool { write(); return try await inner.delete(key, expectedVersion: expectedVersion) }
    func list(prefix: String, after: String?, limit: Int) async throws -> StorePage { read(); return try await inner.list(prefix: prefix, after: after, limit: limit) }
    func purgeExpired(before cutoff: Date, limit: Int) async throws -> Int { write(); return try await inner.purgeExpired(before: cutoff, limit: limit) }
    func close() async throws { try await inner.close() }
}

/// This process's CPU time and memory, for the backlog run (Linux: /proc/self).
enum ProcessUsage {
    /// User + system CPU seconds of every thread of this process so far.
    static func cpuSeconds() -> Double {
        // clock() is the process's CPU time in units of CLOCKS_PER_SEC, which POSIX (XSI) fixes at 1,000,000.
        Double(clock()) / 1_000_000
    }

    /// A `kB` line of /proc/self/status (`VmRSS`, `VmHWM`), 0 when it cannot be read.
    static func statusKiB(_ field: String) -> Int {
        // Read to the end: procfs files report a size of 0, so a read sized by the file's length gets nothing.
        guard let handle = FileHandle(forReadingAtPath: "/proc/self/status") else { return 0 }
        defer { try? handle.close() }
        let text = String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            // "VmHWM:\t   49812 kB": a tab, spaces, the number.
            return Int(line.dropFirst(field.count + 1).split(whereSeparator: { $0 == " " || $0 == "\t" }).first ?? "") ?? 0
        }
        return 0
    }
}
