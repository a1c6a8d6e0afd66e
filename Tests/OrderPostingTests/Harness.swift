import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorRuntime
import ConnectorSandbox
import ConnectorStore
import ConnectorTestSupport
import DynamicsClient
import DynamicsEmulator
import Foundation
import Logging
import WooCommerceEmulator

/// Both sandboxes on loopback port 0, a live webhook-receiver, a store, a connection for them
/// and the order poster — the whole order flow over real HTTP, with a manual clock for the
/// connector and recorded waits (the sandboxes keep real time: tokens, OAuth timestamps).
struct PostingHarness: Sendable {
    let store: any KeyValueStore
    let key: MasterKey
    let woo: WooCommerceEmulator
    let dynamics: DynamicsEmulator
    let dynamicsURL: URL
    let shop: SandboxShop
    let connection: Connection
    let poster: OrderPoster
    let remotes: LiveRemoteSystems
    let sleeper: RecordingSleeper
    let clock: ManualWallClock
    let logger: Logger
    /// Every log line of the run, when `Options.captureLogs` asked for them (trace level).
    let logs: CapturingLogSink?

    static let connectionID = "acme"

    struct Options: Sendable {
        var supplySalesOrderNumber = true
        var prefix = "WC"
        var connectionID = PostingHarness.connectionID
        var items: [String: String] = [:]
        var dynamics = DynamicsEmulator.Configuration.standard
        var captureLogs = false
        /// The WooCommerce sandbox's API key pair (default: the emulator's).
        var wooKeys: (key: String, secret: String)?
    }

    static func run(store: (any KeyValueStore)? = nil, supplySalesOrderNumber: Bool = true, _ body: @Sendable (PostingHarness) async throws -> Void) async throws {
        var options = Options()
        options.supplySalesOrderNumber = supplySalesOrderNumber
        try await run(store: store, options: options, body)
    }

    static func run(store: (any KeyValueStore)? = nil, options: Options, dynamics shared: DynamicsEmulator? = nil, foURL sharedURL: URL? = nil,
                    key sharedKey: MasterKey? = nil, _ body: @Sendable (PostingHarness) async throws -> Void) async throws {
        let store = store ?? MemoryStore()
        let captured = options.captureLogs ? TestLogging.logger(level: .trace) : nil
        let logger = captured?.0 ?? Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let clock = ManualWallClock(Date())
        let sleeper = RecordingSleeper(advancing: clock)
        let woo = Sandbox.wooCommerce(consumerKey: options.wooKeys?.key, consumerSecret: options.wooKeys?.secret, logger: logger)
        let key = sharedKey ?? MasterKey.generate()
        let receiverHandler = WebhookReceiverFunction(store: store, masterKey: key, settings: IntakeSettings())
        var settings = try RuntimeSettings(environment: ["PORT": "0", "MLC_HOST": "127.0.0.1"])
        settings.port = 0
        let receiver = HTTPMode(function: "webhook-receiver", handler: receiverHandler, settings: settings, logger: logger)

        @Sendable func withDynamics(_ inner: @Sendable (DynamicsEmulator, URL) async throws -> Void) async throws {
            if let shared, let sharedURL { return try await inner(shared, sharedURL) }
            let dynamics = try Sandbox.dynamics(configuration: options.dynamics, logger: logger)
            try await dynamics.withRunningServer { url in try await inner(dynamics, url) }
        }

        try await woo.withRunningServer { wooURL in
            try await withDynamics { dynamics, foURL in
                try await receiver.withRunningServer { port in
                    let json = Sandbox.connectionJSON(id: options.connectionID, wooURL: wooURL.absoluteString, woo: woo, dynamicsURL: foURL.absoluteString,
                                                      dynamics: options.dynamics, webhookSecret: "s3cretForTests",
                                                      deliveryURL: "http://127.0.0.1:\(port)/webhooks/woocommerce/\(options.connectionID)",
                                                      supplySalesOrderNumber: options.supplySalesOrderNumber, prefix: options.prefix, items: options.items)
                    let connection = try ConnectionFile.parse(Data(json.utf8), source: "test")
                    try await ConnectionRepository(store: store).add(connection, key: key)
                    var retry = RetryPolicy()
                    retry.maxRetryAfter = 60
                    // As in production: tokens sealed in the store (so the expiry scenarios cover the cache too).
                    let remotes = LiveRemoteSystems(httpClient: .shared, store: store, clock: clock, sleeper: sleeper, tokenCache: SealedTokenCache(store: store, key: key, clock: clock),
                                                    retry: retry, signingClock: SystemWallClock(), logger: logger)
                    let connections = StoredConnections(repository: ConnectionRepository(store: store), key: key, clock: clock, freshness: 0)
                    var posterSettings = OrderPoster.Settings()
                    posterSettings.entityLeaseWait = 0.01
                    posterSettings.entityLeaseAttempts = 2000
                    let poster = OrderPoster(store: store, connections: connections, remotes: remotes, clock: clock, sleeper: sleeper, settings: posterSettings)
                    try await SandboxShop(woo: woo).configureTaxes()
                    try await body(PostingHarness(store: store, key: key, woo: woo, dynamics: dynamics, dynamicsURL: foURL, shop: SandboxShop(woo: woo), connection: connection,
                                                  poster: poster, remotes: remotes, sleeper: sleeper, clock: clock, logger: logger, logs: captured?.1))
                }
            }
        }
    }

