import ConnectorConnections
import ConnectorCore
import ConnectorMapping
import ConnectorStore
import DynamicsClient
import Foundation
import WooCommerceClient

/// WooCommerce orders beside what F&O holds for them, read fresh from both sides — what the
/// finance team signs off (SPEC §11). Every difference is listed, nothing is corrected.
public struct Reconciler: Sendable {
    public struct Row: Sendable, Equatable {
        public var orderID: Int
        public var number: String
        public var status: String
        public var currency: String
        public var wooTotal: Decimal
        public var wooNet: Decimal
        public var wooRefunded: Decimal
        /// The sales order(s) found in F&O by reference (more than one is itself a difference).
        public var salesOrders: [String]
        public var foNet: Decimal?
        public var foPayment: Decimal?
        public var foRefunded: Decimal
        /// Empty when both sides agree (or the order is not paid and F&O has nothing).
        public var differences: [String]
        public var expectedInFO: Bool
        public var isOK: Bool { differences.isEmpty }
    }

    let store: any KeyValueStore
    let remotes: any RemoteSystems

    public init(store: any KeyValueStore, remotes: any RemoteSystems) {
        self.store = store
        self.remotes = remotes
    }

    /// Every WooCommerce order modified since `since` (all statuses), reconciled.
    public func report(connection: Connection, since: Date, maxOrders: Int = 5000) async throws -> [Row] {
        let woo = try remotes.woocommerce(connection)
        let fo = try remotes.dynamics(connection)
        let mapper = OrderMapper(connection: connection)
        let orders = try await woo.allOrders(WooOrderQuery(modifiedAfter: since), maxPages: max(1, maxOrders / 100))
        var rows: [Row] = []
        for order in orders.sorted(by: { $0.id < $1.id }) {
            let reference = mapper.reference(orderID: order.id)
            let headers = try await fo.read(ODataQuery(FOEntity.salesOrderHeaders, legalEntity: fo.legalEntity, filter: .eq("CustomersOrderReference", reference), select: FOSalesOrderHeader.select), as: FOSalesOrderHeader.self)
            var foNet: Decimal?
            for header in headers {
                let lines = try await fo.read(ODataQuery(FOEntity.salesOrderLines, legalEntity: fo.legalEntity, filter: .eq("SalesOrderNumber", header.SalesOrderNumber), select: FOSalesOrderLine.select), as: FOSalesOrderLine.self)
                foNet = (foNet ?? 0) + lines.reduce(Decimal(0)) { $0 + $1.LineAmount }
            }
            let payments = try await fo.read(ODataQuery(FOEntity.paymentJournalLines, legalEntity: fo.legalEntity, filter: .eq("PaymentReference", mapper.paymentReference(orderID: order.id)), select: FOPaymentJournalLine.select), as: FOPaymentJournalLine.self)
            let refunds = order.refunds.isEmpty ? [] : try await woo.refunds(orderID: order.id)
            var foRefunded = Decimal(0)
            var missingRefunds: [Int] = []
            let gateway = connection.mapping.paymentGateways[order.paymentMethod]
            var refundDifferences: [String] = []
            for refund in refunds {
                let reference = mapper.refundReference(orderID: order.id, refundID: refund.id)
                let found = try await fo.read(ODataQuery(FOEntity.paymentJournalLines, legalEntity: fo.legalEntity, filter: .eq("PaymentReference", reference), select: FOPaymentJournalLine.select), as: FOPaymentJournalLine.self)
                foRefunded += found.reduce(Decimal(0)) { $0 + $1.DebitAmount }
                if found.isEmpty, gateway?.post == .onPaid { missingRefunds.append(refund.id) }
                if found.count > 1 { refundDifferences.append("\(found.count) journal lines carry \(reference)") }
                if let line = found.first, line.DebitAmount != abs(refund.amount) {
                    refundDifferences.append("refund \(refund.id) is \(abs(refund.amount)) in WooCommerce, \(line.DebitAmount) in F&O")
                }
            }
            let paid = connection.orders.paidStatuses.contains(order.status) || (order.status == "refunded" && order.datePaidGMT != nil)
            let wooNet = order.total - order.totalTax
            let wooRefunded = refunds.reduce(Decimal(0)) { $0 + abs($1.amount) }
            var differences: [String] = []
            if headers.count > 1 { differences.append("\(headers.count) sales orders carry reference \(reference)") }
            if paid && headers.isEmpty { differences.append("no F&O sales order for a paid order") }
            if !paid && !headers.isEmpty {
                differences.append("F&O sales order exists but the order is \(order.status)")
            }
            if let foNet, foNet != wooNet { differences.append("net \(wooNet) in WooCommerce, \(foNet) in F&O (difference \(wooNet - foNet))") }
            let expectsPayment = paid && gateway?.post == .onPaid && order.datePaidGMT != nil && order.total > 0
            let foPayment = payments.first.map { $0.CreditAmount }
            if expectsPayment && foPayment == nil { differences.append("payment \(order.total) not in F&O") }
            if let foPayment, foPayment != order.total { differences.append("payment \(order.total) in WooCommerce, \(foPayment) in F&O") }
            if payments.count > 1 { differences.append("\(payments.count) payment lines carry \(mapper.paymentReference(orderID: order.id))") }
            if !missingRefunds.isEmpty { differences.append("refund(s) \(missingRefunds.map(String.init).joined(separator: ", ")) not in F&O") }
            differences += refundDifferences
            rows.append(Row(orderID: order.id, number: order.number, status: order.status, currency: order.currency, wooTotal: order.total, wooNet: wooNet,
                            wooRefunded: wooRefunded, salesOrders: headers.map(\.SalesOrderNumber), foNet: foNet, foPayment: foPayment,
                            foRefunded: foRefunded, differences: differences, expectedInFO: paid))
        }
        return rows
    }

