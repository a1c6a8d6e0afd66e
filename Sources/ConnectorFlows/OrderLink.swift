import ConnectorMapping
import Foundation

/// What one WooCommerce order became in F&O (SPEC §5 "order links"): kept forever, read
/// before every step so a retry, a duplicate delivery or a second instance never posts twice.
public struct OrderLink: Codable, Sendable, Equatable {
    public struct JournalPosition: Codable, Sendable, Equatable {
        public var reference: String
        public var journalBatchNumber: String
        public var lineNumber: Int
        public var amount: Decimal
    }

    public var orderID: Int
    public var reference: String
    public var customerAccount: String
    public var currency: String
    /// Set as soon as F&O gave it — before the lines, when F&O numbers the order.
    public var salesOrderNumber: String?
    /// True once every line is in F&O and their amounts add up.
    public var linesComplete: Bool
    /// `OrderPlan.fingerprint` of what was posted: another one later is an edit.
    public var fingerprint: String
    public var payment: JournalPosition?
    /// Refund id → its journal line.
    public var refunds: [String: JournalPosition]
    /// F&O's amount sum of the sales order lines at posting.
    public var postedNet: Decimal?
    public var postedAt: Date?
    /// WooCommerce's total and tax at posting (for reconciliation).
    public var wooTotal: Decimal?
    public var wooTax: Decimal?
    /// Set when the order was seen fully invoiced in F&O and completed in WooCommerce.
    public var completedAt: Date?
    /// F&O's tax differed from WooCommerce's beyond the tolerance: the order stays parked with
    /// this until a person accepts it (`mlc replay --accept-edits`).
    public var taxDifference: String?
    /// The F&O invoice numbers named in the completion note (order completion).
    public var invoiceNumbers: [String]?
    /// When the completion note was added to the WooCommerce order: a retry after a crash
    /// between the note and the status does not add it twice.
    public var completionNotedAt: Date?
    /// Why a fully invoiced order was not completed in WooCommerce (it was cancelled, refunded
    /// or deleted there); the poll stops looking at it.
    public var completionSkipped: String?

    /// Where a journal line of the plan already is, if known.
    func position(for plan: JournalLinePlan) -> JournalPosition? {
        switch plan.kind {
        case .payment: payment
        case .refund: refunds[String(plan.refundID ?? 0)]
        }
    }

    mutating func record(_ plan: JournalLinePlan, _ position: JournalPosition) {
        switch plan.kind {
        case .payment: payment = position
        case .refund: refunds[String(plan.refundID ?? 0)] = position
        }
    }
}
