import Foundation

/// The F&O names the connector uses, exactly as the real `$metadata` spells them
/// (fixtures/dynamics/entities.json; a test checks every one). Pinned versions: the documented
/// pair `SalesOrderHeadersV2` + `SalesOrderLines` ("Sales order lines V2").
public enum FOEntity {
    public static let customers = "CustomersV3"
    public static let salesOrderHeaders = "SalesOrderHeadersV2"
    public static let salesOrderLines = "SalesOrderLines"
    public static let paymentJournalHeaders = "CustomerPaymentJournalHeaders"
    public static let paymentJournalLines = "CustomerPaymentJournalLines"
    public static let invoiceHeaders = "SalesInvoiceHeadersV2"
    public static let releasedProducts = "ReleasedProductsV2"
    public static let releasedProductVariants = "ReleasedProductVariantsV2"
    public static let products = "ProductsV2"
    public static let priceAgreements = "SalesPriceAgreements"
    public static let onHand = "WarehousesOnHandV2"
}

/// Real enum type names (the reference's generated client renamed some; the metadata wins).
public enum FOEnum {
    public static let noYes = "NoYes"
    public static let salesStatus = "SalesStatus"
    /// Not `LedgerJournalAcType`: the real type has the capital C.
    public static let ledgerJournalAccountType = "LedgerJournalACType"
}

/// A sales order header as the connector reads it back.
public struct FOSalesOrderHeader: Decodable, Sendable, Equatable {
    public var dataAreaId: String
    public var SalesOrderNumber: String
    public var CustomersOrderReference: String
    public var OrderingCustomerAccountNumber: String
    public var CurrencyCode: String
    public var SalesOrderStatus: String

    public static let select = ["dataAreaId", "SalesOrderNumber", "CustomersOrderReference", "OrderingCustomerAccountNumber", "CurrencyCode", "SalesOrderStatus"]
}

/// A sales order line as the connector reads it back: its amount is what the money check sums.
public struct FOSalesOrderLine: Decodable, Sendable, Equatable {
    public var InventoryLotId: String
    public var SalesOrderNumber: String
    public var OrderLineReference: String
    public var ItemNumber: String
    public var OrderedSalesQuantity: Decimal
    public var LineAmount: Decimal
    public var SalesOrderLineStatus: String

    public static let select = ["InventoryLotId", "SalesOrderNumber", "OrderLineReference", "ItemNumber", "OrderedSalesQuantity", "LineAmount", "SalesOrderLineStatus"]
}

public struct FOCustomer: Decodable, Sendable, Equatable {
    public var CustomerAccount: String
    public var SalesCurrencyCode: String
    public static let select = ["CustomerAccount", "SalesCurrencyCode"]
}

public struct FOPaymentJournalHeader: Decodable, Sendable, Equatable {
    public var JournalBatchNumber: String
    public var JournalName: String
    public var IsPosted: String
    public var isOpen: Bool { IsPosted == "No" }
    public static let select = ["JournalBatchNumber", "JournalName", "IsPosted"]
}

public struct FOPaymentJournalLine: Decodable, Sendable, Equatable {
    public var JournalBatchNumber: String
    public var LineNumber: Decimal
    public var PaymentReference: String
    public var AccountDisplayValue: String
    public var CreditAmount: Decimal
    public var DebitAmount: Decimal
    public var CurrencyCode: String
    public static let select = ["JournalBatchNumber", "LineNumber", "PaymentReference", "AccountDisplayValue", "CreditAmount", "DebitAmount", "CurrencyCode"]
}

/// The totals F&O calculated for a sales order header (`AreTotalsCalculated` says whether it has).
public struct FOSalesOrderTotals: Decodable, Sendable, Equatable {
    public var SalesOrderNumber: String
    public var OrderTotalTaxAmount: Decimal
    public var AreTotalsCalculated: String
    public static let select = ["SalesOrderNumber", "OrderTotalTaxAmount", "AreTotalsCalculated"]
}

extension FOEntity {
    /// Posted invoice lines ("Sales invoice lines V2"; reference §3.11).
    public static let invoiceLines = "SalesInvoiceV2Lines"
}

/// A sales order's state as order completion reads it: `SalesOrderStatus` (enum SalesStatus)
/// says Invoiced only when every line is; `SalesOrderProcessingStatus` shows PartiallyInvoiced.
public struct FOSalesOrderState: Decodable, Sendable, Equatable {
    public var SalesOrderNumber: String
    public var CustomersOrderReference: String
    public var SalesOrderStatus: String
    public var SalesOrderProcessingStatus: String

    public static let select = ["SalesOrderNumber", "CustomersOrderReference", "SalesOrderStatus", "SalesOrderProcessingStatus"]
}

/// A sales order line's status (enum SalesStatus) for the fully-invoiced check.
public struct FOSalesOrderLineState: Decodable, Sendable, Equatable {
    public var SalesOrderNumber: String
    public var InventoryLotId: String
    public var SalesOrderLineStatus: String

    public static let select = ["SalesOrderNumber", "InventoryLotId", "SalesOrderLineStatus"]
}

/// A posted sales invoice header (`SalesInvoiceHeadersV2`; read by filter, never by key: the
/// key includes InvoiceDate and LedgerVoucher).
public struct FOSalesInvoiceHeader: Decodable, Sendable, Equatable {
    public var InvoiceNumber: String
    public var SalesOrderNumber: String
    public var CurrencyCode: String
    public var TotalInvoiceAmount: Decimal

    public static let select = ["InvoiceNumber", "SalesOrderNumber", "CurrencyCode", "TotalInvoiceAmount"]
}
