import ConnectorConnections
import ConnectorCore
import ConnectorMapping
import Foundation
import WooCommerceClient

/// The writes one catalog run needs, every item validated before it is planned.
struct CatalogPlan: Sendable {
    struct ProductCreate: Sendable { var sku: String; var kind: String; var input: WooProductInput; var pushed: [String: String] }
    struct ProductUpdate: Sendable { var sku: String; var kind: String; var id: Int; var input: WooProductInput; var pushed: [String: String]; var retired: Bool }
    struct VariationCreate: Sendable { var sku: String; var input: WooVariationInput; var pushed: [String: String] }
    struct VariationUpdate: Sendable { var sku: String; var id: Int; var input: WooVariationInput; var pushed: [String: String]; var retired: Bool }
    struct VariationWork: Sendable {
        var parentSKU: String
        /// nil while the parent is created in this run.
        var parentID: Int?
        var creates: [VariationCreate] = []
        var updates: [VariationUpdate] = []
    }

    var productCreates: [ProductCreate] = []
    var productUpdates: [ProductUpdate] = []
    var variations: [VariationWork] = []
    /// Items whose state changes without a write: adopted ones whose owned values already match,
    /// retired variations already at zero.
    var adoptedUnchanged: [CatalogSKUState] = []
    var changes: [CatalogPush.Change] = []
    var failures: [(sku: String, why: String)] = []
    var unchanged = 0
    var retirements = 0
    var zeroings = 0
    var destructive: Int { retirements + zeroings }
}

/// Diffs the desired catalog against what was pushed (the store) and what WooCommerce has
/// (adoption by SKU), restricted to the fields the connection owns.
struct CatalogPlanner {
    let connection: Connection
    let desired: DesiredCatalog
    let states: [String: CatalogSKUState]
    let subset: Set<String>?
    let owned: Set<String>
    var wooProducts: [String: WooProduct] = [:]
    var wooVariations: [String: WooVariation] = [:]
    var now = Date()

    init(connection: Connection, desired: DesiredCatalog, states: [String: CatalogSKUState], subset: Set<String>?) {
        self.connection = connection
        self.desired = desired
        self.states = states
        self.subset = subset
        self.owned = Set(connection.catalog.ownedFields.map(\.rawValue))
    }

    var needsListing: Bool { desired.products.contains { states[$0.sku] == nil } }

    mutating func adopt(_ listed: [WooProduct]) {
        for product in listed where !product.sku.isEmpty && product.status != "trash" && wooProducts[product.sku] == nil {
            wooProducts[product.sku] = product
        }
    }

    mutating func adoptVariations(parentID: Int, _ listed: [WooVariation]) {
        for variation in listed where !variation.sku.isEmpty { wooVariations[variation.sku] = variation }
    }

    /// Parent ids whose variations must be listed: some desired variation has no state.
    var parentsNeedingVariations: [Int] {
        desired.products.filter { $0.kind == .variable }.compactMap { product in
            guard product.variations.contains(where: { states[$0.sku] == nil }) else { return nil }
            if let state = states[product.sku] { return state.wooID }
            if let found = wooProducts[product.sku], found.type == "variable" { return found.id }
            return nil
        }
    }

    // MARK: values

    /// The values to compare; `existing` = the product is already in WooCommerce, where a
    /// fallback name (F&O had none) does not replace the name it has.
    static func values(_ product: DesiredProduct, existing: Bool = false) -> [String: String] {
        var values = existing && product.nameIsFallback ? [:] : ["name": product.name]
        if let description = product.description { values["description"] = description }
        switch product.kind {
        case .simple:
            values["price"] = product.price.map(CatalogMapper.priceText) ?? ""
            values["stock"] = String(product.stock)
        case .variable:
            values["attributes"] = attributesText(product.attributes.map { ($0.name, $0.options) })
        }
        return values
    }

    static func values(_ variation: DesiredVariation) -> [String: String] {
        ["price": variation.price.map(CatalogMapper.priceText) ?? "", "stock": String(variation.stock)]
    }

    static func attributesText(_ attributes: [(String, [String])]) -> String {
        attributes.map { "\($0.0)=\($0.1.joined(separator: "|"))" }.joined(separator: ";")
    }

