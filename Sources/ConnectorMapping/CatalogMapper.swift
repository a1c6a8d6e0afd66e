import ConnectorConnections
import ConnectorCore
import Foundation

// F&O → WooCommerce catalog (SPEC §12), pure: from rows already read, the products WooCommerce
// should show. No I/O; the push flow reads, diffs and writes.

/// The F&O rows the catalog is built from, exactly as `$select` reads them (field names as in
/// the real `$metadata`; optional where F&O may leave a field out or null).
public enum CatalogRows {
    public struct ReleasedProduct: Decodable, Sendable, Equatable {
        public var ItemNumber: String
        public var ProductNumber: String?
        /// `Product`, `ProductMaster` or `ProductVariant`.
        public var ProductSubType: String?
        public var ProductGroupId: String?
        public var SearchName: String?
        public var SalesPrice: Decimal?
        public var SalesPriceQuantity: Decimal?
        public var SalesSalesTaxItemGroupCode: String?
        public static let select = ["ItemNumber", "ProductNumber", "ProductSubType", "ProductGroupId", "SearchName", "SalesPrice", "SalesPriceQuantity", "SalesSalesTaxItemGroupCode"]
        public init(ItemNumber: String, ProductNumber: String? = nil, ProductSubType: String? = "Product", ProductGroupId: String? = nil, SearchName: String? = nil,
                    SalesPrice: Decimal? = nil, SalesPriceQuantity: Decimal? = 1, SalesSalesTaxItemGroupCode: String? = nil) {
            self.ItemNumber = ItemNumber; self.ProductNumber = ProductNumber; self.ProductSubType = ProductSubType; self.ProductGroupId = ProductGroupId
            self.SearchName = SearchName; self.SalesPrice = SalesPrice; self.SalesPriceQuantity = SalesPriceQuantity; self.SalesSalesTaxItemGroupCode = SalesSalesTaxItemGroupCode
        }
    }

    public struct Variant: Decodable, Sendable, Equatable {
        public var ProductMasterNumber: String?
        /// The master's item number.
        public var ItemNumber: String
        public var ProductConfigurationId: String?
        public var ProductSizeId: String?
        public var ProductColorId: String?
        public var ProductStyleId: String?
        public var SalesSalesTaxItemGroupCode: String?
        public static let select = ["ProductMasterNumber", "ItemNumber", "ProductConfigurationId", "ProductSizeId", "ProductColorId", "ProductStyleId", "SalesSalesTaxItemGroupCode"]
        public init(ItemNumber: String, size: String = "", color: String = "", style: String = "", config: String = "", taxGroup: String? = nil) {
            self.ItemNumber = ItemNumber; ProductMasterNumber = ItemNumber; ProductSizeId = size; ProductColorId = color; ProductStyleId = style
            ProductConfigurationId = config; SalesSalesTaxItemGroupCode = taxGroup
        }
        public var dimensions: CatalogDimensions {
            CatalogDimensions(config: ProductConfigurationId ?? "", size: ProductSizeId ?? "", color: ProductColorId ?? "", style: ProductStyleId ?? "")
        }
    }

    /// `ProductsV2` (shared, no company).
    public struct ProductName: Decodable, Sendable, Equatable {
        public var ProductNumber: String
        public var ProductName: String?
        public var ProductDescription: String?
        public static let select = ["ProductNumber", "ProductName", "ProductDescription"]
        public init(ProductNumber: String, ProductName: String?, ProductDescription: String? = nil) {
            self.ProductNumber = ProductNumber; self.ProductName = ProductName; self.ProductDescription = ProductDescription
        }
    }

    /// `ProductTranslations` (shared) in the configured language.
    public struct Translation: Decodable, Sendable, Equatable {
        public var ProductNumber: String
        public var LanguageId: String?
        public var ProductName: String?
        public var Description: String?
        public static let select = ["ProductNumber", "LanguageId", "ProductName", "Description"]
    }

