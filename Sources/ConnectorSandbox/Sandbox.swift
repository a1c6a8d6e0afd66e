import ConnectorCore
import DynamicsEmulator
import Foundation
import Logging
import WooCommerceEmulator

/// The two sandboxes set up the way `mlc sandbox`, `mlc demo` and the end-to-end tests use
/// them: the F&O seed plus the non-stock items a web shop needs, and a ready connection file.
public enum Sandbox {
    /// The WooCommerce emulator as a plain-HTTP store (OAuth 1.0a, as the real one demands).
    public static func wooCommerce(clock: any WallClock = SystemWallClock(), consumerKey: String? = nil, consumerSecret: String? = nil, logger: Logger) -> WooCommerceEmulator {
        var configuration = WooCommerceEmulator.Configuration()
        configuration.treatRequestsAsHTTPS = false
        if let consumerKey { configuration.consumerKey = consumerKey }
        if let consumerSecret { configuration.consumerSecret = consumerSecret }
        return WooCommerceEmulator(configuration: configuration, clock: clock, logger: logger)
    }

    /// The sales tax both sandboxes charge, so WooCommerce's and F&O's tax can be compared:
    /// California 7.25 % (shipping and fees too), 3 % for the `reduced-rate` class (F&O item
    /// sales tax group EXEMPT), nothing abroad (F&O sales tax group EXPORT).
    public static let salesTaxRates: [String: Decimal] = ["CA/FULL": Decimal(string: "7.25")!, "CA/EXEMPT": 3]

    /// The F&O + Entra emulator with the standard seed, the freight and fee items and the
    /// sandbox's sales tax rates.
    public static func dynamics(configuration: DynamicsEmulator.Configuration = .standard, clock: any WallClock = SystemWallClock(),
                                sleeper: any Sleeper = SystemSleeper(), logger: Logger) throws -> DynamicsEmulator {
        var configuration = configuration
        if configuration.salesTaxRates.isEmpty { configuration.salesTaxRates = salesTaxRates }
        let emulator = DynamicsEmulator(configuration: configuration, clock: clock, sleeper: sleeper, logger: logger)
        try emulator.insert("TaxGroups", ["dataAreaId": "usmf", "TaxGroupCode": "EXPORT", "Description": "Deliveries abroad"])
        // Shipping and fees become non-stock item lines (F&O has no writable sales-order charge entity).
        for (item, name) in [("FREIGHT", "Freight"), ("FEE", "Web shop fee")] {
            try emulator.insert("ProductsV2", ["ProductNumber": .string(item), "ProductName": .string(name), "ProductSearchName": .string(item),
                                               "ProductType": "Service", "ProductSubType": "Product"])
            try emulator.insert("ReleasedProductsV2", ["dataAreaId": "usmf", "ItemNumber": .string(item), "ProductNumber": .string(item), "SearchName": .string(item),
                                                       "ProductType": "Service", "ProductSubType": "Product", "SalesPrice": 0, "SalesUnitSymbol": "ea",
                                                       "SalesSalesTaxItemGroupCode": "FULL"])
        }
        return emulator
    }

