import Foundation

extension StoreState {
    static let orderStatuses = ["pending", "processing", "on-hold", "completed", "cancelled", "refunded", "failed", "trash"]
    static let statusLabels = [
        "pending": "Pending payment", "processing": "Processing", "on-hold": "On hold", "completed": "Completed",
        "cancelled": "Cancelled", "refunded": "Refunded", "failed": "Failed",
    ]

    /// `POST /orders`: fires `order.created` and `order.updated` (the REST create path saves twice).
    mutating func createOrder(_ body: WooObject, now: Date) throws(RESTError) -> OrderRecord {
        if body["id"] != nil {
            throw RESTError(status: 400, code: "woocommerce_rest_shop_order_exists", message: "Cannot create existing shop_order.")
        }
        let status = body["status"]?.stringValue ?? "pending"
        guard Self.orderStatuses.contains(status) else {
            throw RESTError.invalidParam("status", message: "status is not one of \(Self.orderStatuses.dropLast().joined(separator: ", ")), and \(Self.orderStatuses.last!).", detailCode: "rest_not_in_enum", detailData: .null)
        }
        let customerID = body["customer_id"]?.intValue ?? 0
        if customerID != 0, customers[customerID] == nil {
            throw RESTError(status: 400, code: "woocommerce_rest_invalid_customer_id", message: "Customer ID is invalid.")
        }
        var order = OrderRecord(
            id: postID(), status: "pending", currency: body["currency"]?.stringValue ?? settings.currency,
            created: now, modified: now, customerID: customerID, orderKey: "wc_order_" + randomAlphanumeric(13))
        order.billing.merge(body["billing"], allowed: Address.orderBillingKeys)
        order.shipping.merge(body["shipping"], allowed: Address.orderShippingKeys)
        if let customer = customers[customerID], order.billing["email"].isEmpty {
            order.billing.fields["email"] = customer.email
        }
        applyOrderFields(body, to: &order)
        applyOrderMeta(body, to: &order)
        for item in body["line_items"]?.arrayValue ?? [] { order.lineItems.append(makeLineItem(item)) }
        for line in body["shipping_lines"]?.arrayValue ?? [] {
            order.shippingLines.append(ShippingLine(
                id: itemID(), methodTitle: line["method_title"]?.stringValue ?? "", methodID: line["method_id"]?.stringValue ?? "",
                total: Money.cents(line["total"]) ?? 0, totalTax: 0, taxes: []))
        }
        for line in body["fee_lines"]?.arrayValue ?? [] {
            order.feeLines.append(FeeLine(
                id: itemID(), name: line["name"]?.stringValue ?? "", taxClass: line["tax_class"]?.stringValue ?? "",
                taxStatus: line["tax_status"]?.stringValue ?? "taxable", total: Money.cents(line["total"]) ?? 0, totalTax: 0, taxes: []))
        }
        var couponCodes: [String] = []
        for line in body["coupon_lines"]?.arrayValue ?? [] {
            guard let code = line["code"]?.stringValue?.lowercased() else { continue }
            guard coupons.values.contains(where: { $0.code == code && !$0.trashed }) else {
                throw RESTError(status: 400, code: "woocommerce_rest_invalid_coupon", message: "Coupon \"\(code)\" does not exist!")
            }
            couponCodes.append(code)
        }
        calculateTotals(&order, couponCodes: couponCodes)
        orders[order.id] = order
        fire("order", "created", order.id)
        if body["set_paid"]?.boolValue == true {
            paymentComplete(&order, now: now)
        } else if status != "pending" {
            changeStatus(&order, to: status, now: now)
        }
        orders[order.id] = order
        fire("order", "updated", order.id)
        return order
    }

    func applyOrderFields(_ body: WooObject, to order: inout OrderRecord) {
        if let v = body["payment_method"]?.stringValue { order.paymentMethod = v }
        if let v = body["payment_method_title"]?.stringValue { order.paymentMethodTitle = v }
        if let v = body["transaction_id"]?.stringValue { order.transactionID = v }
        if let v = body["customer_note"]?.stringValue { order.customerNote = v }
    }

