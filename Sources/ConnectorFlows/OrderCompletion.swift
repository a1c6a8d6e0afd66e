import ConnectorConnections
import ConnectorCore
import ConnectorStore
import DynamicsClient
import Foundation
import Logging
import WooCommerceClient

/// What one completion attempt for one sales order ended with.
public enum CompletionResult: Sendable, Equatable {
    /// The WooCommerce order was set completed with a note naming these invoices.
    case completed(orderID: Int, invoices: [String])
    /// It had been completed before (a repeated event, a racing run).
    case alreadyCompleted(orderID: Int)
    /// F&O has not invoiced all of it yet (open, partly invoiced): the poll looks again.
    case notFullyInvoiced(orderID: Int, status: String)
    /// No order link has this sales order: the connector did not create it. Acknowledged only.
    case notOurs(String)
    /// Fully invoiced, but the WooCommerce order is cancelled, refunded or gone: left alone.
    case skipped(orderID: Int, reason: String)
    /// Another worker holds the order's lease; the next run takes it.
    case busy(orderID: Int)
    /// The connection is paused; the work stays pending.
    case paused
    /// WooCommerce refused the update for good (a 4xx); the work stays for the next run.
    case failed(orderID: Int, reason: String)

    /// A short label for counts and logs.
    public var label: String {
        switch self {
        case .completed: "completed"
        case .alreadyCompleted: "alreadyCompleted"
        case .notFullyInvoiced: "notFullyInvoiced"
        case .notOurs: "notOurs"
        case .skipped: "skipped"
        case .busy: "busy"
        case .paused: "paused"
        case .failed: "failed"
        }
    }
}

/// What one completion run over a connection did (the counts backfill-poll reports).
public struct CompletionReport: Sendable, Equatable {
    public var connection: String
    public var paused = false
    /// Pending completion work (from business events) taken.
    public var pendingTaken = 0
    /// Linked, not yet completed sales orders read back from F&O.
    public var checked = 0
    /// F&O `$batch` round trips that read them.
    public var batches = 0
    public var completed = 0
    public var notFullyInvoiced = 0
    public var notOurs = 0
    public var skipped = 0
    public var busy = 0
    /// Orders whose WooCommerce update failed; tried again next run.
    public var failed = 0

    public init(connection: String) { self.connection = connection }

    mutating func count(_ result: CompletionResult) {
        switch result {
        case .completed: completed += 1
        case .alreadyCompleted: break
        case .notFullyInvoiced: notFullyInvoiced += 1
        case .notOurs: notOurs += 1
        case .skipped: skipped += 1
        case .busy: busy += 1
        case .paused: paused = true
        case .failed: failed += 1
        }
    }

    /// The counts as a JSON object (backfill-poll's result).
    public var json: String {
        var out = "{\"paused\":\(paused),\"pendingTaken\":\(pendingTaken),\"checked\":\(checked),\"batches\":\(batches),\"completed\":\(completed)"
        out += ",\"notFullyInvoiced\":\(notFullyInvoiced),\"notOurs\":\(notOurs),\"skipped\":\(skipped),\"busy\":\(busy),\"failed\":\(failed)}"
        return out
    }
}

