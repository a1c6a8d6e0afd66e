import Foundation

/// REST v3 representations, with the key order and value types of the captured responses.
struct Renderer {
    let state: StoreState
    /// The home URL without a trailing slash, e.g. `https://127.0.0.1:8443`.
    let home: String

    var api: String { home + "/wp-json/wc/v3" }

    /// A `date_*` field: the store's local time, no zone.
    func date(_ d: Date?) -> WooJSON { d.map { .string(WooDate.format($0, offsetSeconds: state.settings.utcOffsetSeconds)) } ?? .null }
    /// A `date_*_gmt` field: UTC, no zone.
    func gmt(_ d: Date?) -> WooJSON { d.map { .string(WooDate.format($0)) } ?? .null }

    func links(self path: String, collection: String, allow: [String] = ["GET", "POST", "PUT", "PATCH", "DELETE"], up: String? = nil) -> WooJSON {
        var o = WooObject([
            ("self", .array([.obj(["href": .string(api + path), "targetHints": .obj(["allow": .array(allow.map(WooJSON.string))])])])),
            ("collection", .array([.obj(["href": .string(api + collection)])])),
        ])
        if let up { o["up"] = .array([.obj(["href": .string(api + up)])]) }
        return .object(o)
    }

    func priceHTML(_ price: String) -> String {
        guard !price.isEmpty else { return "" }
        let formatted = Money.string(Money.cents(price) ?? 0)
        return "<span class=\"woocommerce-Price-amount amount\"><bdi><span class=\"woocommerce-Price-currencySymbol\">&#36;</span>\(formatted)</bdi></span>"
    }

    // MARK: products

    func amountHTML(_ price: String, hidden: Bool) -> String {
        let formatted = Money.string(Money.cents(price) ?? 0)
        let aria = hidden ? " aria-hidden=\"true\"" : ""
        return "<span class=\"woocommerce-Price-amount amount\"\(aria)><bdi><span class=\"woocommerce-Price-currencySymbol\">&#36;</span>\(formatted)</bdi></span>"
    }

    func rangeHTML(_ low: String, _ high: String) -> String {
        amountHTML(low, hidden: true) + " <span aria-hidden=\"true\">&ndash;</span> " + amountHTML(high, hidden: true)
            + "<span class=\"screen-reader-text\">Price range: &#36;\(Money.string(Money.cents(low) ?? 0)) through &#36;\(Money.string(Money.cents(high) ?? 0))</span>"
    }

    /// WordPress's `wpautop` for the simple texts products carry: paragraphs and line breaks.
    static func autop(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { return "" }
        if trimmed.hasPrefix("<p>") { return trimmed + "\n" }
        let paragraphs = trimmed.components(separatedBy: "\n\n").map { $0.replacingOccurrences(of: "\n", with: "<br />\n") }
        return paragraphs.map { "<p>\($0)</p>\n" }.joined()
    }

