import ConnectorConnections
import ConnectorCore
import ConnectorMapping
import ConnectorStore
import DynamicsClient
import Foundation
import Logging
import Synchronization
import WooCommerceClient

/// Pushes the F&O catalog to WooCommerce (SPEC §12): reads released products, variants, names,
/// prices and on hand with `$select`, builds the desired catalog (``CatalogMapper``), finds
/// products by SKU (the store's ids first, then one paged product listing — hand-made products
/// are adopted), and sends only differences in batches of ≤ 100, each item validated first.
/// Per-item failures go to the audit trail and are retried by the next run (their state is
/// not saved); retired items are drafted or zeroed, never deleted; a run that would draft or
/// zero more than `catalog.safetyValveShare` of the pushed catalog changes nothing and alerts.
public struct CatalogPush: Sendable {
    public struct Settings: Sendable {
        public var retention: Duration = .seconds(30 * 86_400)
        /// The store currency price agreements are read in; nil = the connection's first
        /// `mapping.currencies`, else USD.
        public var currency: String?
        /// Attempts per WooCommerce call on 429/503.
        public var maxAttempts = 5
        /// How long one run owns a connection's catalog (two runs at once could both create a
        /// new SKU); a crashed run's lease lapses after it.
        public var leaseTTL: Duration = .seconds(1800)
        public init() {}
    }

    /// One change the run made (or, dry, would make).
    public struct Change: Sendable, Equatable {
        public enum Action: String, Sendable { case create, update, adopt, retire, fail }
        public var sku: String
        public var action: Action
        /// `price: 12.50 → 13.00`, … (for a failure: why).
        public var detail: String
    }

    public struct Report: Sendable, Equatable {
        public var created = 0
        public var updated = 0
        public var unchanged = 0
        public var failed = 0
        public var retired = 0
        public var changes: [Change] = []
        /// Set when the safety valve stopped the run (nothing was written).
        public var safetyValve: String?
        public var dryRun = false
        /// WooCommerce write requests sent (batch calls).
        public var wooWrites = 0
        /// WooCommerce requests sent in all (reads and writes).
        public var wooRequests = 0

        public var summary: String {
            "\(dryRun ? "would be " : "")created \(created), updated \(updated), unchanged \(unchanged), failed \(failed)" + (retired > 0 ? ", retired \(retired)" : "")
                + (safetyValve.map { " — stopped by the safety valve: \($0)" } ?? "")
        }
    }

    let store: any KeyValueStore
    let connections: any ConnectionSource
    let remotes: any RemoteSystems
    public let clock: any WallClock
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

    public static let safetyValveReason = "catalog-safety-valve"

    /// Pushes the catalog of `connectionID` (only `itemNumbers` when given: no retirements then),
    /// one run per connection at a time (a dry run reads only and needs no turn).
    public func push(connectionID: String, itemNumbers: [String]? = nil, dryRun: Bool = false, logger: Logger) async throws -> Report {
        if dryRun { return try await run(connectionID: connectionID, itemNumbers: itemNumbers, dryRun: true, logger: logger) }
        let key = Keyspace.catalogLease(connectionID)
        guard let lease = try await store.acquireLease(key, owner: UUID().uuidString.lowercased(), ttl: settings.leaseTTL).lease else {
            throw ConnectorError.conflict("another catalog push for connection \(connectionID) is running", fix: "nothing to do: it finishes on its own and the next run follows")
        }
        do {
            let report = try await run(connectionID: connectionID, itemNumbers: itemNumbers, dryRun: false, logger: logger)
            _ = try? await store.releaseLease(lease)
            return report
        } catch {
            _ = try? await store.releaseLease(lease)
            throw error
        }
    }

