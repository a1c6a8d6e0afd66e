import ConnectorConnections
import ConnectorCore
import ConnectorMapping
import ConnectorStore
import DynamicsClient
import Foundation
import Logging
import WooCommerceClient

/// `mlc mapping check` (SPEC §7, before go-live): are the connection's mapped F&O values there,
/// and does the mapping resolve every SKU, tax class, destination, shipping line, fee and
/// payment gateway seen in the store's recent orders?
///
/// Seen values are resolved by `OrderMapper.plan` itself — the function the order poster
/// runs — never by a second copy of its rules: each value is put alone into a probe order and
/// planned with the other mappings switched off (see docs/mapping-check.md), so the check
/// cannot disagree with posting. Each recent order is also planned whole, exactly as the
/// poster would, and its problems are listed verbatim.
///
/// Read-only on both sides: the store is only listed, F&O only read (scoped by `dataAreaId`,
/// `cross-company=true`, several existence checks per `$filter` and per `$batch`).
public struct MappingCheck: Sendable {
    /// Bounds of one run.
    public struct Settings: Sendable {
        /// How far back deliveries count as recent. Default 30 days.
        public var window: Duration = .seconds(30 * 86_400)
        /// At most this many orders (the most recently delivered) are checked. Default 200.
        public var maxOrders = 200
        /// At most this many delivery records are read from the store. Default 20 000.
        public var maxDeliveryRecords = 20_000
        /// Values per `$filter` (`Key eq 'a' or Key eq 'b' …`). Default 20.
        public var valuesPerQuery = 20
        /// Queries per `$batch`. Default 20.
        public var queriesPerBatch = 20
        public init() {}
    }

    let store: any KeyValueStore
    let clock: any WallClock
    let settings: Settings

    public init(store: any KeyValueStore, clock: any WallClock = SystemWallClock(), settings: Settings = Settings()) {
        self.store = store
        self.clock = clock
        self.settings = settings
    }

    /// Checks `connection` against its store's recent orders (read with `woo`: refunds and the
    /// parent SKUs of variations, as the poster reads them) and against F&O (`fo`).
    public func run(connection: Connection, woo: WooCommerceClient, fo: DynamicsClient, logger: Logger) async throws -> MappingCheckReport {
        let now = clock.now()
        let since = now.addingTimeInterval(-Double(settings.window.components.seconds))
        let (orders, skipped) = try await recentOrders(connection: connection.id, since: since)
        logger.info("mapping.check.orders", metadata: ["connection": "\(connection.id)", "orders": "\(orders.count)", "skipped": "\(skipped)"])

        var seen = SeenValues()
        var orderRows: [MappingCheckReport.Row] = []
        var parentSKUs: [Int: String] = [:]
        var lookedUp: Set<Int> = []
        let mapper = OrderMapper(connection: connection)
        for order in orders {
            // Exactly what OrderPoster.map reads before planning: refunds and parent SKUs.
            var refunds: [WooRefund] = []
            do {
                // An order deleted from the store since its delivery has no refunds to read.
                if !order.refunds.isEmpty {
                    do { refunds = try await woo.refunds(orderID: order.id) } catch where RemoteError.isNotFound(error) {}
                }
                for item in order.lineItems where item.variationID != 0 && !lookedUp.contains(item.productID) {
                    lookedUp.insert(item.productID)
                    do { parentSKUs[item.productID] = try await woo.product(item.productID).sku } catch where RemoteError.isNotFound(error) {}
                }
            } catch {
                throw Self.unreachable("WooCommerce", error, connectionID: connection.id)
            }
            if case .problems(let problems) = mapper.plan(order: order, refunds: refunds, parentSKUs: parentSKUs) {
                orderRows.append(.init(what: "order", value: "\(order.id)", status: .unmapped,
                                       detail: problems.map(\.message).joined(separator: "; "),
                                       fix: problems.map(\.fix).reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }.joined(separator: "; ")))
            }
            seen.collect(order, probes: Probes(connection: connection), parentSKUs: parentSKUs)
        }