    mutating func applyOrderMeta(_ body: WooObject, to order: inout OrderRecord) {
        for entry in body["meta_data"]?.arrayValue ?? [] {
            guard let key = entry["key"]?.stringValue else { continue }
            if let i = order.metaData.firstIndex(where: { $0.key == key }) {
                order.metaData[i].value = entry["value"] ?? .null
            } else {
                order.metaData.append(MetaEntry(id: metaID(), key: key, value: entry["value"] ?? .null))
            }
        }
    }

    /// A line item by `product_id` (+ `variation_id`) or `sku`; an unknown product gives the
    /// real store's empty line (name "", product_id 0, sku null).
    mutating func makeLineItem(_ item: WooJSON) -> LineItem {
        let quantity = item["quantity"]?.intValue ?? 1
        var product: ProductRecord?
        if let variationID = item["variation_id"]?.intValue, variationID != 0 {
            product = products[variationID]
        } else if let productID = item["product_id"]?.intValue {
            product = products[productID]
        } else if let sku = item["sku"]?.stringValue {
            product = productBySKU(sku)
        }
        guard let product, product.status != "trash" else {
            return LineItem(id: itemID(), name: "", productID: 0, variationID: 0, quantity: quantity, taxClass: "", subtotal: 0, subtotalTax: 0,
                            total: 0, totalTax: 0, taxes: [], metaData: [], sku: nil, imageIDIsString: false, parentName: nil)
        }
        let unit = Money.cents(product.price) ?? 0
        let isVariation = product.parentID != 0
        let lineTotal = Money.cents(item["total"]) ?? unit * quantity
        let lineSubtotal = Money.cents(item["subtotal"]) ?? max(lineTotal, unit * quantity)
        var meta: [MetaEntry] = []
        if isVariation {
            meta = product.variationAttributes.map {
                MetaEntry(id: metaID(), key: StoreState.slug($0.name), value: .string($0.option), display: ($0.name, .string($0.option)))
            }
        }
        return LineItem(
            id: itemID(), name: product.name, productID: isVariation ? product.parentID : product.id, variationID: isVariation ? product.id : 0,
            quantity: quantity, taxClass: effectiveTaxClass(product), subtotal: lineSubtotal, subtotalTax: 0, total: lineTotal, totalTax: 0,
            taxes: [], metaData: meta, sku: product.sku, imageIDIsString: !isVariation,
            parentName: isVariation ? products[product.parentID]?.name : nil)
    }

    /// Where the order is taxed: shipping address, else billing, else the store base.
    func taxLocation(_ order: OrderRecord) -> (country: String, state: String) {
        if !order.shipping["country"].isEmpty { return (order.shipping["country"], order.shipping["state"]) }
        if !order.billing["country"].isEmpty { return (order.billing["country"], order.billing["state"]) }
        return (settings.baseCountry, settings.baseState)
    }

