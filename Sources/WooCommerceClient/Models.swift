import Foundation

// Typed WooCommerce REST v3 resources, decoded from what real stores send (WooCommerce 10.0.2
// captures). Unknown keys are ignored; money is `Decimal` parsed from the string; `Date`
// properties are the `_gmt` fields (UTC) and the store-local `date_*` text is kept beside them
// as `String`, because its zone is the store's setting and the API does not say which.

/// A billing or shipping address. Every field defaults to "" (shipping has no `email`;
/// `phone` on shipping exists since WooCommerce 5.6).
public struct WooAddress: Sendable, Hashable, Codable {
    public var firstName: String
    public var lastName: String
    public var company: String
    public var address1: String
    public var address2: String
    public var city: String
    public var state: String
    public var postcode: String
    public var country: String
    public var email: String
    public var phone: String

    enum CodingKeys: String, CodingKey {
        case firstName = "first_name", lastName = "last_name", company, address1 = "address_1", address2 = "address_2"
        case city, state, postcode, country, email, phone
    }

    public init(firstName: String = "", lastName: String = "", company: String = "", address1: String = "", address2: String = "",
                city: String = "", state: String = "", postcode: String = "", country: String = "", email: String = "", phone: String = "") {
        (self.firstName, self.lastName, self.company, self.address1, self.address2) = (firstName, lastName, company, address1, address2)
        (self.city, self.state, self.postcode, self.country, self.email, self.phone) = (city, state, postcode, country, email, phone)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func text(_ key: CodingKeys) -> String { ((try? c.decodeIfPresent(String.self, forKey: key)) ?? nil) ?? "" }
        self.init(firstName: text(.firstName), lastName: text(.lastName), company: text(.company), address1: text(.address1),
                  address2: text(.address2), city: text(.city), state: text(.state), postcode: text(.postcode),
                  country: text(.country), email: text(.email), phone: text(.phone))
    }
}

/// One `meta_data` entry; the value's shape is up to whoever wrote it.
public struct WooMetaData: Sendable, Hashable, Decodable {
    public var id: Int?
    public var key: String
    public var value: WooJSONValue
}

/// A tax amount per rate on a line: `id` is the tax *rate* id (map rate ids, not labels).
public struct WooLineTax: Sendable, Hashable, Decodable {
    public var id: Int
    /// `nil` when WooCommerce sends "" (shipping and fee taxes have no subtotal).
    public var total: Decimal?
    public var subtotal: Decimal?
}

/// An order (or refund) line item. On refunds quantity and amounts are negative.
public struct WooLineItem: Sendable, Hashable, Decodable {
    public var id: Int
    public var name: String
    public var productID: Int
    /// 0 for a simple product.
    public var variationID: Int
    public var quantity: Int
    /// "" is the standard class.
    public var taxClass: String
    /// Before discounts.
    public var subtotal: Decimal
    public var subtotalTax: Decimal
    /// After discounts: what the customer pays for the line, excluding tax.
    public var total: Decimal
    public var totalTax: Decimal
    public var taxes: [WooLineTax]
    /// `nil` for a deleted product or a line created without one.
    public var sku: String?
    /// WooCommerce sends `total / quantity` as a JSON float (e.g. 17.995); read exactly from
    /// the number's text, but not an amount to post — use ``total``.
    public var price: Decimal?
    public var metaData: [WooMetaData]?

    enum CodingKeys: String, CodingKey {
        case id, name, productID = "product_id", variationID = "variation_id", quantity, taxClass = "tax_class"
        case subtotal, subtotalTax = "subtotal_tax", total, totalTax = "total_tax", taxes, sku, price, metaData = "meta_data"
    }

    /// On a refund line: the order line it refunds (`_refunded_item_id` meta).
    public var refundedItemID: Int? {
        metaData?.first { $0.key == "_refunded_item_id" }?.value.text.flatMap { Int($0) }
    }
}

/// One tax rate's totals on an order.
public struct WooTaxLine: Sendable, Hashable, Decodable {
    public var id: Int
    /// e.g. `US-CA-CA STATE TAX-1`.
    public var rateCode: String
    public var rateID: Int
    public var label: String
    public var compound: Bool
    /// Tax on items (and fees).
    public var taxTotal: Decimal
    public var shippingTaxTotal: Decimal
    /// A JSON number (7.25, 3), read from its text.
    public var ratePercent: Decimal?