    func run(connectionID: String, itemNumbers: [String]?, dryRun: Bool, logger: Logger) async throws -> Report {
        guard let connection = try await connections.connection(connectionID) else {
            throw ConnectorError.notFound("no connection \(connectionID)", fix: "list them with: mlc connection list")
        }
        guard connection.catalog.enabled else {
            throw ConnectorError.invalidConfiguration("the catalog push is off for connection \(connectionID)",
                                                      fix: "set \"catalog\": {\"enabled\": true} in the connection file and update the connection")
        }
        let subset = itemNumbers.flatMap { $0.isEmpty ? nil : $0 }
        let fo = try remotes.dynamics(connection)
        let woo = try remotes.woocommerce(connection)
        let requests = Counter()
        var calls = CatalogWooCalls(pacer: CatalogPacer(perSecond: connection.catalog.wooRequestsPerSecond, clock: clock, sleeper: sleeper), sleeper: sleeper)
        calls.maxAttempts = settings.maxAttempts
        let currency = settings.currency ?? connection.mapping.currencies.first ?? "USD"

        // The F&O rows live only until they are mapped, not through the WooCommerce writes.
        let desired: DesiredCatalog, read: ReadSummary
        do {
            let rows = try await CatalogReader(client: fo, settings: connection.catalog, currency: currency, itemNumbers: subset).read()
            let unposted = try await unpostedQuantities(connectionID: connectionID, woo: woo, calls: calls, requests: requests, concurrency: connection.catalog.wooConcurrency)
            desired = try CatalogMapper.desiredCatalog(rows, connection: connection, currency: currency, unposted: unposted, now: clock.now())
            read = ReadSummary(released: rows.released.count, onHand: rows.onHand.count)
        }
        let states = try await loadStates(connectionID)

        var planner = CatalogPlanner(connection: connection, desired: desired, states: states, subset: subset.map(Set.init))
        // Adoption: SKUs the store does not know yet are looked up in one paged listing, each
        // page adopted as it comes (the first product with a SKU wins, as over the whole list).
        if planner.needsListing {
            var page = 1
            while true {
                let current = page
                let result = try await calls.run { try await woo.products(page: current, perPage: 100) }
                requests.add()
                planner.adopt(result.items)
                guard result.hasMore, !result.items.isEmpty, page < 1000 else { break }
                page += 1
            }
        }
        // Variations of variable products whose variations are not all known.
        for parentID in planner.parentsNeedingVariations {
            let variations = try await calls.run { try await woo.variations(productID: parentID) }
            requests.add()
            planner.adoptVariations(parentID: parentID, variations)
        }
        var plan = planner.plan()
        // WooCommerce replaces a product's whole attribute list: an update of the variation
        // attributes keeps the merchant's other attributes (material, care, …).
        for index in plan.productUpdates.indices where plan.productUpdates[index].input.attributes != nil {
            let id = plan.productUpdates[index].id
            let current = try await calls.run { try await woo.product(id) }
            requests.add()
            let ours = Set((plan.productUpdates[index].input.attributes ?? []).compactMap(\.name))
            plan.productUpdates[index].input.attributes! += current.attributes.filter { !ours.contains($0.name) }.map {
                WooProductAttributeInput(id: $0.id == 0 ? nil : $0.id, name: $0.name, visible: $0.visible ?? true, variation: $0.variation ?? false, options: $0.options)
            }
        }
        var report = Report()
        report.dryRun = dryRun
        report.unchanged = plan.unchanged
        for (sku, why) in desired.problems.sorted(by: { $0.key < $1.key }) { plan.failures.append((sku, why)) }

        // Safety valve: drafting or zeroing more than the share of what was pushed.
        let base = states.values.filter { !$0.retired }.count
        if base > 0, Double(plan.destructive) > connection.catalog.safetyValveShare * Double(base) {
            let cause = Self.likelyCause(read: read, desired: desired, plan: plan, base: base)
            let detail = "the catalog push would draft or zero \(plan.destructive) of \(base) pushed SKUs (more than \(Int((connection.catalog.safetyValveShare * 100).rounded()))%); nothing was changed. Likely cause: \(cause)"
            if !dryRun {
                await alerts.raise(connection: connectionID, reason: Self.safetyValveReason, detail: detail,
                                   window: .seconds(connection.alerts.windowMinutes * 60), logger: logger)
            }
            logger.warning("catalog safety valve", metadata: ["connection": "\(connectionID)", "destructive": "\(plan.destructive)", "base": "\(base)"])
            report.safetyValve = detail
            report.unchanged = desired.skuCount
            report.wooRequests = requests.value
            return report
        }

        report.changes = plan.changes
        for failure in plan.failures {
            report.changes.append(Change(sku: failure.sku, action: .fail, detail: failure.why))
        }
        if dryRun {
            report.created = plan.changes.filter { $0.action == .create }.count
            report.updated = plan.changes.filter { $0.action == .update || $0.action == .adopt }.count
            report.retired = plan.changes.filter { $0.action == .retire }.count
            report.failed = plan.failures.count
            report.wooRequests = requests.value
            return report
        }

        let executor = CatalogExecutor(connectionID: connectionID, woo: woo, calls: calls, concurrency: max(1, connection.catalog.wooConcurrency),
                                       store: store, records: records, clock: clock, requests: requests, logger: logger)
        let outcome = try await executor.execute(plan)
        report.created = outcome.created
        report.updated = outcome.updated
        report.retired = outcome.retired
        report.failed = outcome.failed.count
        report.wooWrites = outcome.writes
        report.wooRequests = requests.value
        // Failures (validation and WooCommerce's per-item errors) in the audit trail.
        report.changes = report.changes.filter { $0.action != .fail && !outcome.failed.keys.contains($0.sku) }
        for (sku, why) in outcome.failed.sorted(by: { $0.key < $1.key }) {
            report.changes.append(Change(sku: sku, action: .fail, detail: why))
        }
        logger.info("catalog pushed", metadata: ["connection": "\(connectionID)", "summary": "\(report.summary)"])
        return report
    }

