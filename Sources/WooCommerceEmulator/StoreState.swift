import Foundation

/// Something that happened to a resource, as WooCommerce's hooks would report it.
struct StoreEvent: Sendable, Equatable {
    var resource: String
    var event: String
    var id: Int
    var topic: String { "\(resource).\(event)" }
}

/// Everything the store holds. A value type mutated under the emulator's lock; every mutating
/// operation appends the hook events it fires to `events`.
struct StoreState: Sendable {
    var settings: WooCommerceEmulator.Configuration
    var products: [Int: ProductRecord] = [:]
    var customers: [Int: CustomerRecord] = [:]
    var coupons: [Int: CouponRecord] = [:]
    var orders: [Int: OrderRecord] = [:]
    var refunds: [Int: RefundRecord] = [:]
    var notes: [Int: NoteRecord] = [:]
    var taxRates: [Int: TaxRateRecord] = [:]
    var webhooks: [Int: WebhookRecord] = [:]
    var taxClasses: [(slug: String, name: String)] = [("standard", "Standard rate"), ("reduced-rate", "Reduced rate"), ("zero-rate", "Zero rate")]
    /// Posts (products, variations, coupons), HPOS orders and refunds share one id sequence.
    var nextPostID = 10
    var nextCustomerID = 2
    var nextItemID = 1
    var nextMetaID = 1
    var nextNoteID = 1
    var nextTaxRateID = 1
    var nextWebhookID = 1
    var random: SplitMix64
    var events: [StoreEvent] = []

    init(settings: WooCommerceEmulator.Configuration) {
        self.settings = settings
        self.random = SplitMix64(seed: settings.randomSeed)
    }

    mutating func postID() -> Int { defer { nextPostID += 1 }; return nextPostID }
    mutating func itemID() -> Int { defer { nextItemID += 1 }; return nextItemID }
    mutating func metaID() -> Int { defer { nextMetaID += 1 }; return nextMetaID }

    mutating func randomAlphanumeric(_ count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        return String((0..<count).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
    }

    mutating func randomPassword(_ count: Int) -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!@#$%^&*()-_ []{}<>~`+=,.;:/?|")
        return String((0..<count).map { _ in alphabet[Int(random.next() % UInt64(alphabet.count))] })
    }

    mutating func fire(_ resource: String, _ event: String, _ id: Int) {
        events.append(StoreEvent(resource: resource, event: event, id: id))
    }

    static func slug(_ name: String) -> String {
        let lowered = name.lowercased().map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
        return lowered.split(separator: "-").joined(separator: "-")
    }
}

/// A small deterministic random source (order keys), seeded from the configuration.
struct SplitMix64: Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

// MARK: - Products

extension StoreState {
    static let productStatuses = ["draft", "pending", "private", "publish", "future", "auto-draft", "trash"]

    /// Schema validation WordPress runs on single requests (batch items skip it).
    static func validateProductSchema(_ body: WooObject) throws(RESTError) {
        if let status = body["status"], let s = status.stringValue, !productStatuses.contains(s) {
            let message = "status is not one of draft, pending, private, publish, future, auto-draft, and trash."
            throw RESTError.invalidParam("status", message: message, detailCode: "rest_not_in_enum", detailData: .null)
        }
        for key in ["regular_price", "sale_price", "sku"] {
            guard let value = body[key] else { continue }
            if case .string = value { continue }
            let message = "\(key) is not of type string."
            throw RESTError.invalidParam(key, message: message, detailCode: "rest_invalid_type", detailData: .obj(["param": .string(key)]))
        }
    }

    func productBySKU(_ sku: String) -> ProductRecord? {
        products.values.filter { $0.sku == sku }.min { $0.id < $1.id }
    }

    func duplicateSKUError(_ sku: String, existing: ProductRecord) -> RESTError {
        var n = 1
        while productBySKU("\(sku)-\(n)") != nil { n += 1 }
        return RESTError(status: 400, code: "product_invalid_sku", message: "Invalid or duplicated SKU.", data: .obj([
            "status": 400, "resource_id": .int(existing.id), "unique_sku": .string("\(sku)-\(n)"),
        ]))
    }

