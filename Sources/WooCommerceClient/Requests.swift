import Foundation

// Request bodies and list parameters. Encodable types omit `nil` members, so an update sends
// only what it changes. Prices are written as strings: a single PUT with a numeric price is
// rejected by WooCommerce (400 `rest_invalid_param`).

/// A price to write: an amount, or "" to clear it (e.g. end a sale).
public enum WooPrice: Sendable, Hashable, Encodable {
    case amount(Decimal)
    case clear

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .amount(let value): try c.encode("\(value)")
        case .clear: try c.encode("")
        }
    }
}

/// A product attribute to write. Custom attributes go by `name`, taxonomy ones by `id`.
public struct WooProductAttributeInput: Sendable, Hashable, Encodable {
    public var id: Int?
    public var name: String?
    public var visible: Bool?
    /// Whether variations are made from it.
    public var variation: Bool?
    public var options: [String]

    public init(id: Int? = nil, name: String? = nil, visible: Bool? = true, variation: Bool? = nil, options: [String]) {
        self.id = id
        self.name = name
        self.visible = visible
        self.variation = variation
        self.options = options
    }
}

/// Fields of a product to create or change; `nil` members are not sent.
public struct WooProductInput: Sendable, Hashable, Encodable {
    public var name: String?
    /// `simple` or `variable` (create only).
    public var type: String?
    public var status: String?
    public var sku: String?
    public var regularPrice: WooPrice?
    public var salePrice: WooPrice?
    /// Send with ``stockQuantity``: WooCommerce ignores the quantity unless stock is managed.
    public var manageStock: Bool?
    public var stockQuantity: Int?
    public var stockStatus: String?
    public var taxClass: String?
    public var description: String?
    public var shortDescription: String?
    public var attributes: [WooProductAttributeInput]?

    enum CodingKeys: String, CodingKey {
        case name, type, status, sku, regularPrice = "regular_price", salePrice = "sale_price", manageStock = "manage_stock"
        case stockQuantity = "stock_quantity", stockStatus = "stock_status", taxClass = "tax_class", description
        case shortDescription = "short_description", attributes
    }

    public init(name: String? = nil, type: String? = nil, status: String? = nil, sku: String? = nil, regularPrice: WooPrice? = nil,
                salePrice: WooPrice? = nil, manageStock: Bool? = nil, stockQuantity: Int? = nil, stockStatus: String? = nil,
                taxClass: String? = nil, description: String? = nil, shortDescription: String? = nil, attributes: [WooProductAttributeInput]? = nil) {
        self.name = name; self.type = type; self.status = status; self.sku = sku
        self.regularPrice = regularPrice; self.salePrice = salePrice; self.manageStock = manageStock
        self.stockQuantity = stockQuantity; self.stockStatus = stockStatus; self.taxClass = taxClass
        self.description = description; self.shortDescription = shortDescription; self.attributes = attributes
    }
}

/// Fields of a variation to create or change; `nil` members are not sent.
public struct WooVariationInput: Sendable, Hashable, Encodable {
    public var sku: String?
    public var regularPrice: WooPrice?
    public var salePrice: WooPrice?
    public var manageStock: Bool?
    public var stockQuantity: Int?
    public var stockStatus: String?
    /// "parent" inherits the parent's class.
    public var taxClass: String?
    public var status: String?
    public var description: String?
    public var attributes: [WooVariationAttribute]?

    enum CodingKeys: String, CodingKey {
        case sku, regularPrice = "regular_price", salePrice = "sale_price", manageStock = "manage_stock"
        case stockQuantity = "stock_quantity", stockStatus = "stock_status", taxClass = "tax_class", status, description, attributes
    }

    public init(sku: String? = nil, regularPrice: WooPrice? = nil, salePrice: WooPrice? = nil, manageStock: Bool? = nil,
                stockQuantity: Int? = nil, stockStatus: String? = nil, taxClass: String? = nil, status: String? = nil,
                description: String? = nil, attributes: [WooVariationAttribute]? = nil) {
        self.sku = sku; self.regularPrice = regularPrice; self.salePrice = salePrice; self.manageStock = manageStock
        self.stockQuantity = stockQuantity; self.stockStatus = stockStatus; self.taxClass = taxClass; self.status = status
        self.description = description; self.attributes = attributes
    }
}

/// One update inside a batch: the item's id plus the changes.
public struct WooBatchUpdate<Input: Encodable & Sendable & Hashable>: Sendable, Hashable, Encodable {
    public var id: Int
    public var changes: Input

    public init(id: Int, changes: Input) {
        self.id = id
        self.changes = changes
    }

    enum CodingKeys: String, CodingKey { case id }

    public func encode(to encoder: any Encoder) throws {
        try changes.encode(to: encoder)
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
    }
}

/// A batch request: creates, then updates, then (forced) deletes, at most 100 items in all.
public struct WooBatch<Input: Encodable & Sendable & Hashable>: Sendable, Hashable, Encodable {
    public var create: [Input]
    public var update: [WooBatchUpdate<Input>]
    public var delete: [Int]

    /// WooCommerce's default limit (`woocommerce_rest_batch_items_limit`); above it the store
    /// answers 413 and does nothing, so the client refuses first.
    public static var maxItems: Int { 100 }

    public init(create: [Input] = [], update: [WooBatchUpdate<Input>] = [], delete: [Int] = []) {
        self.create = create
        self.update = update
        self.delete = delete
    }

    public var count: Int { create.count + update.count + delete.count }

