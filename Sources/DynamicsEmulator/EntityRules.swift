import Foundation

/// The names F&O uses in Infolog texts for an entity: the AOT entity name, the table's label
/// and name, and the label of its natural key. Only the texts of the entities the connector
/// writes are known from captures; the rest follow the same pattern (emulator's choice).
struct EntityLabels: Sendable {
    var aot: String
    var tableLabel: String
    var table: String
    var keyLabel: String

    static func of(_ set: EntitySetSchema) -> EntityLabels {
        switch set.name {
        case "CustomersV3": return .init(aot: "CustCustomerV3Entity", tableLabel: "Customers", table: "CustTable", keyLabel: "Customer account")
        case "CustomerGroups": return .init(aot: "CustCustomerGroupEntity", tableLabel: "Customer groups", table: "CustGroup", keyLabel: "Customer group")
        case "SalesOrderHeadersV2": return .init(aot: "SalesOrderHeaderV2Entity", tableLabel: "Sales orders", table: "SalesTable", keyLabel: "Sales order")
        case "SalesOrderLines": return .init(aot: "SalesOrderLineV2Entity", tableLabel: "Order lines", table: "SalesLine", keyLabel: "Lot ID")
        case "CustomerPaymentJournalHeaders": return .init(aot: "CustomerPaymentJournalHeaderEntity", tableLabel: "Journal table", table: "LedgerJournalTable", keyLabel: "Journal batch number")
        case "CustomerPaymentJournalLines": return .init(aot: "CustomerPaymentJournalLineEntity", tableLabel: "Journal lines", table: "LedgerJournalTrans", keyLabel: "Journal batch number, Line number")
        case "ReleasedProductsV2": return .init(aot: "EcoResReleasedProductV2Entity", tableLabel: "Items", table: "InventTable", keyLabel: "Item number")
        case "Currencies": return .init(aot: "CurrencyEntity", tableLabel: "Currency", table: "Currency", keyLabel: "Currency")
        default:
            let type = set.shortTypeName
            return .init(aot: type + "Entity", tableLabel: set.name, table: type, keyLabel: set.keys.filter { $0 != "dataAreaId" }.joined(separator: ", "))
        }
    }
}

/// A reference from a field to the natural key of another entity set, checked on write in the
/// writing company (or globally for shared targets such as `Currencies`).
struct ForeignKey: Sendable {
    var field: String
    var fieldLabel: String
    var target: String
    var targetField: String
    var targetLabel: String

    init(_ field: String, _ fieldLabel: String, _ target: String, _ targetField: String, _ targetLabel: String) {
        self.field = field
        self.fieldLabel = fieldLabel
        self.target = target
        self.targetField = targetField
        self.targetLabel = targetLabel
    }

