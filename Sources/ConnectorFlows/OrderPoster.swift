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
    public let clock: any WallClock
    let sleeper: any Sleeper
    let settings: Settings
    let alerts: AlertCenter
    let records: AuditRecords
    let localLocks = KeyedAsyncLock()

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

        let owner = UUID.random().uuidString.lowercased()
        let lease: Lease
        do {
            guard let acquired = try await store.acquireLease(Keyspace.orderLease(connectionID, orderID: orderID), owner: owner, ttl: settings.orderLeaseTTL).lease else {
                return .retryLater("another worker holds order \(orderID)", after: 5)
            }
            lease = acquired
        } catch {
            return .retryLater("the store is unavailable: \(error)", after: nil)
        }
        CrashPoint.hit("order.after-lease")

        let timeline = Timeline(clock: clock)
        var record = (try? await records.load(connection: connectionID, kind: "order", id: String(orderID)))
            ?? .first(connection: connectionID, kind: "order", id: String(orderID), at: clock.now())
        record.attempts += 1
        let result: PostResult
        var failure: (any Error)?
        let keeper = LeaseKeeper(store: store)
        keeper.hold(lease, ttl: settings.orderLeaseTTL)
        do {
            result = try await LeaseKeeper.$current.withValue(keeper) {
                try await work(connection: connection, orderID: orderID, timeline: timeline, logger: logger)
            }
        } catch {
            timeline.add("error", "\(error)")
            failure = error
            result = .failure(error)
        }

        // Record the outcome; then clear the pending work only if nothing is left to do.
        record.apply(result, events: timeline.events, key: "salesOrderNumber")
        let window = Duration.seconds(connection.alerts.windowMinutes * 60)
        if case .parked(let reason) = result {
            await alerts.raise(connection: connectionID, reason: "record-parked", detail: "order \(orderID): \(reason)", window: window, logger: logger)
        }
        if let failure, PostResult.isCredentialFailure(failure) {
            await alerts.raise(connection: connectionID, reason: "credentials-rejected", detail: "\(failure)", window: window, logger: logger)
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
            // backfill-poll hands on only states nobody has handled: this one is handled.
            if let state = timeline.orderState {
                _ = try? await store.setJSON(Keyspace.orderSeen(connectionID, orderID: orderID), BackfillPoll.Seen(hash: state, handedAt: clock.now()), ttl: BackfillPoll.Settings().seenTTL)
            }
        case .retryLater(_, let after):
            // Stays pending; the drain leaves it alone for a growing delay (Retry-After at least).
            await deferPending(connectionID: connectionID, orderID: orderID, after: after)
        }
        _ = try? await store.releaseLease(keeper.drop(lease.key) ?? lease)
        logger.info("order.result", metadata: ["result": "\(Self.label(result))"])
        return result
    }

    /// `mlc replay --accept-edits`: forgets what the order looked like when it was posted, so the
    /// next attempt takes its current state as posted (after a person adjusted F&O by hand).
    public func acceptCurrentState(connectionID: String, orderID: Int) async throws -> Bool {
        let key = Keyspace.orderLink(connectionID, orderID: orderID)
        guard var stored = try await store.getJSON(OrderLink.self, key) else { return false }
        for _ in 0..<3 {
            var link = stored.value
            link.fingerprint = ""
            link.taxDifference = nil
            if case .swapped = try await store.compareAndSwapJSON(key, expectedVersion: stored.version, link) { return true }
            guard let again = try await store.getJSON(OrderLink.self, key) else { return false }
            stored = again
        }
        throw ConnectorError.conflict("order \(orderID)'s link kept changing", fix: "run the replay again")
    }

    /// Records a transient failure on the order's pending work: attempts + 1, and a retry time
    /// 30 s · 2^(attempts − 1), capped at an hour, never sooner than F&O's `Retry-After`.
    func deferPending(connectionID: String, orderID: Int, after: Double?) async {
        let key = Keyspace.pending(connectionID, kind: "order", resourceID: String(orderID))
        for _ in 0..<3 {
            let current = try? await store.getJSON(PendingWork.self, key)
            var work = current?.value ?? PendingWork(connection: connectionID, kind: "order", resourceID: String(orderID), firstSeenAt: clock.now(), origin: "retry")
            let attempts = (work.attempts ?? 0) + 1
            let delay = max(after ?? 0, min(3600, 30 * pow(2, Double(min(attempts, 12) - 1))))
            work.attempts = attempts
            work.retryAt = clock.now().addingTimeInterval(delay)
            if let current {
                if case .swapped = (try? await store.compareAndSwap(key, expectedVersion: current.version, work.encoded(), ttl: settings.retention)) ?? .conflict { return }
            } else if (try? await store.insertIfAbsent(key, work.encoded(), ttl: settings.retention))?.inserted == true {
                return
            }
        }
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
        let keeper = LeaseKeeper.current
        let fo = try remotes.dynamics(connection).observing { call in
            timeline.add("call", "F&O", call: "\(call.method) \(call.path) → \(call.status) in \(call.milliseconds) ms")
        }.guarding { try await keeper?.renewAll() }
        let linkKey = Keyspace.orderLink(connection.id, orderID: orderID)
        var stored = try await store.getJSON(OrderLink.self, linkKey)

        // A delivery is only a hint: the order is read again, as it is now.
        let order: WooOrder
        do {
            order = try await woo.order(orderID)
        } catch where RemoteError.isNotFound(error) {
            if let link = stored?.value, let number = link.salesOrderNumber {
                return .parked("order \(orderID) was deleted in WooCommerce after it was posted as F&O sales order \(number); nothing was changed in F&O")
            }
            return .skipped("order \(orderID) no longer exists in WooCommerce")
        }
        timeline.orderState = BackfillPoll.stateHash(order)
        timeline.add("received", "status \(order.status), total \(order.total) \(order.currency), modified \(order.dateModifiedGMT.map(Formatting.timestamp) ?? "?")")

        let isPaid = connection.orders.paidStatuses.contains(order.status)
        if let link = stored?.value, let number = link.salesOrderNumber, ["cancelled", "trash", "failed"].contains(order.status) {
            return .parked("order \(orderID) is \(order.status) in WooCommerce but F&O sales order \(number) exists; nothing was changed in F&O — cancel it there if that is right")
        }
        // A fully refunded order was paid: it, its payment and its refunds reach F&O, as finance
        // reconciles them (posted before or not).
        guard isPaid || (order.status == "refunded" && (stored != nil || order.datePaidGMT != nil)) else {
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

        // An edit after posting is never applied to F&O; the order's new refunds still are.
        var edited: String?
        if let link = stored?.value, link.linesComplete, !link.fingerprint.isEmpty, link.fingerprint != plan.fingerprint {
            edited = "order \(orderID) was edited in WooCommerce after it was posted as F&O sales order \(link.salesOrderNumber ?? "?"); nothing was changed in F&O — adjust the sales order there, then: mlc replay \(connection.id):order:\(orderID) --accept-edits"
            timeline.add("edited", edited!)
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

        if link.linesComplete && link.fingerprint.isEmpty {
            // `mlc replay --accept-edits`: a person confirmed F&O matches the order as it is now.
            link.fingerprint = plan.fingerprint
            try await saveLink()
            timeline.add("edited", "the current state was accepted as posted")
        }
        var journalPlans = ([plan.payment].compactMap { $0 } + plan.refunds).filter { link.position(for: $0) == nil }
        if edited != nil { journalPlans = journalPlans.filter { $0.kind == .refund } }
        if let edited, journalPlans.isEmpty { return .parked(edited) }
        if link.linesComplete && journalPlans.isEmpty {
            if let difference = link.taxDifference { return .parked(difference) }
            timeline.add("posted", "already in F&O as \(link.salesOrderNumber ?? "?"); nothing to write")
            // A crash between the link and its index entry is healed by the next look.
            if let number = link.salesOrderNumber, link.completedAt == nil, link.completionSkipped == nil {
                _ = try? await store.insertIfAbsent(Keyspace.openOrder(connection.id, orderID: orderID), Array(number.utf8), ttl: nil)
            }
            return .posted(salesOrderNumber: link.salesOrderNumber ?? "?")
        }

        // Round trip 1: every existence check at once — F&O has no idempotency key, so each key
        // is looked up before anything is created (and again by whoever takes over the lease).
        var queries: [ODataQuery] = []
        if !link.linesComplete {
            queries.append(ODataQuery(FOEntity.salesOrderHeaders, legalEntity: fo.legalEntity, filter: .eq("CustomersOrderReference", plan.reference), select: FOSalesOrderHeader.select))
        }
        if !journalPlans.isEmpty {
            queries.append(ODataQuery(FOEntity.paymentJournalLines, legalEntity: fo.legalEntity, filter: .anyOf("PaymentReference", journalPlans.map(\.reference)), select: FOPaymentJournalLine.select))
        }
        let reads = try await fo.read(batch: queries)
        var headers: [FOSalesOrderHeader] = []
        if !link.linesComplete { headers = try await fo.rows(reads[0], as: FOSalesOrderHeader.self) }
        if !journalPlans.isEmpty {
            let found = try await fo.rows(reads[reads.count - 1], as: FOPaymentJournalLine.self)
            for plan in journalPlans {
                guard let line = found.first(where: { $0.PaymentReference == plan.reference }) else { continue }
                link.record(plan, OrderLink.JournalPosition(reference: plan.reference, journalBatchNumber: line.JournalBatchNumber,
                                                            lineNumber: NSDecimalNumber(decimal: line.LineNumber).intValue, amount: plan.amount))
                timeline.add("journal", "\(plan.kind.rawValue) \(plan.reference) found in \(line.JournalBatchNumber)")
            }
            journalPlans = journalPlans.filter { link.position(for: $0) == nil }
        }

        if !link.linesComplete {
            if headers.count > 1 {
                throw ConnectorError.remoteRejected("F&O holds \(headers.count) sales orders with reference \(plan.reference): \(headers.map(\.SalesOrderNumber).joined(separator: ", "))", fix: "keep one (cancel the others in F&O), then replay")
            }
            if let existing = headers.first {
                guard existing.OrderingCustomerAccountNumber.caseInsensitiveCompare(plan.customer.account) == .orderedSame,
                      existing.CurrencyCode.caseInsensitiveCompare(plan.currency) == .orderedSame else {
                    throw ConnectorError.remoteRejected("F&O sales order \(existing.SalesOrderNumber) has reference \(plan.reference) but customer \(existing.OrderingCustomerAccountNumber) / \(existing.CurrencyCode), not \(plan.customer.account) / \(plan.currency)", fix: "check whether another system used the reference; fix it in F&O, then replay")
                }
                timeline.add("salesOrder", "found \(existing.SalesOrderNumber) by reference \(plan.reference)")
                link.salesOrderNumber = existing.SalesOrderNumber
                try await saveLink()
                // Resume: the lines F&O lacks, found by OrderLineReference (with the journal lines).
                let net = try await completeLines(plan, salesOrderNumber: existing.SalesOrderNumber, journal: journalPlans, link: &link, fo: fo, connection: connection, timeline: timeline)
                journalPlans = []
                guard net == plan.expectedNet else { return try await parkMoney(net, plan, link: &link, save: saveLink) }
            } else {
                try await ensureCustomer(plan.customer, fo: fo, timeline: timeline)
                CrashPoint.hit("order.after-customer")
                if let number = plan.suppliedSalesOrderNumber {
                    // Round trip 2: header, lines and the money in one changeset — all or nothing.
                    var header = plan.header
                    header["SalesOrderNumber"] = .string(number)
                    var operations = [BatchOperation.create(FOEntity.salesOrderHeaders, header)]
                    operations += plan.lines.map { line in
                        var record = line.record
                        record["SalesOrderNumber"] = .string(number)
                        return .create(FOEntity.salesOrderLines, record)
                    }
                    let (parts, totals) = try await submitWithJournal(operations, journal: journalPlans, link: &link, fo: fo, connection: connection, timeline: timeline,
                                                                      thenRead: Self.totalsQuery(number, fo: fo))
                    journalPlans = []
                    CrashPoint.hit("order.after-changeset")
                    let net = try parts.dropFirst().prefix(plan.lines.count).reduce(Decimal(0)) { $0 + (try DynamicsClient.decode($1, as: FOSalesOrderLine.self)).LineAmount }
                    link.salesOrderNumber = number
                    timeline.add("salesOrder", "created \(number) with \(plan.lines.count) lines in one changeset")
                    guard net == plan.expectedNet else { return try await parkMoney(net, plan, link: &link, save: saveLink) }
                    link.taxDifference = try await taxDifference(totals, plan: plan, number: number, connection: connection, fo: fo, timeline: timeline)
                } else {
                    // F&O numbers the order: the header first, its number stored at once.
                    let created: FOSalesOrderHeader = try await fo.create(FOEntity.salesOrderHeaders, plan.header)
                    timeline.add("salesOrder", "created \(created.SalesOrderNumber) (numbered by F&O)")
                    CrashPoint.hit("order.after-header")
                    link.salesOrderNumber = created.SalesOrderNumber
                    try await saveLink()
                    CrashPoint.hit("order.after-header-link")
                    let operations: [BatchOperation] = plan.lines.map { line in
                        var record = line.record
                        record["SalesOrderNumber"] = .string(created.SalesOrderNumber)
                        return .create(FOEntity.salesOrderLines, record)
                    }
                    let (parts, totals) = try await submitWithJournal(operations, journal: journalPlans, link: &link, fo: fo, connection: connection, timeline: timeline,
                                                                      thenRead: Self.totalsQuery(created.SalesOrderNumber, fo: fo))
                    journalPlans = []
                    CrashPoint.hit("order.after-changeset")
                    let net = try parts.prefix(plan.lines.count).reduce(Decimal(0)) { $0 + (try DynamicsClient.decode($1, as: FOSalesOrderLine.self)).LineAmount }
                    guard net == plan.expectedNet else { return try await parkMoney(net, plan, link: &link, save: saveLink) }
                    link.taxDifference = try await taxDifference(totals, plan: plan, number: created.SalesOrderNumber, connection: connection, fo: fo, timeline: timeline)
                }
            }
            link.linesComplete = true
            link.postedNet = plan.expectedNet
            link.postedAt = clock.now()
            link.fingerprint = plan.fingerprint
            try await saveLink()
            CrashPoint.hit("order.after-link")
            // Open until F&O has invoiced it all: what backfill-poll's completion reads.
            if let number = link.salesOrderNumber {
                _ = try await store.set(Keyspace.openOrder(connection.id, orderID: orderID), Array(number.utf8), ttl: nil)
            }
            timeline.add("posted", "sales order \(link.salesOrderNumber ?? "?"), \(plan.lines.count) lines, net \(plan.expectedNet) (F&O's line amounts)")
        }

        // Refunds (or a payment) that came after the order: their own changeset.
        if !journalPlans.isEmpty {
            _ = try await submitWithJournal([], journal: journalPlans, link: &link, fo: fo, connection: connection, timeline: timeline)
            CrashPoint.hit("order.after-refund")
        }
        try await saveLink()
        for skipped in plan.skippedRefunds { timeline.add("refund.skipped", "refund \(skipped.refundID) (\(skipped.amount)): \(skipped.reason)") }
        if let difference = link.taxDifference, edited == nil { return .parked(difference) }
        if !plan.skippedRefunds.isEmpty {
            // Money went back to a customer without a journal line: finance must know.
            await alerts.raise(connection: connection.id, reason: "refund-not-posted",
                               detail: "order \(orderID): refund(s) \(plan.skippedRefunds.map { "\($0.refundID) (\($0.amount))" }.joined(separator: ", ")) not posted — \(plan.skippedRefunds[0].reason)",
                               window: .seconds(connection.alerts.windowMinutes * 60), logger: logger)
        }
        if let edited { return .parked(edited) }
        return .posted(salesOrderNumber: link.salesOrderNumber ?? "?")
    }

    /// Reads what the mapping needs besides the order (its refunds, the SKUs of variable
    /// products) and maps it.
    static func map(_ order: WooOrder, connection: Connection, woo: WooCommerceClient) async throws -> MappingOutcome {
        let refunds = order.refunds.isEmpty ? [] : try await woo.refunds(orderID: order.id)
        var parentSKUs: [Int: String] = [:]
        for item in order.lineItems where item.variationID != 0 && parentSKUs[item.productID] == nil {
            // A parent gone from the store leaves its SKU unknown (the mapping names it); an outage is retried.
            do { parentSKUs[item.productID] = try await woo.product(item.productID).sku } catch where RemoteError.isNotFound(error) {}
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

    /// The created header with the totals F&O calculated, read in the changeset's own request.
    static func totalsQuery(_ number: String, fo: DynamicsClient) -> ODataQuery {
        ODataQuery(FOEntity.salesOrderHeaders, legalEntity: fo.legalEntity, filter: .eq("SalesOrderNumber", number), select: FOSalesOrderTotals.select)
    }

    /// SPEC §8: tax is compared within the connection's tolerance. Nil when it agrees (or F&O has
    /// not calculated it yet, which the timeline says); otherwise the difference, named.
    private func taxDifference(_ read: DynamicsClient.BatchRead?, plan: OrderPlan, number: String, connection: Connection, fo: DynamicsClient,
                               timeline: Timeline) async throws -> String? {
        guard let read, let totals = try await fo.rows(read, as: FOSalesOrderTotals.self).first else {
            timeline.add("tax", "not compared: F&O's header could not be read with the changeset")
            return nil
        }
        guard totals.AreTotalsCalculated == "Yes" else {
            timeline.add("tax", "not compared: F&O has not calculated sales order \(number)'s totals yet")
            return nil
        }
        let difference = totals.OrderTotalTaxAmount - plan.expectedTax
        let tolerance = connection.mapping.taxTolerance
        guard abs(difference) > tolerance else {
            timeline.add("tax", "F&O \(totals.OrderTotalTaxAmount), WooCommerce \(plan.expectedTax): within \(tolerance)")
            return nil
        }
        return "F&O sales order \(number)'s sales tax is \(totals.OrderTotalTaxAmount), WooCommerce's is \(plan.expectedTax) (difference \(difference), tolerance \(tolerance)) — check the tax groups mapped for its lines and destination, correct the order in F&O, then: mlc replay \(connection.id):order:\(plan.orderID) --accept-edits"
    }

    /// Parks an order whose lines in F&O do not add up to WooCommerce's net.
    private func parkMoney(_ net: Decimal, _ plan: OrderPlan, link: inout OrderLink, save: () async throws -> Void) async throws -> PostResult {
        try await save()
        return .parked("F&O sales order \(link.salesOrderNumber ?? "?")'s lines add up to \(net), WooCommerce's total minus tax is \(plan.expectedNet) (difference \(plan.expectedNet - net))")
    }

    /// Reads the lines of an existing sales order, creates the missing ones (and the journal
    /// lines) in one changeset, and returns F&O's sum of the order's `LineAmount`.
    private func completeLines(_ plan: OrderPlan, salesOrderNumber: String, journal: [JournalLinePlan], link: inout OrderLink, fo: DynamicsClient,
                               connection: Connection, timeline: Timeline) async throws -> Decimal {
        let query = ODataQuery(FOEntity.salesOrderLines, legalEntity: fo.legalEntity, filter: .eq("SalesOrderNumber", salesOrderNumber), select: FOSalesOrderLine.select)
        let lines = try await fo.read(query, as: FOSalesOrderLine.self)
        let have = Set(lines.map(\.OrderLineReference))
        let missing = plan.lines.filter { !have.contains($0.reference) }
        let planned = Set(plan.lines.map(\.reference))
        let foreign = lines.filter { !planned.contains($0.OrderLineReference) }
        if !foreign.isEmpty {
            timeline.add("salesOrderLine", "F&O has \(foreign.count) line(s) this order did not create: \(foreign.map(\.InventoryLotId).joined(separator: ", "))")
        }
        var net = lines.reduce(Decimal(0)) { $0 + $1.LineAmount }
        guard !missing.isEmpty || !journal.isEmpty else { return net }
        let operations: [BatchOperation] = missing.map { line in
            var record = line.record
            record["SalesOrderNumber"] = .string(salesOrderNumber)
            return .create(FOEntity.salesOrderLines, record)
        }
        let (parts, _) = try await submitWithJournal(operations, journal: journal, link: &link, fo: fo, connection: connection, timeline: timeline)
        for part in parts.prefix(missing.count) { net += try DynamicsClient.decode(part, as: FOSalesOrderLine.self).LineAmount }
        if !missing.isEmpty { timeline.add("salesOrderLine", "created \(missing.count) missing line(s): \(missing.map(\.reference).joined(separator: ", "))") }
        return net
    }

    private func ensureCustomer(_ customer: CustomerPlan, fo: DynamicsClient, timeline: Timeline) async throws {
        let knownKey = Keyspace.knownCustomer(environment: Self.host(fo), legalEntity: fo.legalEntity, account: customer.account)
        if try await store.get(knownKey) != nil { return }
        let key = ODataKey(FOEntity.customers, ["dataAreaId": .string(fo.legalEntity), "CustomerAccount": .string(customer.account)])
        if try await fo.read(key, select: ["CustomerAccount"], as: FOCustomer.Account.self) == nil {
            // CustomersV3 is "single thread only": one writer per legal entity, and the existence
            // check is repeated under the lease (another worker may have just created it).
            try await withEntityLease(fo: fo, entity: "customers") {
                if try await fo.read(key, select: ["CustomerAccount"], as: FOCustomer.Account.self) != nil { return }
                do {
                    let _: FOCustomer.Account = try await fo.create(FOEntity.customers, customer.record)
                    timeline.add("customer", "created \(customer.account)")
                } catch let error as ConnectorError where error == .remoteRejected && error.message.contains("already exists") {
                    // Created meanwhile by a writer outside these leases (a person, another tool): it is there.
                    timeline.add("customer", "\(customer.account) already exists")
                }
            }
        } else {
            timeline.add("customer", "\(customer.account) exists")
        }
        // Remembered, so later orders of the customer skip the round trip.
        _ = try await store.setJSON(knownKey, ["account": customer.account], ttl: .seconds(7 * 86_400))
    }

    static func host(_ fo: DynamicsClient) -> String {
        URLComponents(string: fo.configuration.credentials.audience)?.host ?? fo.configuration.credentials.audience
    }
}

