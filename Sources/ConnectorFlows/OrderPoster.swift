import ConnectorConnections
import ConnectorCore
import ConnectorMapping
import ConnectorStore
import DynamicsClient
import Foundation
import Logging
import Synchronization
import WooCommerceClient

/// What became of one order.
public enum PostResult: Sendable, Equatable {
    /// In F&O to the cent (now, or already before): sales order number.
    case posted(salesOrderNumber: String)
    /// Nothing for F&O to do (not paid, deleted before posting).
    case skipped(String)
    /// A permanent problem, alerted; waits for a person and a replay.
    case parked(String)
    /// Transient (F&O or WooCommerce unavailable, throttled, lease held): stays pending.
    case retryLater(String, after: Double?)
}

/// Posts WooCommerce orders into F&O exactly once (SPEC §8): re-reads the order (a delivery is
/// only a hint), maps it completely before writing, then creates — each step after looking up
/// what F&O already has by a key derived from WooCommerce ids — the customer, the sales order
/// with its lines, the payment and every refund, recording each step in the order's link and
/// audit record.
public struct OrderPoster: Sendable {
    public struct Settings: Sendable {
        /// How long one worker owns an order; a crashed worker's order is taken over after it.
        public var orderLeaseTTL: Duration = .seconds(300)
        /// How long one worker owns F&O's customer or journal writes for a legal entity.
        public var entityLeaseTTL: Duration = .seconds(60)
        /// Waits for a held entity lease before handing the order back.
        public var entityLeaseAttempts = 20
        public var entityLeaseWait: Double = 0.25
        public var retention: Duration = .seconds(30 * 86_400)
        public init() {}
    }

    let store: any KeyValueStore
    let connections: any ConnectionSource
    let remotes: any RemoteSystems
    let clock: any WallClock
    let sleeper: any Sleeper
    let settings: Settings
    let alerts: AlertCenter
    let records: AuditRecords

    public init(store: any KeyValueStore, connections: any ConnectionSource, remotes: any RemoteSystems, clock: any WallClock, sleeper: any Sleeper, settings: Settings = .init()) {
        self.store = store
        self.connections = connections
        self.remotes = remotes
        self.clock = clock
        self.sleeper = sleeper
        self.settings = settings
        self.alerts = AlertCenter(store: store, clock: clock)
        self.records = AuditRecords(store: store, clock: clock, retention: settings.retention)
    }