    /// The `/products/{id}` shape, also used for a variation (webhooks, `?sku=`). `edit` is the
    /// context of write responses: raw descriptions, `average_rating` "0", and the
    /// `permalink_template`/`generated_slug` pair; reads and webhooks use the view context.
    func product(_ p: ProductRecord, edit: Bool = false) -> WooJSON {
        let isVariation = p.parentID != 0
        let parent = state.products[p.parentID]
        let permalink = isVariation
            ? "\(home)/product/\(parent?.slug ?? "")/?" + p.variationAttributes.map { "attribute_\(StoreState.slug($0.name))=\($0.option)" }.joined(separator: "&")
            : "\(home)/product/\(p.slug)/"
        let variationPrices = p.variationIDs.compactMap { state.products[$0]?.price }.compactMap { Money.cents($0) }
        let price = p.type == "variable" ? variationPrices.min().map(Money.string) ?? "" : p.price
        var o = WooObject([
            ("id", .int(p.id)), ("name", .string(p.name)), ("slug", .string(p.slug)), ("permalink", .string(permalink)),
            ("date_created", date(p.created)), ("date_created_gmt", gmt(p.created)),
            ("date_modified", date(p.modified)), ("date_modified_gmt", gmt(p.modified)),
            ("type", .string(p.type)), ("status", .string(p.status)), ("featured", false), ("catalog_visibility", "visible"),
            ("description", .string(edit ? p.description : Self.autop(p.description))),
            ("short_description", .string(edit ? p.shortDescription : Self.autop(p.shortDescription))), ("sku", .string(p.sku)),
            ("price", .string(price)), ("regular_price", .string(p.type == "variable" ? "" : p.regularPrice)), ("sale_price", .string(p.salePrice)),
            ("date_on_sale_from", nil), ("date_on_sale_from_gmt", nil), ("date_on_sale_to", nil), ("date_on_sale_to_gmt", nil),
            ("on_sale", .bool(p.type == "variable" ? p.variationIDs.contains { state.products[$0]?.onSale == true } : p.onSale)),
            ("purchasable", .bool(!price.isEmpty)),
            // A variation's total_sales comes out as a string in the real payload.
            ("total_sales", isVariation ? .string(String(p.totalSales)) : .int(p.totalSales)),
            ("virtual", .bool(p.virtual)), ("downloadable", false), ("downloads", []), ("download_limit", -1), ("download_expiry", -1),
            ("external_url", ""), ("button_text", ""), ("tax_status", .string(p.taxStatus)),
            ("tax_class", .string(p.taxClass == "parent" ? "" : p.taxClass)),
            ("manage_stock", .bool(p.manageStock)), ("stock_quantity", p.manageStock ? .optional(p.stockQuantity) : .null),
            ("backorders", "no"), ("backorders_allowed", false), ("backordered", false), ("low_stock_amount", nil),
            ("sold_individually", false), ("weight", ""), ("dimensions", .obj(["length": "", "width": "", "height": ""])),
            ("shipping_required", .bool(!p.virtual)), ("shipping_taxable", .bool(!p.virtual)), ("shipping_class", ""), ("shipping_class_id", 0),
            ("reviews_allowed", .bool(!isVariation)), ("average_rating", .string(edit ? "0" : "0.00")), ("rating_count", 0),
            ("upsell_ids", []), ("cross_sell_ids", []), ("parent_id", .int(p.parentID)), ("purchase_note", ""),
            ("categories", isVariation ? [] : [.obj(["id": 15, "name": "Uncategorized", "slug": "uncategorized"])]),
            ("brands", []), ("tags", []), ("images", []),
        ])
        if isVariation {
            o["attributes"] = .array(p.variationAttributes.map { .obj(["id": 0, "name": .string($0.name), "slug": .string(StoreState.slug($0.name)), "option": .string($0.option)]) })
        } else {
            o["attributes"] = .array(p.attributes.enumerated().map { i, a in
                .obj(["id": 0, "name": .string(a.name), "slug": .string(a.name), "position": .int(i), "visible": true, "variation": true, "options": .array(a.options.map(WooJSON.string))])
            })
        }
        o["default_attributes"] = []
        o["variations"] = .array(p.variationIDs.map(WooJSON.int))
        o["grouped_products"] = []
        o["menu_order"] = 0
        let maxPrice = variationPrices.max().map(Money.string) ?? price
        o["price_html"] = .string(p.type == "variable" && maxPrice != price ? rangeHTML(price, maxPrice) : priceHTML(price))
        // WooCommerce answers at most 5 (wc_get_related_products' default limit): listing every
        // other product made each answer grow with the catalog (9,000 ids per product at 10,000 SKUs).
        o["related_ids"] = .array(isVariation ? [] : Array(state.products.values.filter { $0.parentID == 0 && $0.id != p.id && $0.status != "trash" }.map(\.id).sorted().prefix(5)).map(WooJSON.int))
        o["meta_data"] = .array(p.metaData.map { $0.json() })
        let variableInStock = p.variationIDs.contains { state.products[$0]?.stockStatus == "instock" }
        o["stock_status"] = .string(p.type == "variable" ? (variableInStock ? "instock" : "outofstock") : p.stockStatus)
        o["has_options"] = .bool(p.type == "variable")
        o["post_password"] = ""
        o["global_unique_id"] = ""
        if !isVariation && edit {
            o["permalink_template"] = .string("\(home)/product/%pagename%/")
            o["generated_slug"] = .string(p.slug)
        }
        o["_links"] = links(self: "/products/\(p.id)", collection: "/products", up: isVariation ? "/products/\(p.parentID)" : nil)
        return .object(o)
    }