/// Order completion back to WooCommerce (SPEC §1, issue 6 item 3): a Woo order is done when F&O
/// has invoiced all of its sales order. Then it is set `completed` with a note naming the
/// invoice number(s) — once: under the order's lease (the same one order-poster takes), with
/// the note and the completion recorded in the order link, so neither a repeated business event
/// nor a racing poll changes it twice.
///
/// Two ways in, one step:
/// - ``completeInvoiced(connectionID:salesOrderNumber:logger:)`` for one sales order named by a
///   business event (woken by `com.mlconnector.order.invoiced`, or taken from pending work);
/// - ``run(connectionID:logger:)`` for the poll: the pending work first, then every linked sales
///   order not yet completed, read back from F&O in batches (`$batch` of `$filter` reads,
///   paged), so a lost event delays completion by one poll, never forever.
///
/// "Fully invoiced" is F&O's own word for it: the header's `SalesOrderStatus` is `Invoiced` (it
/// stays `Backorder` while anything is open; a partial invoice shows only in
/// `SalesOrderProcessingStatus` = PartiallyInvoiced) and every line's `SalesOrderLineStatus` is
/// `Invoiced` (or `Canceled`), with at least one invoice to name. The metadata has no remaining
/// quantity on `SalesOrderLines`, so the statuses are what is checked.
public struct OrderCompletion: Sendable {
    public struct Settings: Sendable {
        /// How long the audit lines are kept.
        public var retention: Duration = .seconds(30 * 86_400)
        /// Sales order numbers per `$filter` (F&O has no `in`; each is an `or` term).
        public var ordersPerQuery = 20
        /// `$filter` reads per `$batch` round trip.
        public var queriesPerBatch = 10
        /// The order lease while WooCommerce is updated.
        public var leaseTTL: Duration = .seconds(120)
        /// The note's text before the invoice numbers.
        public var notePrefix = "Invoiced in Dynamics 365 F&O"

        public init() {}
    }

    let store: any KeyValueStore
    let connections: any ConnectionSource
    let remotes: any RemoteSystems
    let clock: any WallClock
    let settings: Settings
    let audit: AuditTrail
    let records: AuditRecords

    public init(store: any KeyValueStore, connections: any ConnectionSource, remotes: any RemoteSystems, clock: any WallClock = SystemWallClock(),
                settings: Settings = Settings()) {
        self.store = store
        self.connections = connections
        self.remotes = remotes
        self.clock = clock
        self.settings = settings
        self.audit = AuditTrail(store: store, clock: clock, retention: settings.retention)
        self.records = AuditRecords(store: store, clock: clock, retention: settings.retention)
    }

    static let closedWooStatuses: Set<String> = ["cancelled", "refunded", "failed", "trash"]
    static let finishedLineStatuses: Set<String> = ["Invoiced", "Canceled"]

    // MARK: one sales order (a business event)

    /// Completes the Woo order of one sales order if F&O has fully invoiced it. Clears the
    /// sales order's pending work unless the result asks for another try (busy, paused). Throws
    /// what F&O or the store threw (transient ones are retried by the caller).
    public func completeInvoiced(connectionID: String, salesOrderNumber: String, logger baseLogger: Logger) async throws -> CompletionResult {
        var logger = baseLogger
        logger[metadataKey: "connection"] = "\(connectionID)"
        logger[metadataKey: "sales_order"] = "\(salesOrderNumber)"
        if try await ConnectionControl(store: store).isPaused(connectionID) { return .paused }
        let connection = try await load(connectionID)
        let fo = try remotes.dynamics(connection)
        let company = connection.dynamics.legalEntity
        // The event is a stub: read the sales order back, then find the link by its reference.
        let header = try await fo.read(ODataQuery(FOEntity.salesOrderHeaders, legalEntity: company, filter: .eq("SalesOrderNumber", salesOrderNumber),
                                                  select: FOSalesOrderState.select), as: FOSalesOrderState.self).first
        let result: CompletionResult
        if let header, let link = try await linkedOrder(for: header, connection: connection) {
            if link.completedAt != nil {
                result = .alreadyCompleted(orderID: link.orderID)
            } else if link.completionSkipped != nil {
                result = .skipped(orderID: link.orderID, reason: link.completionSkipped ?? "")
            } else if !link.linesComplete {
                // order-poster has not finished the sales order: F&O's status says nothing yet.
                result = .notFullyInvoiced(orderID: link.orderID, status: "lines not all posted")
            } else {
                result = try await evaluate([(link: link, header: header)], connection: connection, fo: fo, logger: logger).first ?? .notFullyInvoiced(orderID: link.orderID, status: header.SalesOrderStatus)
            }
        } else {
            let reason = header == nil
                ? "F&O has no sales order \(salesOrderNumber) in \(company)"
                : "sales order \(salesOrderNumber) (reference \(Formatting.bounded(header?.CustomersOrderReference ?? "", limit: 40))) was not created by this connection"
            try? await audit.append(connection: connectionID, subject: "business-event", event: "ignored.not-ours", detail: ["salesOrderNumber": salesOrderNumber, "reason": reason])
            logger.info("completion.not_ours", metadata: ["reason": "\(reason)"])
            result = .notOurs(reason)
        }
        switch result {
        case .busy, .paused, .failed: break
        default: _ = try? await store.delete(Keyspace.pending(connectionID, kind: BusinessEventIntake.pendingKind, resourceID: salesOrderNumber))
        }
        return result
    }