    /// Applies request fields to a product (create or update). Batch items skip the schema, so an
    /// unknown status is saved as `draft` and a numeric price as its text.
    mutating func apply(_ body: WooObject, to product: inout ProductRecord, now: Date) throws(RESTError) {
        if let sku = body["sku"]?.stringValue, sku != product.sku {
            if !sku.isEmpty, let existing = productBySKU(sku), existing.id != product.id {
                throw duplicateSKUError(sku, existing: existing)
            }
            product.sku = sku
        }
        if let name = body["name"]?.stringValue { product.name = name }
        if let type = body["type"]?.stringValue, ["simple", "variable"].contains(type), product.parentID == 0 { product.type = type }
        if let status = body["status"]?.stringValue { product.status = Self.productStatuses.contains(status) ? status : "draft" }
        if let v = body["description"]?.stringValue { product.description = v }
        if let v = body["short_description"]?.stringValue { product.shortDescription = v }
        if let v = body["regular_price"]?.stringValue { product.regularPrice = v }
        if let v = body["sale_price"]?.stringValue { product.salePrice = v }
        if let v = body["virtual"]?.boolValue { product.virtual = v }
        if let v = body["tax_status"]?.stringValue { product.taxStatus = v }
        if let v = body["tax_class"]?.stringValue { product.taxClass = v == "standard" ? "" : v }
        if let v = body["manage_stock"]?.boolValue { product.manageStock = v }
        if let v = body["stock_quantity"] {
            product.stockQuantity = v.intValue
        }
        if let attributes = body["attributes"]?.arrayValue {
            if product.parentID == 0 {
                product.attributes = attributes.compactMap { a in
                    guard let name = a["name"]?.stringValue else { return nil }
                    return (name, a["options"]?.arrayValue?.compactMap(\.stringValue) ?? [])
                }
            } else {
                product.variationAttributes = attributes.compactMap { a in
                    guard let name = a["name"]?.stringValue else { return nil }
                    return (name, a["option"]?.stringValue ?? "")
                }
            }
        }
        if let meta = body["meta_data"]?.arrayValue {
            for entry in meta {
                guard let key = entry["key"]?.stringValue else { continue }
                if let i = product.metaData.firstIndex(where: { $0.key == key }) {
                    product.metaData[i].value = entry["value"] ?? .null
                } else {
                    product.metaData.append(MetaEntry(id: metaID(), key: key, value: entry["value"] ?? .null))
                }
            }
        }
        if product.slug.isEmpty { product.slug = Self.slug(product.name) }
        product.modified = now
    }

    mutating func createProduct(_ body: WooObject, now: Date) throws(RESTError) -> ProductRecord {
        if body["id"] != nil {
            throw RESTError(status: 400, code: "woocommerce_rest_product_exists", message: "Cannot create existing product.")
        }
        var product = ProductRecord(id: 0, created: now, modified: now)
        try apply(body, to: &product, now: now)
        product.id = postID()
        products[product.id] = product
        fire("product", "created", product.id)
        return product
    }

    mutating func updateProduct(_ id: Int, _ body: WooObject, now: Date) throws(RESTError) -> ProductRecord {
        guard var product = products[id] else { throw RESTError.invalidID("product", status: 400) }
        try apply(body, to: &product, now: now)
        products[id] = product
        fire("product", "updated", id)
        return product
    }

    mutating func createVariation(parent: Int, _ body: WooObject, now: Date) throws(RESTError) -> ProductRecord {
        guard var parentRecord = products[parent], parentRecord.parentID == 0 else {
            throw RESTError(status: 404, code: "woocommerce_rest_product_variation_invalid_id", message: "Invalid ID.")
        }
        var variation = ProductRecord(id: 0, parentID: parent, type: "variation", created: now, modified: now)
        variation.taxClass = "parent"
        try apply(body, to: &variation, now: now)
        variation.id = postID()
        variation.name = ([parentRecord.name] + [variation.variationAttributes.map(\.option).joined(separator: ", ")]).joined(separator: " - ")
        variation.slug = Self.slug(variation.name)
        products[variation.id] = variation
        parentRecord.variationIDs.append(variation.id)
        products[parent] = parentRecord
        fire("product", "created", variation.id)
        return variation
    }

    /// Changes stock and fires `product.updated` for the product or the variation itself.
    mutating func adjustStock(_ id: Int, by delta: Int, now: Date) {
        guard var product = products[id], product.manageStock, delta != 0 else { return }
        product.stockQuantity = (product.stockQuantity ?? 0) + delta
        product.modified = now
        products[id] = product
        fire("product", "updated", id)
    }

    /// The tax class a line is taxed with ("" = standard); a variation's "parent" resolves.
    func effectiveTaxClass(_ product: ProductRecord) -> String {
        if product.taxClass == "parent", let parent = products[product.parentID] { return parent.taxClass }
        return product.taxClass
    }
}

// MARK: - Taxes