    /// Coupons, line taxes, shipping and fee taxes, tax lines and order totals, as
    /// WooCommerce's `calculate_totals` does for prices exclusive of tax.
    mutating func calculateTotals(_ order: inout OrderRecord, couponCodes: [String]) {
        // Discounts: each coupon floors its share per line, then hands out the remaining cents
        // one by one, cheapest line first (what order 32 of the captures shows).
        var discounts = [Int](repeating: 0, count: order.lineItems.count)
        // A recalculation keeps the item ids of coupon and tax lines that stay.
        let previousCoupons = Dictionary(order.couponLines.map { ($0.code, $0) }, uniquingKeysWith: { a, _ in a })
        let previousTaxLines = Dictionary(order.taxLines.map { ($0.rateID, $0.id) }, uniquingKeysWith: { a, _ in a })
        order.couponLines = []
        for code in couponCodes {
            guard let coupon = coupons.values.first(where: { $0.code == code }) else { continue }
            let amount = Money.cents(coupon.amount) ?? 0
            let bases = order.lineItems.indices.map { order.lineItems[$0].subtotal - discounts[$0] }
            let baseTotal = bases.reduce(0, +)
            var couponDiscounts = [Int](repeating: 0, count: bases.count)
            var wanted = 0
            if coupon.discountType == "percent" {
                couponDiscounts = bases.map { $0 * amount / 10_000 }
                wanted = (baseTotal * amount + 5_000) / 10_000
            } else if baseTotal > 0 {
                wanted = min(amount, baseTotal)
                couponDiscounts = bases.map { $0 * wanted / baseTotal }
            }
            var remainder = wanted - couponDiscounts.reduce(0, +)
            for index in bases.indices.sorted(by: { bases[$0] < bases[$1] }) where remainder > 0 {
                for _ in 0..<max(order.lineItems[index].quantity, 1) where remainder > 0 && couponDiscounts[index] < bases[index] {
                    couponDiscounts[index] += 1
                    remainder -= 1
                }
            }
            for i in discounts.indices { discounts[i] += couponDiscounts[i] }
            order.couponLines.append(CouponLine(
                id: 0, code: code, discount: couponDiscounts.reduce(0, +), discountTax: 0, couponID: coupon.id,
                discountType: coupon.discountType, nominalAmount: .int(amount / 100), metaID: previousCoupons[code]?.metaID ?? metaID()))
        }
        let location = taxLocation(order)
        var rateTotals: [Int: (tax: Int, shipping: Int)] = [:]
        for i in order.lineItems.indices {
            var line = order.lineItems[i]
            if line.productID != 0 {
                line.total = line.subtotal - discounts[i]
            }
            let rates = line.productID == 0 ? [] : matchingRates(taxClass: line.taxClass, country: location.country, state: location.state)
            line.taxes = rates.map { LineTax(rateID: $0.id, total: Money.tax(line.total, rate: $0.rateUnits), subtotal: Money.tax(line.subtotal, rate: $0.rateUnits)) }
            line.totalTax = line.taxes.reduce(0) { $0 + $1.total }
            line.subtotalTax = line.taxes.reduce(0) { $0 + ($1.subtotal ?? 0) }
            for tax in line.taxes { rateTotals[tax.rateID, default: (0, 0)].tax += tax.total }
            order.lineItems[i] = line
        }
        for i in order.couponLines.indices {
            // The coupon's share of tax: the tax the discount removed.
            let share = order.lineItems.reduce(0) { $0 + $1.subtotalTax - $1.totalTax }
            order.couponLines[i].discountTax = order.couponLines.count == 1 ? share : 0
        }
        for i in order.shippingLines.indices {
            let rates = matchingRates(taxClass: "", country: location.country, state: location.state, shippingOnly: true)
            order.shippingLines[i].taxes = rates.map { LineTax(rateID: $0.id, total: Money.tax(order.shippingLines[i].total, rate: $0.rateUnits), subtotal: nil) }
            order.shippingLines[i].totalTax = order.shippingLines[i].taxes.reduce(0) { $0 + $1.total }
            for tax in order.shippingLines[i].taxes { rateTotals[tax.rateID, default: (0, 0)].shipping += tax.total }
        }
        for i in order.feeLines.indices where order.feeLines[i].taxStatus == "taxable" {
            let rates = matchingRates(taxClass: order.feeLines[i].taxClass, country: location.country, state: location.state)
            order.feeLines[i].taxes = rates.map { LineTax(rateID: $0.id, total: Money.tax(order.feeLines[i].total, rate: $0.rateUnits), subtotal: nil) }
            order.feeLines[i].totalTax = order.feeLines[i].taxes.reduce(0) { $0 + $1.total }
            for tax in order.feeLines[i].taxes { rateTotals[tax.rateID, default: (0, 0)].tax += tax.total }
        }
        order.taxLines = rateTotals.keys.sorted().map { TaxLine(id: previousTaxLines[$0] ?? itemID(), rateID: $0, taxTotal: rateTotals[$0]!.tax, shippingTaxTotal: rateTotals[$0]!.shipping) }
        for i in order.couponLines.indices { order.couponLines[i].id = previousCoupons[order.couponLines[i].code]?.id ?? itemID() }
        order.discountTotal = order.lineItems.reduce(0) { $0 + $1.subtotal - $1.total }
        order.discountTax = order.lineItems.reduce(0) { $0 + $1.subtotalTax - $1.totalTax }
        order.shippingTotal = order.shippingLines.reduce(0) { $0 + $1.total }
        order.shippingTax = order.shippingLines.reduce(0) { $0 + $1.totalTax }
        order.cartTax = order.lineItems.reduce(0) { $0 + $1.totalTax } + order.feeLines.reduce(0) { $0 + $1.totalTax }
        order.totalTax = order.cartTax + order.shippingTax
        order.total = order.lineItems.reduce(0) { $0 + $1.total } + order.shippingTotal + order.feeLines.reduce(0) { $0 + $1.total } + order.totalTax
    }

