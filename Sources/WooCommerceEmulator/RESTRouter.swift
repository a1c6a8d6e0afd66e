import Foundation

/// One REST request against the store, run under the emulator's lock.
struct RESTRouter {
    var core: WooCommerceEmulator.Core
    let configuration: WooCommerceEmulator.Configuration
    let now: Date
    /// Pings to send once the lock is released.
    var pings: [PingJob] = []

    var renderer: Renderer { Renderer(state: core.store, home: core.home) }
    var home: String { core.home }

    // MARK: responses

    enum Access { case list, view, create, edit, delete, batch }

    func baseHeaders(link: String?, paging: (total: Int, pages: Int)? = nil, allow: String? = nil, location: String? = nil, authError: Bool = false) -> [(name: String, value: String)] {
        var h: [(name: String, value: String)] = [
            ("X-Robots-Tag", "noindex"),
            ("Link", link ?? "<\(home)/wp-json/>; rel=\"https://api.w.org/\""),
            ("X-Content-Type-Options", "nosniff"),
            ("Access-Control-Expose-Headers", "X-WP-Total, X-WP-TotalPages, Link"),
            ("Access-Control-Allow-Headers", "Authorization, X-WP-Nonce, Content-Disposition, Content-MD5, Content-Type"),
        ]
        if authError {
            h.append(("Vary", "Origin"))
        } else {
            if let paging {
                h.append(("X-WP-Total", String(paging.total)))
                h.append(("X-WP-TotalPages", String(paging.pages)))
            }
            if let location { h.append(("Location", location)) }
            if let allow { h.append(("Allow", allow)) }
            h.append(("Expires", "Wed, 11 Jan 1984 05:00:00 GMT"))
            h.append(("Cache-Control", "no-cache, must-revalidate, max-age=0, no-store, private"))
        }
        h.append(("Content-Type", "application/json; charset=UTF-8"))
        return h
    }

    func json(_ status: Int, _ body: WooJSON, headers: [(name: String, value: String)]) -> EmulatorResponse {
        EmulatorResponse(status: status, headers: headers, body: body.phpEncoded())
    }

    func error(_ e: RESTError, allow: String? = nil) -> EmulatorResponse {
        json(e.status, e.json, headers: baseHeaders(link: nil, allow: allow, authError: e.status == 401))
    }

    static func permissionError(_ access: Access) -> RESTError {
        switch access {
        case .list: return RESTError(status: 401, code: "woocommerce_rest_cannot_view", message: "Sorry, you cannot list resources.")
        case .view: return RESTError(status: 401, code: "woocommerce_rest_cannot_view", message: "Sorry, you cannot view this resource.")
        case .create: return RESTError(status: 401, code: "woocommerce_rest_cannot_create", message: "Sorry, you are not allowed to create resources.")
        case .edit: return RESTError(status: 401, code: "woocommerce_rest_cannot_edit", message: "Sorry, you are not allowed to edit this resource.")
        case .delete: return RESTError(status: 401, code: "woocommerce_rest_cannot_delete", message: "Sorry, you are not allowed to delete this resource.")
        case .batch: return RESTError(status: 401, code: "woocommerce_rest_cannot_batch", message: "Sorry, you are not allowed to batch manipulate this resource.")
        }
    }

    // MARK: routing