    /// `SalesPriceAgreements` (note F&O's lower-case `ProductconfigurationId`).
    public struct PriceAgreement: Decodable, Sendable, Equatable {
        public var ItemNumber: String
        public var ProductSizeId: String?
        public var ProductColorId: String?
        public var ProductStyleId: String?
        public var ProductconfigurationId: String?
        public var PriceCustomerGroupCode: String?
        public var CustomerAccountNumber: String?
        public var PriceCurrencyCode: String?
        public var Price: Decimal
        public var SalesPriceQuantity: Decimal?
        public var FromQuantity: Decimal?
        public var PriceApplicableFromDate: String?
        public var PriceApplicableToDate: String?
        public static let select = ["ItemNumber", "ProductSizeId", "ProductColorId", "ProductStyleId", "ProductconfigurationId", "PriceCustomerGroupCode",
                                    "CustomerAccountNumber", "PriceCurrencyCode", "Price", "SalesPriceQuantity", "FromQuantity", "PriceApplicableFromDate", "PriceApplicableToDate"]
        var dimensions: CatalogDimensions {
            CatalogDimensions(config: ProductconfigurationId ?? "", size: ProductSizeId ?? "", color: ProductColorId ?? "", style: ProductStyleId ?? "")
        }
    }

    /// `WarehousesOnHandV2`.
    public struct OnHand: Decodable, Sendable, Equatable {
        public var ItemNumber: String
        public var ProductConfigurationId: String?
        public var ProductSizeId: String?
        public var ProductColorId: String?
        public var ProductStyleId: String?
        public var InventoryWarehouseId: String?
        public var AvailableOnHandQuantity: Decimal?
        public static let select = ["ItemNumber", "ProductConfigurationId", "ProductSizeId", "ProductColorId", "ProductStyleId", "InventoryWarehouseId", "AvailableOnHandQuantity"]
        public init(ItemNumber: String, size: String = "", color: String = "", warehouse: String, available: Decimal) {
            self.ItemNumber = ItemNumber; ProductSizeId = size; ProductColorId = color; ProductStyleId = ""; ProductConfigurationId = ""
            InventoryWarehouseId = warehouse; AvailableOnHandQuantity = available
        }
        var dimensions: CatalogDimensions {
            CatalogDimensions(config: ProductConfigurationId ?? "", size: ProductSizeId ?? "", color: ProductColorId ?? "", style: ProductStyleId ?? "")
        }
    }

    /// Everything one catalog build needs.
    public struct Snapshot: Sendable {
        public var released: [ReleasedProduct]
        public var variants: [Variant]
        public var names: [ProductName]
        public var translations: [Translation]
        public var prices: [PriceAgreement]
        public var onHand: [OnHand]
        public init(released: [ReleasedProduct], variants: [Variant] = [], names: [ProductName] = [], translations: [Translation] = [],
                    prices: [PriceAgreement] = [], onHand: [OnHand] = []) {
            self.released = released; self.variants = variants; self.names = names; self.translations = translations
            self.prices = prices; self.onHand = onHand
        }
    }
}

/// The product dimensions of a variant ("" where unused). Version is not a web dimension.
public struct CatalogDimensions: Sendable, Hashable, Codable {
    public var config: String
    public var size: String
    public var color: String
    public var style: String
    public init(config: String = "", size: String = "", color: String = "", style: String = "") {
        self.config = config; self.size = size; self.color = color; self.style = style
    }
    public static let none = CatalogDimensions()

    /// In SKU order: size and colour as the sandbox shop names its variations
    /// (`TSHIRT-01-M-BLUE`), configuration first and style last.
    static let names = ["config", "size", "color", "style"]

    var used: [(dimension: String, value: String)] {
        [("config", config), ("size", size), ("color", color), ("style", style)].filter { !$0.1.isEmpty }
    }
}

/// One variation WooCommerce should show.
public struct DesiredVariation: Sendable, Equatable, Codable {
    public var sku: String
    public var dimensions: CatalogDimensions
    /// Woo attribute name → option, in attribute order.
    public var attributes: [Attribute]
    public var price: Decimal?
    public var stock: Int
    public var taxClass: String

