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

/// Both sandboxes on loopback port 0, a store, a connection with the catalog switched on, the
/// catalog push and the order poster — over real HTTP, with a manual clock for the connector and
/// recorded waits. The WooCommerce sandbox runs on a manual clock of its own (started at real
/// time, so OAuth timestamps stay inside its window): moving it on between runs makes any
/// write visible in a product's `date_modified_gmt`.
struct CatalogHarness: Sendable {
    /// Every product SKU in the WooCommerce sandbox, duplicates kept.
    func skus() async throws -> [String] {
        var all: [String] = []
        for page in 1...50 {
            let items = try await shop.send("/products?per_page=100&page=\(page)&status=any", method: "GET").arrayValue ?? []
            all += items.compactMap { $0["sku"]?.stringValue }
            if items.count < 100 { break }
        }
        return all
    }

    let store: any KeyValueStore
    let woo: WooCommerceEmulator
    let wooClock: ManualWallClock
    let dynamics: DynamicsEmulator
    let shop: SandboxShop
    let connection: Connection
    let push: CatalogPush
    let poster: OrderPoster
    let remotes: LiveRemoteSystems
    let sleeper: RecordingSleeper
    let clock: ManualWallClock
    let logger: Logger

    static let connectionID = "acme"

    static func run(store shared: (any KeyValueStore)? = nil, key sharedKey: MasterKey? = nil, catalog: @Sendable (inout CatalogSettings) -> Void = { _ in },
                    _ body: @Sendable (CatalogHarness) async throws -> Void) async throws {
        let store = shared ?? MemoryStore()
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        let clock = ManualWallClock(Date())
        let sleeper = RecordingSleeper(advancing: clock)
        let wooClock = ManualWallClock(Date())
        let woo = Sandbox.wooCommerce(clock: wooClock, logger: logger)
        let key = sharedKey ?? MasterKey.generate()
        let dynamics = try Sandbox.dynamics(logger: logger)
        try await woo.withRunningServer { wooURL in
            try await dynamics.withRunningServer { foURL in
                let json = Sandbox.connectionJSON(id: connectionID, wooURL: wooURL.absoluteString, woo: woo, dynamicsURL: foURL.absoluteString,
                                                  webhookSecret: "s3cretForTests", deliveryURL: nil)
                var connection = try ConnectionFile.parse(Data(json.utf8), source: "test")
                connection.catalog.enabled = true
                // Small catalogs: one sold-out SKU must not trip the valve unless a test wants it.
                connection.catalog.safetyValveShare = 0.5
                catalog(&connection.catalog)
                try await ConnectionRepository(store: store).add(connection, key: key)
                var retry = RetryPolicy()
                retry.maxRetryAfter = 60
                let remotes = LiveRemoteSystems(httpClient: .shared, store: store, clock: clock, sleeper: sleeper, retry: retry, signingClock: SystemWallClock(), logger: logger)
                let connections = StoredConnections(repository: ConnectionRepository(store: store), key: key, clock: clock, freshness: 0)
                let push = CatalogPush(store: store, connections: connections, remotes: remotes, clock: clock, sleeper: sleeper)
                var posterSettings = OrderPoster.Settings()
                posterSettings.entityLeaseWait = 0.01
                let poster = OrderPoster(store: store, connections: connections, remotes: remotes, clock: clock, sleeper: sleeper, settings: posterSettings)
                // Both sandboxes charge the same California tax, so posted orders compare.
                try await SandboxShop(woo: woo).configureTaxes()
                try await body(CatalogHarness(store: store, woo: woo, wooClock: wooClock, dynamics: dynamics, shop: SandboxShop(woo: woo), connection: connection,
                                              push: push, poster: poster, remotes: remotes, sleeper: sleeper, clock: clock, logger: logger))
            }
        }
    }

    @discardableResult
    func run(itemNumbers: [String]? = nil, dryRun: Bool = false) async throws -> CatalogPush.Report {
        try await push.push(connectionID: connection.id, itemNumbers: itemNumbers, dryRun: dryRun, logger: logger)
    }

    /// Every top-level product in the WooCommerce sandbox, by SKU (fails on a duplicate SKU).
    func products() async throws -> [String: WooJSON] {
        var bySKU: [String: WooJSON] = [:]
        for item in try await shop.send("/products?per_page=100&status=any", method: "GET").arrayValue ?? [] {
            let sku = item["sku"]?.stringValue ?? ""
            guard bySKU[sku] == nil else { throw HarnessError("two WooCommerce products with SKU \(sku)") }
            bySKU[sku] = item
        }
        return bySKU
    }