        // Every F&O value to look up: the mapping's own, and the item numbers SKUs resolved to.
        let setup = setupChecks(connection)
        var skuRows = seen.skus.sorted { $0.key < $1.key }.map { $0.value }
        for index in skuRows.indices where skuRows[index].row.status == .ok {
            guard let item = skuRows[index].itemNumber else { continue }
            // A variation is posted as its master's item number with dimensions: the released
            // variant must exist, not only the master.
            let dimensions = skuRows[index].dimensions
            skuRows[index].lookup = dimensions.isEmpty
                ? .init(entitySet: FOEntity.releasedProducts, key: "ItemNumber", value: item, company: true)
                : .init(entitySet: FOEntity.releasedProductVariants, key: "ProductMasterNumber", value: item, company: true, dimensions: dimensions)
        }
        let lookups = setup.map(\.lookup) + skuRows.compactMap(\.lookup)
        let found = try await exists(lookups, company: connection.dynamics.legalEntity, fo: fo, connectionID: connection.id)
        let company = connection.dynamics.legalEntity.lowercased()

        func verdict(_ lookup: Lookup) -> (ok: Bool, detail: String) {
            let scope = lookup.company ? " in \(company)" : ""
            let named = "\(lookup.entitySet) " + ([(lookup.key, lookup.value)] + lookup.dimensions.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
                .map { "\($0.0)='\($0.1)'" }.joined(separator: " ")
            if lookup.hasWildcard { return (false, "\(named) cannot be checked: F&O reads * as a wildcard") }
            return found.contains(lookup.id) ? (true, "\(named)\(scope) exists") : (false, "\(named)\(scope) not found")
        }

        var sections: [MappingCheckReport.Section] = []
        var setupRows: [MappingCheckReport.Row] = []
        for index in setup.indices {
            let (ok, detail) = verdict(setup[index].lookup)
            setupRows.append(.init(what: setup[index].what, value: setup[index].lookup.value, status: ok ? .ok : .missing, detail: detail, fix: ok ? "" : setup[index].fix))
        }
        sections.append(.init(name: "F&O setup", rows: setupRows))

        var skus: [MappingCheckReport.Row] = []
        for value in skuRows {
            var row = value.row
            if let lookup = value.lookup {
                let (ok, detail) = verdict(lookup)
                row.detail += "; " + detail
                if !ok {
                    row.status = .missing
                    row.fix = lookup.dimensions.isEmpty
                        ? "release item \(lookup.value) to \(company) in F&O, or map SKU \(value.row.value) to a released item in mapping.items"
                        : "release this variant of product master \(lookup.value) to \(company) in F&O, or check mapping.variantDimensions and the variation's attributes"
                }
            }
            skus.append(row)
        }
        sections.append(.init(name: "SKUs", rows: skus))
        sections.append(.init(name: "tax classes", rows: seen.taxClasses.sorted { $0.key < $1.key }.map(\.value.row)))
        sections.append(.init(name: "destinations", rows: seen.destinations.sorted { $0.key < $1.key }.map(\.value.row)))
        sections.append(.init(name: "currencies", rows: seen.currencies.sorted { $0.key < $1.key }.map(\.value.row)))
        sections.append(.init(name: "shipping", rows: seen.shipping.sorted { $0.key < $1.key }.map(\.value.row)))
        sections.append(.init(name: "fees", rows: seen.fees.sorted { $0.key < $1.key }.map(\.value.row)))
        sections.append(.init(name: "payment gateways", rows: seen.gateways.sorted { $0.key < $1.key }.map(\.value.row)))
        sections.append(.init(name: "orders", rows: orderRows))

        let report = MappingCheckReport(connection: connection.id, legalEntity: company, checkedAt: now, since: since,
                                        ordersChecked: orders.count, ordersMapped: orders.count - orderRows.count,
                                        deliveriesSkipped: skipped, sections: sections)
        logger.info("mapping.check.done", metadata: ["connection": "\(connection.id)", "clean": "\(report.clean)", "problems": "\(report.problemCount)"])
        return report
    }

    // MARK: Recent orders from the store