    // MARK: the poll

    /// Takes the pending completion work, then reads every linked sales order not yet completed
    /// back from F&O and completes those fully invoiced. A paused connection does nothing.
    public func run(connectionID: String, logger baseLogger: Logger) async throws -> CompletionReport {
        var logger = baseLogger
        logger[metadataKey: "connection"] = "\(connectionID)"
        var report = CompletionReport(connection: connectionID)
        if try await ConnectionControl(store: store).isPaused(connectionID) {
            report.paused = true
            logger.info("completion.paused")
            return report
        }
        let connection = try await load(connectionID)

        // 1. Work handed on by business events (their wake-up may have been lost).
        let prefix = Keyspace.pending(connectionID, kind: BusinessEventIntake.pendingKind)
        var handled = Set<String>()
        for item in try await store.listAll(prefix: prefix) {
            guard let number = String(item.key.dropFirst(prefix.count)).removingPercentEncoding, !number.isEmpty else { continue }
            report.pendingTaken += 1
            do {
                report.count(try await completeInvoiced(connectionID: connectionID, salesOrderNumber: number, logger: logger))
            } catch {
                report.count(try Self.failure(error, orderID: nil, logger: logger))
            }
            handled.insert(number.uppercased())
        }

        // 2. Every posted order still open (the index order-poster keeps; a completed or skipped
        // one leaves it), read from its link.
        let openPrefix = Keyspace.openOrders(connectionID)
        var open: [String: OrderLink] = [:]
        for item in try await store.listAll(prefix: openPrefix) {
            guard let orderID = Int(item.key.dropFirst(openPrefix.count)) else { continue }
            guard let link = try await store.getJSON(OrderLink.self, Keyspace.orderLink(connectionID, orderID: orderID))?.value else {
                _ = try? await store.delete(item.key)
                continue
            }
            guard let number = link.salesOrderNumber, link.linesComplete, link.completedAt == nil, link.completionSkipped == nil else {
                _ = try? await store.delete(item.key)
                continue
            }
            guard !handled.contains(number.uppercased()) else { continue }
            open[number.uppercased()] = link
        }
        guard !open.isEmpty else { return report }
        let fo = try remotes.dynamics(connection)
        let company = connection.dynamics.legalEntity
        let numbers = open.values.compactMap(\.salesOrderNumber).sorted()
        let queries = stride(from: 0, to: numbers.count, by: max(1, settings.ordersPerQuery)).map { start in
            ODataQuery(FOEntity.salesOrderHeaders, legalEntity: company,
                       filter: .anyOf("SalesOrderNumber", Array(numbers[start..<min(start + settings.ordersPerQuery, numbers.count)])),
                       select: FOSalesOrderState.select)
        }
        for start in stride(from: 0, to: queries.count, by: max(1, settings.queriesPerBatch)) {
            let reads = try await fo.read(batch: Array(queries[start..<min(start + settings.queriesPerBatch, queries.count)]))
            report.batches += 1
            var candidates: [(link: OrderLink, header: FOSalesOrderState)] = []
            for read in reads {
                for header in try await fo.rows(read, as: FOSalesOrderState.self) {
                    guard let link = open[header.SalesOrderNumber.uppercased()] else { continue }
                    report.checked += 1
                    if header.SalesOrderStatus == "Invoiced" {
                        candidates.append((link: link, header: header))
                    } else if header.SalesOrderStatus == "Canceled" {
                        // Cancelled in F&O: it will never be invoiced; stop reading it every poll.
                        report.count(try await skip(connection: connection, orderID: link.orderID, salesOrderNumber: header.SalesOrderNumber,
                                                    reason: "F&O cancelled sales order \(header.SalesOrderNumber); the WooCommerce order is left as it is", logger: logger))
                    } else {
                        report.notFullyInvoiced += 1
                    }
                }
            }
            guard !candidates.isEmpty else { continue }
            for result in try await evaluate(candidates, connection: connection, fo: fo, logger: logger) { report.count(result) }
        }
        logger.info("completion.run", metadata: ["checked": "\(report.checked)", "completed": "\(report.completed)", "pending": "\(report.pendingTaken)"])
        return report
    }