    /// The references checked per entity set (only the ones the connector touches and the
    /// seed obeys; reference §3.1, §3.3, §3.4, §3.5, §3.9).
    static func of(_ set: String) -> [ForeignKey] {
        let customer = ("CustomersV3", "CustomerAccount", "Customers")
        switch set {
        case "CustomersV3":
            return [
                .init("CustomerGroupId", "Customer group", "CustomerGroups", "CustomerGroupId", "Customer groups"),
                .init("SalesCurrencyCode", "Currency", "Currencies", "CurrencyCode", "Currency"),
                .init("PaymentTerms", "Terms of payment", "PaymentTerms", "Name", "Terms of payment"),
                .init("PaymentMethod", "Method of payment", "CustomerPaymentMethods", "Name", "Customer method of payment"),
                .init("SalesTaxGroup", "Sales tax group", "TaxGroups", "TaxGroupCode", "Sales tax groups"),
                .init("DeliveryMode", "Mode of delivery", "DeliveryModesV2", "ModeCode", "Modes of delivery"),
                .init("InvoiceAccount", "Invoice account", customer.0, customer.1, customer.2),
            ]
        case "CustomerGroups":
            return [
                .init("PaymentTermId", "Terms of payment", "PaymentTerms", "Name", "Terms of payment"),
                .init("TaxGroupId", "Sales tax group", "TaxGroups", "TaxGroupCode", "Sales tax groups"),
            ]
        case "SalesOrderHeadersV2":
            return [
                .init("OrderingCustomerAccountNumber", "Customer account", customer.0, customer.1, customer.2),
                .init("InvoiceCustomerAccountNumber", "Invoice account", customer.0, customer.1, customer.2),
                .init("CurrencyCode", "Currency", "Currencies", "CurrencyCode", "Currency"),
                .init("CustomerPaymentMethodName", "Method of payment", "CustomerPaymentMethods", "Name", "Customer method of payment"),
                .init("SalesTaxGroupCode", "Sales tax group", "TaxGroups", "TaxGroupCode", "Sales tax groups"),
                .init("DeliveryModeCode", "Mode of delivery", "DeliveryModesV2", "ModeCode", "Modes of delivery"),
                .init("PaymentTermsName", "Terms of payment", "PaymentTerms", "Name", "Terms of payment"),
                .init("DefaultShippingSiteId", "Site", "OperationalSitesV2", "SiteId", "Sites"),
                .init("DefaultShippingWarehouseId", "Warehouse", "Warehouses", "WarehouseId", "Warehouses"),
            ]
        case "SalesOrderLines":
            return [
                .init("ItemNumber", "Item number", "ReleasedProductsV2", "ItemNumber", "Items"),
                .init("SalesTaxItemGroupCode", "Item sales tax group", "TaxItemGroupHeadings", "TaxItemGroup", "Item sales tax groups"),
                .init("SalesTaxGroupCode", "Sales tax group", "TaxGroups", "TaxGroupCode", "Sales tax groups"),
                .init("ShippingSiteId", "Site", "OperationalSitesV2", "SiteId", "Sites"),
                .init("ShippingWarehouseId", "Warehouse", "Warehouses", "WarehouseId", "Warehouses"),
                .init("DeliveryModeCode", "Mode of delivery", "DeliveryModesV2", "ModeCode", "Modes of delivery"),
                .init("CurrencyCode", "Currency", "Currencies", "CurrencyCode", "Currency"),
            ]
        case "CustomerPaymentJournalHeaders":
            return [.init("JournalName", "Name", "JournalNames", "Name", "Journal names")]
        case "CustomerPaymentJournalLines":
            return [
                .init("PaymentMethodName", "Method of payment", "CustomerPaymentMethods", "Name", "Customer method of payment"),
                .init("CurrencyCode", "Currency", "Currencies", "CurrencyCode", "Currency"),
            ]
        case "ReleasedProductsV2":
            return [
                .init("ProductNumber", "Product number", "ProductsV2", "ProductNumber", "Products"),
                .init("SalesSalesTaxItemGroupCode", "Item sales tax group", "TaxItemGroupHeadings", "TaxItemGroup", "Item sales tax groups"),
            ]
        case "ReleasedProductVariantsV2":
            return [.init("ProductMasterNumber", "Item number", "ReleasedProductsV2", "ItemNumber", "Items")]
        case "WarehousesOnHandV2":
            return [
                .init("ItemNumber", "Item number", "ReleasedProductsV2", "ItemNumber", "Items"),
                .init("InventoryWarehouseId", "Warehouse", "Warehouses", "WarehouseId", "Warehouses"),
            ]
        case "SalesPriceAgreements":
            return [
                .init("ItemNumber", "Item number", "ReleasedProductsV2", "ItemNumber", "Items"),
                .init("PriceCurrencyCode", "Currency", "Currencies", "CurrencyCode", "Currency"),
            ]
        case "BankAccounts":
            return [.init("CurrencyCode", "Currency", "Currencies", "CurrencyCode", "Currency")]
        default:
            return []
        }
    }
}

/// Maximum string lengths the emulator enforces when `enforceStringLengths` is on. F&O's
/// `$metadata` carries no MaxLength (reference §3.0); these are the emulator's choice, based
/// on the standard extended data types (CustAccount 20, SalesId 20, ItemId 20, …).
public enum StringLengthLimits {
    public static let maximumLengths: [String: Int] = [
        "dataAreaId": 4,
        "CustomerAccount": 20,
        "OrderingCustomerAccountNumber": 20,
        "InvoiceCustomerAccountNumber": 20,
        "InvoiceAccount": 20,
        "CustomersOrderReference": 20,
        "CustomerRequisitionNumber": 20,
        "SalesOrderNumber": 20,
        "ItemNumber": 20,
        "InventoryLotId": 20,
        "JournalBatchNumber": 10,
        "JournalName": 10,
        "PaymentReference": 20,
        "CustomerGroupId": 10,
        "CurrencyCode": 3,
        "SalesCurrencyCode": 3,
        "PaymentMethodName": 10,
        "CustomerPaymentMethodName": 10,
        "DeliveryModeCode": 10,
        "SalesTaxGroupCode": 10,
        "SalesTaxItemGroupCode": 10,
        "ShippingWarehouseId": 10,
        "ShippingSiteId": 10,
        "PrimaryContactEmail": 255,
        "OrganizationName": 100,
        "PersonFirstName": 25,
        "PersonLastName": 25,
    ]
}