    enum CodingKeys: String, CodingKey {
        case id, rateCode = "rate_code", rateID = "rate_id", label, compound, taxTotal = "tax_total"
        case shippingTaxTotal = "shipping_tax_total", ratePercent = "rate_percent"
    }
}

/// A shipping line (mapped to a non-stock charge item in F&O).
public struct WooShippingLine: Sendable, Hashable, Decodable {
    public var id: Int
    public var methodTitle: String
    /// e.g. `flat_rate`.
    public var methodID: String
    /// "" when created through REST without one.
    public var instanceID: String?
    public var total: Decimal
    public var totalTax: Decimal
    public var taxes: [WooLineTax]

    enum CodingKeys: String, CodingKey {
        case id, methodTitle = "method_title", methodID = "method_id", instanceID = "instance_id", total, totalTax = "total_tax", taxes
    }
}

/// A fee line (e.g. gift wrap); `total` may be negative for a discount fee.
public struct WooFeeLine: Sendable, Hashable, Decodable {
    public var id: Int
    public var name: String
    public var taxClass: String
    /// `taxable` or `none`.
    public var taxStatus: String?
    public var total: Decimal
    public var totalTax: Decimal
    public var taxes: [WooLineTax]

    enum CodingKeys: String, CodingKey {
        case id, name, taxClass = "tax_class", taxStatus = "tax_status", total, totalTax = "total_tax", taxes
    }
}

/// A coupon applied to the order; the discount is already spread over the line totals.
public struct WooCouponLine: Sendable, Hashable, Decodable {
    public var id: Int
    public var code: String
    /// Excluding tax; may come without decimals ("6").
    public var discount: Decimal
    public var discountTax: Decimal
    public var discountType: String?
    /// The coupon's configured amount (a JSON number, e.g. 10 for 10 %).
    public var nominalAmount: Decimal?
    public var freeShipping: Bool?

    enum CodingKeys: String, CodingKey {
        case id, code, discount, discountTax = "discount_tax", discountType = "discount_type"
        case nominalAmount = "nominal_amount", freeShipping = "free_shipping"
    }
}

/// The refund summary inside an order; `total` is negative ("-19.29").
public struct WooOrderRefundSummary: Sendable, Hashable, Decodable {
    public var id: Int
    public var reason: String
    public var total: Decimal
}

/// An order as `GET /orders/{id}` (and an `order.*` webhook) shows it.
public struct WooOrder: Sendable, Hashable, Decodable, Identifiable {
    public var id: Int
    public var parentID: Int?
    /// Usually the id as text; plugins can change it.
    public var number: String
    /// `pending`, `processing`, `on-hold`, `completed`, `cancelled`, `refunded`, `failed`,
    /// `trash`, `checkout-draft`, or a plugin's own.
    public var status: String
    public var currency: String
    public var pricesIncludeTax: Bool
    /// Store-local wall time (no zone); see ``dateCreatedGMT``.
    public var dateCreated: String?
    public var dateCreatedGMT: Date?
    public var dateModified: String?
    public var dateModifiedGMT: Date?
    /// `nil` until paid.
    public var datePaid: String?
    public var datePaidGMT: Date?
    public var dateCompletedGMT: Date?
    /// 0 for a guest order (no customer record: use ``billing``).
    public var customerID: Int
    public var customerNote: String?
    public var billing: WooAddress
    public var shipping: WooAddress
    public var paymentMethod: String
    public var paymentMethodTitle: String
    public var transactionID: String
    public var createdVia: String?
    public var total: Decimal
    public var totalTax: Decimal
    public var shippingTotal: Decimal
    public var shippingTax: Decimal
    public var discountTotal: Decimal
    public var discountTax: Decimal
    public var cartTax: Decimal
    public var lineItems: [WooLineItem]
    public var taxLines: [WooTaxLine]
    public var shippingLines: [WooShippingLine]
    public var feeLines: [WooFeeLine]
    public var couponLines: [WooCouponLine]
    /// Newest first.
    public var refunds: [WooOrderRefundSummary]