    /// The shorter `/products/{pid}/variations/{id}` shape; `name` is only the options, and
    /// `tax_class` "parent" shows as such in write responses (`forWrite`) but "" in reads.
    func variation(_ p: ProductRecord, forWrite: Bool) -> WooJSON {
        let parent = state.products[p.parentID]
        let query = p.variationAttributes.map { "attribute_\(StoreState.slug($0.name))=\($0.option)" }.joined(separator: "&")
        let o = WooObject([
            ("id", .int(p.id)), ("type", "variation"),
            ("date_created", date(p.created)), ("date_created_gmt", gmt(p.created)),
            ("date_modified", date(p.modified)), ("date_modified_gmt", gmt(p.modified)),
            ("description", .string(forWrite ? p.description : Self.autop(p.description))), ("permalink", .string("\(home)/product/\(parent?.slug ?? "")/?\(query)")),
            ("sku", .string(p.sku)), ("global_unique_id", ""), ("price", .string(p.price)), ("regular_price", .string(p.regularPrice)),
            ("sale_price", .string(p.salePrice)),
            ("date_on_sale_from", nil), ("date_on_sale_from_gmt", nil), ("date_on_sale_to", nil), ("date_on_sale_to_gmt", nil),
            ("on_sale", .bool(p.onSale)), ("status", .string(p.status)), ("purchasable", .bool(!p.price.isEmpty)),
            ("virtual", .bool(p.virtual)), ("downloadable", false), ("downloads", []), ("download_limit", -1), ("download_expiry", -1),
            ("tax_status", .string(p.taxStatus)), ("tax_class", .string(p.taxClass == "parent" && !forWrite ? "" : p.taxClass)),
            ("manage_stock", .bool(p.manageStock)), ("stock_quantity", p.manageStock ? .optional(p.stockQuantity) : .null),
            ("stock_status", .string(p.stockStatus)), ("backorders", "no"), ("backorders_allowed", false), ("backordered", false),
            ("low_stock_amount", nil), ("weight", ""), ("dimensions", .obj(["length": "", "width": "", "height": ""])),
            ("shipping_class", ""), ("shipping_class_id", 0), ("image", nil),
            ("attributes", .array(p.variationAttributes.map { .obj(["id": 0, "name": .string($0.name), "slug": .string(StoreState.slug($0.name)), "option": .string($0.option)]) })),
            ("menu_order", 0), ("meta_data", .array(p.metaData.map { $0.json() })),
            ("name", .string(p.variationAttributes.map(\.option).joined(separator: ", "))), ("parent_id", .int(p.parentID)),
            ("_links", links(self: "/products/\(p.parentID)/variations/\(p.id)", collection: "/products/\(p.parentID)/variations", up: "/products/\(p.parentID)")),
        ])
        return .object(o)
    }

    // MARK: customers, coupons, taxes, webhooks

    func customer(_ c: CustomerRecord) -> WooJSON {
        let hash = Digest.sha256Hex(Array(c.email.lowercased().utf8))
        return .object(WooObject([
            ("id", .int(c.id)), ("date_created", date(c.created)), ("date_created_gmt", gmt(c.created)),
            ("date_modified", date(c.modified)), ("date_modified_gmt", gmt(c.modified)),
            ("email", .string(c.email)), ("first_name", .string(c.firstName)), ("last_name", .string(c.lastName)),
            ("role", "customer"), ("username", .string(c.username)),
            ("billing", c.billing.json(Address.customerBillingKeys)), ("shipping", c.shipping.json(Address.customerShippingKeys)),
            ("is_paying_customer", .bool(state.orders.values.contains { $0.customerID == c.id && $0.datePaid != nil })),
            ("avatar_url", .string("https://secure.gravatar.com/avatar/\(hash)?s=96&d=mm&r=g")),
            ("meta_data", .array(c.metaData.map { .obj(["id": .int($0.id), "key": .string($0.key), "value": $0.value]) })),
            ("_links", links(self: "/customers/\(c.id)", collection: "/customers")),
        ]))
    }