    /// What WooCommerce has, in the same shape; `attributes` only those named like ours (the
    /// merchant's other attributes are not ours to compare — or to drop).
    static func current(_ product: WooProduct, attributeNames: [String] = []) -> [String: String] {
        var values = ["name": product.name, "description": product.description]
        values["price"] = product.regularPrice.map(CatalogMapper.priceText) ?? ""
        values["stock"] = product.manageStock == .managed ? product.stockQuantity.map(String.init) ?? "" : ""
        let byName = Dictionary(product.attributes.map { ($0.name, $0.options) }, uniquingKeysWith: { a, _ in a })
        values["attributes"] = attributesText(attributeNames.compactMap { name in byName[name].map { (name, $0) } })
        return values
    }

    static func current(_ variation: WooVariation) -> [String: String] {
        ["price": variation.regularPrice.map(CatalogMapper.priceText) ?? "",
         "stock": variation.manageStock == .managed ? variation.stockQuantity.map(String.init) ?? "" : ""]
    }

    /// Owned fields (plus a variable parent's attributes, which its variations need) that differ.
    func differing(_ want: [String: String], _ have: [String: String]) -> [String] {
        want.keys.filter { ($0 == "attributes" || owned.contains($0)) && want[$0] != have[$0] }.sorted()
    }