    /// What the safety valve's message needs to know of the F&O read (the rows themselves are
    /// dropped once mapped).
    struct ReadSummary: Sendable { var released: Int; var onHand: Int }

    static func likelyCause(read: ReadSummary, desired: DesiredCatalog, plan: CatalogPlan, base: Int) -> String {
        if read.released == 0 { return "F&O returned no released products (an empty or failed read, or a changed legal entity)" }
        if desired.products.isEmpty { return "no released product is web-sellable any more (check catalog.webSellableBy / webSellableValues)" }
        if read.onHand == 0 { return "F&O returned no on-hand rows (an empty read, or catalog.warehouses names no warehouse with stock)" }
        if plan.retirements > plan.zeroings { return "F&O returned only part of the released products (\(desired.skuCount) SKUs now against \(base) pushed) — a partial read, or many items were made non-sellable at once" }
        return "on hand dropped to zero for \(plan.zeroings) SKUs at once (a partial on-hand read, a warehouse removed from catalog.warehouses, or many unposted orders)"
    }

    /// Quantity per SKU on WooCommerce orders F&O does not have yet: pending orders, and
    /// linked orders whose lines are not complete. A posted order is in F&O's on hand already.
    func unpostedQuantities(connectionID: String, woo: WooCommerceClient, calls: CatalogWooCalls, requests: Counter, concurrency: Int) async throws -> [String: Int] {
        var orderIDs = Set<Int>()
        var posted = Set<Int>()
        let pendingPrefix = Keyspace.pending(connectionID, kind: "order")
        for item in try await store.listAll(prefix: pendingPrefix) {
            if let id = Int(item.key.dropFirst(pendingPrefix.count)) { orderIDs.insert(id) }
        }
        for item in try await store.listAll(prefix: Keyspace.orderLinks(connectionID)) {
            guard let link = try? StoreJSON.decoder.decode(OrderLink.self, from: Data(item.value)) else { continue }
            if link.linesComplete { posted.insert(link.orderID) } else { orderIDs.insert(link.orderID) }
        }
        orderIDs.subtract(posted)
        // Read `concurrency` orders at once (paced like every WooCommerce call).
        let ids = orderIDs.sorted()
        var quantities: [String: Int] = [:]
        try await withThrowingTaskGroup(of: WooOrder?.self) { group in
            var next = 0
            func addNext() {
                guard next < ids.count else { return }
                let id = ids[next]
                next += 1
                group.addTask {
                    do {
                        let order = try await calls.run { try await woo.order(id) }
                        requests.add()
                        return order
                    } catch let error as ConnectorError where error.label == "notFound" {
                        return nil   // deleted in WooCommerce: nothing to hold back
                    }
                }
            }
            for _ in 0..<max(1, concurrency) { addNext() }
            while let result = try await group.next() {
                addNext()
                guard let order = result, !["cancelled", "refunded", "failed", "trash", "checkout-draft"].contains(order.status) else { continue }
                for line in order.lineItems {
                    guard let sku = line.sku, !sku.isEmpty else { continue }
                    quantities[sku, default: 0] += line.quantity
                }
            }
        }
        return quantities
    }