    /// Posts order `orderID` of `connectionID`, and clears its pending work when it is done.
    public func post(connectionID: String, orderID: Int, logger: Logger) async -> PostResult {
        var logger = logger
        logger[metadataKey: "connection"] = "\(connectionID)"
        logger[metadataKey: "order"] = "\(orderID)"
        let connection: Connection
        do {
            guard let found = try await connections.connection(connectionID) else {
                return .parked("no connection \(connectionID)")
            }
            connection = found
        } catch let error as ConnectorError where error.disposition == .permanent {
            return .parked("connection \(connectionID) cannot be opened: \(error)")
        } catch {
            return .retryLater("the store is unavailable: \(error)", after: nil)
        }
        if (try? await ConnectionControl(store: store).isPaused(connectionID)) == true {
            return .retryLater("connection \(connectionID) is paused", after: nil)
        }

        let owner = UUID().uuidString.lowercased()
        let lease: Lease
        do {
            guard let acquired = try await store.acquireLease(Keyspace.orderLease(connectionID, orderID: orderID), owner: owner, ttl: settings.orderLeaseTTL).lease else {
                return .retryLater("another worker holds order \(orderID)", after: 5)
            }
            lease = acquired
        } catch {
            return .retryLater("the store is unavailable: \(error)", after: nil)
        }

        let timeline = Timeline(clock: clock)
        var record = (try? await records.load(connection: connectionID, kind: "order", id: String(orderID)))
            ?? AuditRecord(connection: connectionID, kind: "order", id: String(orderID), state: .pending, reason: nil, keys: [:], attempts: 0, updatedAt: clock.now(), timeline: [])
        record.attempts += 1
        let result: PostResult
        do {
            result = try await work(connection: connection, orderID: orderID, timeline: timeline, logger: logger)
        } catch let error as ConnectorError {
            timeline.add("error", "\(error)")
            result = error.disposition == .transient ? .retryLater(error.description, after: error.retryAfter) : .parked(error.description)
        } catch {
            timeline.add("error", "\(error)")
            result = .retryLater(String(describing: error), after: nil)
        }

        // Record the outcome; then clear the pending work only if nothing is left to do.
        record.timeline += timeline.events
        switch result {
        case .posted(let number):
            record.state = .posted; record.reason = nil; record.keys["salesOrderNumber"] = number
        case .skipped(let reason):
            record.state = .skipped; record.reason = reason
        case .parked(let reason):
            record.state = .parked; record.reason = reason
            await alerts.raise(connection: connectionID, reason: "record-parked", detail: "order \(orderID): \(reason)", window: .seconds(connection.alerts.windowMinutes * 60), logger: logger)
        case .retryLater(let reason, _):
            record.state = .failed; record.reason = reason
            if reason.contains("credentials") || reason.contains("refused client") || reason.contains("refused a fresh token") {
                await alerts.raise(connection: connectionID, reason: "credentials-rejected", detail: reason, window: .seconds(connection.alerts.windowMinutes * 60), logger: logger)
            }
        }
        if let link = try? await store.getJSON(OrderLink.self, Keyspace.orderLink(connectionID, orderID: orderID))?.value {
            record.keys["salesOrderNumber"] = link.salesOrderNumber ?? record.keys["salesOrderNumber"]
            if let payment = link.payment { record.keys["payment"] = "\(payment.journalBatchNumber)/\(payment.lineNumber)" }
            for (id, refund) in link.refunds { record.keys["refund.\(id)"] = "\(refund.journalBatchNumber)/\(refund.lineNumber)" }
        }
        try? await records.save(record)
        switch result {
        case .posted, .skipped, .parked:
            // Parked work leaves the queue: it waits for a person and `mlc replay`.
            _ = try? await store.delete(Keyspace.pending(connectionID, kind: "order", resourceID: String(orderID)))
        case .retryLater:
            break
        }
        _ = try? await store.releaseLease(lease)
        logger.info("order.result", metadata: ["result": "\(Self.label(result))"])
        return result
    }

    static func label(_ result: PostResult) -> String {
        switch result {
        case .posted: "posted"
        case .skipped: "skipped"
        case .parked: "parked"
        case .retryLater: "retry"
        }
    }

    // MARK: The steps

