import Foundation

/// A meta entry as WooCommerce stores it; line items also show `display_key`/`display_value`.
struct MetaEntry: Sendable {
    var id: Int
    var key: String
    var value: WooJSON
    var display: (key: String, value: WooJSON)?

    func json() -> WooJSON {
        var o = WooObject([("id", .int(id)), ("key", .string(key)), ("value", value)])
        if let display {
            o["display_key"] = .string(display.key)
            o["display_value"] = display.value
        }
        return .object(o)
    }
}

/// A billing or shipping address; rendered with the key order of the resource it belongs to.
struct Address: Sendable {
    var fields: [String: String] = [:]
    subscript(key: String) -> String { fields[key] ?? "" }

    static let orderBillingKeys = ["first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country", "email", "phone"]
    static let orderShippingKeys = ["first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode", "country", "phone"]
    static let customerBillingKeys = ["first_name", "last_name", "company", "address_1", "address_2", "city", "postcode", "country", "state", "email", "phone"]
    static let customerShippingKeys = ["first_name", "last_name", "company", "address_1", "address_2", "city", "postcode", "country", "state", "phone"]

    func json(_ keys: [String]) -> WooJSON {
        .object(WooObject(keys.map { ($0, .string(self[$0])) }))
    }

    /// Applies the string members of a request object.
    mutating func merge(_ value: WooJSON?, allowed: [String]) {
        guard let object = value?.objectValue else { return }
        for (key, v) in object.members where allowed.contains(key) {
            if let s = v.stringValue { fields[key] = s }
        }
    }
}

/// A simple or variable product, or a variation (`type == "variation"`, `parentID != 0`).
struct ProductRecord: Sendable {
    var id: Int
    var parentID = 0
    var type = "simple"
    var name = ""
    var slug = ""
    var status = "publish"
    var description = ""
    var shortDescription = ""
    var sku = ""
    var regularPrice = ""
    var salePrice = ""
    var virtual = false
    var taxStatus = "taxable"
    /// "" is the standard class; a variation may say "parent".
    var taxClass = ""
    var manageStock = false
    var stockQuantity: Int?
    var totalSales = 0
    /// For variable products: `[{"name","options"}]` as given.
    var attributes: [(name: String, options: [String])] = []
    /// For variations: the chosen option per attribute.
    var variationAttributes: [(name: String, option: String)] = []
    var variationIDs: [Int] = []
    var metaData: [MetaEntry] = []
    var created: Date
    var modified: Date

    var price: String { salePrice.isEmpty ? regularPrice : salePrice }
    var onSale: Bool { !salePrice.isEmpty }
    var stockStatus: String {
        if manageStock, let q = stockQuantity, q <= 0 { return "outofstock" }
        return "instock"
    }
}

/// A customer (a WordPress user with the `customer` role).
struct CustomerRecord: Sendable {
    var id: Int
    var email = ""
    var firstName = ""
    var lastName = ""
    var username = ""
    var billing = Address()
    var shipping = Address()
    var metaData: [MetaEntry] = []
    var created: Date
    var modified: Date
}

/// A coupon (only `percent` and `fixed_cart` take effect on orders).
struct CouponRecord: Sendable {
    var id: Int
    var code: String
    var amount: String
    var discountType: String
    var description: String
    var individualUse: Bool
    var excludeSaleItems: Bool
    var usageCount = 0
    var trashed = false
    var created: Date
    var modified: Date
}

/// One applied tax rate on a line: the amounts in cents.
struct LineTax: Sendable {
    var rateID: Int
    var total: Int
    /// `nil` renders as `""` (shipping and fee lines).
    var subtotal: Int?
}

/// A product line of an order or a refund.
struct LineItem: Sendable {
    var id: Int
    var name: String
    var productID: Int
    var variationID: Int
    var quantity: Int
    var taxClass: String
    var subtotal: Int
    var subtotalTax: Int
    var total: Int
    var totalTax: Int
    var taxes: [LineTax]
    var metaData: [MetaEntry]
    var sku: String?
    /// The real store renders `image.id` as `""` for simple products and `0` otherwise.
    var imageIDIsString: Bool
    var parentName: String?
}

struct ShippingLine: Sendable {
    var id: Int
    var methodTitle: String
    var methodID: String
    var total: Int
    var totalTax: Int
    var taxes: [LineTax]
}

struct FeeLine: Sendable {
    var id: Int
    var name: String
    var taxClass: String
    var taxStatus: String
    var total: Int
    var totalTax: Int
    var taxes: [LineTax]
}

