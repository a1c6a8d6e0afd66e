import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorSandbox
import ConnectorStore
import ConnectorTestSupport
import DynamicsClient
import DynamicsEmulator
import Foundation
import Logging
import WooCommerceEmulator

/// Both sandboxes on loopback port 0, a store, a connection for them and the order poster —
/// the whole order flow over real HTTP, with a manual clock and recorded waits.
struct PostingHarness: Sendable {
    let store: any KeyValueStore
    let woo: WooCommerceEmulator
    let dynamics: DynamicsEmulator
    let shop: SandboxShop
    let connection: Connection
    let poster: OrderPoster
    let remotes: LiveRemoteSystems
    let sleeper: RecordingSleeper
    let clock: ManualWallClock
    let logger: Logger

    static let connectionID = "acme"

    static func run(store: (any KeyValueStore)? = nil, supplySalesOrderNumber: Bool = true, dynamicsConfiguration: DynamicsEmulator.Configuration = .standard,
                    _ body: @Sendable (PostingHarness) async throws -> Void) async throws {
        let store = store ?? MemoryStore()
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        // The sandboxes keep real time (token expiry, OAuth timestamps); the connector's waits are recorded.
        let clock = ManualWallClock(Date())
        let sleeper = RecordingSleeper(advancing: clock)
        let woo = Sandbox.wooCommerce(logger: logger)
        let dynamics = try Sandbox.dynamics(configuration: dynamicsConfiguration, logger: logger)
        let key = MasterKey.generate()
        try await woo.withRunningServer { wooURL in
            try await dynamics.withRunningServer { foURL in
                let json = Sandbox.connectionJSON(id: connectionID, wooURL: wooURL.absoluteString, woo: woo, dynamicsURL: foURL.absoluteString,
                                                  dynamics: dynamicsConfiguration, webhookSecret: "s3cretForTests", deliveryURL: nil, supplySalesOrderNumber: supplySalesOrderNumber)
                let connection = try ConnectionFile.parse(Data(json.utf8), source: "test")
                try await ConnectionRepository(store: store).add(connection, key: key)
                var retry = RetryPolicy()
                retry.maxRetryAfter = 60
                let remotes = LiveRemoteSystems(httpClient: .shared, store: store, clock: clock, sleeper: sleeper, retry: retry, logger: logger)
                let connections = StoredConnections(repository: ConnectionRepository(store: store), key: key, clock: clock, freshness: 0)
                var settings = OrderPoster.Settings()
                settings.entityLeaseWait = 0.01
                let poster = OrderPoster(store: store, connections: connections, remotes: remotes, clock: clock, sleeper: sleeper, settings: settings)
                try await body(PostingHarness(store: store, woo: woo, dynamics: dynamics, shop: SandboxShop(woo: woo), connection: connection,
                                              poster: poster, remotes: remotes, sleeper: sleeper, clock: clock, logger: logger))
            }
        }
    }

    func post(_ orderID: Int) async -> PostResult {
        await poster.post(connectionID: Self.connectionID, orderID: orderID, logger: logger)
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