    func coupon(_ c: CouponRecord) -> WooJSON {
        .object(WooObject([
            ("id", .int(c.id)), ("code", .string(c.code)), ("amount", .string(c.amount)), ("status", .string(c.trashed ? "trash" : "publish")),
            ("date_created", date(c.created)), ("date_created_gmt", gmt(c.created)),
            ("date_modified", date(c.modified)), ("date_modified_gmt", gmt(c.modified)),
            ("discount_type", .string(c.discountType)), ("description", .string(c.description)),
            ("date_expires", nil), ("date_expires_gmt", nil), ("usage_count", .int(c.usageCount)), ("individual_use", .bool(c.individualUse)),
            ("product_ids", []), ("excluded_product_ids", []), ("usage_limit", nil), ("usage_limit_per_user", nil),
            ("limit_usage_to_x_items", nil), ("free_shipping", false), ("product_categories", []), ("excluded_product_categories", []),
            ("exclude_sale_items", .bool(c.excludeSaleItems)), ("minimum_amount", "0.00"), ("maximum_amount", "0.00"),
            ("email_restrictions", []), ("used_by", []), ("meta_data", []),
            ("_links", links(self: "/coupons/\(c.id)", collection: "/coupons")),
        ]))
    }

    func taxRate(_ t: TaxRateRecord) -> WooJSON {
        .object(WooObject([
            ("id", .int(t.id)), ("country", .string(t.country)), ("state", .string(t.state)), ("postcode", ""), ("city", ""),
            ("rate", .string(t.rate)), ("name", .string(t.name)), ("priority", .int(t.priority)), ("compound", .bool(t.compound)),
            ("shipping", .bool(t.shipping)), ("order", .int(t.order)), ("class", .string(t.taxClass)), ("postcodes", []), ("cities", []),
            ("_links", links(self: "/taxes/\(t.id)", collection: "/taxes")),
        ]))
    }

    func taxClass(_ c: (slug: String, name: String)) -> WooJSON {
        .obj(["slug": .string(c.slug), "name": .string(c.name), "_links": .obj(["collection": .array([.obj(["href": .string(api + "/taxes/classes")])])])])
    }

    /// Never shows `secret` or the failure counter.
    func webhook(_ w: WebhookRecord) -> WooJSON {
        .object(WooObject([
            ("id", .int(w.id)), ("name", .string(w.name)), ("status", .string(w.status)), ("topic", .string(w.topic)),
            ("resource", .string(w.resource)), ("event", .string(w.event)), ("hooks", .array(w.hooks.map(WooJSON.string))),
            ("delivery_url", .string(w.deliveryURL)), ("date_created", date(w.created)), ("date_created_gmt", gmt(w.created)),
            ("date_modified", date(w.modified)), ("date_modified_gmt", gmt(w.modified)),
            ("_links", links(self: "/webhooks/\(w.id)", collection: "/webhooks")),
        ]))
    }

    // MARK: orders

    func taxes(_ taxes: [LineTax]) -> WooJSON {
        .array(taxes.map { .obj(["id": .int($0.rateID), "total": .string(Money.string($0.total)), "subtotal": .string($0.subtotal.map(Money.string) ?? "")]) })
    }