extension StoreState {
    /// Rates for a class at a location; one per priority, the first (lowest id) wins.
    func matchingRates(taxClass: String, country: String, state: String, shippingOnly: Bool = false) -> [TaxRateRecord] {
        guard settings.calculateTaxes else { return [] }
        let slug = taxClass.isEmpty ? "standard" : taxClass
        let candidates = taxRates.values.sorted { ($0.priority, $0.order, $0.id) < ($1.priority, $1.order, $1.id) }.filter {
            $0.taxClass == slug && ($0.country.isEmpty || $0.country == country) && ($0.state.isEmpty || $0.state == state)
                && (!shippingOnly || $0.shipping)
        }
        var seenPriorities = Set<Int>()
        return candidates.filter { seenPriorities.insert($0.priority).inserted }
    }

    mutating func createTaxRate(_ body: WooObject) -> TaxRateRecord {
        let rateText = body["rate"]?.stringValue ?? "0"
        let units = NSDecimalNumber(decimal: (Decimal(string: rateText) ?? 0) * 10_000).intValue
        let rate = "\(units / 10_000).\(String(format: "%04d", units % 10_000))"
        let record = TaxRateRecord(
            id: nextTaxRateID, country: body["country"]?.stringValue ?? "", state: body["state"]?.stringValue ?? "",
            rate: rate, name: body["name"]?.stringValue ?? "", priority: body["priority"]?.intValue ?? 1,
            compound: body["compound"]?.boolValue ?? false, shipping: body["shipping"]?.boolValue ?? true,
            order: body["order"]?.intValue ?? 0, taxClass: body["class"]?.stringValue ?? "standard")
        nextTaxRateID += 1
        taxRates[record.id] = record
        return record
    }
}

// MARK: - Customers and coupons

extension StoreState {
    mutating func createCustomer(_ body: WooObject, now: Date) throws(RESTError) -> CustomerRecord {
        guard let email = body["email"]?.stringValue, email.contains("@") else {
            throw RESTError(status: 400, code: "rest_missing_callback_param", message: "Missing parameter(s): email")
        }
        if customers.values.contains(where: { $0.email == email }) {
            throw RESTError(status: 400, code: "registration-error-email-exists", message: "An account is already registered with your email address.")
        }
        var customer = CustomerRecord(id: nextCustomerID, email: email, created: now, modified: now)
        nextCustomerID += 1
        customer.username = body["username"]?.stringValue ?? String(email.split(separator: "@")[0])
        applyCustomer(body, to: &customer)
        customer.metaData = [MetaEntry(id: metaID(), key: "default_password_nag", value: "1")]
        customers[customer.id] = customer
        fire("customer", "created", customer.id)
        fire("customer", "updated", customer.id)
        return customer
    }

    func applyCustomer(_ body: WooObject, to customer: inout CustomerRecord) {
        if let v = body["email"]?.stringValue { customer.email = v }
        if let v = body["first_name"]?.stringValue { customer.firstName = v }
        if let v = body["last_name"]?.stringValue { customer.lastName = v }
        customer.billing.merge(body["billing"], allowed: Address.customerBillingKeys)
        customer.shipping.merge(body["shipping"], allowed: Address.customerShippingKeys)
    }

    mutating func updateCustomer(_ id: Int, _ body: WooObject, now: Date) throws(RESTError) -> CustomerRecord {
        guard var customer = customers[id] else { throw RESTError(status: 400, code: "woocommerce_rest_invalid_id", message: "Invalid resource ID.") }
        applyCustomer(body, to: &customer)
        customer.modified = now
        customers[id] = customer
        fire("customer", "updated", id)
        return customer
    }

    mutating func createCoupon(_ body: WooObject, now: Date) throws(RESTError) -> CouponRecord {
        guard let code = body["code"]?.stringValue?.lowercased(), !code.isEmpty else {
            throw RESTError(status: 400, code: "woocommerce_rest_empty_coupon_code", message: "The coupon code cannot be empty.")
        }
        if coupons.values.contains(where: { $0.code == code }) {
            throw RESTError(status: 400, code: "woocommerce_rest_coupon_code_already_exists", message: "The coupon code already exists")
        }
        let amount = Money.cents(body["amount"]) ?? 0
        let coupon = CouponRecord(
            id: postID(), code: code, amount: Money.string(amount), discountType: body["discount_type"]?.stringValue ?? "fixed_cart",
            description: body["description"]?.stringValue ?? "", individualUse: body["individual_use"]?.boolValue ?? false,
            excludeSaleItems: body["exclude_sale_items"]?.boolValue ?? false, created: now, modified: now)
        coupons[coupon.id] = coupon
        fire("coupon", "created", coupon.id)
        return coupon
    }
}