    /// The latest delivered body of each order delivered since `since` (newest orders first,
    /// at most `maxOrders`), and how many recent order deliveries could not be read as one.
    func recentOrders(connection: String, since: Date) async throws -> (orders: [WooOrder], skipped: Int) {
        var latest: [String: DeliveryRecord] = [:]
        var skipped = 0
        for stored in try await store.listAll(prefix: Keyspace.deliveries(connection), max: settings.maxDeliveryRecords) {
            // Deletions carry only `{"id":N}`: nothing to map.
            guard let record = try? DeliveryRecord.decode(stored.value), record.topic.hasPrefix("order."), record.topic != "order.deleted",
                  record.receivedAt >= since else { continue }
            guard record.body != nil else { skipped += 1; continue }
            if let current = latest[record.resourceID], current.receivedAt >= record.receivedAt { continue }
            latest[record.resourceID] = record
        }
        let decoder = WooCommerceClient.makeDecoder()
        var orders: [(Date, WooOrder)] = []
        for record in latest.values {
            guard let body = record.body, let order = try? decoder.decode(WooOrder.self, from: Data(body.utf8)) else { skipped += 1; continue }
            orders.append((record.receivedAt, order))
        }
        let newest = orders.sorted { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1.id > $1.1.id }.prefix(settings.maxOrders)
        return (newest.map(\.1), skipped)
    }

    // MARK: F&O existence

    /// One value looked up by its key field (the legal entity's, unless the entity is shared).
    struct Lookup: Sendable, Hashable {
        var entitySet: String
        var key: String
        var value: String
        var company: Bool
        /// Further key fields that must match too (a released variant's dimensions).
        var dimensions: [String: String] = [:]
        /// F&O compares strings without case.
        var id: String {
            "\(entitySet)|\(key)|\(value.uppercased())" + dimensions.sorted { $0.key < $1.key }.map { "|\($0.key)=\($0.value.uppercased())" }.joined()
        }
        var hasWildcard: Bool { value.contains("*") || dimensions.values.contains { $0.contains("*") } }
    }

    struct SetupCheck {
        var what: String
        var lookup: Lookup
        var fix: String
    }

    /// The F&O values the mapping names (entity sets and key fields from the real metadata,
    /// fixtures/dynamics/entities.json).
    func setupChecks(_ connection: Connection) -> [SetupCheck] {
        let m = connection.mapping
        let company = connection.dynamics.legalEntity.lowercased()
        var checks: [SetupCheck] = []
        func add(_ what: String, _ set: String, _ key: String, _ value: String, company scoped: Bool = true, _ fix: String) {
            checks.append(.init(what: what, lookup: .init(entitySet: set, key: key, value: value, company: scoped), fix: fix))
        }
        add("customer group", "CustomerGroups", "CustomerGroupId", m.customerGroup,
            "create customer group \(m.customerGroup) in \(company) (Accounts receivable > Setup > Customer groups), or set mapping.customerGroup to one that exists")
        for (id, gateway) in m.paymentGateways.sorted(by: { $0.key < $1.key }) {
            add("payment method (gateway \(id))", "CustomerPaymentMethods", "Name", gateway.paymentMethod,
                "create method of payment \(gateway.paymentMethod) in \(company) (Accounts receivable > Payment setup > Methods of payment), or change mapping.paymentGateways.\(id).paymentMethod")
            add("journal name (gateway \(id))", "JournalNames", "Name", gateway.journalName,
                "create journal name \(gateway.journalName) in \(company) (General ledger > Journal setup > Journal names), or change mapping.paymentGateways.\(id).journalName")
            add("offset bank account (gateway \(id))", "BankAccounts", "BankAccountId", gateway.offsetAccount,
                "create bank account \(gateway.offsetAccount) in \(company) (Cash and bank management > Bank accounts), or change mapping.paymentGateways.\(id).offsetAccount")
        }
        for (taxClass, code) in m.taxClasses.sorted(by: { $0.key < $1.key }) {
            add("item sales tax group (tax class \(taxClass.isEmpty ? "standard" : taxClass))", "TaxItemGroupHeadings", "TaxItemGroup", code,
                "create item sales tax group \(code) in \(company) (Tax > Indirect taxes > Sales tax > Item sales tax groups), or change mapping.taxClasses")
        }
        for destination in m.destinationTaxGroups {
            let place = destination.country + (destination.state.map { "/\($0)" } ?? "")
            add("sales tax group (destination \(place))", "TaxGroups", "TaxGroupCode", destination.salesTaxGroup,
                "create sales tax group \(destination.salesTaxGroup) in \(company) (Tax > Indirect taxes > Sales tax > Sales tax groups), or change mapping.destinationTaxGroups")
        }
        if let item = m.shippingItem {
            add("shipping item", FOEntity.releasedProducts, "ItemNumber", item, "release non-stock item \(item) to \(company), or change mapping.shippingItem")
        }
        if let item = m.feeItem {
            add("fee item", FOEntity.releasedProducts, "ItemNumber", item, "release non-stock item \(item) to \(company), or change mapping.feeItem")
        }
        for (sku, item) in m.items.sorted(by: { $0.key < $1.key }) {
            add("item (SKU \(sku))", FOEntity.releasedProducts, "ItemNumber", item, "release item \(item) to \(company), or change mapping.items.\(sku)")
        }
        if let site = m.site {
            add("site", "OperationalSitesV2", "SiteId", site, "create site \(site) in \(company), or change mapping.site")
        }
        if let warehouse = m.warehouse {
            add("warehouse (order lines)", "Warehouses", "WarehouseId", warehouse, "create warehouse \(warehouse) in \(company), or change mapping.warehouse")
        }
        for warehouse in connection.catalog.warehouses {
            add("warehouse (catalog stock)", "Warehouses", "WarehouseId", warehouse, "create warehouse \(warehouse) in \(company), or remove it from catalog.warehouses")
        }
        for currency in m.currencies {
            add("currency", "Currencies", "CurrencyCode", currency.uppercased(), company: false, "set currency \(currency.uppercased()) up in F&O (General ledger > Currencies), or remove it from mapping.currencies")
        }
        return checks
    }