    func lineItem(_ l: LineItem) -> WooJSON {
        let price: WooJSON = l.quantity == 0 ? 0 : .double(Double(abs(l.total)) / Double(abs(l.quantity)) / 100)
        return .object(WooObject([
            ("id", .int(l.id)), ("name", .string(l.name)), ("product_id", .int(l.productID)), ("variation_id", .int(l.variationID)),
            ("quantity", .int(l.quantity)), ("tax_class", .string(l.taxClass)),
            ("subtotal", .string(Money.string(l.subtotal))), ("subtotal_tax", .string(Money.string(l.subtotalTax))),
            ("total", .string(Money.string(l.total))), ("total_tax", .string(Money.string(l.totalTax))),
            ("taxes", taxes(l.taxes)), ("meta_data", .array(l.metaData.map { $0.json() })),
            ("sku", .optional(l.sku)), ("price", price),
            ("image", .obj(["id": l.imageIDIsString ? "" : 0, "src": ""])), ("parent_name", .optional(l.parentName)),
        ]))
    }

    func taxLine(_ t: TaxLine) -> WooJSON {
        let rate = state.taxRates[t.rateID]
        let percent = Double(rate?.rateUnits ?? 0) / 10_000
        return .object(WooObject([
            ("id", .int(t.id)), ("rate_code", .string(rate?.rateCode ?? "")), ("rate_id", .int(t.rateID)), ("label", .string(rate?.name ?? "")),
            ("compound", .bool(rate?.compound ?? false)), ("tax_total", .string(Money.string(t.taxTotal))),
            ("shipping_tax_total", .string(Money.string(t.shippingTaxTotal))), ("rate_percent", .double(percent)), ("meta_data", []),
        ]))
    }

    func shippingLine(_ s: ShippingLine) -> WooJSON {
        .object(WooObject([
            ("id", .int(s.id)), ("method_title", .string(s.methodTitle)), ("method_id", .string(s.methodID)), ("instance_id", ""),
            ("total", .string(Money.string(s.total))), ("total_tax", .string(Money.string(s.totalTax))), ("taxes", taxes(s.taxes)),
            ("tax_status", "taxable"), ("meta_data", []),
        ]))
    }

    func feeLine(_ f: FeeLine) -> WooJSON {
        .object(WooObject([
            ("id", .int(f.id)), ("name", .string(f.name)), ("tax_class", .string(f.taxClass)), ("tax_status", .string(f.taxStatus)),
            ("amount", ""), ("total", .string(Money.string(f.total))), ("total_tax", .string(Money.string(f.totalTax))),
            ("taxes", taxes(f.taxes)), ("meta_data", []),
        ]))
    }

    func couponLine(_ c: CouponLine) -> WooJSON {
        let info = "[\(c.couponID),\"\(c.code)\",\"\(c.discountType)\",\(c.nominalAmount.stringValue ?? "0")]"
        return .object(WooObject([
            ("id", .int(c.id)), ("code", .string(c.code)), ("discount", .string(Money.phpFloatString(c.discount))),
            ("discount_tax", .string(Money.string(c.discountTax))),
            ("meta_data", [.obj(["id": .int(c.metaID), "key": "coupon_info", "value": .string(info), "display_key": "coupon_info", "display_value": .string(info)])]),
            ("discount_type", .string(c.discountType)), ("nominal_amount", c.nominalAmount), ("free_shipping", false),
        ]))
    }

    static let currencySymbols = ["USD": "$", "EUR": "\u{20AC}", "GBP": "\u{00A3}", "CAD": "$", "AUD": "$", "JPY": "\u{00A5}", "CHF": "CHF"]