    private func work(connection: Connection, orderID: Int, timeline: Timeline, logger: Logger) async throws -> PostResult {
        let woo = try remotes.woocommerce(connection)
        let fo = try remotes.dynamics(connection).observing { call in
            timeline.add("call", "F&O", call: "\(call.method) \(call.path) → \(call.status) in \(call.milliseconds) ms")
        }
        let linkKey = Keyspace.orderLink(connection.id, orderID: orderID)
        var stored = try await store.getJSON(OrderLink.self, linkKey)

        // A delivery is only a hint: the order is read again, as it is now.
        let order: WooOrder
        do {
            order = try await woo.order(orderID)
        } catch let error as ConnectorError where error == .notFound {
            if let link = stored?.value, let number = link.salesOrderNumber {
                return .parked("order \(orderID) was deleted in WooCommerce after it was posted as F&O sales order \(number); nothing was changed in F&O")
            }
            return .skipped("order \(orderID) no longer exists in WooCommerce")
        }
        timeline.add("received", "status \(order.status), total \(order.total) \(order.currency), modified \(order.dateModifiedGMT.map(Formatting.timestamp) ?? "?")")

        let isPaid = connection.orders.paidStatuses.contains(order.status)
        if let link = stored?.value, let number = link.salesOrderNumber, ["cancelled", "trash", "failed"].contains(order.status) {
            return .parked("order \(orderID) is \(order.status) in WooCommerce but F&O sales order \(number) exists; nothing was changed in F&O — cancel it there if that is right")
        }
        // A fully refunded order was paid: its refunds still have to reach F&O.
        guard isPaid || (order.status == "refunded" && stored != nil) else {
            return .skipped("status \(order.status) is not a paid status (\(connection.orders.paidStatuses.joined(separator: ", ")))")
        }

        let plan: OrderPlan
        switch try await Self.map(order, connection: connection, woo: woo) {
        case .problems(let problems):
            for problem in problems { timeline.add("mapping.problem", problem.description) }
            return .parked(problems.map(\.description).joined(separator: "; "))
        case .planned(let value):
            plan = value
        }
        timeline.add("mapped", "\(plan.lines.count) lines, net \(plan.expectedNet), tax \(plan.expectedTax), customer \(plan.customer.account)")

        if let link = stored?.value, link.linesComplete, link.fingerprint != plan.fingerprint {
            return .parked("order \(orderID) was edited in WooCommerce after it was posted as F&O sales order \(link.salesOrderNumber ?? "?"); nothing was changed in F&O — adjust the sales order there, then replay")
        }

        var link = stored?.value ?? OrderLink(orderID: orderID, reference: plan.reference, customerAccount: plan.customer.account, currency: plan.currency,
                                              salesOrderNumber: nil, linesComplete: false, fingerprint: plan.fingerprint, payment: nil, refunds: [:],
                                              postedNet: nil, postedAt: nil, wooTotal: order.total, wooTax: order.totalTax, completedAt: nil)
        func saveLink() async throws {
            link.wooTotal = order.total
            link.wooTax = order.totalTax
            if let version = stored?.version {
                guard case .swapped(let newVersion) = try await store.compareAndSwapJSON(linkKey, expectedVersion: version, link) else {
                    throw ConnectorError.conflict("order \(orderID)'s link changed under this worker", fix: "retried; another worker took the order over")
                }
                stored = (link, newVersion)
            } else {
                guard case .inserted(let version) = try await store.insertJSONIfAbsent(linkKey, link) else {
                    throw ConnectorError.conflict("order \(orderID)'s link was created by another worker", fix: "retried")
                }
                stored = (link, version)
            }
        }

        // 1. The customer.
        if link.salesOrderNumber == nil || !link.linesComplete {
            try await ensureCustomer(plan.customer, fo: fo, connection: connection, timeline: timeline)
        }

        // 2. The sales order and its lines.
        if !link.linesComplete {
            let number = try await ensureSalesOrder(plan, link: link, fo: fo, timeline: timeline) { number in
                link.salesOrderNumber = number
                try await saveLink()
            }
            link.salesOrderNumber = number
            let net = try await ensureLines(plan, salesOrderNumber: number, fo: fo, timeline: timeline)
            guard net == plan.expectedNet else {
                try await saveLink()
                return .parked("F&O sales order \(number)'s lines add up to \(net), WooCommerce's total minus tax is \(plan.expectedNet) (difference \(plan.expectedNet - net))")
            }
            link.linesComplete = true
            link.postedNet = net
            link.postedAt = clock.now()
            link.fingerprint = plan.fingerprint
            try await saveLink()
            timeline.add("posted", "sales order \(number), \(plan.lines.count) lines, net \(net)")
        }

        // 3. The payment and each refund: customer payment journal lines.
        if let payment = plan.payment, link.payment == nil {
            link.payment = try await ensureJournalLine(payment, fo: fo, connection: connection, timeline: timeline)
            try await saveLink()
        }
        for refund in plan.refunds {
            let id = String(refund.refundID ?? 0)
            guard link.refunds[id] == nil else { continue }
            link.refunds[id] = try await ensureJournalLine(refund, fo: fo, connection: connection, timeline: timeline)
            try await saveLink()
        }
        for skipped in plan.skippedRefunds { timeline.add("refund.skipped", "refund \(skipped.refundID) (\(skipped.amount)): \(skipped.reason)") }
        return .posted(salesOrderNumber: link.salesOrderNumber ?? "?")
    }

    /// Reads what the mapping needs besides the order (its refunds, the SKUs of variable
    /// products) and maps it.
    static func map(_ order: WooOrder, connection: Connection, woo: WooCommerceClient) async throws -> MappingOutcome {
        let refunds = order.refunds.isEmpty ? [] : try await woo.refunds(orderID: order.id)
        var parentSKUs: [Int: String] = [:]
        for item in order.lineItems where item.variationID != 0 && parentSKUs[item.productID] == nil {
            if let product = try? await woo.product(item.productID) { parentSKUs[item.productID] = product.sku }
        }
        return OrderMapper(connection: connection).plan(order: order, refunds: refunds, parentSKUs: parentSKUs)
    }