    enum CodingKeys: String, CodingKey {
        case id, parentID = "parent_id", number, status, currency, pricesIncludeTax = "prices_include_tax"
        case dateCreated = "date_created", dateCreatedGMT = "date_created_gmt", dateModified = "date_modified"
        case dateModifiedGMT = "date_modified_gmt", datePaid = "date_paid", datePaidGMT = "date_paid_gmt"
        case dateCompletedGMT = "date_completed_gmt", customerID = "customer_id", customerNote = "customer_note"
        case billing, shipping, paymentMethod = "payment_method", paymentMethodTitle = "payment_method_title"
        case transactionID = "transaction_id", createdVia = "created_via", total, totalTax = "total_tax"
        case shippingTotal = "shipping_total", shippingTax = "shipping_tax", discountTotal = "discount_total"
        case discountTax = "discount_tax", cartTax = "cart_tax", lineItems = "line_items", taxLines = "tax_lines"
        case shippingLines = "shipping_lines", feeLines = "fee_lines", couponLines = "coupon_lines", refunds
    }

    /// A guest checkout: no customer record exists.
    public var isGuest: Bool { customerID == 0 }
}

/// A refund (`/orders/{id}/refunds`). ``amount`` is positive; its lines are negative.
public struct WooRefund: Sendable, Hashable, Decodable, Identifiable {
    public var id: Int
    public var dateCreated: String?
    public var dateCreatedGMT: Date?
    public var amount: Decimal
    public var reason: String
    /// The WordPress user id that made it.
    public var refundedBy: Int
    /// Whether the money went back through the payment gateway.
    public var refundedPayment: Bool
    /// Empty for an amount-only refund.
    public var lineItems: [WooLineItem]
    public var shippingLines: [WooShippingLine]?
    public var taxLines: [WooTaxLine]?
    public var feeLines: [WooFeeLine]?

    enum CodingKeys: String, CodingKey {
        case id, dateCreated = "date_created", dateCreatedGMT = "date_created_gmt", amount, reason
        case refundedBy = "refunded_by", refundedPayment = "refunded_payment", lineItems = "line_items"
        case shippingLines = "shipping_lines", taxLines = "tax_lines", feeLines = "fee_lines"
    }
}

/// A registered customer (guests have none).
public struct WooCustomer: Sendable, Hashable, Decodable, Identifiable {
    public var id: Int
    public var email: String
    public var firstName: String
    public var lastName: String
    public var username: String?
    public var role: String?
    public var billing: WooAddress
    public var shipping: WooAddress
    public var dateCreatedGMT: Date?
    public var dateModifiedGMT: Date?

    enum CodingKeys: String, CodingKey {
        case id, email, firstName = "first_name", lastName = "last_name", username, role, billing, shipping
        case dateCreatedGMT = "date_created_gmt", dateModifiedGMT = "date_modified_gmt"
    }
}

/// `manage_stock`: a bool, or `"parent"` on a variation whose parent manages its stock.
public enum WooManageStock: Sendable, Hashable, Codable {
    case managed, unmanaged, parent

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = b ? .managed : .unmanaged; return }
        let text = try c.decode(String.self)
        switch text {
        case "parent": self = .parent
        case "yes", "1", "true": self = .managed
        case "no", "0", "false", "": self = .unmanaged
        default: throw DecodingError.dataCorruptedError(in: c, debugDescription: "manage_stock \"\(text)\" is neither a bool nor \"parent\"")
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .managed: try c.encode(true)
        case .unmanaged: try c.encode(false)
        case .parent: try c.encode("parent")
        }
    }

    /// Whether stock quantities apply (on the item itself or via its parent).
    public var isManaged: Bool { self != .unmanaged }
}

/// A product attribute; `variation` attributes define a variable product's variations.
/// A variation in the product shape (found by SKU) carries one `option` instead of `options`.
public struct WooProductAttribute: Sendable, Hashable, Decodable {
    /// 0 for a custom (non-taxonomy) attribute.
    public var id: Int
    public var name: String
    public var position: Int?
    public var visible: Bool?
    public var variation: Bool?
    public var options: [String]

    enum CodingKeys: String, CodingKey { case id, name, position, visible, variation, options, option }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        id = try c.decodeIfPresent(Int.self, forKey: .id) ?? 0
        name = try c.decode(String.self, forKey: .name)
        position = try c.decodeIfPresent(Int.self, forKey: .position)
        visible = try c.decodeIfPresent(Bool.self, forKey: .visible)
        variation = try c.decodeIfPresent(Bool.self, forKey: .variation)
        if let options = try c.decodeIfPresent([String].self, forKey: .options) {
            self.options = options
        } else {
            options = try c.decodeIfPresent(String.self, forKey: .option).map { [$0] } ?? []
        }
    }
}