    /// The ids (`Lookup.id`) of the values F&O holds: one `$filter` with `or` per up to
    /// `valuesPerQuery` values of one key field, up to `queriesPerBatch` queries per `$batch`.
    func exists(_ lookups: [Lookup], company: String, fo: DynamicsClient, connectionID: String) async throws -> Set<String> {
        var groups: [String: (set: String, key: String, company: Bool, values: [String])] = [:]
        var variants: [Lookup] = []
        for lookup in Set(lookups) where !lookup.hasWildcard && !lookup.value.isEmpty {
            guard lookup.dimensions.isEmpty else { variants.append(lookup); continue }
            let group = "\(lookup.entitySet)|\(lookup.key)|\(lookup.company)"
            groups[group, default: (lookup.entitySet, lookup.key, lookup.company, [])].values.append(lookup.value)
        }
        var queries: [ODataQuery] = []
        for group in groups.keys.sorted() {
            let g = groups[group]!
            let values = Array(Set(g.values.map { $0 })).sorted()
            for start in stride(from: 0, to: values.count, by: max(1, settings.valuesPerQuery)) {
                queries.append(ODataQuery(g.set, legalEntity: g.company ? company : nil,
                                          filter: .anyOf(g.key, Array(values[start..<min(start + settings.valuesPerQuery, values.count)])), select: [g.key]))
            }
        }
        // Variants: `(Master eq 'a' and Size eq 'M' …) or (…)`, matched back field by field.
        let sortedVariants = variants.sorted { $0.id < $1.id }
        var variantQueries: [Int: [Lookup]] = [:]
        for start in stride(from: 0, to: sortedVariants.count, by: max(1, settings.valuesPerQuery / 2)) {
            let chunk = Array(sortedVariants[start..<min(start + max(1, settings.valuesPerQuery / 2), sortedVariants.count)])
            let fields = [chunk[0].key] + Array(Set(chunk.flatMap(\.dimensions.keys))).sorted()
            variantQueries[queries.count] = chunk
            queries.append(ODataQuery(chunk[0].entitySet, legalEntity: company, filter: .or(chunk.map { lookup in
                .and([.eq(lookup.key, lookup.value)] + lookup.dimensions.sorted { $0.key < $1.key }.map { .eq($0.key, $0.value) })
            }), select: fields))
        }
        var found: Set<String> = []
        do {
            for start in stride(from: 0, to: queries.count, by: max(1, settings.queriesPerBatch)) {
                for (offset, read) in try await fo.read(batch: Array(queries[start..<min(start + settings.queriesPerBatch, queries.count)])).enumerated() {
                    let key = read.query.select[0]
                    if let wanted = variantQueries[start + offset] {
                        for row in try await fo.rows(read, as: KeyRow.self) {
                            for lookup in wanted where ([lookup.key: lookup.value].merging(lookup.dimensions) { a, _ in a }).allSatisfy({ row.values[$0.key]?.uppercased() == $0.value.uppercased() }) {
                                found.insert(lookup.id)
                            }
                        }
                        continue
                    }
                    for row in try await fo.rows(read, as: KeyRow.self) {
                        if let value = row.values[key] {
                            found.insert(Lookup(entitySet: read.query.entitySet, key: key, value: value, company: read.query.legalEntity != nil).id)
                        }
                    }
                }
            }
        } catch {
            throw Self.unreachable("F&O", error, connectionID: connectionID)
        }
        return found
    }