    /// `set_paid`: date paid, status processing (or completed when nothing needs processing),
    /// stock reduced.
    mutating func paymentComplete(_ order: inout OrderRecord, now: Date) {
        if order.datePaid == nil { order.datePaid = now }
        changeStatus(&order, to: needsProcessing(order) ? "processing" : "completed", now: now)
    }

    func needsProcessing(_ order: OrderRecord) -> Bool {
        order.lineItems.contains { line in
            guard line.productID != 0, let product = products[line.variationID != 0 ? line.variationID : line.productID] else { return false }
            return !product.virtual
        }
    }

    mutating func changeStatus(_ order: inout OrderRecord, to status: String, now: Date) {
        let old = order.status
        guard old != status else { return }
        order.status = status
        order.modified = now
        if ["processing", "completed"].contains(status), order.datePaid == nil { order.datePaid = now }
        if status == "completed" { order.dateCompleted = now }
        if ["processing", "completed", "on-hold"].contains(status), !order.stockReduced { reduceStock(&order, now: now) }
        if ["cancelled", "pending"].contains(status), order.stockReduced { restoreStock(&order, now: now) }
        if let from = Self.statusLabels[old], let to = Self.statusLabels[status] {
            addNote(orderID: order.id, text: "Order status changed from \(from) to \(to).", customerNote: false, now: now)
        }
    }

    mutating func reduceStock(_ order: inout OrderRecord, now: Date) {
        order.stockReduced = true
        for i in order.lineItems.indices where order.lineItems[i].productID != 0 {
            let line = order.lineItems[i]
            let id = line.variationID != 0 ? line.variationID : line.productID
            // Sales are counted on the product, a variation's on its parent.
            products[line.productID]?.totalSales += line.quantity
            guard let product = products[id], product.manageStock else { continue }
            adjustStock(id, by: -line.quantity, now: now)
            order.lineItems[i].metaData.append(MetaEntry(id: metaID(), key: "_reduced_stock", value: .string(String(line.quantity)), display: ("_reduced_stock", .string(String(line.quantity)))))
        }
    }

    /// `wc_maybe_increase_stock_levels`: cancelling (or back to pending) puts reduced stock back.
    mutating func restoreStock(_ order: inout OrderRecord, now: Date) {
        order.stockReduced = false
        for i in order.lineItems.indices {
            guard let m = order.lineItems[i].metaData.firstIndex(where: { $0.key == "_reduced_stock" }),
                  let reduced = order.lineItems[i].metaData[m].value.intValue else { continue }
            let line = order.lineItems[i]
            adjustStock(line.variationID != 0 ? line.variationID : line.productID, by: reduced, now: now)
            order.lineItems[i].metaData.remove(at: m)
        }
    }