    /// What posting the order now would do, without writing anything anywhere: the plan or
    /// its problems, and what F&O already holds under the order's reference.
    public func preview(connectionID: String, orderID: Int) async throws -> String {
        guard let connection = try await connections.connection(connectionID) else {
            throw ConnectorError.notFound("no connection \(connectionID)", fix: "list them with mlc connection list")
        }
        let woo = try remotes.woocommerce(connection)
        let fo = try remotes.dynamics(connection)
        let order = try await woo.order(orderID)
        var out = "order \(orderID) (\(order.number)): status \(order.status), total \(order.total) \(order.currency), tax \(order.totalTax)\n"
        switch try await Self.map(order, connection: connection, woo: woo) {
        case .problems(let problems):
            out += "would park:\n" + problems.map { "  - \($0)" }.joined(separator: "\n")
        case .planned(let plan):
            let existing = try await fo.read(ODataQuery(FOEntity.salesOrderHeaders, legalEntity: fo.legalEntity, filter: .eq("CustomersOrderReference", plan.reference), select: FOSalesOrderHeader.select), as: FOSalesOrderHeader.self)
            out += "customer \(plan.customer.account); reference \(plan.reference); F&O already has: \(existing.isEmpty ? "nothing" : existing.map(\.SalesOrderNumber).joined(separator: ", "))\n"
            for line in plan.lines { out += "  line \(line.reference): \(line.record["ItemNumber"].map { $0.jsonText } ?? "?") amount \(line.amount)\n" }
            out += "net \(plan.expectedNet) (lines add up: \(plan.lines.reduce(Decimal(0)) { $0 + $1.amount } == plan.expectedNet ? "yes" : "NO"))"
            if let payment = plan.payment { out += "; payment \(payment.reference) \(payment.amount)" }
            for refund in plan.refunds { out += "; refund \(refund.reference) \(refund.amount)" }
        }
        return out
    }

    private func ensureCustomer(_ customer: CustomerPlan, fo: DynamicsClient, connection: Connection, timeline: Timeline) async throws {
        let key = ODataKey(FOEntity.customers, ["dataAreaId": .string(fo.legalEntity), "CustomerAccount": .string(customer.account)])
        if try await fo.read(key, select: FOCustomer.select, as: FOCustomer.self) != nil {
            timeline.add("customer", "\(customer.account) exists")
            return
        }
        // CustomersV3 is "single thread only": one writer per legal entity, and the existence
        // check is repeated under the lease (another worker may have just created it).
        try await withEntityLease(fo: fo, entity: "customers") {
            if try await fo.read(key, select: FOCustomer.select, as: FOCustomer.self) != nil { return }
            let _: FOCustomer = try await fo.create(FOEntity.customers, customer.record)
            timeline.add("customer", "created \(customer.account)")
        }
    }

    private func ensureSalesOrder(_ plan: OrderPlan, link: OrderLink, fo: DynamicsClient, timeline: Timeline,
                                  remember: (String) async throws -> Void) async throws -> String {
        if let number = link.salesOrderNumber { return number }
        // Look the reference up first: F&O has no unique constraint on it.
        let found = try await fo.read(ODataQuery(FOEntity.salesOrderHeaders, legalEntity: fo.legalEntity,
                                                 filter: .eq("CustomersOrderReference", plan.reference), select: FOSalesOrderHeader.select),
                                      as: FOSalesOrderHeader.self)
        if let existing = found.first {
            guard found.count == 1 else {
                throw ConnectorError.remoteRejected("F&O holds \(found.count) sales orders with reference \(plan.reference): \(found.map(\.SalesOrderNumber).joined(separator: ", "))", fix: "keep one (cancel the others in F&O), then replay")
            }
            guard existing.OrderingCustomerAccountNumber.caseInsensitiveCompare(plan.customer.account) == .orderedSame,
                  existing.CurrencyCode.caseInsensitiveCompare(plan.currency) == .orderedSame else {
                throw ConnectorError.remoteRejected("F&O sales order \(existing.SalesOrderNumber) has reference \(plan.reference) but customer \(existing.OrderingCustomerAccountNumber) / \(existing.CurrencyCode), not \(plan.customer.account) / \(plan.currency)", fix: "check whether another system used the reference; fix it in F&O, then replay")
            }
            timeline.add("salesOrder", "found \(existing.SalesOrderNumber) by reference \(plan.reference)")
            try await remember(existing.SalesOrderNumber)
            return existing.SalesOrderNumber
        }
        if let number = plan.suppliedSalesOrderNumber {
            // Header and lines in one changeset: all or nothing.
            var header = plan.header
            header["SalesOrderNumber"] = .string(number)
            var operations = [BatchOperation.create(FOEntity.salesOrderHeaders, header)]
            for line in plan.lines {
                var record = line.record
                record["SalesOrderNumber"] = .string(number)
                operations.append(.create(FOEntity.salesOrderLines, record))
            }
            _ = try await fo.submit(changeset: operations)
            timeline.add("salesOrder", "created \(number) with \(plan.lines.count) lines in one changeset")
            try await remember(number)
            return number
        }
        let created: FOSalesOrderHeader = try await fo.create(FOEntity.salesOrderHeaders, plan.header)
        timeline.add("salesOrder", "created \(created.SalesOrderNumber) (numbered by F&O)")
        try await remember(created.SalesOrderNumber)
        return created.SalesOrderNumber
    }

