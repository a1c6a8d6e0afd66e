import ConnectorConnections
import ConnectorCore
import ConnectorMapping
import ConnectorSandbox
import Foundation
import Logging
import Testing

/// The pure part: F&O rows → the desired WooCommerce catalog (no I/O).
@Suite struct CatalogMapperTests {
    static func connection(_ change: (inout Connection) -> Void = { _ in }) throws -> Connection {
        let woo = Sandbox.wooCommerce(logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        let json = Sandbox.connectionJSON(id: "t", wooURL: "http://127.0.0.1:1", woo: woo, dynamicsURL: "http://127.0.0.1:2", webhookSecret: "x", deliveryURL: nil)
        var connection = try ConnectionFile.parse(Data(json.utf8), source: "test")
        connection.catalog.enabled = true
        change(&connection)
        return connection
    }

    static let now = Date(timeIntervalSince1970: 1_790_000_000)   // 2026-09

    static func agreement(_ item: String, _ price: String, group: String = "WEB", currency: String = "USD", size: String = "", color: String = "",
                          quantity: String = "1", from: String = "2025-01-01T12:00:00Z", to: String = "1900-01-01T12:00:00Z") throws -> CatalogRows.PriceAgreement {
        let json = #"{"ItemNumber":"\#(item)","ProductSizeId":"\#(size)","ProductColorId":"\#(color)","ProductStyleId":"","ProductconfigurationId":"","PriceCustomerGroupCode":"\#(group)","CustomerAccountNumber":"","PriceCurrencyCode":"\#(currency)","Price":\#(price),"SalesPriceQuantity":\#(quantity),"FromQuantity":1,"PriceApplicableFromDate":"\#(from)","PriceApplicableToDate":"\#(to)"}"#
        return try JSONDecoder().decode(CatalogRows.PriceAgreement.self, from: Data(json.utf8))
    }

    static let released = [
        CatalogRows.ReleasedProduct(ItemNumber: "MUG-01", ProductGroupId: "Web", SalesPrice: Decimal(string: "12.50"), SalesSalesTaxItemGroupCode: "FULL"),
        CatalogRows.ReleasedProduct(ItemNumber: "BOOK-01", ProductGroupId: "WEB", SalesPrice: Decimal(string: "30.00"), SalesPriceQuantity: 2, SalesSalesTaxItemGroupCode: "EXEMPT"),
        CatalogRows.ReleasedProduct(ItemNumber: "TSHIRT-01", ProductSubType: "ProductMaster", ProductGroupId: "Web", SalesPrice: 24, SalesSalesTaxItemGroupCode: "FULL"),
        CatalogRows.ReleasedProduct(ItemNumber: "SPARE-01", ProductGroupId: "Spares", SalesPrice: 3, SalesSalesTaxItemGroupCode: "FULL"),
    ]
    static let variants = [
        CatalogRows.Variant(ItemNumber: "TSHIRT-01", size: "M", color: "Blue"),
        CatalogRows.Variant(ItemNumber: "TSHIRT-01", size: "L", color: "Blue"),
    ]

    @Test func simpleAndVariableProductsWithSKUsAttributesTaxClassesAndDrafts() throws {
        let rows = CatalogRows.Snapshot(released: Self.released, variants: Self.variants,
                                        names: [.init(ProductNumber: "MUG-01", ProductName: "Coffee mug", ProductDescription: "Stoneware")],
                                        onHand: [.init(ItemNumber: "MUG-01", warehouse: "11", available: Decimal(string: "7.9")!),
                                                 .init(ItemNumber: "TSHIRT-01", size: "M", color: "Blue", warehouse: "11", available: 4)])
        let catalog = try CatalogMapper.desiredCatalog(rows, connection: try Self.connection(), currency: "USD", unposted: [:], now: Self.now)
        #expect(catalog.problems.isEmpty)
        #expect(catalog.products.map(\.sku) == ["BOOK-01", "MUG-01", "TSHIRT-01"], "SPARE-01 is not web-sellable; item groups compare case-insensitively")
        let mug = try #require(catalog.products.first { $0.sku == "MUG-01" })
        #expect(mug.kind == .simple && mug.name == "Coffee mug" && mug.description == "Stoneware")
        #expect(mug.price == Decimal(string: "12.50") && mug.stock == 7, "whole units, rounded down")
        #expect(mug.newStatus == "draft" && mug.taxClass == "")
        let book = try #require(catalog.products.first { $0.sku == "BOOK-01" })
        #expect(book.price == 15, "the base price is per SalesPriceQuantity")
        #expect(book.taxClass == "reduced-rate", "mapping.taxClasses inverted")
        #expect(book.name == "BOOK-01" && book.stock == 0, "no name, no on hand")
        let tshirt = try #require(catalog.products.first { $0.sku == "TSHIRT-01" })
        #expect(tshirt.kind == .variable)
        #expect(tshirt.attributes.map(\.name) == ["Size", "Color"])
        #expect(tshirt.attributes.map(\.options) == [["L", "M"], ["Blue"]])
        #expect(tshirt.variations.map(\.sku) == ["TSHIRT-01-L-BLUE", "TSHIRT-01-M-BLUE"])
        #expect(tshirt.variations.map(\.stock) == [0, 4])
        #expect(tshirt.variations.first?.attributes.map(\.name) == ["Size", "Color"])
        #expect(tshirt.variations.allSatisfy { $0.price == 24 })
    }

    @Test func thePriceGroupsAgreementInTheStoreCurrencyWinsAndElseTheBasePrice() throws {
        let connection = try Self.connection { $0.catalog.priceGroup = "web" }
        let rows = CatalogRows.Snapshot(released: Self.released, variants: Self.variants, prices: [
            try Self.agreement("MUG-01", "11.00"),
            try Self.agreement("MUG-01", "9.00", currency: "EUR"),
            try Self.agreement("MUG-01", "5.00", to: "2026-01-01T00:00:00Z"),          // expired
            try Self.agreement("MUG-01", "4.00", from: "2027-01-01T00:00:00Z"),        // not yet
            try Self.agreement("TSHIRT-01", "22.00"),
            try Self.agreement("TSHIRT-01", "20.00", size: "L", color: "Blue"),       // the variant's own row wins
            try Self.agreement("BOOK-01", "100.00", quantity: "10"),
            try Self.agreement("SPARE-01", "1.00", group: "RETAIL"),
        ])
        let catalog = try CatalogMapper.desiredCatalog(rows, connection: connection, currency: "USD", unposted: [:], now: Self.now)
        func product(_ sku: String) -> DesiredProduct? { catalog.products.first { $0.sku == sku } }
        #expect(product("MUG-01")?.price == 11)
        #expect(product("BOOK-01")?.price == 10, "per unit")
        let variations = product("TSHIRT-01")?.variations ?? []
        #expect(variations.first { $0.sku == "TSHIRT-01-L-BLUE" }?.price == 20)
        #expect(variations.first { $0.sku == "TSHIRT-01-M-BLUE" }?.price == 22)
    }

    @Test func onHandOverTheConfiguredWarehousesLessUnpostedOrdersNeverBelowZero() throws {
        let connection = try Self.connection { $0.catalog.warehouses = ["11", "12"] }
        let rows = CatalogRows.Snapshot(released: Self.released, variants: Self.variants, onHand: [
            .init(ItemNumber: "MUG-01", warehouse: "11", available: 10), .init(ItemNumber: "MUG-01", warehouse: "12", available: 5),
            .init(ItemNumber: "MUG-01", warehouse: "99", available: 1000),
            .init(ItemNumber: "TSHIRT-01", size: "M", color: "Blue", warehouse: "11", available: 2),
        ])
        let catalog = try CatalogMapper.desiredCatalog(rows, connection: connection, currency: "USD", unposted: ["MUG-01": 4, "TSHIRT-01-M-BLUE": 3], now: Self.now)
        #expect(catalog.products.first { $0.sku == "MUG-01" }?.stock == 11)
        #expect(catalog.products.first { $0.sku == "TSHIRT-01" }?.variations.first { $0.sku == "TSHIRT-01-M-BLUE" }?.stock == 0)
    }

    @Test func translatedNamesPublishNewListRuleAndMappingProblems() throws {
        var connection = try Self.connection {
            $0.catalog.language = "de"
            $0.catalog.publishNew = true
            $0.catalog.webSellableBy = .list
            $0.catalog.webSellableValues = ["mug-01", "SPARE-01"]
        }
        let rows = CatalogRows.Snapshot(released: Self.released, names: [.init(ProductNumber: "MUG-01", ProductName: "Coffee mug")],
                                        translations: [try JSONDecoder().decode(CatalogRows.Translation.self, from: Data(#"{"ProductNumber":"MUG-01","LanguageId":"de","ProductName":"Kaffeebecher","Description":"Steinzeug"}"#.utf8))])
        let catalog = try CatalogMapper.desiredCatalog(rows, connection: connection, currency: "USD", unposted: [:], now: Self.now)
        #expect(catalog.products.map(\.sku) == ["MUG-01", "SPARE-01"])
        #expect(catalog.products.first?.name == "Kaffeebecher" && catalog.products.first?.description == "Steinzeug")
        #expect(catalog.products.allSatisfy { $0.newStatus == "publish" })

        connection.mapping.taxClasses = ["": "FULL"]
        connection.catalog.webSellableValues = ["BOOK-01"]
        let unmapped = try CatalogMapper.desiredCatalog(rows, connection: connection, currency: "USD", unposted: [:], now: Self.now)
        #expect(unmapped.products.isEmpty)
        #expect(unmapped.problems["BOOK-01"]?.contains("mapping.taxClasses") == true)

        connection.catalog.webSellableBy = .category
        #expect(throws: ConnectorError.self) { try CatalogMapper.desiredCatalog(rows, connection: connection, currency: "USD", unposted: [:], now: Self.now) }
    }

    @Test func skusValidationAndPriceText() {
        #expect(CatalogMapper.variantSKU(item: "TSHIRT-01", CatalogDimensions(size: "M", color: "Blue")) == "TSHIRT-01-M-BLUE")
        #expect(CatalogMapper.variantSKU(item: "SOFA", CatalogDimensions(config: "c1", color: "Grey", style: "Modern")) == "SOFA-C1-GREY-MODERN")
        #expect(CatalogMapper.problem(sku: "A", price: 1, stock: 0) == nil)
        #expect(CatalogMapper.problem(sku: " ", price: 1, stock: 0) == "empty SKU")
        #expect(CatalogMapper.problem(sku: "A", price: -1, stock: 0)?.contains("negative") == true)
        #expect(CatalogMapper.problem(sku: "A", price: nil, stock: 0)?.contains("no price") == true)
        #expect(CatalogMapper.problem(sku: "A", price: 1, stock: -2)?.contains("negative") == true)
        #expect(CatalogMapper.priceText(Decimal(string: "12.5")!) == "12.50")
        #expect(CatalogMapper.priceText(Decimal(string: "1234.567")!) == "1234.57")
    }
}