    /// `PUT /orders/{id}`.
    mutating func updateOrder(_ id: Int, _ body: WooObject, now: Date) throws(RESTError) -> OrderRecord {
        guard var order = orders[id] else { throw RESTError.invalidID("shop_order", status: 400) }
        order.billing.merge(body["billing"], allowed: Address.orderBillingKeys)
        order.shipping.merge(body["shipping"], allowed: Address.orderShippingKeys)
        applyOrderFields(body, to: &order)
        applyOrderMeta(body, to: &order)
        order.modified = now
        if let items = body["line_items"]?.arrayValue {
            editLineItems(&order, items)
        }
        if let status = body["status"]?.stringValue {
            guard Self.orderStatuses.contains(status) else {
                throw RESTError.invalidParam("status", message: "status is not one of \(Self.orderStatuses.dropLast().joined(separator: ", ")), and \(Self.orderStatuses.last!).", detailCode: "rest_not_in_enum", detailData: .null)
            }
            changeStatus(&order, to: status, now: now)
        }
        if body["set_paid"]?.boolValue == true { paymentComplete(&order, now: now) }
        orders[id] = order
        fire("order", "updated", id)
        return order
    }

    /// `line_items` in a `PUT`: an item with `id` gets its new quantity (priced again from the
    /// product, as the REST controller does; quantity 0 removes it), an item without `id` is
    /// added; then the totals are calculated again with the same coupons. Stock already
    /// reduced is not adjusted (not modelled).
    mutating func editLineItems(_ order: inout OrderRecord, _ items: [WooJSON]) {
        for item in items {
            if let id = item["id"]?.intValue, let index = order.lineItems.firstIndex(where: { $0.id == id }) {
                let old = order.lineItems[index]
                let quantity = item["quantity"]?.intValue ?? old.quantity
                if quantity == 0 {
                    order.lineItems.remove(at: index)
                    continue
                }
                var request = WooObject([("quantity", .int(quantity)), ("product_id", .int(old.productID)), ("variation_id", .int(old.variationID))])
                if let total = item["total"] { request["total"] = total }
                if let subtotal = item["subtotal"] { request["subtotal"] = subtotal }
                var line = makeLineItem(.object(request))
                line.id = old.id
                line.metaData = old.metaData
                order.lineItems[index] = line
            } else {
                order.lineItems.append(makeLineItem(item))
            }
        }
        calculateTotals(&order, couponCodes: order.couponLines.map(\.code))
    }

    /// `DELETE /orders/{id}`: trash (fires `order.deleted`, body `{"id":N}`) or, with force, gone.
    mutating func deleteOrder(_ id: Int, force: Bool, now: Date) throws(RESTError) -> OrderRecord {
        guard var order = orders[id] else { throw RESTError.invalidID("shop_order", status: 404) }
        if force {
            orders[id] = nil
            return order
        }
        if order.status == "trash" {
            throw RESTError(status: 410, code: "woocommerce_rest_already_trashed", message: "The order has already been deleted.")
        }
        order.status = "trash"
        order.modified = now
        orders[id] = order
        fire("order", "deleted", id)
        return order
    }

    @discardableResult
    mutating func addNote(orderID: Int, text: String, customerNote: Bool, now: Date) -> NoteRecord {
        let note = NoteRecord(id: nextNoteID, orderID: orderID, created: now, note: text, customerNote: customerNote)
        nextNoteID += 1
        notes[note.id] = note
        return note
    }