    /// Creates the lines F&O lacks (found by `OrderLineReference`) and returns F&O's sum of
    /// the order's `LineAmount`.
    private func ensureLines(_ plan: OrderPlan, salesOrderNumber: String, fo: DynamicsClient, timeline: Timeline) async throws -> Decimal {
        let query = ODataQuery(FOEntity.salesOrderLines, legalEntity: fo.legalEntity, filter: .eq("SalesOrderNumber", salesOrderNumber), select: FOSalesOrderLine.select)
        var lines = try await fo.read(query, as: FOSalesOrderLine.self)
        let have = Set(lines.map(\.OrderLineReference))
        let missing = plan.lines.filter { !have.contains($0.reference) }
        for line in missing {
            var record = line.record
            record["SalesOrderNumber"] = .string(salesOrderNumber)
            let created: FOSalesOrderLine = try await fo.create(FOEntity.salesOrderLines, record)
            timeline.add("salesOrderLine", "created \(created.InventoryLotId) for \(line.reference)")
        }
        if !missing.isEmpty { lines = try await fo.read(query, as: FOSalesOrderLine.self) }
        let planned = Set(plan.lines.map(\.reference))
        let foreign = lines.filter { !planned.contains($0.OrderLineReference) }
        if !foreign.isEmpty {
            timeline.add("salesOrderLine", "F&O has \(foreign.count) line(s) this order did not create: \(foreign.map(\.InventoryLotId).joined(separator: ", "))")
        }
        return lines.reduce(Decimal(0)) { $0 + $1.LineAmount }
    }

    /// The open payment journal of a journal name and its next line number, kept in the store.
    struct JournalState: Codable {
        var journalBatchNumber: String
        var nextLine: Int
    }