    /// A remote failure as one clear error naming the system and the fix, its class kept.
    static func unreachable(_ system: String, _ error: any Error, connectionID: String) -> ConnectorError {
        let fallback = "check the connection with: mlc connection ping \(connectionID)"
        guard let known = RemoteError.connectorError(error) else {
            return .remoteUnavailable("\(system) could not be read: \(Formatting.bounded(String(describing: error), limit: 200))", fix: fallback)
        }
        let message = "\(system) could not be read: \(known.message)"
        let fix = known.fix.isEmpty ? fallback : known.fix
        if known == ConnectorError.credentialsRejected("") { return .credentialsRejected(message, fix: fix) }
        if known == ConnectorError.throttled("", retryAfter: nil) { return .throttled(message, retryAfter: known.retryAfter) }
        return known.disposition == .transient ? .remoteUnavailable(message, fix: fix) : .remoteRejected(message, fix: fix)
    }
}

/// A row of any entity set, its string fields by name (only the key field is selected).
struct KeyRow: Decodable {
    var values: [String: String] = [:]
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }
    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        for key in c.allKeys {
            if let text = try? c.decode(String.self, forKey: key) { values[key.stringValue] = text }
        }
    }
}

// MARK: Probes: OrderMapper.plan on one value at a time

/// Runs `OrderMapper.plan` on an order holding one value under test, with every other mapping
/// switched off, so a problem it reports belongs to that value and a plan shows what the value
/// resolves to. Only mapping settings the value does not use are neutralised.
struct Probes {
    let connection: Connection

    /// The connection with nothing mapped but what no probe fails on: no tax classes, no
    /// destinations, any currency, short keys.
    var neutral: Connection {
        var c = connection
        c.mapping.taxClasses = [:]
        c.mapping.destinationTaxGroups = []
        c.mapping.currencies = []
        c.mapping.refundModel = .journal
        c.mapping.guestPolicy = .sharedAccount
        c.mapping.guestAccount = "PROBE"
        c.mapping.customerAccountDigits = 1
        c.orders.referencePrefix = "P"
        return c
    }

    /// An empty guest order with the real order's currency, addresses and gateway. Its total is
    /// 0 with a tax of `-net`, so the mapper's money check (lines = total − tax) holds for a
    /// probe line worth `net`, and no gateway is needed (nothing to pay).
    static func empty(_ order: WooOrder, net: Decimal = 0) -> WooOrder {
        var o = order
        o.id = 1
        o.number = "1"
        o.customerID = 0
        o.lineItems = []
        o.shippingLines = []
        o.feeLines = []
        o.couponLines = []
        o.refunds = []
        o.total = 0
        o.totalTax = -net
        return o
    }

    func plan(_ order: WooOrder, _ connection: Connection, parentSKUs: [Int: String] = [:]) -> MappingOutcome {
        OrderMapper(connection: connection).plan(order: order, refunds: [], parentSKUs: parentSKUs)
    }

    /// A line item's SKU → item number (and dimensions), tax class switched off.
    func sku(_ item: WooLineItem, in order: WooOrder, parentSKUs: [Int: String]) -> Result<(item: String, dimensions: [String: String], shown: String), Unresolved> {
        var line = item
        line.taxClass = ""
        var o = Self.empty(order, net: line.total)
        o.lineItems = [line]
        switch plan(o, neutral, parentSKUs: parentSKUs) {
        case .problems(let problems): return .failure(Unresolved(problem: problems[0]))
        case .planned(let plan):
            let record = plan.lines[0].record
            let dims = ["ProductSizeId": "size", "ProductColorId": "color", "ProductStyleId": "style", "ProductConfigurationId": "config"]
                .sorted { $0.key < $1.key }.compactMap { field, label in Self.text(record[field]).map { "\(label) \($0)" } }
            let itemNumber = Self.text(record["ItemNumber"]) ?? "?"
            var dimensions: [String: String] = [:]
            for field in ["ProductSizeId", "ProductColorId", "ProductStyleId", "ProductConfigurationId"] { dimensions[field] = Self.text(record[field]) }
            return .success((itemNumber, dimensions, ([itemNumber] + dims).joined(separator: " ")))
        }
    }