    /// `POST /orders/{id}/refunds`.
    mutating func createRefund(orderID: Int, _ body: WooObject, now: Date) throws(RESTError) -> RefundRecord {
        guard var order = orders[orderID] else {
            throw RESTError(status: 500, code: "woocommerce_rest_invalid_order_id", message: "Invalid order ID.", data: .int(404))
        }
        var lines: [LineItem] = []
        var taxTotals: [Int: Int] = [:]
        var computed = 0
        var restock: [(productID: Int, quantity: Int, lineIndex: Int)] = []
        for requested in body["line_items"]?.arrayValue ?? [] {
            guard let itemID = requested["id"]?.intValue, let index = order.lineItems.firstIndex(where: { $0.id == itemID }) else { continue }
            let original = order.lineItems[index]
            let quantity = requested["quantity"]?.intValue ?? 0
            let total = Money.cents(requested["refund_total"]) ?? 0
            var taxes: [LineTax] = []
            for tax in requested["refund_tax"]?.arrayValue ?? [] {
                guard let rateID = tax["id"]?.intValue, let amount = Money.cents(tax["refund_total"]) else { continue }
                taxes.append(LineTax(rateID: rateID, total: -amount, subtotal: -amount))
                taxTotals[rateID, default: 0] -= amount
            }
            let taxSum = taxes.reduce(0) { $0 + $1.total }
            computed += total - taxSum
            guard quantity != 0 || total != 0 || taxSum != 0 else { continue }
            lines.append(LineItem(
                id: 0, name: original.name, productID: original.productID, variationID: original.variationID, quantity: -quantity,
                taxClass: original.taxClass, subtotal: -total, subtotalTax: taxSum, total: -total, totalTax: taxSum, taxes: taxes,
                metaData: [], sku: original.sku, imageIDIsString: original.imageIDIsString, parentName: original.parentName))
            if quantity > 0 {
                restock.append((original.variationID != 0 ? original.variationID : original.productID, quantity, index))
            }
            lines[lines.count - 1].metaData = [MetaEntry(id: 0, key: "_refunded_item_id", value: .string(String(itemID)), display: ("_refunded_item_id", .string(String(itemID))))]
        }
        let amount = body["amount"].flatMap { Money.cents($0) } ?? computed
        let alreadyRefunded = order.refundIDs.reduce(0) { $0 + (refunds[$1]?.amount ?? 0) }
        guard amount > 0 else {
            throw RESTError(status: 500, code: "woocommerce_rest_cannot_create_order_refund", message: "Refund amount must be greater than zero.", data: .int(500))
        }
        guard amount <= order.total - alreadyRefunded else {
            throw RESTError(status: 500, code: "woocommerce_rest_cannot_create_order_refund", message: "Invalid refund amount.", data: .int(500))
        }
        if body["api_refund"]?.boolValue ?? true, !settings.gatewaysSupportingRefunds.contains(order.paymentMethod) {
            throw RESTError(status: 500, code: "woocommerce_rest_cannot_create_order_refund", message: "The payment gateway for this order does not support automatic refunds.", data: .int(500))
        }
        let refundID = postID()
        for i in lines.indices {
            lines[i].id = itemID()
            lines[i].metaData[0].id = metaID()
        }
        let taxLines = taxTotals.keys.sorted().map { TaxLine(id: itemID(), rateID: $0, taxTotal: taxTotals[$0]!, shippingTaxTotal: 0) }
        let refund = RefundRecord(id: refundID, orderID: orderID, created: now, amount: amount, reason: body["reason"]?.stringValue ?? "", lineItems: lines, taxLines: taxLines)
        refunds[refundID] = refund
        order.refundIDs.append(refundID)
        order.modified = now
        if body["api_restock"]?.boolValue ?? true {
            for item in restock where products[item.productID]?.manageStock == true {
                adjustStock(item.productID, by: item.quantity, now: now)
                var line = order.lineItems[item.lineIndex]
                if let m = line.metaData.firstIndex(where: { $0.key == "_reduced_stock" }), let reduced = line.metaData[m].value.intValue {
                    line.metaData[m].value = .string(String(reduced - item.quantity))
                    line.metaData[m].display = ("_reduced_stock", .string(String(reduced - item.quantity)))
                }
                line.metaData.append(MetaEntry(id: metaID(), key: "_restock_refunded_items", value: .string(String(item.quantity)), display: ("_restock_refunded_items", .string(String(item.quantity)))))
                order.lineItems[item.lineIndex] = line
            }
        }
        if alreadyRefunded + amount >= order.total { changeStatus(&order, to: "refunded", now: now) }
        orders[orderID] = order
        fire("order", "updated", orderID)
        return refund
    }
}