    enum CodingKeys: String, CodingKey { case create, update, delete }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if !create.isEmpty { try c.encode(create, forKey: .create) }
        if !update.isEmpty { try c.encode(update, forKey: .update) }
        if !delete.isEmpty { try c.encode(delete, forKey: .delete) }
    }
}

/// One item of a batch answer. The batch is not atomic: failures sit in place among
/// committed successes.
public enum WooBatchItem<Item: Sendable>: Sendable {
    case success(Item)
    /// `id` is 0 for a failed create.
    case failure(id: Int, error: WooCommerceError)

    public var item: Item? { if case .success(let item) = self { item } else { nil } }
    public var error: WooCommerceError? { if case .failure(_, let error) = self { error } else { nil } }
}

extension WooBatchItem: Decodable where Item: Decodable {
    enum CodingKeys: String, CodingKey { case id, error }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if c.contains(.error) {
            let id: Int = (try? c.decodeIfPresent(Int.self, forKey: .id)) ?? 0
            let body = try c.decode(WooErrorBody.self, forKey: .error)
            self = .failure(id: id, error: WooCommerceError(status: body.status, code: body.code, message: body.message, request: "batch item \(id)"))
        } else {
            self = .success(try Item(from: decoder))
        }
    }
}

/// A batch answer, in request order within each group.
public struct WooBatchResult<Item: Sendable & Decodable>: Sendable, Decodable {
    public var create: [WooBatchItem<Item>]
    public var update: [WooBatchItem<Item>]
    public var delete: [WooBatchItem<Item>]

    enum CodingKeys: String, CodingKey { case create, update, delete }

    init(create: [WooBatchItem<Item>], update: [WooBatchItem<Item>], delete: [WooBatchItem<Item>]) {
        self.create = create
        self.update = update
        self.delete = delete
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        create = try c.decodeIfPresent([WooBatchItem<Item>].self, forKey: .create) ?? []
        update = try c.decodeIfPresent([WooBatchItem<Item>].self, forKey: .update) ?? []
        delete = try c.decodeIfPresent([WooBatchItem<Item>].self, forKey: .delete) ?? []
    }

    /// Every failed item, creates first.
    public var failures: [(id: Int, error: WooCommerceError)] {
        (create + update + delete).compactMap { if case .failure(let id, let error) = $0 { (id, error) } else { nil } }
    }
}

/// One page of a collection with WooCommerce's totals.
public struct WooPage<Item: Sendable>: Sendable {
    public var items: [Item]
    public var page: Int
    public var perPage: Int
    /// `X-WP-Total` (0 past the end of an order list, a WooCommerce quirk).
    public var total: Int?
    /// `X-WP-TotalPages`.
    public var totalPages: Int?

    /// Whether a later page has items, by `X-WP-TotalPages`, or by a full page when the
    /// header is missing.
    public var hasMore: Bool {
        if let totalPages { return page < totalPages }
        return items.count == perPage
    }
}

/// Parameters of an order list. Defaults suit polling: every status, oldest change first,
/// dates compared in UTC.
public struct WooOrderQuery: Sendable, Hashable {
    /// Orders changed strictly after this instant (`modified_after`, UTC).
    public var modifiedAfter: Date?
    public var modifiedBefore: Date?
    /// Empty: `status=any` (all but trash). Otherwise the listed statuses.
    public var statuses: [String]
    /// `modified`, `date`, `id`, …
    public var orderBy: String
    public var ascending: Bool
    /// Only this customer's orders.
    public var customerID: Int?
    public var page: Int
    /// 1…100.
    public var perPage: Int

    public init(modifiedAfter: Date? = nil, modifiedBefore: Date? = nil, statuses: [String] = [], orderBy: String = "modified",
                ascending: Bool = true, customerID: Int? = nil, page: Int = 1, perPage: Int = 100) {
        self.modifiedAfter = modifiedAfter
        self.modifiedBefore = modifiedBefore
        self.statuses = statuses
        self.orderBy = orderBy
        self.ascending = ascending
        self.customerID = customerID
        self.page = page
        self.perPage = perPage
    }

    var parameters: [(name: String, value: String)] {
        var p: [(name: String, value: String)] = []
        if let modifiedAfter { p.append(("modified_after", WooDate.formatGMT(modifiedAfter))) }
        if let modifiedBefore { p.append(("modified_before", WooDate.formatGMT(modifiedBefore))) }
        p.append(("dates_are_gmt", "true"))
        p.append(("status", statuses.isEmpty ? "any" : statuses.joined(separator: ",")))
        if let customerID { p.append(("customer", String(customerID))) }
        p.append(("orderby", orderBy))
        p.append(("order", ascending ? "asc" : "desc"))
        return p
    }
}

/// Changes to a webhook; `nil` members are not sent.
public struct WooWebhookUpdate: Sendable, Hashable, Encodable {
    public var name: String?
    /// `active` or `paused` (`disabled` is what the store sets after failures).
    public var status: String?
    public var secret: String?
    public var deliveryURL: String?
    public var topic: String?

    enum CodingKeys: String, CodingKey { case name, status, secret, deliveryURL = "delivery_url", topic }

    public init(name: String? = nil, status: String? = nil, secret: String? = nil, deliveryURL: String? = nil, topic: String? = nil) {
        self.name = name
        self.status = status
        self.secret = secret
        self.deliveryURL = deliveryURL
        self.topic = topic
    }
}

/// What ``WooCommerceClient/ping()`` learned.
public struct WooPing: Sendable, Hashable {
    /// `X-WP-Total` of the order list: the key can read orders.
    public var orderCount: Int?
    /// Round trip, in seconds.
    public var seconds: TimeInterval
}