    func order(_ o: OrderRecord) -> WooJSON {
        let paid = o.datePaid != nil
        let needsPayment = ["pending", "failed"].contains(o.status) && o.total > 0
        return .object(WooObject([
            ("id", .int(o.id)), ("parent_id", 0), ("status", .string(o.status)), ("currency", .string(o.currency)), ("version", .string(state.settings.version)),
            ("prices_include_tax", false), ("date_created", date(o.created)), ("date_modified", date(o.modified)),
            ("discount_total", .string(Money.string(o.discountTotal))), ("discount_tax", .string(Money.string(o.discountTax))),
            ("shipping_total", .string(Money.string(o.shippingTotal))), ("shipping_tax", .string(Money.string(o.shippingTax))),
            ("cart_tax", .string(Money.string(o.cartTax))), ("total", .string(Money.string(o.total))), ("total_tax", .string(Money.string(o.totalTax))),
            ("customer_id", .int(o.customerID)), ("order_key", .string(o.orderKey)),
            ("billing", o.billing.json(Address.orderBillingKeys)), ("shipping", o.shipping.json(Address.orderShippingKeys)),
            ("payment_method", .string(o.paymentMethod)), ("payment_method_title", .string(o.paymentMethodTitle)),
            ("transaction_id", .string(o.transactionID)), ("customer_ip_address", ""), ("customer_user_agent", ""),
            ("created_via", "rest-api"), ("customer_note", .string(o.customerNote)),
            ("date_completed", date(o.dateCompleted)), ("date_paid", date(o.datePaid)), ("cart_hash", ""), ("number", .string(String(o.id))),
            ("meta_data", .array(o.metaData.map { .obj(["id": .int($0.id), "key": .string($0.key), "value": $0.value]) })),
            ("line_items", .array(o.lineItems.map(lineItem))), ("tax_lines", .array(o.taxLines.map(taxLine))),
            ("shipping_lines", .array(o.shippingLines.map(shippingLine))), ("fee_lines", .array(o.feeLines.map(feeLine))),
            ("coupon_lines", .array(o.couponLines.map(couponLine))),
            ("refunds", .array(o.refundIDs.reversed().compactMap { state.refunds[$0] }.map {
                .obj(["id": .int($0.id), "reason": .string($0.reason), "total": .string(Money.string(-$0.amount))])
            })),
            ("payment_url", .string("\(home)/checkout/order-pay/\(o.id)/?pay_for_order=true&key=\(o.orderKey)")),
            ("is_editable", .bool(["pending", "on-hold", "auto-draft"].contains(o.status))),
            ("needs_payment", .bool(needsPayment && !paid)), ("needs_processing", .bool(state.needsProcessing(o))),
            ("date_created_gmt", gmt(o.created)), ("date_modified_gmt", gmt(o.modified)),
            ("date_completed_gmt", gmt(o.dateCompleted)), ("date_paid_gmt", gmt(o.datePaid)),
            ("currency_symbol", .string(Self.currencySymbols[o.currency] ?? o.currency)),
            ("_links", {
                guard case .object(var l) = links(self: "/orders/\(o.id)", collection: "/orders") else { return .null }
                l["email_templates"] = .array([.obj(["embeddable": true, "href": .string(api + "/orders/\(o.id)/actions/email_templates")])])
                if o.customerID != 0 { l["customer"] = .array([.obj(["href": .string(api + "/customers/\(o.customerID)")])]) }
                return .object(l)
            }()),
        ]))
    }

    func refund(_ r: RefundRecord) -> WooJSON {
        .object(WooObject([
            ("id", .int(r.id)), ("date_created", date(r.created)), ("date_created_gmt", gmt(r.created)),
            ("amount", .string(Money.string(r.amount))), ("reason", .string(r.reason)), ("refunded_by", 1), ("refunded_payment", false),
            ("meta_data", []), ("line_items", .array(r.lineItems.map(lineItem))), ("shipping_lines", []),
            ("tax_lines", .array(r.taxLines.map(taxLine))), ("fee_lines", []),
            ("_links", links(self: "/orders/\(r.orderID)/refunds/\(r.id)", collection: "/orders/\(r.orderID)/refunds", allow: ["GET", "DELETE"], up: "/orders/\(r.orderID)")),
        ]))
    }

    func note(_ n: NoteRecord) -> WooJSON {
        .object(WooObject([
            ("id", .int(n.id)), ("author", "WooCommerce"), ("date_created", date(n.created)), ("date_created_gmt", gmt(n.created)),
            ("note", .string(n.note)), ("customer_note", .bool(n.customerNote)),
            ("_links", links(self: "/orders/\(n.orderID)/notes/\(n.id)", collection: "/orders/\(n.orderID)/notes", allow: ["GET", "DELETE"], up: "/orders/\(n.orderID)")),
        ]))
    }
}