    mutating func route(_ request: EmulatorRequest) -> EmulatorResponse {
        var path = request.path
        if let restRoute = request.queryItems.first(where: { $0.name == "rest_route" })?.value { path = "/wp-json" + restRoute }
        let prefix = "/wp-json/wc/v3"
        guard path.hasPrefix(prefix) else { return error(.noRoute()) }
        let segments = path.dropFirst(prefix.count).split(separator: "/").map(String.init)
        let method = request.method == "PATCH" ? "PUT" : request.method
        let access: Access
        let isItem = segments.count >= 2 && Int(segments[1]) != nil && (segments.count == 2 || segments.count == 4)
        switch method {
        case "GET": access = isItem ? .view : .list
        case "POST": access = segments.last == "batch" ? .batch : .create
        case "PUT": access = .edit
        case "DELETE": access = .delete
        default: return error(.noRoute())
        }
        // Authentication.
        let authenticator = Authenticator(
            consumerKey: configuration.consumerKey, consumerSecret: configuration.consumerSecret,
            isHTTPS: configuration.treatRequestsAsHTTPS, homeHostPort: Self.hostPort(home))
        switch authenticator.authenticate(request, now: now, nonces: &core.nonces) {
        case .authenticated:
            let writes = ["POST", "PUT", "DELETE"].contains(method)
            if writes && configuration.keyPermissions == .read || !writes && configuration.keyPermissions == .write {
                let message = writes ? "The API key provided does not have write permissions." : "The API key provided does not have read permissions."
                return error(RESTError(status: 401, code: "woocommerce_rest_authentication_error", message: message))
            }
        case .anonymous: return error(Self.permissionError(access))
        case .failed(let code, let message): return error(RESTError(status: 401, code: code, message: message))
        }
        let body: WooObject
        if request.body.isEmpty || method == "GET" || method == "DELETE" {
            body = WooObject()
        } else if let parsed = try? WooJSON.parse(request.body), case .object(let o) = parsed {
            body = o
        } else if let form = Optional(FormCoding.decode(String(decoding: request.body, as: UTF8.self))), !form.isEmpty, request.header("Content-Type")?.contains("form") == true {
            body = WooObject(form.map { ($0.name, .string($0.value)) })
        } else {
            return error(RESTError(status: 400, code: "rest_invalid_json", message: "Invalid JSON body passed.", data: .obj(["status": 400, "json_error_code": 4, "json_error_message": "Syntax error"])))
        }
        do {
            var response = try dispatch(method: method, segments: segments, request: request, body: body)
            if let fields = request.queryItems.last(where: { $0.name == "_fields" })?.value, (200..<300).contains(response.status),
               let parsed = try? WooJSON.parse(response.body) {
                response.body = Self.keepFields(parsed, fields.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }).phpEncoded()
            }
            return response
        } catch let e as RESTError {
            return error(e)
        } catch {
            return self.error(RESTError(status: 500, code: "internal_error", message: "Internal error."))
        }
    }

    /// `_fields=a,b.c`: only those members (dotted paths reach into objects), in the
    /// resource's own key order; applied to each item of a list.
    static func keepFields(_ value: WooJSON, _ fields: [String]) -> WooJSON {
        if case .array(let items) = value { return .array(items.map { keepFields($0, fields) }) }
        guard case .object(let object) = value else { return value }
        var kept = WooObject()
        for (key, member) in object.members {
            if fields.contains(key) {
                kept[key] = member
            } else {
                let nested = fields.filter { $0.hasPrefix(key + ".") }.map { String($0.dropFirst(key.count + 1)) }
                if !nested.isEmpty, case .object = member { kept[key] = keepFields(member, nested) }
            }
        }
        return .object(kept)
    }

    static func hostPort(_ url: String) -> String {
        guard let range = url.range(of: "://") else { return url }
        return String(url[range.upperBound...].split(separator: "/").first ?? "")
    }

    mutating func dispatch(method: String, segments: [String], request: EmulatorRequest, body: WooObject) throws -> EmulatorResponse {
        let id = segments.count > 1 ? Int(segments[1]) : nil
        let force = request.queryItems.first { $0.name == "force" }.map { ["1", "true", "yes"].contains($0.value.lowercased()) } ?? false
        switch (method, segments.first ?? "", segments.count) {
        // products
        case ("GET", "products", 1):
            let sku = request.queryItems.first { $0.name == "sku" }?.value
            let type = request.queryItems.first { $0.name == "type" }?.value
            let status = request.queryItems.first { $0.name == "status" }?.value ?? "any"
            let items = core.store.products.values.filter { p in
                let statusMatches = status == "any" ? p.status != "trash" : p.status == status
                if let sku { return p.sku == sku && statusMatches }
                return p.parentID == 0 && statusMatches && (type == nil || p.type == type)
            }
            return try list(items, request: request, collection: "/products", defaultOrder: "date", isOrders: false) { renderer.product($0) }
        case ("POST", "products", 1):
            try StoreState.validateProductSchema(body)
            let product = try core.store.createProduct(body, now: now)
            return created(renderer.product(product, edit: true), location: "/products/\(product.id)")
        case ("POST", "products", 2) where segments[1] == "batch":
            return try batch(body, kind: "product") { router, item, op in
                switch op {
                case .create: return router.renderer.product(try router.core.store.createProduct(item, now: router.now), edit: true)
                case .update:
                    guard let pid = item["id"]?.intValue, router.core.store.products[pid] != nil else { throw RESTError.invalidID("product", status: 400) }
                    return router.renderer.product(try router.core.store.updateProduct(pid, item, now: router.now), edit: true)
                case .delete(let pid):
                    guard let product = router.core.store.products[pid] else { throw RESTError.invalidID("product", status: 404) }
                    let json = router.renderer.product(product, edit: true)
                    router.core.store.products[pid] = nil
                    return json
                }
            }
        case ("GET", "products", 2):
            guard let id, let p = core.store.products[id] else { throw RESTError.invalidID("product", status: 404) }
            return ok(renderer.product(p), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("PUT", "products", 2):
            guard let id, core.store.products[id] != nil else { throw RESTError.invalidID("product", status: 400) }
            try StoreState.validateProductSchema(body)
            return ok(renderer.product(try core.store.updateProduct(id, body, now: now), edit: true), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("DELETE", "products", 2):
            guard let id, var p = core.store.products[id] else { throw RESTError.invalidID("product", status: 404) }
            if force {
                core.store.products[id] = nil
            } else {
                p.status = "trash"
                core.store.products[id] = p
                core.store.fire("product", "deleted", id)
            }
            return ok(renderer.product(p, edit: true), allow: "GET, POST, PUT, PATCH, DELETE")
        // variations
        case ("GET", "products", 3) where segments[2] == "variations":
            guard let id, let parent = core.store.products[id] else { throw RESTError.invalidID("product", status: 404) }
            let items = parent.variationIDs.compactMap { core.store.products[$0] }
            return try list(items, request: request, collection: "/products/\(id)/variations", defaultOrder: "date", isOrders: false) { renderer.variation($0, forWrite: false) }
        case ("POST", "products", 3) where segments[2] == "variations":
            guard let id else { throw RESTError.noRoute() }
            let v = try core.store.createVariation(parent: id, body, now: now)
            return created(renderer.variation(v, forWrite: true), location: "/products/\(id)/variations/\(v.id)")
        case ("POST", "products", 4) where segments[2] == "variations" && segments[3] == "batch":
            guard let parentID = id else { throw RESTError.noRoute() }
            return try batch(body, kind: "product_variation") { router, item, op in
                switch op {
                case .create: return router.renderer.variation(try router.core.store.createVariation(parent: parentID, item, now: router.now), forWrite: true)
                case .update:
                    guard let vid = item["id"]?.intValue, router.core.store.products[vid]?.parentID == parentID else { throw RESTError.invalidID("product_variation", status: 400) }
                    return router.renderer.variation(try router.core.store.updateProduct(vid, item, now: router.now), forWrite: true)
                case .delete(let vid):
                    guard let v = router.core.store.products[vid], v.parentID == parentID else { throw RESTError.invalidID("product_variation", status: 404) }
                    router.core.store.products[vid] = nil
                    router.core.store.products[parentID]?.variationIDs.removeAll { $0 == vid }
                    return router.renderer.variation(v, forWrite: true)
                }
            }
        case ("GET", "products", 4) where segments[2] == "variations":
            guard let id, let vid = Int(segments[3]), let v = core.store.products[vid], v.parentID == id else { throw RESTError.invalidID("product_variation", status: 404) }
            return ok(renderer.variation(v, forWrite: false), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("PUT", "products", 4) where segments[2] == "variations":
            guard let id, let vid = Int(segments[3]), core.store.products[vid]?.parentID == id else { throw RESTError.invalidID("product_variation", status: 400) }
            try StoreState.validateProductSchema(body)
            return ok(renderer.variation(try core.store.updateProduct(vid, body, now: now), forWrite: true), allow: "GET, POST, PUT, PATCH, DELETE")
        // orders
        case ("GET", "orders", 1):
            let statusParam = request.queryItems.first { $0.name == "status" }?.value
            let statuses = statusParam.map { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } } ?? ["any"]
            let customer = request.queryItems.first { $0.name == "customer" }.flatMap { Int($0.value) }
            let items = core.store.orders.values.filter { o in
                (statuses.contains("any") ? o.status != "trash" : statuses.contains(o.status)) && (customer == nil || o.customerID == customer)
            }
            return try list(items, request: request, collection: "/orders", defaultOrder: "date", isOrders: true) { renderer.order($0) }
        case ("POST", "orders", 1):
            let order = try core.store.createOrder(body, now: now)
            return created(renderer.order(order), location: "/orders/\(order.id)")
        case ("POST", "orders", 2) where segments[1] == "batch":
            return try batch(body, kind: "shop_order") { router, item, op in
                switch op {
                case .create: return router.renderer.order(try router.core.store.createOrder(item, now: router.now))
                case .update:
                    guard let oid = item["id"]?.intValue else { throw RESTError.invalidID("shop_order", status: 400) }
                    return router.renderer.order(try router.core.store.updateOrder(oid, item, now: router.now))
                case .delete(let oid):
                    let order = try router.core.store.deleteOrder(oid, force: true, now: router.now)
                    return router.renderer.order(order)
                }
            }
        case ("GET", "orders", 2):
            guard let id, let o = core.store.orders[id] else { throw RESTError.invalidID("shop_order", status: 404) }
            return ok(renderer.order(o), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("PUT", "orders", 2):
            guard let id else { throw RESTError.invalidID("shop_order", status: 400) }
            return ok(renderer.order(try core.store.updateOrder(id, body, now: now)), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("DELETE", "orders", 2):
            guard let id else { throw RESTError.invalidID("shop_order", status: 404) }
            return ok(renderer.order(try core.store.deleteOrder(id, force: force, now: now)), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("GET", "orders", 3) where segments[2] == "refunds":
            guard let id, let order = core.store.orders[id] else { throw RESTError(status: 404, code: "woocommerce_rest_invalid_order_id", message: "Invalid order ID.") }
            let items = order.refundIDs.compactMap { core.store.refunds[$0] }
            return try list(items, request: request, collection: "/orders/\(id)/refunds", defaultOrder: "date", isOrders: false) { renderer.refund($0) }
        case ("POST", "orders", 3) where segments[2] == "refunds":
            guard let id else { throw RESTError.noRoute() }
            let refund = try core.store.createRefund(orderID: id, body, now: now)
            return created(renderer.refund(refund), location: "/orders/\(id)/refunds/\(refund.id)")
        case ("GET", "orders", 4) where segments[2] == "refunds":
            guard let id, let rid = Int(segments[3]), let r = core.store.refunds[rid], r.orderID == id else { throw RESTError.invalidID("shop_order_refund", status: 404) }
            return ok(renderer.refund(r), allow: "GET, DELETE")
        case ("GET", "orders", 3) where segments[2] == "notes":
            guard let id, core.store.orders[id] != nil else { throw RESTError(status: 404, code: "woocommerce_rest_order_invalid_id", message: "Invalid order ID.") }
            let notes = core.store.notes.values.filter { $0.orderID == id }.sorted { ($0.created, $0.id) > ($1.created, $1.id) }
            return json(200, .array(notes.map(renderer.note)), headers: baseHeaders(link: nil, allow: "GET, POST"))
        case ("POST", "orders", 3) where segments[2] == "notes":
            guard let id, core.store.orders[id] != nil else { throw RESTError(status: 404, code: "woocommerce_rest_order_invalid_id", message: "Invalid order ID.") }
            guard let text = body["note"]?.stringValue, !text.isEmpty else {
                throw RESTError(status: 400, code: "rest_missing_callback_param", message: "Missing parameter(s): note", data: .obj(["status": 400, "params": ["note"]]))
            }
            let note = core.store.addNote(orderID: id, text: text, customerNote: body["customer_note"]?.boolValue ?? false, now: now)
            return created(renderer.note(note), location: "/orders/\(id)/notes/\(note.id)")
        case ("GET", "orders", 4) where segments[2] == "notes":
            guard let id, let nid = Int(segments[3]), let n = core.store.notes[nid], n.orderID == id else { throw RESTError(status: 404, code: "woocommerce_rest_invalid_id", message: "Invalid resource ID.") }
            return ok(renderer.note(n), allow: "GET, DELETE")
        // customers
        case ("GET", "customers", 1):
            let email = request.queryItems.first { $0.name == "email" }?.value
            let items = core.store.customers.values.filter { email == nil || $0.email == email }
            return try list(items, request: request, collection: "/customers", defaultOrder: "name", isOrders: false) { renderer.customer($0) }
        case ("POST", "customers", 1):
            let customer = try core.store.createCustomer(body, now: now)
            return created(renderer.customer(customer), location: "/customers/\(customer.id)")
        case ("GET", "customers", 2):
            guard let id, let c = core.store.customers[id] else { throw RESTError(status: 404, code: "woocommerce_rest_invalid_id", message: "Invalid resource ID.") }
            return ok(renderer.customer(c), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("PUT", "customers", 2):
            guard let id else { throw RESTError(status: 400, code: "woocommerce_rest_invalid_id", message: "Invalid resource ID.") }
            return ok(renderer.customer(try core.store.updateCustomer(id, body, now: now)), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("DELETE", "customers", 2):
            guard let id, let c = core.store.customers[id] else { throw RESTError(status: 400, code: "woocommerce_rest_invalid_id", message: "Invalid resource id.") }
            guard force else { throw RESTError(status: 501, code: "woocommerce_rest_trash_not_supported", message: "Customers do not support trashing.") }
            let json = renderer.customer(c)
            core.store.customers[id] = nil
            core.store.fire("customer", "deleted", id)
            return ok(json, allow: "GET, POST, PUT, PATCH, DELETE")
        // coupons
        case ("GET", "coupons", 1):
            return try list(core.store.coupons.values.filter { !$0.trashed }, request: request, collection: "/coupons", defaultOrder: "date", isOrders: false) { renderer.coupon($0) }
        case ("POST", "coupons", 1):
            let coupon = try core.store.createCoupon(body, now: now)
            return created(renderer.coupon(coupon), location: "/coupons/\(coupon.id)")
        case ("GET", "coupons", 2):
            guard let id, let c = core.store.coupons[id], !c.trashed else { throw RESTError.invalidID("shop_coupon", status: 404) }
            return ok(renderer.coupon(c), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("PUT", "coupons", 2):
            guard let id, var c = core.store.coupons[id] else { throw RESTError.invalidID("shop_coupon", status: 400) }
            if let v = body["amount"], let cents = Money.cents(v) { c.amount = Money.string(cents) }
            if let v = body["discount_type"]?.stringValue { c.discountType = v }
            if let v = body["description"]?.stringValue { c.description = v }
            if let v = body["individual_use"]?.boolValue { c.individualUse = v }
            if let v = body["exclude_sale_items"]?.boolValue { c.excludeSaleItems = v }
            c.modified = now
            core.store.coupons[id] = c
            core.store.fire("coupon", "updated", id)
            return ok(renderer.coupon(c), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("DELETE", "coupons", 2):
            guard let id, var c = core.store.coupons[id] else { throw RESTError.invalidID("shop_coupon", status: 404) }
            if force {
                core.store.coupons[id] = nil
            } else {
                guard !c.trashed else { throw RESTError(status: 410, code: "woocommerce_rest_already_trashed", message: "The coupon has already been deleted.") }
                c.trashed = true
                core.store.coupons[id] = c
                core.store.fire("coupon", "deleted", id)
            }
            return ok(renderer.coupon(c), allow: "GET, POST, PUT, PATCH, DELETE")
        // taxes
        case ("GET", "taxes", 2) where segments[1] == "classes":
            let count = core.store.taxClasses.count
            return json(200, .array(core.store.taxClasses.map(renderer.taxClass)), headers: baseHeaders(link: nil, paging: (count, count == 0 ? 0 : 1), allow: "GET, POST"))
        case ("GET", "taxes", 1):
            let items = core.store.taxRates.values.sorted { ($0.order, $0.id) < ($1.order, $1.id) }
            return try list(items, request: request, collection: "/taxes", defaultOrder: "keep", isOrders: false) { renderer.taxRate($0) }
        case ("POST", "taxes", 1):
            let rate = core.store.createTaxRate(body)
            return created(renderer.taxRate(rate), location: "/taxes/\(rate.id)")
        case ("GET", "taxes", 2):
            guard let id, let t = core.store.taxRates[id] else { throw RESTError(status: 404, code: "woocommerce_rest_invalid_id", message: "Invalid resource ID.") }
            return ok(renderer.taxRate(t), allow: "GET, POST, PUT, PATCH, DELETE")
        // settings (only the switch the captures used)
        case ("PUT", "settings", 3) where segments[1] == "general" && segments[2] == "woocommerce_calc_taxes":
            let value = body["value"]?.stringValue ?? "no"
            core.store.settings.calculateTaxes = value == "yes"
            return ok(.obj([
                "id": "woocommerce_calc_taxes", "label": "Enable taxes", "description": "Enable tax rates and calculations", "type": "checkbox",
                "default": "no", "tip": "Rates will be configurable and taxes will be calculated during checkout.", "value": .string(value),
                "group_id": "general", "_links": .obj([
                    "self": [.obj(["href": .string("\(home)/wp-json/wc/v3/settings/general/woocommerce_calc_taxes"), "targetHints": .obj(["allow": ["GET", "POST", "PUT", "PATCH"]])])],
                    "collection": [.obj(["href": .string("\(home)/wp-json/wc/v3/settings/general")])],
                ]),
            ]), allow: "GET, POST, PUT, PATCH")
        // webhooks
        case ("GET", "webhooks", 1):
            let status = request.queryItems.first { $0.name == "status" }?.value
            let items = core.store.webhooks.values.filter { status == nil || status == "all" || $0.status == status }
            return try list(items, request: request, collection: "/webhooks", defaultOrder: "date", isOrders: false) { renderer.webhook($0) }
        case ("POST", "webhooks", 1):
            let webhook = try createWebhook(body)
            return created(renderer.webhook(webhook), location: "/webhooks/\(webhook.id)")
        case ("GET", "webhooks", 2):
            guard let id, let w = core.store.webhooks[id] else { throw RESTError.invalidID("webhook", status: 400) }
            return ok(renderer.webhook(w), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("PUT", "webhooks", 2):
            guard let id, var w = core.store.webhooks[id] else { throw RESTError.invalidID("webhook", status: 400) }
            if let v = body["name"]?.stringValue { w.name = v }
            if let v = body["delivery_url"]?.stringValue { w.deliveryURL = v }
            if let v = body["secret"]?.stringValue { w.secret = v }
            if let v = body["topic"]?.stringValue {
                guard WebhookRecord.validTopics.contains(v) else { throw RESTError(status: 400, code: "woocommerce_rest_webhook_invalid_topic", message: "Webhook topic is required and must be valid.") }
                w.topic = v
            }
            if let v = body["status"]?.stringValue, ["active", "paused", "disabled"].contains(v) { w.status = v }
            // Re-activating keeps the failure counter: only a successful delivery resets it.
            w.modified = now
            core.store.webhooks[id] = w
            if w.status == "active", w.pendingDelivery { pings.append(PingJob(webhookID: w.id, deliveryURL: w.deliveryURL)) }
            return ok(renderer.webhook(w), allow: "GET, POST, PUT, PATCH, DELETE")
        case ("DELETE", "webhooks", 2):
            guard let id, let w = core.store.webhooks[id] else { throw RESTError.invalidID("webhook", status: 404) }
            guard force else { throw RESTError(status: 501, code: "woocommerce_rest_trash_not_supported", message: "Webhooks do not support trashing.") }
            core.store.webhooks[id] = nil
            core.queue.removeAll { $0.webhookID == id }
            return ok(renderer.webhook(w), allow: "GET, POST, PUT, PATCH, DELETE")
        default:
            throw RESTError.noRoute()
        }
    }

    mutating func createWebhook(_ body: WooObject) throws(RESTError) -> WebhookRecord {
        guard let topic = body["topic"]?.stringValue, WebhookRecord.validTopics.contains(topic) else {
            throw RESTError(status: 400, code: "woocommerce_rest_webhook_invalid_topic", message: "Webhook topic is required and must be valid.")
        }
        guard let url = body["delivery_url"]?.stringValue, url.hasPrefix("http://") || url.hasPrefix("https://") else {
            throw RESTError(status: 400, code: "woocommerce_rest_webhook_invalid_delivery_url", message: "Webhook delivery URL must be a valid URL starting with http:// or https://.")
        }
        // WordPress's wp_generate_password(50, true, true) when none is given.
        let secret = body["secret"]?.stringValue ?? core.store.randomPassword(50)
        // Creation is always active, whatever `status` says.
        let webhook = WebhookRecord(
            id: core.store.nextWebhookID, name: body["name"]?.stringValue ?? "Webhook created on \(WooDate.format(now))", status: "active",
            topic: topic, deliveryURL: url, secret: secret, created: now, modified: nil)
        core.store.nextWebhookID += 1
        core.store.webhooks[webhook.id] = webhook
        pings.append(PingJob(webhookID: webhook.id, deliveryURL: url))
        return webhook
    }

    func ok(_ body: WooJSON, allow: String) -> EmulatorResponse {
        json(200, body, headers: baseHeaders(link: nil, allow: allow))
    }

    func created(_ body: WooJSON, location: String) -> EmulatorResponse {
        json(201, body, headers: baseHeaders(link: nil, allow: "GET, POST", location: "\(home)/wp-json/wc/v3\(location)"))
    }

    // MARK: batch

    enum BatchOperation { case create, update, delete(Int) }

    /// Non-atomic: every item runs on its own and an error sits in place as `{id, error}`.
    /// Items skip schema validation, as the real store does.
    mutating func batch(_ body: WooObject, kind: String, _ run: (inout RESTRouter, WooObject, BatchOperation) throws -> WooJSON) throws -> EmulatorResponse {
        let creates = body["create"]?.arrayValue ?? []
        let updates = body["update"]?.arrayValue ?? []
        let deletes = body["delete"]?.arrayValue ?? []
        guard creates.count + updates.count + deletes.count <= 100 else {
            throw RESTError(status: 413, code: "woocommerce_rest_request_entity_too_large", message: "Unable to accept more than 100 items for this request.")
        }
        var result = WooObject()
        func item(_ id: Int, _ e: RESTError) -> WooJSON { .obj(["id": .int(id), "error": e.json]) }
        if body["create"] != nil {
            result["create"] = .array(creates.map { entry in
                do { return try run(&self, entry.objectValue ?? WooObject(), .create) } catch let e as RESTError { return item(0, e) } catch { return .null }
            })
        }
        if body["update"] != nil {
            result["update"] = .array(updates.map { entry in
                let id = entry["id"]?.intValue ?? 0
                do { return try run(&self, entry.objectValue ?? WooObject(), .update) } catch let e as RESTError { return item(id, e) } catch { return .null }
            })
        }
        if body["delete"] != nil {
            result["delete"] = .array(deletes.map { entry in
                let id = entry.intValue ?? entry["id"]?.intValue ?? 0
                do { return try run(&self, WooObject(), .delete(id)) } catch let e as RESTError { return item(id, e) } catch { return .null }
            })
        }
        return json(200, .object(result), headers: baseHeaders(link: nil, allow: "POST, PUT, PATCH"))
    }

    // MARK: collections

    /// Paging, filters and the paging headers. Orders past the last page answer `[]` with
    /// `X-WP-Total: 0`, as the HPOS query does.
    func list<T>(_ items: [T], request: EmulatorRequest, collection: String, defaultOrder: String, isOrders: Bool, render: (T) -> WooJSON) throws -> EmulatorResponse {
        let query = request.queryItems
        func param(_ name: String) -> String? { query.last { $0.name == name }?.value }
        for name in ["per_page", "page"] {
            if let raw = param(name), Int(raw) == nil {
                throw RESTError.invalidParam(name, message: "\(name) is not of type integer.", detailCode: "rest_invalid_type", detailData: .obj(["param": .string(name)]))
            }
        }
        var perPage = 10
        if let raw = param("per_page") {
            guard let value = Int(raw), (1...100).contains(value) else {
                let message = "per_page must be between 1 (inclusive) and 100 (inclusive)"
                throw RESTError.invalidParam("per_page", message: message, detailCode: "rest_out_of_bounds", detailData: .null)
            }
            perPage = value
        }
        var page = 1
        if let raw = param("page") {
            guard let value = Int(raw), value >= 1 else {
                let message = "page must be greater than or equal to 1 (inclusive)"
                throw RESTError.invalidParam("page", message: message, detailCode: "rest_out_of_bounds", detailData: .null)
            }
            page = value
        }
        let orderParam = param("order") ?? (defaultOrder == "name" ? "asc" : "desc")
        guard ["asc", "desc"].contains(orderParam) else {
            throw RESTError.invalidParam("order", message: "order is not one of asc and desc.", detailCode: "rest_not_in_enum", detailData: .null)
        }
        // Date filters are in the store's local time unless `dates_are_gmt` says UTC.
        let gmt = param("dates_are_gmt").map { ["1", "true"].contains($0.lowercased()) } ?? false
        let shift = TimeInterval(gmt ? 0 : -configuration.utcOffsetSeconds)
        func instant(_ name: String) -> Date? { param(name).flatMap(WooDate.parse).map { $0.addingTimeInterval(shift) } }
        let modifiedAfter = instant("modified_after"), modifiedBefore = instant("modified_before")
        let after = instant("after"), before = instant("before")
        typealias Row = (id: Int, created: Date, modified: Date, json: () -> WooJSON)
        var rows: [Row] = items.map { item in
            let j = render(item)
            let id = j["id"]?.intValue ?? 0
            let created = (j["date_created_gmt"] ?? j["date_created"])?.stringValue.flatMap(WooDate.parse) ?? .distantPast
            let modified = (j["date_modified_gmt"] ?? j["date_modified"])?.stringValue.flatMap(WooDate.parse) ?? created
            return (id, created, modified, { j })
        }
        rows = rows.filter { row in
            (modifiedAfter.map { row.modified > $0 } ?? true) && (modifiedBefore.map { row.modified < $0 } ?? true)
                && (after.map { row.created > $0 } ?? true) && (before.map { row.created < $0 } ?? true)
        }
        let orderby = param("orderby") ?? defaultOrder
        if orderby != "keep" {
            func less(_ a: Row, _ b: Row) -> Bool {
                switch orderby {
                case "id", "include", "name": return a.id < b.id
                case "modified": return a.modified != b.modified ? a.modified < b.modified : a.id < b.id
                default: return a.created != b.created ? a.created < b.created : a.id < b.id
                }
            }
            rows.sort { orderParam == "asc" ? less($0, $1) : less($1, $0) }
        }
        var total = rows.count
        var pages = total == 0 ? 0 : (total + perPage - 1) / perPage
        let start = (page - 1) * perPage
        let slice = start < rows.count ? Array(rows[start..<min(rows.count, start + perPage)]) : []
        if slice.isEmpty && page > 1 && isOrders { total = 0; pages = 0 }
        var links: [String] = []
        if page > 1 {
            links.append("<\(pageURL(request, collection: collection, page: min(page - 1, pages), isOrders: isOrders, beyondEnd: page > pages))>; rel=\"prev\"")
        }
        if page < pages {
            links.append("<\(pageURL(request, collection: collection, page: page + 1, isOrders: isOrders, beyondEnd: false))>; rel=\"next\"")
        }
        return json(200, .array(slice.map { $0.json() }), headers: baseHeaders(link: links.isEmpty ? nil : links.joined(separator: ", "), paging: (total, pages), allow: "GET, POST"))
    }

    /// The request's parameters with `page` replaced, rewritten as WordPress does for orders:
    /// booleans as `1`, `status[0]=any` when no status was given, `dp=2&context=view` added.
    func pageURL(_ request: EmulatorRequest, collection: String, page: Int, isOrders: Bool, beyondEnd: Bool) -> String {
        var pairs: [(String, String)] = []
        var sawPage = false
        for item in request.queryItems {
            if item.name == "page" { pairs.append(("page", String(page))); sawPage = true; continue }
            var value = item.value
            if isOrders, item.name == "dates_are_gmt" { value = ["1", "true"].contains(value.lowercased()) ? "1" : "" }
            pairs.append((item.name, value))
        }
        if !sawPage { pairs.append(("page", String(page))) }
        var text = pairs.map { FormCoding.urlEncode($0.0) + "=" + FormCoding.urlEncode($0.1) }.joined(separator: "&")
        if isOrders {
            if !request.queryItems.contains(where: { $0.name == "status" }) { text += "&status%5B0%5D=any" }
            if !beyondEnd { text += "&dp=2&context=view" }
        }
        return "\(home)/wp-json/wc/v3\(collection)?\(text)"
    }
}
