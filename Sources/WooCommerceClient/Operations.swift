import ConnectorCore
import Foundation
import NIOHTTP1

// The calls the connector makes. Every one throws `WooCommerceError` (or `CancellationError`).

extension WooCommerceClient {
    // MARK: paging

    /// One page of `path`; `perPage` 1…100 (WooCommerce answers 400 above 100).
    func page<T: Decodable & Sendable>(_ path: String, query: [(name: String, value: String)], page: Int, perPage: Int) async throws -> WooPage<T> {
        let label = "GET \(Self.apiPrefix)\(path)"
        guard (1...100).contains(perPage) else {
            throw WooCommerceError.invalidRequest("perPage \(perPage) is outside 1…100, WooCommerce's limit", request: label)
        }
        guard page >= 1 else { throw WooCommerceError.invalidRequest("page \(page) must be 1 or more", request: label) }
        let response = try await send(.GET, path, query: query + [("page", String(page)), ("per_page", String(perPage))])
        let items = try decode([T].self, response)
        return WooPage(
            items: items, page: page, perPage: perPage,
            total: response.headers.first(name: "X-WP-Total").flatMap { Int($0) },
            totalPages: response.headers.first(name: "X-WP-TotalPages").flatMap { Int($0) })
    }

    /// Every page of `path` from page 1, each id once (an item that moves while paging can
    /// show up twice), refusing to go past `maxPages`.
    func all<T: Decodable & Sendable & Identifiable>(_ path: String, query: [(name: String, value: String)], perPage: Int, maxPages: Int) async throws -> [T] where T.ID == Int {
        var items: [T] = []
        var seen = Set<Int>()
        var number = 1
        while true {
            let current: WooPage<T> = try await page(path, query: query, page: number, perPage: perPage)
            for item in current.items where seen.insert(item.id).inserted { items.append(item) }
            guard current.hasMore, !current.items.isEmpty else { return items }
            number += 1
            if number > maxPages {
                throw WooCommerceError.invalidRequest(
                    "more than \(maxPages) pages of \(perPage) items; narrow the query (e.g. modifiedAfter) or raise maxPages",
                    request: "GET \(Self.apiPrefix)\(path)")
            }
        }
    }

    func checkBatch(_ count: Int, _ path: String) throws {
        guard count <= WooBatch<WooProductInput>.maxItems else {
            throw WooCommerceError.invalidRequest(
                "a batch of \(count) items exceeds WooCommerce's limit of \(WooBatch<WooProductInput>.maxItems) (the store would answer 413 and do nothing); split it",
                request: "POST \(Self.apiPrefix)\(path)")
        }
        guard count > 0 else { throw WooCommerceError.invalidRequest("an empty batch", request: "POST \(Self.apiPrefix)\(path)") }
    }

    // MARK: health

    /// A cheap authenticated read for `mlc connection ping`: one order id
    /// (`GET /orders?per_page=1&_fields=id`). Proves the URL, the auth mode and the key's
    /// read permission; reports the order count.
    public func ping() async throws -> WooPing {
        let started = clock.now()
        let response = try await send(.GET, "/orders", query: [("per_page", "1"), ("_fields", "id")])
        // The body must be a JSON array, or this was not a WooCommerce order list.
        _ = try decode([WooJSONValue].self, response)
        return WooPing(orderCount: response.headers.first(name: "X-WP-Total").flatMap { Int($0) },
                       seconds: max(0, clock.now().timeIntervalSince(started)))
    }

    // MARK: orders

    /// `GET /orders/{id}`.
    public func order(_ id: Int) async throws -> WooOrder {
        try await call(.GET, "/orders/\(id)")
    }

    /// One page of orders (`modified_after`, `dates_are_gmt=true`, `status`, `orderby`).
    public func orders(_ query: WooOrderQuery) async throws -> WooPage<WooOrder> {
        try await page("/orders", query: query.parameters, page: query.page, perPage: query.perPage)
    }

    /// Every order matching `query` (from page 1, `query.page` ignored), at most `maxPages`.
    public func allOrders(_ query: WooOrderQuery, maxPages: Int = 100) async throws -> [WooOrder] {
        try await all("/orders", query: query.parameters, perPage: query.perPage, maxPages: maxPages)
    }

    /// The order's refunds, newest first.
    public func refunds(orderID: Int) async throws -> [WooRefund] {
        try await all("/orders/\(orderID)/refunds", query: [], perPage: 100, maxPages: 20)
    }

    /// `PUT /orders/{id}` `{"status": …}`.
    public func updateOrder(_ id: Int, status: String) async throws -> WooOrder {
        try await call(.PUT, "/orders/\(id)", json: ["status": status])
    }

    /// Adds a note; `customerNote` true also emails it to the customer.
    public func addOrderNote(orderID: Int, note: String, customerNote: Bool = false) async throws -> WooOrderNote {
        struct Body: Encodable { var note: String; var customer_note: Bool }
        return try await call(.POST, "/orders/\(orderID)/notes", json: Body(note: note, customer_note: customerNote))
    }