    /// An amount as finance reads it: at least two decimals (`30.00`, `1.995`).
    public static func money(_ value: Decimal) -> String {
        let text = "\(value)"
        guard let dot = text.firstIndex(of: ".") else { return text + ".00" }
        let decimals = text.distance(from: dot, to: text.endIndex) - 1
        return decimals >= 2 ? text : text + String(repeating: "0", count: 2 - decimals)
    }

    /// The rows as a Markdown table, then a totals line per currency.
    public static func table(_ rows: [Row]) -> String {
        let money = Self.money
        var out = "| Woo order | status | currency | Woo total | Woo net | F&O sales order | F&O net | payment | refunds Woo / F&O | check |\n"
        out += "|---|---|---|---|---|---|---|---|---|---|\n"
        for row in rows {
            out += "| \(row.number) | \(row.status) | \(row.currency) | \(money(row.wooTotal)) | \(money(row.wooNet)) | \(row.salesOrders.isEmpty ? "—" : row.salesOrders.joined(separator: ", ")) | "
            out += "\(row.foNet.map(money) ?? "—") | \(row.foPayment.map(money) ?? "—") | \(money(row.wooRefunded)) / \(money(row.foRefunded)) | "
            out += (row.isOK ? "ok" : "✗ " + row.differences.joined(separator: "; ")) + " |\n"
        }
        let currencies = Set(rows.map(\.currency)).sorted()
        for currency in currencies {
            let mine = rows.filter { $0.currency == currency && $0.expectedInFO }
            let woo = mine.reduce(Decimal(0)) { $0 + $1.wooNet }
            let fo = mine.reduce(Decimal(0)) { $0 + ($1.foNet ?? 0) }
            out += "\ntotal \(currency): WooCommerce net \(money(woo)), F&O net \(money(fo))\(woo == fo ? " — equal" : " — DIFFERENCE \(money(woo - fo))")"
        }
        return out
    }
}