    /// The variations of product `id`, by SKU.
    func variations(_ id: Int) async throws -> [String: WooJSON] {
        var bySKU: [String: WooJSON] = [:]
        for item in try await shop.send("/products/\(id)/variations?per_page=100", method: "GET").arrayValue ?? [] {
            bySKU[item["sku"]?.stringValue ?? ""] = item
        }
        return bySKU
    }

    /// `date_modified_gmt` of every product and variation, by SKU.
    func modifiedDates() async throws -> [String: String] {
        var dates: [String: String] = [:]
        for (sku, product) in try await products() {
            dates[sku] = product["date_modified_gmt"]?.stringValue ?? ""
            if product["type"]?.stringValue == "variable", let id = product["id"]?.intValue {
                for (vsku, variation) in try await variations(id) { dates[vsku] = variation["date_modified_gmt"]?.stringValue ?? "" }
            }
        }
        return dates
    }

    /// A second product master, HOODIE-01, with variants S/Green (9), L/Green (4) and L/Black (2), at 39.90.
    func addHoodie(group: String = "Web") throws {
        try dynamics.insert("ProductsV2", ["ProductNumber": "HOODIE-01", "ProductName": "Hoodie", "ProductSearchName": "HOODIE-01",
                                           "ProductType": "Item", "ProductSubType": "ProductMaster", "ProductDescription": "Warm hoodie"])
        try dynamics.insert("ReleasedProductsV2", ["dataAreaId": "usmf", "ItemNumber": "HOODIE-01", "ProductNumber": "HOODIE-01", "SearchName": "HOODIE-01",
                                                   "ProductSearchName": "HOODIE-01", "ProductType": "Item", "ProductSubType": "ProductMaster",
                                                   "SalesPrice": .number(Decimal(string: "39.90")!), "SalesPriceQuantity": 1, "SalesUnitSymbol": "ea",
                                                   "InventoryUnitSymbol": "ea", "SalesSalesTaxItemGroupCode": "FULL", "ProductGroupId": .string(group)])
        for (size, color, qty) in [("S", "Green", 9), ("L", "Green", 4), ("L", "Black", 2)] {
            try dynamics.insert("ReleasedProductVariantsV2", ["dataAreaId": "usmf", "ProductMasterNumber": "HOODIE-01", "ProductConfigurationId": "",
                                                              "ProductSizeId": .string(size), "ProductColorId": .string(color), "ProductStyleId": "", "ProductVersionId": "",
                                                              "ItemNumber": "HOODIE-01", "ProductVariantNumber": .string("HOODIE-01-\(size)-\(color.uppercased())"),
                                                              "ProductName": .string("Hoodie \(size) \(color)"), "SalesSalesTaxItemGroupCode": "FULL"])
            try onHand("HOODIE-01", size: size, color: color, warehouse: "11", qty)
        }
    }

    /// A distinct product released to usmf, web-sellable, with on hand in warehouse 11.
    func addSimple(_ item: String, name: String, price: String, onHand qty: Int, group: String = "Web") throws {
        try dynamics.insert("ProductsV2", ["ProductNumber": .string(item), "ProductName": .string(name), "ProductSearchName": .string(item),
                                           "ProductType": "Item", "ProductSubType": "Product", "ProductDescription": .string(name)])
        try dynamics.insert("ReleasedProductsV2", ["dataAreaId": "usmf", "ItemNumber": .string(item), "ProductNumber": .string(item), "SearchName": .string(item),
                                                   "ProductSearchName": .string(item), "ProductType": "Item", "ProductSubType": "Product",
                                                   "SalesPrice": .number(Decimal(string: price)!), "SalesPriceQuantity": 1, "SalesUnitSymbol": "ea",
                                                   "InventoryUnitSymbol": "ea", "SalesSalesTaxItemGroupCode": "FULL", "ProductGroupId": .string(group)])
        try onHand(item, warehouse: "11", qty)
    }

    func onHand(_ item: String, size: String = "", color: String = "", warehouse: String, _ qty: Int) throws {
        try dynamics.insert("WarehousesOnHandV2", ["dataAreaId": "usmf", "ItemNumber": .string(item), "ProductColorId": .string(color), "ProductConfigurationId": "",
                                                   "ProductSizeId": .string(size), "ProductStyleId": "", "ProductVersionId": "", "InventorySiteId": "1",
                                                   "InventoryWarehouseId": .string(warehouse), "OnHandQuantity": .number(Decimal(qty)),
                                                   "AvailableOnHandQuantity": .number(Decimal(qty)), "TotalAvailableQuantity": .number(Decimal(qty))])
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