/// A product in the `/products/{id}` shape (also a variation found by `sku`, `type` "variation").
public struct WooProduct: Sendable, Hashable, Decodable, Identifiable {
    public var id: Int
    public var name: String
    public var slug: String?
    /// `simple`, `variable`, `grouped`, `external`, or `variation`.
    public var type: String
    /// `publish`, `draft`, `pending`, `private`, `trash`.
    public var status: String
    public var sku: String
    /// The effective price (read-only); `nil` when "".
    public var price: Decimal?
    /// `nil` when "" (always so on a variable parent).
    public var regularPrice: Decimal?
    public var salePrice: Decimal?
    public var manageStock: WooManageStock
    public var stockQuantity: Int?
    /// `instock`, `outofstock`, `onbackorder`.
    public var stockStatus: String
    public var taxStatus: String?
    /// "" is the standard class.
    public var taxClass: String
    public var description: String
    public var shortDescription: String
    public var attributes: [WooProductAttribute]
    /// Variation ids of a variable product.
    public var variations: [Int]
    /// The parent of a variation; 0 otherwise.
    public var parentID: Int?
    public var dateModifiedGMT: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, slug, type, status, sku, price, regularPrice = "regular_price", salePrice = "sale_price"
        case manageStock = "manage_stock", stockQuantity = "stock_quantity", stockStatus = "stock_status"
        case taxStatus = "tax_status", taxClass = "tax_class", description, shortDescription = "short_description"
        case attributes, variations, parentID = "parent_id", dateModifiedGMT = "date_modified_gmt"
    }
}

/// A variation's attribute value, e.g. `Size` = `M`.
public struct WooVariationAttribute: Sendable, Hashable, Codable {
    public var id: Int?
    public var name: String
    public var option: String

    public init(id: Int? = nil, name: String, option: String) {
        self.id = id
        self.name = name
        self.option = option
    }
}

/// A variation in the `/products/{id}/variations/{vid}` shape.
public struct WooVariation: Sendable, Hashable, Decodable, Identifiable {
    public var id: Int
    public var parentID: Int?
    /// Just the attribute values ("M") in this endpoint.
    public var name: String?
    public var sku: String
    public var price: Decimal?
    public var regularPrice: Decimal?
    public var salePrice: Decimal?
    public var manageStock: WooManageStock
    public var stockQuantity: Int?
    public var stockStatus: String
    /// "" (standard) in reads; write responses say "parent" when inherited.
    public var taxClass: String
    public var attributes: [WooVariationAttribute]
    public var status: String
    public var description: String?
    public var dateModifiedGMT: Date?

    enum CodingKeys: String, CodingKey {
        case id, parentID = "parent_id", name, sku, price, regularPrice = "regular_price", salePrice = "sale_price"
        case manageStock = "manage_stock", stockQuantity = "stock_quantity", stockStatus = "stock_status"
        case taxClass = "tax_class", attributes, status, description, dateModifiedGMT = "date_modified_gmt"
    }
}

/// A webhook. The secret is write-only and never returned; failure counts are not exposed.
public struct WooWebhook: Sendable, Hashable, Decodable, Identifiable {
    public var id: Int
    public var name: String
    /// `active`, `paused`, or `disabled` (auto-disabled after delivery failures).
    public var status: String
    /// e.g. `order.updated`.
    public var topic: String
    public var resource: String
    public var event: String
    public var hooks: [String]?
    public var deliveryURL: String
    public var dateCreated: String?
    public var dateCreatedGMT: Date?
    /// `nil` until first changed.
    public var dateModifiedGMT: Date?

    enum CodingKeys: String, CodingKey {
        case id, name, status, topic, resource, event, hooks, deliveryURL = "delivery_url"
        case dateCreated = "date_created", dateCreatedGMT = "date_created_gmt", dateModifiedGMT = "date_modified_gmt"
    }
}

/// An order note.
public struct WooOrderNote: Sendable, Hashable, Decodable, Identifiable {
    public var id: Int
    public var author: String?
    public var dateCreatedGMT: Date?
    public var note: String
    /// Whether the customer was emailed it.
    public var customerNote: Bool

    enum CodingKeys: String, CodingKey {
        case id, author, dateCreatedGMT = "date_created_gmt", note, customerNote = "customer_note"
    }
}