    /// Transient trouble (throttling, an outage, the store) stops the run — it hits every order
    /// alike and the caller retries; a permanent problem of one order (a WooCommerce 4xx) is
    /// that order's result and the run goes on.
    static func failure(_ error: any Error, orderID: Int?, logger: Logger) throws -> CompletionResult {
        guard let connectorError = RemoteError.connectorError(error), connectorError.disposition != .transient else { throw error }
        logger.warning("completion.order_failed", metadata: ["error": "\(Formatting.bounded(connectorError.description, limit: 200))"])
        return .failed(orderID: orderID ?? 0, reason: connectorError.description)
    }

    // MARK: steps

    func load(_ connectionID: String) async throws -> Connection {
        guard let connection = try await connections.connection(connectionID) else {
            throw ConnectorError.notFound("no connection \(connectionID)", fix: "list them with: mlc connection list")
        }
        return connection
    }

    /// The link of the Woo order a sales order was created for: the reference
    /// `{referencePrefix}{orderId}` names the order, and the link must name this very sales
    /// order (a hand-made order with a look-alike reference is not ours).
    func linkedOrder(for header: FOSalesOrderState, connection: Connection) async throws -> OrderLink? {
        let prefix = connection.orders.referencePrefix
        let reference = header.CustomersOrderReference
        guard reference.hasPrefix(prefix), let orderID = Int(reference.dropFirst(prefix.count)), orderID > 0 else { return nil }
        guard let link = try await store.getJSON(OrderLink.self, Keyspace.orderLink(connection.id, orderID: orderID))?.value,
              link.salesOrderNumber?.caseInsensitiveCompare(header.SalesOrderNumber) == .orderedSame else { return nil }
        return link
    }