    func loadStates(_ connectionID: String) async throws -> [String: CatalogSKUState] {
        var states: [String: CatalogSKUState] = [:]
        for item in try await store.listAll(prefix: Keyspace.catalogSKUs(connectionID)) {
            if let state = try? StoreJSON.decoder.decode(CatalogSKUState.self, from: Data(item.value)) { states[state.sku] = state }
        }
        return states
    }

    /// The push state of every SKU (for `mlc` and tests).
    public func states(connectionID: String) async throws -> [String: CatalogSKUState] { try await loadStates(connectionID) }
}

/// A thread-safe count.
final class Counter: Sendable {
    private let count = Mutex(0)
    func add(_ n: Int = 1) { count.withLock { $0 += n } }
    var value: Int { count.withLock { $0 } }
}

/// Reads what the catalog is built from, each entity set with `$select` only.
struct CatalogReader: Sendable {
    let client: DynamicsClient
    let settings: CatalogSettings
    let currency: String
    let itemNumbers: [String]?

    func read() async throws -> CatalogRows.Snapshot {
        let company = client.legalEntity
        let items: ODataFilter? = itemNumbers.map { .anyOf("ItemNumber", $0) }
        var onHandFilter: [ODataFilter] = []
        if !settings.warehouses.isEmpty { onHandFilter.append(.anyOf("InventoryWarehouseId", settings.warehouses)) }
        if let items { onHandFilter.append(items) }
        async let released = client.read(ODataQuery(FOEntity.releasedProducts, legalEntity: company, filter: items, select: CatalogRows.ReleasedProduct.select, orderBy: ["ItemNumber"]),
                                         as: CatalogRows.ReleasedProduct.self)
        async let variants = client.read(ODataQuery(FOEntity.releasedProductVariants, legalEntity: company, filter: items, select: CatalogRows.Variant.select),
                                         as: CatalogRows.Variant.self)
        async let names = client.read(ODataQuery(FOEntity.products, legalEntity: nil, filter: itemNumbers.map { .anyOf("ProductNumber", $0) }, select: CatalogRows.ProductName.select),
                                      as: CatalogRows.ProductName.self)
        async let onHand = client.read(ODataQuery(FOEntity.onHand, legalEntity: company, filter: onHandFilter.isEmpty ? nil : .and(onHandFilter), select: CatalogRows.OnHand.select),
                                       as: CatalogRows.OnHand.self)
        var translations: [CatalogRows.Translation] = []
        if let language = settings.language {
            translations = try await client.read(ODataQuery("ProductTranslations", legalEntity: nil, filter: .eq("LanguageId", .string(language)), select: CatalogRows.Translation.select),
                                                 as: CatalogRows.Translation.self)
        }
        var prices: [CatalogRows.PriceAgreement] = []
        if let group = settings.priceGroup {
            prices = try await client.read(ODataQuery(FOEntity.priceAgreements, legalEntity: company,
                                                      filter: .and([.eq("PriceCustomerGroupCode", .string(group)), .eq("PriceCurrencyCode", .string(currency))]),
                                                      select: CatalogRows.PriceAgreement.select), as: CatalogRows.PriceAgreement.self)
        }
        return try await CatalogRows.Snapshot(released: released, variants: variants, names: names, translations: translations, prices: prices, onHand: onHand)
    }
}