    // MARK: customers

    /// `GET /customers/{id}` (guests, `customer_id` 0, have none).
    public func customer(_ id: Int) async throws -> WooCustomer {
        try await call(.GET, "/customers/\(id)")
    }

    // MARK: products

    /// Products and variations with exactly this SKU (a variation comes back in the product
    /// shape, `type` "variation").
    public func products(sku: String) async throws -> [WooProduct] {
        try await all("/products", query: [("sku", sku)], perPage: 100, maxPages: 5)
    }

    /// One page of products.
    public func products(page: Int = 1, perPage: Int = 100) async throws -> WooPage<WooProduct> {
        try await self.page("/products", query: [], page: page, perPage: perPage)
    }

    /// `GET /products/{id}` (a variation id answers in the product shape).
    public func product(_ id: Int) async throws -> WooProduct {
        try await call(.GET, "/products/\(id)")
    }

    /// `POST /products`; prices go as strings, as the single-item endpoint requires.
    public func createProduct(_ input: WooProductInput) async throws -> WooProduct {
        try await call(.POST, "/products", json: input)
    }

    /// `PUT /products/{id}` with only the non-nil fields of `changes`.
    public func updateProduct(_ id: Int, _ changes: WooProductInput) async throws -> WooProduct {
        try await call(.PUT, "/products/\(id)", json: changes)
    }

    /// Up to 100 creates + updates + deletes (deletes are forced). Not atomic: check each
    /// item of the result. More than 100 is refused here, before anything is sent.
    public func batchProducts(_ batch: WooBatch<WooProductInput>) async throws -> WooBatchResult<WooProduct> {
        try checkBatch(batch.count, "/products/batch")
        return try await sendBatch("/products/batch", batch)
    }

    // MARK: variations

    /// Every variation of a variable product.
    public func variations(productID: Int) async throws -> [WooVariation] {
        try await all("/products/\(productID)/variations", query: [], perPage: 100, maxPages: 20)
    }

    /// `POST /products/{id}/variations`.
    public func createVariation(productID: Int, _ input: WooVariationInput) async throws -> WooVariation {
        try await call(.POST, "/products/\(productID)/variations", json: input)
    }

    /// `PUT /products/{pid}/variations/{id}` with only the non-nil fields of `changes`
    /// (send `manageStock: true` with a stock quantity).
    public func updateVariation(productID: Int, id: Int, _ changes: WooVariationInput) async throws -> WooVariation {
        try await call(.PUT, "/products/\(productID)/variations/\(id)", json: changes)
    }

    /// Like ``batchProducts(_:)`` for one product's variations.
    public func batchVariations(productID: Int, _ batch: WooBatch<WooVariationInput>) async throws -> WooBatchResult<WooVariation> {
        let path = "/products/\(productID)/variations/batch"
        try checkBatch(batch.count, path)
        return try await sendBatch(path, batch)
    }

    // MARK: webhooks

    /// One page of webhooks; `status` `active`, `paused`, `disabled` or nil for all.
    public func webhooks(status: String? = nil, page: Int = 1, perPage: Int = 100) async throws -> WooPage<WooWebhook> {
        try await self.page("/webhooks", query: status.map { [("status", $0)] } ?? [], page: page, perPage: perPage)
    }

    /// Every webhook (optionally of one status).
    public func allWebhooks(status: String? = nil) async throws -> [WooWebhook] {
        try await all("/webhooks", query: status.map { [("status", $0)] } ?? [], perPage: 100, maxPages: 20)
    }

    /// `GET /webhooks/{id}` (an unknown id is a 400 `…_invalid_id` from WooCommerce, not a 404).
    public func webhook(_ id: Int) async throws -> WooWebhook {
        try await call(.GET, "/webhooks/\(id)")
    }

    /// Creates a webhook. WooCommerce always creates it `active` (and pings `deliveryURL`),
    /// whatever the body says; another `status` is applied by a follow-up update.
    public func createWebhook(name: String, topic: String, deliveryURL: String, secret: String, status: String = "active") async throws -> WooWebhook {
        struct Body: Encodable { var name: String; var topic: String; var delivery_url: String; var secret: String; var status: String }
        let created: WooWebhook = try await call(.POST, "/webhooks", json: Body(name: name, topic: topic, delivery_url: deliveryURL, secret: secret, status: status))
        guard created.status != status else { return created }
        return try await updateWebhook(created.id, WooWebhookUpdate(status: status))
    }

    /// `PUT /webhooks/{id}`. Re-activating does not reset WooCommerce's hidden failure counter.
    public func updateWebhook(_ id: Int, _ changes: WooWebhookUpdate) async throws -> WooWebhook {
        try await call(.PUT, "/webhooks/\(id)", json: changes)
    }

    /// Deletes permanently (`force=true`; webhooks cannot be trashed). Returns it as it was.
    public func deleteWebhook(_ id: Int) async throws -> WooWebhook {
        try await call(.DELETE, "/webhooks/\(id)", query: [("force", "true")])
    }
}