    public struct Attribute: Sendable, Equatable, Codable { public var name: String; public var option: String }
    public var stockStatus: String { stock > 0 ? "instock" : "outofstock" }
}

/// One product WooCommerce should show: simple (a distinct product) or variable (a master).
public struct DesiredProduct: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable { case simple, variable }
    public struct Attribute: Sendable, Equatable, Codable { public var name: String; public var options: [String] }

    public var kind: Kind
    public var sku: String
    public var itemNumber: String
    public var name: String
    /// True when F&O had no name for it (no `ProductsV2` / translation row): the name is the
    /// search name or item number, and a product already named in WooCommerce keeps its name
    /// (a partial name read must not rename the shop).
    public var nameIsFallback: Bool = false
    public var description: String?
    /// Simple products only.
    public var price: Decimal?
    /// Simple products only (a variable parent's stock is its variations').
    public var stock: Int
    public var taxClass: String
    public var attributes: [Attribute]
    public var variations: [DesiredVariation]
    /// `draft` unless the connection publishes new products.
    public var newStatus: String

    public var stockStatus: String { stock > 0 ? "instock" : "outofstock" }
}

/// The desired catalog and the items that could not be mapped (SKU → why), which are not pushed.
public struct DesiredCatalog: Sendable, Equatable {
    public var products: [DesiredProduct]
    public var problems: [String: String]
    /// Every SKU (products and variations) in the desired catalog.
    public var skuCount: Int { products.reduce(0) { $0 + 1 + $1.variations.count } }
}

public enum CatalogMapper {
    /// The SKU of a variant: item number + "-" + the used dimension ids, upper-cased.
    public static func variantSKU(item: String, _ dimensions: CatalogDimensions) -> String {
        ([item] + dimensions.used.map { $0.value.uppercased() }).joined(separator: "-")
    }

    /// Whether a released product is web-sellable by the connection's rule (case-insensitive,
    /// as F&O compares codes). `category` needs category assignments this build does not read.
    public static func isWebSellable(_ product: CatalogRows.ReleasedProduct, settings: CatalogSettings) throws -> Bool {
        let values = Set(settings.webSellableValues.map { $0.uppercased() })
        switch settings.webSellableBy {
        case .itemGroup: return values.contains((product.ProductGroupId ?? "").uppercased())
        case .list: return values.contains(product.ItemNumber.uppercased())
        case .category:
            throw ConnectorError.invalidConfiguration("catalog.webSellableBy \"category\" is not supported by this build",
                                                      fix: "set catalog.webSellableBy to \"itemGroup\" or \"list\" in the connection")
        }
    }