    /// A connection file for the two running sandboxes (SPEC §6), mapping set for the seed.
    public static func connectionJSON(id: String, wooURL: String, woo: WooCommerceEmulator, dynamicsURL: String,
                                      dynamics: DynamicsEmulator.Configuration = .standard, webhookSecret: String,
                                      deliveryURL: String?, supplySalesOrderNumber: Bool = true, prefix: String = "WC",
                                      items: [String: String] = [:], publishNew: Bool = false) -> String {
        let itemMap = items.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \"\($0.value)\"" }.joined(separator: ", ")
        let wooBase = trimmed(wooURL), foBase = trimmed(dynamicsURL)
        return """
            {
              "schemaVersion": 1,
              "id": "\(id)",
              "sandbox": true,
              "woocommerce": {
                "baseURL": "\(wooBase)", "consumerKey": "\(woo.credentials.consumerKey)", "consumerSecret": "\(woo.credentials.consumerSecret)",
                "webhookSecret": "\(webhookSecret)", "authMode": "oauth1"\(deliveryURL.map { ",\n    \"deliveryURL\": \"\($0)\"" } ?? "")
              },
              "dynamics": {
                "environmentURL": "\(foBase)", "authorityHost": "\(foBase)", "tenantId": "\(dynamics.tenantId)", "clientId": "\(dynamics.clientId)",
                "clientSecret": "\(dynamics.clientSecret)", "legalEntity": "usmf", "supplySalesOrderNumber": \(supplySalesOrderNumber)
              },
              "orders": { "referencePrefix": "\(prefix)", "startDate": "2026-01-01T00:00:00Z" },
              "catalog": { "enabled": true, "publishNew": \(publishNew) },
              "mapping": {
                "guestAccount": "\(DynamicsEmulator.Seed.guestAccount)", "shippingItem": "FREIGHT", "feeItem": "FEE",
                "variantDimensions": { "Size": "size", "Color": "color" }, "taxClasses": { "": "FULL", "reduced-rate": "EXEMPT" },
                "items": { \(itemMap) },
                "destinationTaxGroups": [ { "country": "US", "salesTaxGroup": "CA" }, { "country": "DE", "salesTaxGroup": "EXPORT" } ],
                "currencies": [ "USD", "EUR" ],
                "paymentGateways": {
                  "stripe": { "paymentMethod": "CARD", "journalName": "CustPay", "offsetAccount": "USMF OPER", "post": "onPaid" },
                  "cod": { "paymentMethod": "COD", "journalName": "CustPay", "offsetAccount": "USMF OPER", "post": "never" }
                }
              }
            }
            """
    }

    static func trimmed(_ url: String) -> String { url.hasSuffix("/") ? String(url.dropLast()) : url }
}

/// Plays the shopper and the shop manager against the WooCommerce emulator's REST API.
public struct SandboxShop: Sendable {
    let woo: WooCommerceEmulator

    public init(woo: WooCommerceEmulator) { self.woo = woo }

    /// Sends `json` to `path` below `/wp-json/wc/v3` and returns the answer; a non-2xx is an error.
    @discardableResult
    public func send(_ path: String, _ json: String? = nil, method: String = "POST") async throws -> WooJSON {
        let response = await woo.send(method, path, json: try json.map { try WooJSON.parse(Array($0.utf8)) })
        let body = try WooJSON.parse(response.body)
        guard (200..<300).contains(response.status) else {
            throw ConnectorError.invalidInput("the WooCommerce sandbox refused \(method) \(path): \(response.status) \(body["message"]?.stringValue ?? "")")
        }
        return body
    }

    public func order(_ json: String) async throws -> Int {
        guard let id = try await send("/orders", json)["id"]?.intValue else { throw ConnectorError.invalidInput("the sandbox answered an order without id") }
        return id
    }