    /// A tax class → `SalesTaxItemGroupCode` (nil: no tax mapping, F&O's item defaults).
    func taxClass(_ taxClass: String, template: WooLineItem, in order: WooOrder) -> Result<String?, Unresolved> {
        var line = template
        line.sku = "PROBE"
        line.variationID = 0
        line.metaData = nil
        line.quantity = 1
        line.subtotal = 0
        line.total = 0
        line.taxClass = taxClass
        var o = Self.empty(order)
        o.lineItems = [line]
        var c = neutral
        c.mapping.taxClasses = connection.mapping.taxClasses
        switch plan(o, c) {
        case .problems(let problems): return .failure(Unresolved(problem: problems[0]))
        case .planned(let plan): return .success(Self.text(plan.lines[0].record["SalesTaxItemGroupCode"]))
        }
    }

    /// The order's destination → `SalesTaxGroupCode` (nil: no destination mapping).
    func destination(_ order: WooOrder) -> Result<String?, Unresolved> {
        var c = neutral
        c.mapping.destinationTaxGroups = connection.mapping.destinationTaxGroups
        switch plan(Self.empty(order), c) {
        case .problems(let problems): return .failure(Unresolved(problem: problems[0]))
        case .planned(let plan): return .success(Self.text(plan.header["SalesTaxGroupCode"]))
        }
    }

    /// The order's currency: allowed by mapping.currencies?
    func currency(_ order: WooOrder) -> Unresolved? {
        var c = neutral
        c.mapping.currencies = connection.mapping.currencies
        if case .problems(let problems) = plan(Self.empty(order), c) { return Unresolved(problem: problems[0]) }
        return nil
    }

    /// A shipping line → the item it is posted as.
    func shipping(_ line: WooShippingLine, in order: WooOrder) -> Result<String, Unresolved> {
        var o = Self.empty(order, net: line.total)
        o.shippingLines = [line]
        switch plan(o, neutral) {
        case .problems(let problems): return .failure(Unresolved(problem: problems[0]))
        case .planned(let plan): return .success(Self.text(plan.lines[0].record["ItemNumber"]) ?? "?")
        }
    }

    /// A fee line → the item it is posted as (its tax class is probed on its own).
    func fee(_ line: WooFeeLine, in order: WooOrder) -> Result<String, Unresolved> {
        var fee = line
        fee.taxClass = ""
        var o = Self.empty(order, net: fee.total)
        o.feeLines = [fee]
        switch plan(o, neutral) {
        case .problems(let problems): return .failure(Unresolved(problem: problems[0]))
        case .planned(let plan): return .success(Self.text(plan.lines[0].record["ItemNumber"]) ?? "?")
        }
    }

    /// A payment gateway → its payment method (an order with something to pay, no lines).
    func gateway(_ order: WooOrder) -> Result<String, Unresolved> {
        var o = Self.empty(order)
        o.total = 1
        o.totalTax = 1
        switch plan(o, neutral) {
        case .problems(let problems): return .failure(Unresolved(problem: problems[0]))
        case .planned(let plan): return .success(Self.text(plan.header["CustomerPaymentMethodName"]) ?? "?")
        }
    }

    static func text(_ value: ODataValue?) -> String? {
        if case .string(let text)? = value { return text }
        return nil
    }
}

/// A mapper problem that stops one value from resolving.
struct Unresolved: Error {
    let problem: MappingProblem
}

/// The values seen in recent orders, each with what the mapper made of it.
struct SeenValues {
    struct Value {
        var row: MappingCheckReport.Row
        var itemNumber: String?
        var dimensions: [String: String] = [:]
        var lookup: MappingCheck.Lookup?
        var orders: [Int] = []
    }

    var skus: [String: Value] = [:]
    var taxClasses: [String: Value] = [:]
    var destinations: [String: Value] = [:]
    var currencies: [String: Value] = [:]
    var shipping: [String: Value] = [:]
    var fees: [String: Value] = [:]
    var gateways: [String: Value] = [:]
    /// A line item to carry tax-class probes.
    var template: WooLineItem?