    static func describe(_ fields: [String], _ want: [String: String], _ have: [String: String]) -> String {
        fields.map { field in
            let from = have[field].map { Formatting.bounded($0, limit: 30) } ?? "—"
            let to = want[field].map { Formatting.bounded($0, limit: 30) } ?? "—"
            return "\(field): \(from.isEmpty ? "\"\"" : from) → \(to)"
        }.joined(separator: "; ")
    }

    // MARK: inputs

    static func productInput(_ product: DesiredProduct, fields: [String]) -> WooProductInput {
        var input = WooProductInput()
        for field in fields {
            switch field {
            case "name": input.name = product.name
            case "description": input.description = product.description
            case "price": input.regularPrice = product.price.map { .amount(rounded($0)) }
            case "stock": input.manageStock = true; input.stockQuantity = product.stock; input.stockStatus = product.stockStatus
            case "attributes": input.attributes = product.attributes.map { WooProductAttributeInput(name: $0.name, visible: true, variation: true, options: $0.options) }
            default: break
            }
        }
        return input
    }

    static func variationInput(_ variation: DesiredVariation, fields: [String]) -> WooVariationInput {
        var input = WooVariationInput()
        for field in fields {
            switch field {
            case "price": input.regularPrice = variation.price.map { .amount(rounded($0)) }
            case "stock": input.manageStock = true; input.stockQuantity = variation.stock; input.stockStatus = variation.stockStatus
            default: break
            }
        }
        return input
    }

    static func rounded(_ value: Decimal) -> Decimal {
        var value = value, result = Decimal()
        NSDecimalRound(&result, &value, 2, .plain)
        return result
    }

    // MARK: plan

    func plan() -> CatalogPlan {
        var plan = CatalogPlan()
        var desiredSKUs = Set<String>()
        let retiredAsDraft = connection.catalog.retiredAction == .draft && owned.contains("status")

        for product in desired.products {
            desiredSKUs.insert(product.sku)
            product.variations.forEach { desiredSKUs.insert($0.sku) }
            let want = Self.values(product, existing: states[product.sku] != nil || wooProducts[product.sku] != nil)
            if product.kind == .simple, let problem = CatalogMapper.problem(sku: product.sku, price: product.price, stock: product.stock) {
                plan.failures.append((product.sku, problem))
                continue
            }
            if product.kind == .variable, product.sku.trimmingCharacters(in: .whitespaces).isEmpty {
                plan.failures.append((product.sku, "empty SKU"))
                continue
            }
            var parentID: Int?
            if let state = states[product.sku] {
                parentID = state.wooID
                var fields = differing(want, state.pushed)
                var input = Self.productInput(product, fields: fields)
                var detail = Self.describe(fields, want, state.pushed)
                if state.retired, connection.catalog.retiredAction == .draft, owned.contains("status") {
                    input.status = product.newStatus
                    fields.append("status")
                    detail = (detail.isEmpty ? "" : detail + "; ") + "status: draft (retired) → \(product.newStatus)"
                }
                if let stock = state.pushed["stock"].flatMap(Int.init), stock > 0, fields.contains("stock"), product.kind == .simple, product.stock == 0 {
                    plan.zeroings += 1
                }
                if fields.isEmpty && !state.retired {
                    plan.unchanged += 1
                } else {
                    var pushed = state.pushed
                    for field in fields where want[field] != nil { pushed[field] = want[field] }
                    plan.productUpdates.append(.init(sku: product.sku, kind: product.kind.rawValue, id: state.wooID, input: input, pushed: pushed, retired: false))
                    plan.changes.append(.init(sku: product.sku, action: .update, detail: detail.isEmpty ? "back in the catalog" : detail))
                }
            } else if let found = wooProducts[product.sku] {
                guard found.type == product.kind.rawValue else {
                    plan.failures.append((product.sku, "WooCommerce product \(found.id) with SKU \(product.sku) is \(found.type) but the F&O item is \(product.kind == .variable ? "a product master (variable)" : "a distinct product (simple)") — change its type in WooCommerce or its SKU"))
                    continue
                }
                parentID = found.id
                let have = Self.current(found, attributeNames: product.attributes.map(\.name))
                let fields = differing(want, have)
                var pushed = have
                for field in fields { pushed[field] = want[field] }
                if fields.isEmpty {
                    plan.adoptedUnchanged.append(CatalogSKUState(sku: product.sku, wooID: found.id, parentID: nil, kind: product.kind.rawValue, pushed: pushed,
                                                                 hash: CatalogSKUState.hash(pushed), retired: false, pushedAt: now))
                    plan.unchanged += 1
                    plan.changes.append(.init(sku: product.sku, action: .adopt, detail: "adopted WooCommerce product \(found.id) (no change)"))
                } else {
                    plan.productUpdates.append(.init(sku: product.sku, kind: product.kind.rawValue, id: found.id, input: Self.productInput(product, fields: fields), pushed: pushed, retired: false))
                    plan.changes.append(.init(sku: product.sku, action: .adopt, detail: "adopted WooCommerce product \(found.id); " + Self.describe(fields, want, have)))
                }
            } else {
                var input = Self.productInput(product, fields: want.keys.sorted())
                input.sku = product.sku
                input.type = product.kind.rawValue
                input.status = product.newStatus
                input.taxClass = product.taxClass
                plan.productCreates.append(.init(sku: product.sku, kind: product.kind.rawValue, input: input, pushed: want))
                let summary = product.kind == .simple
                    ? "simple, \(want["price"] ?? "") × \(product.stock), \(product.newStatus)"
                    : "variable, \(product.variations.count) variation(s), \(product.newStatus)"
                plan.changes.append(.init(sku: product.sku, action: .create, detail: summary))
            }
            guard product.kind == .variable else { continue }
            var work = CatalogPlan.VariationWork(parentSKU: product.sku, parentID: parentID)
            for variation in product.variations {
                if let problem = CatalogMapper.problem(sku: variation.sku, price: variation.price, stock: variation.stock) {
                    plan.failures.append((variation.sku, problem))
                    continue
                }
                let want = Self.values(variation)
                if let state = states[variation.sku], parentID != nil, state.parentID == parentID {
                    let fields = differing(want, state.pushed)
                    if let stock = state.pushed["stock"].flatMap(Int.init), stock > 0, fields.contains("stock"), variation.stock == 0 { plan.zeroings += 1 }
                    if fields.isEmpty && !state.retired { plan.unchanged += 1; continue }
                    var pushed = state.pushed
                    for field in fields { pushed[field] = want[field] }
                    work.updates.append(.init(sku: variation.sku, id: state.wooID, input: Self.variationInput(variation, fields: fields), pushed: pushed, retired: false))
                    plan.changes.append(.init(sku: variation.sku, action: .update, detail: fields.isEmpty ? "back in the catalog" : Self.describe(fields, want, state.pushed)))
                } else if parentID != nil, let found = wooVariations[variation.sku], found.parentID == nil || found.parentID == parentID {
                    let have = Self.current(found)
                    let fields = differing(want, have)
                    var pushed = have
                    for field in fields { pushed[field] = want[field] }
                    if fields.isEmpty {
                        plan.adoptedUnchanged.append(CatalogSKUState(sku: variation.sku, wooID: found.id, parentID: parentID, kind: "variation", pushed: pushed,
                                                                     hash: CatalogSKUState.hash(pushed), retired: false, pushedAt: now))
                        plan.unchanged += 1
                    } else {
                        work.updates.append(.init(sku: variation.sku, id: found.id, input: Self.variationInput(variation, fields: fields), pushed: pushed, retired: false))
                        plan.changes.append(.init(sku: variation.sku, action: .adopt, detail: "adopted variation \(found.id); " + Self.describe(fields, want, have)))
                    }
                } else {
                    var input = Self.variationInput(variation, fields: ["price", "stock"])
                    input.sku = variation.sku
                    input.taxClass = variation.taxClass == product.taxClass ? nil : variation.taxClass
                    input.attributes = variation.attributes.map { WooVariationAttribute(name: $0.name, option: $0.option) }
                    work.creates.append(.init(sku: variation.sku, input: input, pushed: want))
                    plan.changes.append(.init(sku: variation.sku, action: .create, detail: "variation of \(product.sku), \(want["price"] ?? "") × \(variation.stock)"))
                }
            }
            if !work.creates.isEmpty || !work.updates.isEmpty { plan.variations.append(work) }
        }

        // Retired: pushed before, no longer released or web-sellable (full runs only). Items
        // that failed mapping are still released: they are failures, not retirements.
        guard subset == nil else { return plan }
        var retiredVariations: [String: CatalogPlan.VariationWork] = [:]
        for state in states.values.sorted(by: { $0.sku < $1.sku }) where !state.retired && !desiredSKUs.contains(state.sku) && desired.problems[state.sku] == nil {
            var pushed = state.pushed
            switch state.kind {
            case "variation":
                guard owned.contains("stock"), let parentID = state.parentID else { continue }
                if state.pushed["stock"] == "0" {
                    // Already at zero in WooCommerce: only the state learns it is retired.
                    var retired = state
                    retired.retired = true
                    retired.pushedAt = now
                    plan.adoptedUnchanged.append(retired)
                    continue
                }
                pushed["stock"] = "0"
                var input = WooVariationInput()
                input.manageStock = true; input.stockQuantity = 0; input.stockStatus = "outofstock"
                retiredVariations[String(parentID), default: .init(parentSKU: "#\(parentID)", parentID: parentID)].updates
                    .append(.init(sku: state.sku, id: state.wooID, input: input, pushed: pushed, retired: true))
                plan.changes.append(.init(sku: state.sku, action: .retire, detail: "no longer web-sellable in F&O: stock → 0"))
            default:
                var input = WooProductInput()
                var detail: String
                if retiredAsDraft {
                    input.status = "draft"
                    detail = "no longer web-sellable in F&O: status → draft"
                } else if owned.contains("stock"), state.kind == "simple" {
                    input.manageStock = true; input.stockQuantity = 0; input.stockStatus = "outofstock"
                    pushed["stock"] = "0"
                    detail = "no longer web-sellable in F&O: stock → 0"
                } else if state.kind == "variable" {
                    // Its variations are zeroed one by one; the parent itself is not written.
                    var retired = state
                    retired.retired = true
                    retired.pushedAt = now
                    plan.adoptedUnchanged.append(retired)
                    plan.changes.append(.init(sku: state.sku, action: .retire, detail: "no longer web-sellable in F&O: its variations go out of stock"))
                    continue
                } else {
                    continue
                }
                plan.productUpdates.append(.init(sku: state.sku, kind: state.kind, id: state.wooID, input: input, pushed: pushed, retired: true))
                plan.changes.append(.init(sku: state.sku, action: .retire, detail: detail))
            }
            plan.retirements += 1
        }
        plan.variations += retiredVariations.values.sorted { $0.parentSKU < $1.parentSKU }
        return plan
    }
}