    /// Builds the desired catalog.
    /// - `unposted`: quantity per SKU on WooCommerce orders not yet in F&O (subtracted from stock).
    /// - `currency`: the store's currency (price agreements are read in it).
    /// - `now`: for price agreements' validity dates.
    public static func desiredCatalog(_ rows: CatalogRows.Snapshot, connection: Connection, currency: String, unposted: [String: Int], now: Date) throws -> DesiredCatalog {
        let settings = connection.catalog
        let mapping = connection.mapping
        var problems: [String: String] = [:]

        // Woo attribute names per dimension (mapping.variantDimensions inverted), and Woo tax
        // classes per item sales-tax group (mapping.taxClasses inverted; "" wins a tie).
        var attributeName: [String: String] = [:]
        for (woo, dimension) in mapping.variantDimensions.sorted(by: { $0.key < $1.key }) where attributeName[dimension.lowercased()] == nil {
            attributeName[dimension.lowercased()] = woo
        }
        func attribute(_ dimension: String) -> String {
            attributeName[dimension] ?? ["config": "Configuration", "size": "Size", "color": "Color", "style": "Style"][dimension] ?? dimension
        }
        var taxClass: [String: String] = [:]
        for (woo, group) in mapping.taxClasses.sorted(by: { $0.key < $1.key }) where taxClass[group.uppercased()] == nil {
            taxClass[group.uppercased()] = woo
        }
        func wooTaxClass(_ group: String?) -> String? {
            guard let group, !group.isEmpty else { return "" }
            return taxClass[group.uppercased()]
        }

        let names = Dictionary(rows.names.map { ($0.ProductNumber, $0) }, uniquingKeysWith: { a, _ in a })
        let translations = Dictionary(rows.translations.filter { settings.language == nil || ($0.LanguageId ?? "").lowercased() == settings.language!.lowercased() }
            .map { ($0.ProductNumber, $0) }, uniquingKeysWith: { a, _ in a })
        var variantsByMaster: [String: [CatalogRows.Variant]] = [:]
        for variant in rows.variants { variantsByMaster[variant.ItemNumber, default: []].append(variant) }

        // Available on hand per (item, dimensions) over the configured warehouses ("" = all).
        let warehouses = Set(settings.warehouses.map { $0.uppercased() })
        var available: [String: [CatalogDimensions: Decimal]] = [:]
        for row in rows.onHand where warehouses.isEmpty || warehouses.contains((row.InventoryWarehouseId ?? "").uppercased()) {
            available[row.ItemNumber, default: [:]][row.dimensions, default: 0] += row.AvailableOnHandQuantity ?? 0
        }
        func stock(item: String, _ dimensions: CatalogDimensions, sku: String) -> Int {
            let onHand = available[item]?[dimensions] ?? 0
            let whole = NSDecimalNumber(decimal: onHand).rounding(accordingToBehavior: NSDecimalNumberHandler(roundingMode: .down, scale: 0, raiseOnExactness: false, raiseOnOverflow: false, raiseOnUnderflow: false, raiseOnDivideByZero: false)).intValue
            return max(0, whole - (unposted[sku] ?? 0))
        }

        // Prices: the configured group's agreement in the store currency (variant row, then the
        // item's blank-dimension row), else the released product's base price per unit.
        let agreements = settings.priceGroup.map { group in
            rows.prices.filter { p in
                (p.PriceCustomerGroupCode ?? "").uppercased() == group.uppercased() && (p.CustomerAccountNumber ?? "").isEmpty
                    && (p.PriceCurrencyCode ?? "").uppercased() == currency.uppercased() && (p.FromQuantity ?? 0) <= 1
                    && Self.isValid(from: p.PriceApplicableFromDate, to: p.PriceApplicableToDate, now: now)
            }
        } ?? []
        func price(_ product: CatalogRows.ReleasedProduct, _ dimensions: CatalogDimensions) -> Decimal? {
            if settings.priceGroup != nil {
                let forItem = agreements.filter { $0.ItemNumber == product.ItemNumber }
                if let hit = forItem.first(where: { $0.dimensions == dimensions }) ?? forItem.first(where: { $0.dimensions == .none }) {
                    return perUnit(hit.Price, hit.SalesPriceQuantity)
                }
            }
            return product.SalesPrice.map { perUnit($0, product.SalesPriceQuantity) }
        }

        var products: [DesiredProduct] = []
        for product in rows.released.sorted(by: { $0.ItemNumber < $1.ItemNumber }) {
            guard try isWebSellable(product, settings: settings) else { continue }
            let item = product.ItemNumber
            let productNumber = product.ProductNumber ?? item
            let translated = translations[productNumber]
            let realName = [translated?.ProductName, names[productNumber]?.ProductName].compactMap { $0 }.first { !$0.isEmpty }
            let name = realName ?? [product.SearchName, item].compactMap { $0 }.first { !$0.isEmpty } ?? item
            let description = translated?.Description ?? names[productNumber]?.ProductDescription
            guard let itemTax = wooTaxClass(product.SalesSalesTaxItemGroupCode) else {
                problems[item] = "item sales-tax group \(product.SalesSalesTaxItemGroupCode ?? "") has no WooCommerce tax class — add it to mapping.taxClasses"
                continue
            }
            let status = settings.publishNew ? "publish" : "draft"
            switch product.ProductSubType ?? "Product" {
            case "ProductMaster":
                let variants = (variantsByMaster[item] ?? []).sorted { variantSKU(item: item, $0.dimensions) < variantSKU(item: item, $1.dimensions) }
                guard !variants.isEmpty else {
                    problems[item] = "product master \(item) has no released variants"
                    continue
                }
                let dimensionsUsed = CatalogDimensions.names.filter { dimension in
                    variants.contains { v in v.dimensions.used.contains { $0.dimension == dimension } }
                }
                let attributes = dimensionsUsed.map { dimension in
                    var options: [String] = []
                    for v in variants {
                        if let value = v.dimensions.used.first(where: { $0.dimension == dimension })?.value, !options.contains(value) { options.append(value) }
                    }
                    return DesiredProduct.Attribute(name: attribute(dimension), options: options)
                }
                var variations: [DesiredVariation] = []
                for v in variants {
                    let sku = variantSKU(item: item, v.dimensions)
                    guard let tax = wooTaxClass(v.SalesSalesTaxItemGroupCode ?? product.SalesSalesTaxItemGroupCode) else {
                        problems[sku] = "item sales-tax group \(v.SalesSalesTaxItemGroupCode ?? "") has no WooCommerce tax class — add it to mapping.taxClasses"
                        continue
                    }
                    variations.append(DesiredVariation(
                        sku: sku, dimensions: v.dimensions,
                        attributes: v.dimensions.used.map { DesiredVariation.Attribute(name: attribute($0.dimension), option: $0.value) },
                        price: price(product, v.dimensions), stock: stock(item: item, v.dimensions, sku: sku), taxClass: tax))
                }
                products.append(DesiredProduct(kind: .variable, sku: item, itemNumber: item, name: name, nameIsFallback: realName == nil, description: description,
                                               price: nil, stock: 0, taxClass: itemTax, attributes: attributes, variations: variations, newStatus: status))
            case "Product":
                products.append(DesiredProduct(kind: .simple, sku: item, itemNumber: item, name: name, nameIsFallback: realName == nil, description: description, price: price(product, .none),
                                               stock: stock(item: item, .none, sku: item), taxClass: itemTax, attributes: [], variations: [], newStatus: status))
            default:
                continue
            }
        }
        return DesiredCatalog(products: products, problems: problems)
    }