    func post(_ orderID: Int) async -> PostResult {
        await poster.post(connectionID: connection.id, orderID: orderID, logger: logger)
    }

    /// Drains until nothing is pending (bounded), as the scheduler's later drains would — their
    /// retry delays not waited (the connector's clock also signs OAuth requests, so it must not
    /// jump hours ahead of the store's).
    @discardableResult
    func drainUntilDone(concurrency: Int = 4, rounds: Int = 20) async -> Int {
        let customers = CustomerSync(store: store, connections: StoredConnections(repository: ConnectionRepository(store: store), key: key, clock: clock, freshness: 0),
                                     remotes: remotes, clock: clock, retention: .seconds(86_400), sharingLeasesWith: poster)
        let function = OrderPosterFunction(poster: poster, store: store, customers: customers, concurrency: concurrency)
        let context = InvocationContext(function: "order-poster", invocationID: "test", logger: logger)
        for round in 1...rounds {
            let outcome = await function.drain(connection: connection.id, context: context, honourRetryDelays: round == 1)
            let left = (try? await store.listAll(prefix: Keyspace.pending(connection.id))) ?? []
            if outcome.kind == .done && left.isEmpty { return round }
        }
        return rounds
    }

    /// Creates the webhooks the connector manages (order.created, order.updated) pointing at the receiver.
    func createWebhooks() async throws {
        let client = try remotes.woocommerce(connection)
        for topic in ["order.created", "order.updated", "customer.updated"] {
            _ = try await client.createWebhook(name: "ml-connector \(topic)", topic: topic, deliveryURL: connection.woocommerce.deliveryURL!, secret: "s3cretForTests")
        }
    }

    /// F&O rows of `set` whose `field` equals `value`.
    func rows(_ set: String, _ field: String, _ value: String) -> [FORecord] {
        dynamics.records(set).filter { $0[field]?.stringValue == value }
    }

    func salesOrders(reference: String) -> [FORecord] { rows("SalesOrderHeadersV2", "CustomersOrderReference", reference) }

    func lineAmounts(salesOrder: String) -> [Decimal] {
        rows("SalesOrderLines", "SalesOrderNumber", salesOrder).compactMap { $0["LineAmount"]?.decimalValue }
    }

    /// A simple product and a paid card order for it (2 × 12.50 + 5.00 shipping).
    func paidOrder(paymentMethod: String = "stripe", setPaid: Bool = true, extra: String = "") async throws -> Int {
        let existing = try await shop.send("/products?sku=MUG-01", method: "GET").arrayValue?.first?["id"]?.intValue
        var mug = existing ?? 0
        if existing == nil { mug = try await shop.simpleProduct(sku: "MUG-01", name: "Coffee mug", price: "12.50") }
        return try await shop.order(#"{"payment_method":"\#(paymentMethod)","payment_method_title":"Card","set_paid":\#(setPaid),\#(SandboxShop.californiaBilling),"line_items":[{"product_id":\#(mug),"quantity":2}],"shipping_lines":[{"method_id":"flat_rate","method_title":"Flat rate","total":"5.00"}]\#(extra)}"#)
    }
}