struct TaxLine: Sendable {
    var id: Int
    var rateID: Int
    var taxTotal: Int
    var shippingTaxTotal: Int
}

struct CouponLine: Sendable {
    var id: Int
    var code: String
    var discount: Int
    var discountTax: Int
    var couponID: Int
    var discountType: String
    var nominalAmount: WooJSON
    var metaID: Int
}

/// An order, stored with its computed totals.
struct OrderRecord: Sendable {
    var id: Int
    var status: String
    var currency: String
    var created: Date
    var modified: Date
    var customerID: Int
    var orderKey: String
    var billing = Address()
    var shipping = Address()
    var paymentMethod = ""
    var paymentMethodTitle = ""
    var transactionID = ""
    var customerNote = ""
    var dateCompleted: Date?
    var datePaid: Date?
    var metaData: [MetaEntry] = []
    var lineItems: [LineItem] = []
    var taxLines: [TaxLine] = []
    var shippingLines: [ShippingLine] = []
    var feeLines: [FeeLine] = []
    var couponLines: [CouponLine] = []
    /// Newest last; rendered newest first.
    var refundIDs: [Int] = []
    var stockReduced = false
    var discountTotal = 0, discountTax = 0, shippingTotal = 0, shippingTax = 0, cartTax = 0, total = 0, totalTax = 0
}

struct RefundRecord: Sendable {
    var id: Int
    var orderID: Int
    var created: Date
    var amount: Int
    var reason: String
    var lineItems: [LineItem]
    var taxLines: [TaxLine]
}

struct NoteRecord: Sendable {
    var id: Int
    var orderID: Int
    var created: Date
    var note: String
    var customerNote: Bool
}

/// A tax rate; `rate` kept as WooCommerce prints it ("7.2500").
struct TaxRateRecord: Sendable {
    var id: Int
    var country: String
    var state: String
    var rate: String
    var name: String
    var priority: Int
    var compound: Bool
    var shipping: Bool
    var order: Int
    /// "standard" or a class slug.
    var taxClass: String

    /// Ten-thousandths of a percent (7.2500 % → 72500).
    var rateUnits: Int { NSDecimalNumber(decimal: (Decimal(string: rate) ?? 0) * 10_000).intValue }
    var rateCode: String {
        [country, state, name.uppercased(), String(priority)].filter { !$0.isEmpty }.joined(separator: "-")
    }
}

/// A webhook, with the counters the REST API never shows.
struct WebhookRecord: Sendable {
    var id: Int
    var name: String
    var status: String
    var topic: String
    var deliveryURL: String
    var secret: String
    var created: Date
    var modified: Date?
    var failureCount = 0
    var pendingDelivery = true

    var resource: String { String(topic.split(separator: ".").first ?? "") }
    var event: String { topic.split(separator: ".").dropFirst().joined(separator: ".") }
    var hooks: [String] {
        switch topic {
        case "order.created": return ["woocommerce_new_order"]
        case "order.updated": return ["woocommerce_update_order", "woocommerce_order_refunded"]
        case "order.deleted": return ["wp_trash_post", "woocommerce_trash_order"]
        case "order.restored": return ["untrashed_post", "woocommerce_untrash_order"]
        case "product.created": return ["woocommerce_process_product_meta", "woocommerce_new_product", "woocommerce_new_product_variation"]
        case "product.updated": return ["woocommerce_process_product_meta", "woocommerce_update_product", "woocommerce_update_product_variation"]
        case "product.deleted", "coupon.deleted": return ["wp_trash_post"]
        case "product.restored", "coupon.restored": return ["untrashed_post"]
        case "customer.created": return ["user_register", "woocommerce_created_customer", "woocommerce_new_customer"]
        case "customer.updated": return ["profile_update", "woocommerce_update_customer"]
        case "customer.deleted": return ["delete_user"]
        case "coupon.created": return ["woocommerce_process_shop_coupon_meta", "woocommerce_new_coupon"]
        case "coupon.updated": return ["woocommerce_process_shop_coupon_meta", "woocommerce_update_coupon"]
        default: return []
        }
    }
    static let validTopics: Set<String> = [
        "order.created", "order.updated", "order.deleted", "order.restored",
        "product.created", "product.updated", "product.deleted", "product.restored",
        "customer.created", "customer.updated", "customer.deleted",
        "coupon.created", "coupon.updated", "coupon.deleted", "coupon.restored",
    ]
}