    static func perUnit(_ price: Decimal, _ quantity: Decimal?) -> Decimal {
        guard let quantity, quantity > 1 else { return price }
        var exact = price / quantity, rounded = Decimal()
        NSDecimalRound(&rounded, &exact, 2, .plain)
        return rounded
    }

    /// An agreement's validity: F&O's 1900-01-01 means open.
    static func isValid(from: String?, to: String?, now: Date) -> Bool {
        func date(_ text: String?) -> Date? {
            guard let text, !text.hasPrefix("1900") else { return nil }
            return Formatting.parseTimestamp(text) ?? (try? Date(text, strategy: .iso8601))
        }
        if let start = date(from), start > now { return false }
        if let end = date(to), end < now { return false }
        return true
    }

    /// What must hold before an item is sent (WooCommerce's batch endpoint does not validate
    /// items as single writes do): a non-empty SKU, a non-negative decimal price, stock ≥ 0.
    /// nil when valid, else why not.
    public static func problem(sku: String, price: Decimal?, stock: Int, priced: Bool = true) -> String? {
        if sku.trimmingCharacters(in: .whitespaces).isEmpty { return "empty SKU" }
        if priced {
            guard let price else { return "no price in F&O (no base sales price and no agreement in the price group)" }
            if price < 0 { return "price \(price) is negative in F&O — fix the item's sales price or price agreement" }
            if price.isNaN { return "price is not a number" }
        }
        if stock < 0 { return "stock \(stock) is negative" }
        return nil
    }

    /// The price as WooCommerce wants it written: a plain decimal string ("12.5" → "12.50").
    public static func priceText(_ price: Decimal) -> String {
        var value = price, rounded = Decimal()
        NSDecimalRound(&rounded, &value, 2, .plain)
        let formatter = NumberFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.minimumFractionDigits = 2
        formatter.maximumFractionDigits = 2
        formatter.usesGroupingSeparator = false
        return formatter.string(from: NSDecimalNumber(decimal: rounded)) ?? "\(rounded)"
    }
}