    /// Records one value: the first failure wins over earlier successes (one order that cannot
    /// be mapped is enough to fix the mapping).
    static func note(_ values: inout [String: Value], key: String, what: String, shown: String, orderID: Int,
                     _ result: Result<String, Unresolved>, itemNumber: String? = nil, dimensions: [String: String] = [:]) {
        var value = values[key] ?? Value(row: .init(what: what, value: shown, status: .ok, detail: "", fix: ""))
        if value.orders.count < 5, !value.orders.contains(orderID) { value.orders.append(orderID) }
        switch result {
        case .success(let resolved) where value.row.status == .ok:
            value.row.detail = resolved
            value.itemNumber = itemNumber
            value.dimensions = dimensions
        case .success: break
        case .failure(let unresolved):
            let problem = unresolved.problem
            if value.row.status == .ok {
                value.row.status = .unmapped
                value.row.detail = problem.message + " (order \(orderID))"
                value.row.fix = problem.fix
                value.itemNumber = nil
            }
        }
        values[key] = value
    }

    mutating func collect(_ order: WooOrder, probes: Probes, parentSKUs: [Int: String]) {
        let mapping = probes.connection.mapping
        for item in order.lineItems {
            if template == nil { template = item }
            let sku = item.sku ?? ""
            let result = probes.sku(item, in: order, parentSKUs: parentSKUs)
            let resolved = try? result.get()
            Self.note(&skus, key: sku.isEmpty ? "product \(item.productID)" : sku, what: "SKU", shown: sku.isEmpty ? "(none: product \(item.productID))" : sku,
                      orderID: order.id, result.map { "→ item " + $0.shown }, itemNumber: resolved?.item, dimensions: resolved?.dimensions ?? [:])
        }
        var classes = order.lineItems.map(\.taxClass) + order.feeLines.filter { $0.total != 0 }.map(\.taxClass)
        // Shipping lines carry the `shipping` class when it is mapped, else the standard one.
        if order.shippingLines.contains(where: { $0.total != 0 }) { classes.append(mapping.taxClasses["shipping"] != nil ? "shipping" : "") }
        if let template {
            for taxClass in Set(classes) {
                let result = probes.taxClass(taxClass, template: template, in: order).map { $0.map { "→ item sales tax group " + $0 } ?? "no mapping.taxClasses: F&O's item defaults apply" }
                Self.note(&taxClasses, key: taxClass, what: "tax class", shown: taxClass.isEmpty ? "standard" : taxClass, orderID: order.id, result)
            }
        }
        let destination = order.shipping.country.isEmpty ? order.billing : order.shipping
        let place = destination.country.uppercased() + (destination.state.isEmpty ? "" : "/" + destination.state.uppercased())
        Self.note(&destinations, key: place, what: "destination", shown: place.isEmpty ? "(none)" : place, orderID: order.id,
                  probes.destination(order).map { $0.map { "→ sales tax group " + $0 } ?? "no mapping.destinationTaxGroups: F&O's customer defaults apply" })
        let currencyResult: Result<String, Unresolved> = probes.currency(order).map { .failure($0) } ?? .success(mapping.currencies.isEmpty ? "any currency is posted" : "listed in mapping.currencies")
        Self.note(&currencies, key: order.currency.uppercased(), what: "currency", shown: order.currency.uppercased(), orderID: order.id, currencyResult)
        for line in order.shippingLines where line.total != 0 {
            Self.note(&shipping, key: line.methodID, what: "shipping method", shown: line.methodID.isEmpty ? line.methodTitle : line.methodID, orderID: order.id,
                      probes.shipping(line, in: order).map { "→ item " + $0 })
        }
        for fee in order.feeLines where fee.total != 0 {
            Self.note(&fees, key: fee.name, what: "fee", shown: fee.name, orderID: order.id, probes.fee(fee, in: order).map { "→ item " + $0 })
        }
        // An order with nothing to pay needs no gateway (the mapper asks only when total ≠ 0).
        if order.total != 0 {
            let result = probes.gateway(order).map { method -> String in
                let g = mapping.paymentGateways[order.paymentMethod]
                return "→ payment method \(method)" + (g.map { ", journal \($0.journalName), offset \($0.offsetAccount), post \($0.post.rawValue)" } ?? "")
            }
            Self.note(&gateways, key: order.paymentMethod, what: "payment gateway", shown: order.paymentMethod.isEmpty ? "(none)" : order.paymentMethod, orderID: order.id, result)
        }
    }
}

