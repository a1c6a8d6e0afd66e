import Foundation

extension DynamicsEmulator {
    /// Initial data, inserted in order through the same validation as a POST (so a seed
    /// obeys the schema and the foreign keys).
    public struct Seed: Sendable {
        /// (entity set, record) in insertion order.
        public var records: [(String, [String: ODataValue])]

        public init(_ records: [(String, [String: ODataValue])] = []) { self.records = records }

        /// Nothing at all.
        public static var empty: Seed { Seed() }

        public mutating func add(_ set: String, _ record: [String: ODataValue]) { records.append((set, record)) }

        /// The shared guest account web orders without a customer record can use.
        public static let guestAccount = "WEBGUEST"
        /// Items: two simple products and one product master with variants.
        public static let simpleItems = ["MUG-01", "POSTER-01"]
        public static let masterItem = "TSHIRT-01"
        /// (size, colour) of each released variant of ``masterItem``.
        public static let variants: [(size: String, color: String)] = [("M", "Blue"), ("L", "Blue"), ("M", "Red")]

        /// A US company `usmf` (the default) ready for WooCommerce orders and payments, and a
        /// German company `demf` with a little data, to make the default-company trap visible.
        public static var standard: Seed {
            var s = Seed()
            s.add("Currencies", ["CurrencyCode": "USD", "Name": "US Dollar", "Symbol": "$", "RoundingRuleSalesOrders": .decimal("0.01")])
            s.add("Currencies", ["CurrencyCode": "EUR", "Name": "Euro", "Symbol": "€", "RoundingRuleSalesOrders": .decimal("0.01")])
            for (company, currency, tax) in [("usmf", "USD", "CA"), ("demf", "EUR", "DE")] {
                s.add("PaymentTerms", ["dataAreaId": .string(company), "Name": "Prepaid", "Description": "Paid before delivery", "NumberOfDays": 0, "IsCashPayment": "No"])
                s.add("TaxGroups", ["dataAreaId": .string(company), "TaxGroupCode": .string(tax), "Description": .string(tax == "CA" ? "California sales tax" : "Germany VAT")])
                s.add("TaxItemGroupHeadings", ["dataAreaId": .string(company), "TaxItemGroup": "FULL", "Name": "Full rate"])
                s.add("CustomerGroups", ["dataAreaId": .string(company), "CustomerGroupId": "WEB", "Description": "Web shop customers", "PaymentTermId": "Prepaid", "TaxGroupId": .string(tax)])
                s.add("CustomerPaymentMethods", ["dataAreaId": .string(company), "Name": "CARD", "Description": "Card payment (web shop)", "PaymentType": "CreditCard", "AccountType": "Bank"])
                s.add("CustomerPaymentMethods", ["dataAreaId": .string(company), "Name": "COD", "Description": "Cash on delivery", "PaymentType": "Other", "AccountType": "Ledger"])
                s.add("JournalNames", ["dataAreaId": .string(company), "Name": "CustPay", "Description": "Customer payments", "Type": "CustPayment", "Currency": .string(currency)])
            }
            s.add("TaxItemGroupHeadings", ["dataAreaId": "usmf", "TaxItemGroup": "EXEMPT", "Name": "Exempt"])
            s.add("PaymentTerms", ["dataAreaId": "usmf", "Name": "Net30", "Description": "Net 30 days", "NumberOfDays": 30])
            s.add("DeliveryModesV2", ["dataAreaId": "usmf", "ModeCode": "UPS-G", "ModeDescription": "UPS Ground"])
            s.add("DeliveryModesV2", ["dataAreaId": "usmf", "ModeCode": "PICKUP", "ModeDescription": "Customer pickup"])
            s.add("OperationalSitesV2", ["dataAreaId": "usmf", "SiteId": "1", "SiteName": "Main site"])
            s.add("Warehouses", ["dataAreaId": "usmf", "WarehouseId": "11", "WarehouseName": "Web fulfilment", "OperationalSiteId": "1"])
            s.add("Warehouses", ["dataAreaId": "usmf", "WarehouseId": "12", "WarehouseName": "Overflow", "OperationalSiteId": "1"])
            s.add("BankAccounts", ["dataAreaId": "usmf", "BankAccountId": "USMF OPER", "Name": "Operating account", "CurrencyCode": "USD"])
            s.add("CustomersV3", [
                "dataAreaId": "usmf", "CustomerAccount": .string(guestAccount), "PartyType": "Organization", "OrganizationName": "Web shop guest",
                "CustomerGroupId": "WEB", "SalesCurrencyCode": "USD", "PaymentTerms": "Prepaid", "SalesTaxGroup": "CA",
            ])
            s.add("CustomersV3", [
                "dataAreaId": "demf", "CustomerAccount": "WCDE0001", "PartyType": "Person", "PersonFirstName": "Erika", "PersonLastName": "Mustermann",
                "CustomerGroupId": "WEB", "SalesCurrencyCode": "EUR", "PrimaryContactEmail": "erika@example.de",
            ])

            // Products: shared names first, then released to usmf.
            let products: [(item: String, name: String, price: String, subtype: String)] = [
                ("MUG-01", "Coffee mug", "12.50", "Product"),
                ("POSTER-01", "Poster A2", "19.99", "Product"),
                ("TSHIRT-01", "T-shirt", "24.00", "ProductMaster"),
            ]
            for p in products {
                s.add("ProductsV2", [
                    "ProductNumber": .string(p.item), "ProductName": .string(p.name), "ProductSearchName": .string(p.item),
                    "ProductType": "Item", "ProductSubType": .string(p.subtype), "ProductDescription": .string(p.name),
                ])
                s.add("ReleasedProductsV2", [
                    "dataAreaId": "usmf", "ItemNumber": .string(p.item), "ProductNumber": .string(p.item), "SearchName": .string(p.item),
                    "ProductSearchName": .string(p.item), "ProductType": "Item", "ProductSubType": .string(p.subtype),
                    "SalesPrice": .decimal(p.price), "SalesPriceQuantity": 1, "SalesUnitSymbol": "ea", "InventoryUnitSymbol": "ea",
                    "SalesSalesTaxItemGroupCode": "FULL", "ProductGroupId": "Web",
                ])
            }
            for v in variants {
                s.add("ReleasedProductVariantsV2", [
                    "dataAreaId": "usmf", "ProductMasterNumber": .string(masterItem), "ProductConfigurationId": "", "ProductSizeId": .string(v.size),
                    "ProductColorId": .string(v.color), "ProductStyleId": "", "ProductVersionId": "", "ItemNumber": .string(masterItem),
                    "ProductVariantNumber": .string("\(masterItem)-\(v.size)-\(v.color.uppercased())"), "ProductName": .string("T-shirt \(v.size) \(v.color)"),
                    "ProductSearchName": .string("TSHIRT \(v.size) \(v.color)"), "SalesSalesTaxItemGroupCode": "FULL",
                ])
            }
            let onHand: [(item: String, size: String, color: String, qty: Int)] = [
                ("MUG-01", "", "", 120), ("POSTER-01", "", "", 35), ("TSHIRT-01", "M", "Blue", 14), ("TSHIRT-01", "L", "Blue", 0), ("TSHIRT-01", "M", "Red", 6),
            ]
            for o in onHand {
                s.add("WarehousesOnHandV2", [
                    "dataAreaId": "usmf", "ItemNumber": .string(o.item), "ProductColorId": .string(o.color), "ProductConfigurationId": "",
                    "ProductSizeId": .string(o.size), "ProductStyleId": "", "ProductVersionId": "", "InventorySiteId": "1", "InventoryWarehouseId": "11",
                    "OnHandQuantity": .number(Decimal(o.qty)), "AvailableOnHandQuantity": .number(Decimal(o.qty)), "TotalAvailableQuantity": .number(Decimal(o.qty)),
                    "ProductName": .string(products.first { $0.item == o.item }!.name),
                ])
            }
            s.add("SalesPriceAgreements", [
                "dataAreaId": "usmf", "RecordId": 5_637_145_326, "ItemNumber": "MUG-01", "ProductNumber": "MUG-01", "PriceCustomerGroupCode": "WEB",
                "PriceCurrencyCode": "USD", "Price": .decimal("11.00"), "SalesPriceQuantity": 1, "QuantityUnitySymbol": "ea", "FromQuantity": 1,
                "PriceApplicableFromDate": "2025-01-01T12:00:00Z",
            ])
            return s
        }
    }
}