    public func simpleProduct(sku: String, name: String, price: String, stock: Int = 50) async throws -> Int {
        try await send("/products", #"{"name":"\#(name)","type":"simple","sku":"\#(sku)","regular_price":"\#(price)","manage_stock":true,"stock_quantity":\#(stock),"status":"publish"}"#)["id"]?.intValue ?? 0
    }

    /// A variable product with Size/Color variations; returns the product id and the variation ids in order.
    public func variableProduct(sku: String, name: String, price: String, variants: [(size: String, color: String)]) async throws -> (product: Int, variations: [Int]) {
        let sizes = Array(Set(variants.map(\.size))).sorted().map { "\"\($0)\"" }.joined(separator: ",")
        let colors = Array(Set(variants.map(\.color))).sorted().map { "\"\($0)\"" }.joined(separator: ",")
        let product = try await send("/products", #"{"name":"\#(name)","type":"variable","sku":"\#(sku)","status":"publish","attributes":[{"name":"Size","visible":true,"variation":true,"options":[\#(sizes)]},{"name":"Color","visible":true,"variation":true,"options":[\#(colors)]}]}"#)
        let id = product["id"]?.intValue ?? 0
        var ids: [Int] = []
        for variant in variants {
            let variation = try await send("/products/\(id)/variations", #"{"sku":"\#(sku)-\#(variant.size)-\#(variant.color.uppercased())","regular_price":"\#(price)","manage_stock":true,"stock_quantity":20,"attributes":[{"name":"Size","option":"\#(variant.size)"},{"name":"Color","option":"\#(variant.color)"}]}"#)
            ids.append(variation["id"]?.intValue ?? 0)
        }
        return (id, ids)
    }

    /// The WooCommerce side of `Sandbox.salesTaxRates`: California's standard and reduced rates.
    public func configureTaxes() async throws {
        try await send("/taxes", #"{"country":"US","state":"CA","rate":"7.2500","name":"CA State Tax","priority":1,"shipping":true}"#)
        try await send("/taxes", #"{"country":"US","state":"CA","rate":"3.0000","name":"CA Reduced","priority":1,"shipping":false,"class":"reduced-rate"}"#)
    }

    /// The billing block of a test shopper in California.
    public static let californiaBilling = #""billing":{"first_name":"Alan","last_name":"Turing","address_1":"1 Infinite Loop","city":"Cupertino","state":"CA","postcode":"95014","country":"US","email":"alan@example.com"}"#
}

extension Sandbox {
    /// The item number of generated catalog item `n`.
    public static func benchItem(_ n: Int) -> String { String(format: "BENCH-%05d", n) }

    /// Adds a generated catalog to the F&O sandbox: `items` plain released products with prices
    /// and on-hand, and `masters` product masters with `variants` size/colour variants each (the
    /// catalog benchmark's and the crash tests' data).
    public static func seedCatalog(_ dynamics: DynamicsEmulator, items: Int, masters: Int, variants: Int) throws {
        let sizes = ["XS", "S", "M", "L", "XL", "XXL", "3XL", "4XL"]
        let colors = ["Black", "White", "Navy", "Red", "Green"]
        func product(_ item: String, subtype: String, price: String) throws {
            try dynamics.insert("ProductsV2", ["ProductNumber": .string(item), "ProductName": .string("Bench \(item)"), "ProductSearchName": .string(item),
                                               "ProductType": "Item", "ProductSubType": .string(subtype)])
            try dynamics.insert("ReleasedProductsV2", ["dataAreaId": "usmf", "ItemNumber": .string(item), "ProductNumber": .string(item), "SearchName": .string(item),
                                                       "ProductType": "Item", "ProductSubType": .string(subtype), "SalesPrice": .number(Decimal(string: price)!),
                                                       "SalesPriceQuantity": 1, "SalesUnitSymbol": "ea", "SalesSalesTaxItemGroupCode": "FULL", "ProductGroupId": "Web"])
        }
        func onHand(_ item: String, size: String = "", color: String = "", _ qty: Int) throws {
            try dynamics.insert("WarehousesOnHandV2", ["dataAreaId": "usmf", "ItemNumber": .string(item), "ProductColorId": .string(color), "ProductConfigurationId": "",
                                                       "ProductSizeId": .string(size), "ProductStyleId": "", "ProductVersionId": "", "InventorySiteId": "1",
                                                       "InventoryWarehouseId": "11", "OnHandQuantity": .number(Decimal(qty)), "AvailableOnHandQuantity": .number(Decimal(qty))])
        }
        for n in 0..<items {
            try product(benchItem(n), subtype: "Product", price: "\(5 + n % 50).99")
            try onHand(benchItem(n), 1 + n % 40)
        }
        for m in 0..<masters {
            let master = String(format: "BENCHM-%04d", m)
            try product(master, subtype: "ProductMaster", price: "29.90")
            for v in 0..<variants {
                let size = sizes[v % sizes.count], color = colors[(v / sizes.count) % colors.count]
                try dynamics.insert("ReleasedProductVariantsV2", ["dataAreaId": "usmf", "ProductMasterNumber": .string(master), "ProductConfigurationId": "",
                                                                  "ProductSizeId": .string(size), "ProductColorId": .string(color), "ProductStyleId": "", "ProductVersionId": "",
                                                                  "ItemNumber": .string(master), "SalesSalesTaxItemGroupCode": "FULL"])
                try onHand(master, size: size, color: color, 2 + v)
            }
        }
    }
}