/// What `mlc mapping check` prints (as a table, or as this JSON with `--json`).
public struct MappingCheckReport: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Resolved by the mapping, and (where F&O is asked) present there.
        case ok
        /// The mapping names an F&O value that F&O does not have.
        case missing
        /// The mapping does not resolve a value seen in recent orders.
        case unmapped
    }

    public struct Row: Sendable, Codable, Equatable {
        public var what: String
        public var value: String
        public var status: Status
        /// What it resolved to, or where it was looked for.
        public var detail: String
        /// Empty when ok.
        public var fix: String
    }

    public struct Section: Sendable, Codable, Equatable {
        public var name: String
        public var rows: [Row]
    }

    public var connection: String
    public var legalEntity: String
    public var checkedAt: Date
    /// Deliveries received since then were read.
    public var since: Date
    public var ordersChecked: Int
    /// Orders the poster could plan as they are.
    public var ordersMapped: Int
    /// Recent order deliveries without a readable order body.
    public var deliveriesSkipped: Int
    public var sections: [Section]

    public var problemCount: Int { sections.reduce(0) { $0 + $1.rows.filter { $0.status != .ok }.count } }
    public var clean: Bool { problemCount == 0 }

    /// The section named `name`.
    public func section(_ name: String) -> Section? { sections.first { $0.name == name } }

    /// A readable table per section: WHAT, VALUE, STATUS, DETAIL / FIX.
    public var table: String {
        var out = "mapping check of connection \(connection) (legal entity \(legalEntity)): \(ordersChecked) order(s) delivered since \(Formatting.timestamp(since)), \(ordersMapped) map as they are"
        if deliveriesSkipped > 0 { out += "; \(deliveriesSkipped) delivery(ies) without a readable order skipped" }
        out += "\n"
        for section in sections {
            out += "\n== \(section.name) ==\n"
            guard !section.rows.isEmpty else {
                out += section.name == "orders" ? "  every order maps\n" : "  (none seen)\n"
                continue
            }
            let whatWidth = min(48, section.rows.map(\.what.count).max() ?? 4)
            let valueWidth = min(30, section.rows.map(\.value.count).max() ?? 5)
            for row in section.rows {
                let status = row.status == .ok ? "ok" : row.status.rawValue.uppercased()
                out += "  " + Self.pad(row.what, whatWidth) + "  " + Self.pad(row.value, valueWidth) + "  " + Self.pad(status, 8) + "  " + row.detail
                if !row.fix.isEmpty { out += "\n  " + String(repeating: " ", count: whatWidth + valueWidth + 14) + "fix: " + row.fix }
                out += "\n"
            }
        }
        out += clean ? "\nall mapped values exist and every value seen resolves\n" : "\n\(problemCount) problem(s): fix them before go-live, then run the check again\n"
        return out
    }

    static func pad(_ text: String, _ width: Int) -> String {
        text.count >= width ? text : text + String(repeating: " ", count: width - text.count)
    }

    /// The report as JSON (sorted keys, ISO 8601 times), with `clean` and `problems` added.
    public func json() throws -> String {
        struct Envelope: Encodable {
            var report: MappingCheckReport
            var clean: Bool
            var problems: Int
            enum CodingKeys: String, CodingKey { case connection, legalEntity, checkedAt, since, ordersChecked, ordersMapped, deliveriesSkipped, sections, clean, problems }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(report.connection, forKey: .connection)
                try c.encode(report.legalEntity, forKey: .legalEntity)
                try c.encode(Formatting.timestamp(report.checkedAt), forKey: .checkedAt)
                try c.encode(Formatting.timestamp(report.since), forKey: .since)
                try c.encode(report.ordersChecked, forKey: .ordersChecked)
                try c.encode(report.ordersMapped, forKey: .ordersMapped)
                try c.encode(report.deliveriesSkipped, forKey: .deliveriesSkipped)
                try c.encode(report.sections, forKey: .sections)
                try c.encode(clean, forKey: .clean)
                try c.encode(problems, forKey: .problems)
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(Envelope(report: self, clean: clean, problems: problemCount)), as: UTF8.self)
    }
}
