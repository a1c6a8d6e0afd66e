import DynamicsClient
import Foundation

/// Everything F&O should hold for one WooCommerce order, computed before anything is written —
/// so a mapping problem parks the order with nothing half-posted.
///
/// Every key in it is a pure function of WooCommerce ids (SPEC §8), which is what makes the
/// look-up-before-create rule possible: F&O has no idempotency key of its own.
public struct OrderPlan: Sendable, Equatable {
    public var orderID: Int
    /// `CustomersOrderReference`: `{prefix}{orderId}`, ≤ 20 characters, no `*`.
    public var reference: String
    /// The number to supply for `SalesOrderNumber` (in one changeset with the lines), or nil to
    /// let F&O's number sequence assign it.
    public var suppliedSalesOrderNumber: String?
    public var currency: String
    public var customer: CustomerPlan
    /// The header fields (without `SalesOrderNumber`, added when posting).
    public var header: ODataRecord
    public var lines: [LinePlan]
    /// WooCommerce's total minus its tax: what the sum of F&O's `LineAmount` must equal exactly.
    public var expectedNet: Decimal
    public var expectedTax: Decimal
    public var payment: JournalLinePlan?
    public var refunds: [JournalLinePlan]
    /// Refunds that are deliberately not posted, with the reason (shown in the audit).
    public var skippedRefunds: [SkippedRefund]
    /// A digest of what the sales order is made of in WooCommerce (customer, currency, the lines'
    /// ids, products, quantities and amounts): a later state with another fingerprint is an edit
    /// after posting, which parks instead of changing F&O.
    public var fingerprint: String
}

/// The customer account an order is posted to, and the record to create if F&O lacks it.
public struct CustomerPlan: Sendable, Equatable {
    public var account: String
    public var record: ODataRecord
    /// The shared guest account (created once, never updated from an order).
    public var isSharedGuest: Bool
}

/// One sales order line.
public struct LinePlan: Sendable, Equatable {
    /// `OrderLineReference`: `{reference}L{Woo line id}` — how a resumed order finds the lines
    /// it already has.
    public var reference: String
    public var record: ODataRecord
    public var amount: Decimal
}

/// A customer payment journal line (a payment is a credit, a refund a debit).
public struct JournalLinePlan: Sendable, Equatable {
    public enum Kind: String, Sendable { case payment, refund }
    public var kind: Kind
    /// `PaymentReference`: `{prefix}{orderId}P` or `{prefix}{orderId}R{refundId}`.
    public var reference: String
    public var journalName: String
    public var refundID: Int?
    public var amount: Decimal
    /// The line without `JournalBatchNumber` and `LineNumber`, which are known only when posting.
    public var record: ODataRecord
}

public struct SkippedRefund: Sendable, Equatable {
    public var refundID: Int
    public var amount: Decimal
    public var reason: String
}

/// Why an order cannot be mapped: each names the value and the setting that fixes it.
public struct MappingProblem: Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var fix: String
    public var description: String { "\(message) — \(fix)" }
    public init(_ message: String, fix: String) {
        self.message = message
        self.fix = fix
    }
}

/// A plan, or every problem that stops one (all of them at once, so one fix round suffices).
public enum MappingOutcome: Sendable, Equatable {
    case planned(OrderPlan)
    case problems([MappingProblem])
}