    /// Reads the lines and invoices of sales orders whose header says Invoiced (one `$batch`),
    /// and completes those fully invoiced.
    func evaluate(_ orders: [(link: OrderLink, header: FOSalesOrderState)], connection: Connection, fo: DynamicsClient, logger: Logger) async throws -> [CompletionResult] {
        let invoicedHeaders = orders.filter { $0.header.SalesOrderStatus == "Invoiced" }
        var results = orders.filter { $0.header.SalesOrderStatus != "Invoiced" }.map {
            CompletionResult.notFullyInvoiced(orderID: $0.link.orderID, status: "\($0.header.SalesOrderStatus)/\($0.header.SalesOrderProcessingStatus)")
        }
        guard !invoicedHeaders.isEmpty else { return results }
        let company = connection.dynamics.legalEntity
        let numbers = invoicedHeaders.map { $0.header.SalesOrderNumber }
        let reads = try await fo.read(batch: [
            ODataQuery(FOEntity.salesOrderLines, legalEntity: company, filter: .anyOf("SalesOrderNumber", numbers), select: FOSalesOrderLineState.select),
            ODataQuery(FOEntity.invoiceHeaders, legalEntity: company, filter: .anyOf("SalesOrderNumber", numbers), select: FOSalesInvoiceHeader.select),
        ])
        let lines = Dictionary(grouping: try await fo.rows(reads[0], as: FOSalesOrderLineState.self)) { $0.SalesOrderNumber.uppercased() }
        let invoices = Dictionary(grouping: try await fo.rows(reads[1], as: FOSalesInvoiceHeader.self)) { $0.SalesOrderNumber.uppercased() }
        for (link, header) in invoicedHeaders {
            let key = header.SalesOrderNumber.uppercased()
            let orderLines = lines[key] ?? []
            let orderInvoices = (invoices[key] ?? []).map(\.InvoiceNumber).sorted()
            let open = orderLines.filter { !Self.finishedLineStatuses.contains($0.SalesOrderLineStatus) }
            guard !orderLines.isEmpty, open.isEmpty, !orderInvoices.isEmpty else {
                let status = orderLines.isEmpty ? "no lines" : open.isEmpty ? "no invoice found" : "\(open.count) line(s) not invoiced"
                logger.info("completion.not_fully_invoiced", metadata: ["sales_order": "\(header.SalesOrderNumber)", "status": "\(status)"])
                results.append(.notFullyInvoiced(orderID: link.orderID, status: status))
                continue
            }
            do {
                results.append(try await finish(connection: connection, orderID: link.orderID, salesOrderNumber: header.SalesOrderNumber, invoices: orderInvoices, logger: logger))
            } catch {
                // One order's WooCommerce trouble is not the others'.
                results.append(try Self.failure(error, orderID: link.orderID, logger: logger))
            }
        }
        return results
    }

    /// Completes the Woo order under its lease: the note (once), the status, then the link.
    func finish(connection: Connection, orderID: Int, salesOrderNumber: String, invoices: [String], logger baseLogger: Logger) async throws -> CompletionResult {
        var logger = baseLogger
        logger[metadataKey: "order.id"] = "\(orderID)"
        let leaseKey = Keyspace.orderLease(connection.id, orderID: orderID)
        guard let lease = try await store.acquireLease(leaseKey, owner: "completion-" + UUID.random().uuidString.lowercased(), ttl: settings.leaseTTL).lease else {
            logger.info("completion.busy")
            return .busy(orderID: orderID)
        }
        do {
            let result = try await finishLeased(connection: connection, orderID: orderID, salesOrderNumber: salesOrderNumber, invoices: invoices, logger: logger)
            _ = try? await store.releaseLease(lease)
            return result
        } catch {
            _ = try? await store.releaseLease(lease)
            throw error
        }
    }