    private func ensureJournalLine(_ plan: JournalLinePlan, fo: DynamicsClient, connection: Connection, timeline: Timeline) async throws -> OrderLink.JournalPosition {
        if let found = try await findJournalLine(plan.reference, fo: fo) {
            timeline.add("journal", "\(plan.kind.rawValue) \(plan.reference) found in \(found.journalBatchNumber) line \(found.lineNumber)")
            return found
        }
        return try await withEntityLease(fo: fo, entity: "journal") {
            if let found = try await findJournalLine(plan.reference, fo: fo) { return found }
            let stateKey = Keyspace.paymentJournal(environment: Self.host(fo), legalEntity: fo.legalEntity, journalName: plan.journalName)
            for _ in 0..<5 {
                let current = try await store.getJSON(JournalState.self, stateKey)
                var open: (state: JournalState, version: Int64)?
                // A journal is reused only while F&O says it is not posted.
                if let current {
                    let header = try await fo.read(ODataKey(FOEntity.paymentJournalHeaders, ["dataAreaId": .string(fo.legalEntity), "JournalBatchNumber": .string(current.value.journalBatchNumber)]),
                                                   select: FOPaymentJournalHeader.select, as: FOPaymentJournalHeader.self)
                    if header?.isOpen == true { open = (current.value, current.version) }
                }
                if open == nil {
                    var header = ODataRecord()
                    header["dataAreaId"] = .string(fo.legalEntity)
                    header["JournalName"] = .string(plan.journalName)
                    header["Description"] = .string("WooCommerce \(connection.id) payments")
                    let created: FOPaymentJournalHeader = try await fo.create(FOEntity.paymentJournalHeaders, header)
                    timeline.add("journal", "opened \(created.JournalBatchNumber) (\(plan.journalName))")
                    let fresh = JournalState(journalBatchNumber: created.JournalBatchNumber, nextLine: 1)
                    if let current {
                        guard case .swapped(let version) = try await store.compareAndSwapJSON(stateKey, expectedVersion: current.version, fresh) else { continue }
                        open = (fresh, version)
                    } else {
                        guard case .inserted(let version) = try await store.insertJSONIfAbsent(stateKey, fresh) else { continue }
                        open = (fresh, version)
                    }
                }
                guard let (state, version) = open else { continue }
                // Take the line number with a compare-and-swap, then write the line.
                let lineNumber = state.nextLine
                let next = JournalState(journalBatchNumber: state.journalBatchNumber, nextLine: lineNumber + 1)
                guard case .swapped = try await store.compareAndSwapJSON(stateKey, expectedVersion: version, next) else { continue }
                var record = plan.record
                record["JournalBatchNumber"] = .string(state.journalBatchNumber)
                record["LineNumber"] = .int(Int64(lineNumber))
                do {
                    let _: FOPaymentJournalLine = try await fo.create(FOEntity.paymentJournalLines, record)
                } catch let error as ConnectorError where error == .remoteRejected && error.message.contains("already exists") {
                    // The number was used (a lost answer, a hand-made line): look again, then take the next.
                    if let found = try await findJournalLine(plan.reference, fo: fo) { return found }
                    continue
                }
                timeline.add("journal", "\(plan.kind.rawValue) \(plan.reference) \(plan.amount) written to \(state.journalBatchNumber) line \(lineNumber)")
                return OrderLink.JournalPosition(reference: plan.reference, journalBatchNumber: state.journalBatchNumber, lineNumber: lineNumber, amount: plan.amount)
            }
            throw ConnectorError.conflict("the payment journal's line counter kept changing", fix: "retried")
        }
    }

    private func findJournalLine(_ reference: String, fo: DynamicsClient) async throws -> OrderLink.JournalPosition? {
        let lines = try await fo.read(ODataQuery(FOEntity.paymentJournalLines, legalEntity: fo.legalEntity, filter: .eq("PaymentReference", reference), select: FOPaymentJournalLine.select),
                                      as: FOPaymentJournalLine.self)
        guard let line = lines.first else { return nil }
        let amount = line.CreditAmount != 0 ? line.CreditAmount : line.DebitAmount
        return OrderLink.JournalPosition(reference: reference, journalBatchNumber: line.JournalBatchNumber, lineNumber: NSDecimalNumber(decimal: line.LineNumber).intValue, amount: amount)
    }

    /// Runs `body` holding the (environment, legal entity, entity) lease, waiting briefly for it.
    private func withEntityLease<T: Sendable>(fo: DynamicsClient, entity: String, _ body: () async throws -> T) async throws -> T {
        let key = Keyspace.entityLease(environment: Self.host(fo), legalEntity: fo.legalEntity, entity: entity)
        let owner = UUID().uuidString.lowercased()
        for _ in 0..<settings.entityLeaseAttempts {
            if let lease = try await store.acquireLease(key, owner: owner, ttl: settings.entityLeaseTTL).lease {
                do {
                    let value = try await body()
                    _ = try? await store.releaseLease(lease)
                    return value
                } catch {
                    _ = try? await store.releaseLease(lease)
                    throw error
                }
            }
            try await sleeper.sleep(seconds: settings.entityLeaseWait)
        }
        throw ConnectorError.conflict("F&O \(entity) writes for \(fo.legalEntity) are held by another worker", fix: "retried later")
    }

    static func host(_ fo: DynamicsClient) -> String {
        URLComponents(string: fo.configuration.credentials.audience)?.host ?? fo.configuration.credentials.audience
    }
}

/// Collects an order's timeline while it is worked (remote calls arrive from the client).
final class Timeline: Sendable {
    private let clock: any WallClock
    private let collected = Mutex<[AuditRecord.Event]>([])

    init(clock: any WallClock) { self.clock = clock }

    func add(_ step: String, _ detail: String, call: String? = nil) {
        let event = AuditRecord.Event(at: clock.now(), step: step, detail: detail, call: call)
        collected.withLock { $0.append(event) }
    }

    var events: [AuditRecord.Event] { collected.withLock { $0 } }
}