    func finishLeased(connection: Connection, orderID: Int, salesOrderNumber: String, invoices: [String], logger: Logger) async throws -> CompletionResult {
        // Under the lease, the link as it is now (a racing run may have finished it).
        guard let current = try await store.getJSON(OrderLink.self, Keyspace.orderLink(connection.id, orderID: orderID))?.value else {
            return .notOurs("the link of order \(orderID) is gone")
        }
        if current.completedAt != nil { return .alreadyCompleted(orderID: orderID) }
        let woo = try remotes.woocommerce(connection)
        let order: WooOrder
        do {
            order = try await woo.order(orderID)
        } catch let error where RemoteError.isNotFound(error) {
            return try await skip(connection: connection, orderID: orderID, salesOrderNumber: salesOrderNumber, reason: "the WooCommerce order no longer exists", logger: logger)
        }
        if Self.closedWooStatuses.contains(order.status) {
            return try await skip(connection: connection, orderID: orderID, salesOrderNumber: salesOrderNumber,
                                  reason: "the WooCommerce order is \(order.status); F&O invoiced sales order \(salesOrderNumber) (\(invoices.joined(separator: ", ")))", logger: logger)
        }
        var events: [AuditRecord.Event] = []
        if current.completionNotedAt == nil {
            let note = "\(settings.notePrefix): \(invoices.joined(separator: ", ")) (sales order \(salesOrderNumber))."
            _ = try await woo.addOrderNote(orderID: orderID, note: note)
            try await updateLink(connection.id, orderID) { $0.completionNotedAt = clock.now(); $0.invoiceNumbers = invoices }
            events.append(.init(at: clock.now(), step: "completion.note", detail: note, call: "POST /orders/\(orderID)/notes"))
        }
        if order.status != "completed" {
            _ = try await woo.updateOrder(orderID, status: "completed")
            events.append(.init(at: clock.now(), step: "completion.status", detail: "\(order.status) → completed", call: "PUT /orders/\(orderID)"))
        }
        try await updateLink(connection.id, orderID) { $0.completedAt = clock.now(); if $0.invoiceNumbers == nil { $0.invoiceNumbers = invoices } }
        _ = try? await store.delete(Keyspace.openOrder(connection.id, orderID: orderID))
        events.append(.init(at: clock.now(), step: "completed", detail: "F&O invoiced all of sales order \(salesOrderNumber): \(invoices.joined(separator: ", "))", call: nil))
        await addToRecord(events, connection: connection.id, orderID: orderID, invoices: invoices, logger: logger)
        try? await audit.append(connection: connection.id, subject: "order", event: "completed",
                                detail: ["orderId": String(orderID), "salesOrderNumber": salesOrderNumber, "invoices": invoices.joined(separator: ",")])
        logger.info("completion.completed", metadata: ["sales_order": "\(salesOrderNumber)", "invoices": "\(invoices.joined(separator: ","))"])
        return .completed(orderID: orderID, invoices: invoices)
    }

    func skip(connection: Connection, orderID: Int, salesOrderNumber: String, reason: String, logger: Logger) async throws -> CompletionResult {
        try await updateLink(connection.id, orderID) { $0.completionSkipped = reason }
        _ = try? await store.delete(Keyspace.openOrder(connection.id, orderID: orderID))
        await addToRecord([.init(at: clock.now(), step: "completion.skipped", detail: reason, call: nil)], connection: connection.id, orderID: orderID, invoices: nil, logger: logger)
        try? await audit.append(connection: connection.id, subject: "order", event: "completion.skipped", detail: ["orderId": String(orderID), "salesOrderNumber": salesOrderNumber, "reason": reason])
        logger.notice("completion.skipped", metadata: ["reason": "\(reason)"])
        return .skipped(orderID: orderID, reason: reason)
    }

    /// Changes the link with compare-and-swap (order-poster writes it too, under the same lease;
    /// the loop only guards against a lease lost mid-way).
    func updateLink(_ connectionID: String, _ orderID: Int, _ change: (inout OrderLink) -> Void) async throws {
        let key = Keyspace.orderLink(connectionID, orderID: orderID)
        for _ in 0..<5 {
            guard let found = try await store.getJSON(OrderLink.self, key) else {
                throw ConnectorError.notFound("the link of order \(orderID) is gone", fix: "nothing to complete")
            }
            var link = found.value
            change(&link)
            if case .swapped = try await store.compareAndSwapJSON(key, expectedVersion: found.version, link) { return }
        }
        throw ConnectorError.conflict("the link of order \(orderID) kept changing", fix: "retried by the next poll")
    }

    /// Adds the steps to the order's audit record (`mlc audit show`).
    func addToRecord(_ events: [AuditRecord.Event], connection: String, orderID: Int, invoices: [String]?, logger: Logger) async {
        do {
            guard var record = try await records.load(connection: connection, kind: "order", id: String(orderID)) else { return }
            record.timeline += events
            if let invoices { record.keys["invoices"] = invoices.joined(separator: ",") }
            try await records.save(record)
        } catch {
            logger.error("audit.write_failed", metadata: ["error": "\(error)"])
        }
    }
}
