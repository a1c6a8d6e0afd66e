import ConnectorConnections
import ConnectorCore
import DynamicsClient
import Foundation
import WooCommerceClient

/// Pure translation of a WooCommerce order into an `OrderPlan` (SPEC §7, §8): no I/O, so every
/// rule here is tested with the real captured orders and nothing else.
public struct OrderMapper: Sendable {
    public let connection: Connection

    public init(connection: Connection) { self.connection = connection }

    var mapping: MappingSettings { connection.mapping }
    var prefix: String { connection.orders.referencePrefix }
    var legalEntity: String { connection.dynamics.legalEntity.lowercased() }

    /// The keys the connector writes (§8): pure functions of WooCommerce ids.
    public func reference(orderID: Int) -> String { "\(prefix)\(orderID)" }
    public func paymentReference(orderID: Int) -> String { "\(prefix)\(orderID)P" }
    public func refundReference(orderID: Int, refundID: Int) -> String { "\(prefix)\(orderID)R\(refundID)" }

    /// The account of a registered customer: `{prefix}{zero-padded id}` (no `-`, which F&O's
    /// display values would need escaped).
    public func customerAccount(customerID: Int) -> String {
        prefix + Formatting.pad(customerID, mapping.customerAccountDigits)
    }

    /// The account a guest's orders go to, by policy.
    public func guestAccount(email: String) -> String {
        switch mapping.guestPolicy {
        case .sharedAccount:
            return mapping.guestAccount ?? "\(prefix)GUEST"
        case .perEmail:
            let normalised = email.trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
            let digest = Digests.sha256Hex(Array(normalised.utf8)).uppercased()
            // At least 10 hex digits (40 bits) keep distinct guests apart; a longer prefix is a mapping problem.
            let room = max(10, 20 - prefix.count - 1)
            return prefix + "G" + digest.prefix(room)
        }
    }

    /// Maps `order` with its `refunds`. `parentSKUs` holds the SKU of each variable product the
    /// order's variations belong to (the item number of the product master).
    public func plan(order: WooOrder, refunds: [WooRefund], parentSKUs: [Int: String]) -> MappingOutcome {
        var problems: [MappingProblem] = []
        let reference = reference(orderID: order.id)
        for key in [reference, paymentReference(orderID: order.id)] + refunds.map({ refundReference(orderID: order.id, refundID: $0.id) }) {
            if key.count > 20 || key.contains("*") {
                problems.append(.init("the F&O reference \(key) is longer than 20 characters or contains *", fix: "shorten orders.referencePrefix"))
            }
        }
        let currency = order.currency.uppercased()
        if !mapping.currencies.isEmpty, !mapping.currencies.map({ $0.uppercased() }).contains(currency) {
            problems.append(.init("currency \(currency) is not one the connection posts", fix: "add it to mapping.currencies, or set the currency up in F&O first"))
        }
        if mapping.refundModel == .journalAndReturn, !refunds.isEmpty {
            problems.append(.init("refund model journalAndReturn (return orders) is not supported by this version", fix: "set mapping.refundModel to journal"))
        }

        let customer = customerPlan(order: order, currency: currency)
        if customer.account.count > 20 || customer.account.contains("-") || customer.account.contains("*") {
            problems.append(.init("customer account \(customer.account) is longer than 20 characters or contains - or *", fix: "shorten orders.referencePrefix or mapping.customerAccountDigits, or set mapping.guestAccount"))
        }
        let destination = order.shipping.country.isEmpty ? order.billing : order.shipping
        let taxGroup = salesTaxGroup(country: destination.country, state: destination.state, problems: &problems)
        let shippingDate = ODataValue.utcDate(of: order.dateCreatedGMT ?? order.datePaidGMT ?? Date(timeIntervalSince1970: 0))

        // Payment method on the header, and how money is posted.
        let gateway = mapping.paymentGateways[order.paymentMethod]
        if gateway == nil, order.total != 0 {
            problems.append(.init("payment gateway '\(order.paymentMethod)' (\(order.paymentMethodTitle)) is not mapped", fix: "add it to mapping.paymentGateways with its F&O payment method, journal name, offset account and post rule"))
        }

        var header = ODataRecord()
        header["dataAreaId"] = .string(legalEntity)
        header["OrderingCustomerAccountNumber"] = .string(customer.account)
        header["InvoiceCustomerAccountNumber"] = .string(customer.account)
        header["CurrencyCode"] = .string(currency)
        header["CustomersOrderReference"] = .string(reference)
        // The order number as people know it; never truncated (a longer one stays in the reference's order id).
        if order.number.count <= 20 { header["CustomerRequisitionNumber"] = .string(order.number) }
        header["RequestedShippingDate"] = shippingDate
        // Amounts are sent without tax whatever the store's setting: WooCommerce's line totals exclude it.
        header["ArePricesIncludingSalesTax"] = .noYes(false)
        if let taxGroup { header["SalesTaxGroupCode"] = .string(taxGroup) }
        if let gateway { header["CustomerPaymentMethodName"] = .string(gateway.paymentMethod) }
        if !order.billing.email.isEmpty { header["Email"] = .string(order.billing.email) }
        if !destination.address1.isEmpty || !destination.city.isEmpty {
            header["IsDeliveryAddressOrderSpecific"] = .noYes(true)
            header["DeliveryAddressName"] = .string(Self.name(destination, fallback: order.billing.email))
            header["DeliveryAddressStreet"] = .string(Self.street(destination))
            header["DeliveryAddressCity"] = .string(destination.city)
            if !destination.state.isEmpty { header["DeliveryAddressStateId"] = .string(destination.state) }
            header["DeliveryAddressZipCode"] = .string(destination.postcode)
            header["DeliveryAddressCountryRegionISOCode"] = .string(destination.country)
        }

        // Lines: products, then shipping and fees as non-stock items (F&O has no writable
        // sales-order charge entity).
        var lines: [LinePlan] = []
        func addLine(id: Int, item: String, dimensions: [String: String], quantity: Decimal, subtotal: Decimal, total: Decimal, taxClass: String?, description: String) {
            var record = ODataRecord()
            record["dataAreaId"] = .string(legalEntity)
            record["ItemNumber"] = .string(item)
            for (property, value) in dimensions.sorted(by: { $0.key < $1.key }) { record[property] = .string(value) }
            record["OrderedSalesQuantity"] = .decimal(quantity)
            // F&O computes the line amount itself (quantity × price ÷ price unit − quantity × unit
            // discount); the fields are chosen so that it comes out as WooCommerce's line total to
            // the cent — never by sending a rounded unit price.
            let discount = subtotal - total
            if quantity == 1 || (Self.isCents(subtotal / quantity) && Self.isCents(discount / quantity)) {
                record["SalesPrice"] = .decimal(quantity == 0 ? subtotal : subtotal / quantity)
                if discount != 0 { record["LineDiscountAmount"] = .decimal(quantity == 0 ? discount : discount / quantity) }
            } else {
                // A coupon that does not divide into whole cents per unit: the net price for the
                // whole quantity as the price unit, so nothing is rounded.
                record["SalesPrice"] = .decimal(total)
                record["SalesPriceQuantity"] = .decimal(quantity)
            }
            record["CurrencyCode"] = .string(currency)
            if let taxClass, let code = itemTaxGroup(taxClass: taxClass, problems: &problems) { record["SalesTaxItemGroupCode"] = .string(code) }
            if let taxGroup { record["SalesTaxGroupCode"] = .string(taxGroup) }
            if let site = mapping.site { record["ShippingSiteId"] = .string(site) }
            if let warehouse = mapping.warehouse { record["ShippingWarehouseId"] = .string(warehouse) }
            record["RequestedShippingDate"] = shippingDate
            record["CustomersLineNumber"] = .int(Int64(lines.count + 1))
            record["LineDescription"] = .string(String(description.prefix(60)))
            let lineReference = "\(reference)L\(id)"
            record["OrderLineReference"] = .string(lineReference)
            lines.append(LinePlan(reference: lineReference, record: record, amount: total))
        }

        for item in order.lineItems {
            guard let sku = item.sku, !sku.isEmpty else {
                problems.append(.init("line '\(item.name)' (product \(item.productID)) has no SKU", fix: "give the product a SKU in WooCommerce, or map it in mapping.items"))
                continue
            }
            guard item.quantity > 0 else {
                problems.append(.init("line '\(item.name)' has quantity \(item.quantity)", fix: "correct the order in WooCommerce"))
                continue
            }
            var itemNumber = mapping.items[sku] ?? sku
            var dimensions: [String: String] = [:]
            if item.variationID != 0 {
                if mapping.items[sku] == nil {
                    guard let parent = parentSKUs[item.productID], !parent.isEmpty else {
                        problems.append(.init("variation \(sku) belongs to product \(item.productID), whose SKU is unknown", fix: "give the variable product a SKU (its F&O product master's item number), or map \(sku) in mapping.items"))
                        continue
                    }
                    itemNumber = mapping.items[parent] ?? parent
                }
                dimensions = variantDimensions(item, problems: &problems)
            }
            addLine(id: item.id, item: itemNumber, dimensions: dimensions, quantity: Decimal(item.quantity), subtotal: item.subtotal, total: item.total, taxClass: item.taxClass, description: item.name)
        }
        for shipping in order.shippingLines where shipping.total != 0 {
            guard let item = mapping.shippingItem else {
                problems.append(.init("the order has shipping (\(shipping.methodTitle), \(shipping.total))", fix: "set mapping.shippingItem to a non-stock F&O item for shipping"))
                continue
            }
            addLine(id: shipping.id, item: item, dimensions: [:], quantity: 1, subtotal: shipping.total, total: shipping.total, taxClass: mapping.taxClasses["shipping"] != nil ? "shipping" : "", description: shipping.methodTitle)
        }
        for fee in order.feeLines where fee.total != 0 {
            guard let item = mapping.feeItem else {
                problems.append(.init("the order has a fee (\(fee.name), \(fee.total))", fix: "set mapping.feeItem to a non-stock F&O item for fees"))
                continue
            }
            addLine(id: fee.id, item: item, dimensions: [:], quantity: 1, subtotal: fee.total, total: fee.total, taxClass: fee.taxClass, description: fee.name)
        }

        let expectedNet = order.total - order.totalTax
        let planned = lines.reduce(Decimal(0)) { $0 + $1.amount }
        if problems.isEmpty, planned != expectedNet {
            problems.append(.init("the order's lines add up to \(planned) but its total minus tax is \(expectedNet) (difference \(expectedNet - planned))", fix: "check the order's lines in WooCommerce; this connector posts only orders it can post to the cent"))
        }

        // Money: the payment when the gateway says money was received, and each refund.
        var payment: JournalLinePlan?
        var refundPlans: [JournalLinePlan] = []
        var skipped: [SkippedRefund] = []
        if let gateway, gateway.post == .onPaid {
            if order.datePaidGMT != nil, order.total > 0 {
                payment = journalLine(.payment, order: order, account: customer.account, gateway: gateway, amount: order.total,
                                      reference: paymentReference(orderID: order.id), refundID: nil, date: order.datePaidGMT!, currency: currency)
            }
            for refund in refunds.sorted(by: { $0.id < $1.id }) {
                let amount = abs(refund.amount)
                guard amount > 0 else { continue }
                refundPlans.append(journalLine(.refund, order: order, account: customer.account, gateway: gateway, amount: amount,
                                               reference: refundReference(orderID: order.id, refundID: refund.id), refundID: refund.id,
                                               date: refund.dateCreatedGMT ?? order.dateModifiedGMT ?? Date(timeIntervalSince1970: 0), currency: currency))
            }
        } else {
            for refund in refunds where refund.amount != 0 {
                skipped.append(SkippedRefund(refundID: refund.id, amount: abs(refund.amount),
                                             reason: "gateway '\(order.paymentMethod)' posts no payments (post: never), so its refunds are settled outside the connector"))
            }
        }

        guard problems.isEmpty else { return .problems(problems) }
        // WooCommerce's facts only — never the mapped F&O fields, or a mapping change made
        // with `connection update` would look like an edit of every order already posted.
        var facts = ["customer \(order.customerID) \(order.isGuest ? order.billing.email.lowercased() : "")", "currency \(currency)"]
        facts += order.lineItems.map { "item \($0.id) \($0.productID) \($0.variationID) \($0.sku ?? "") \($0.quantity) \($0.subtotal) \($0.total)" }
        facts += order.shippingLines.map { "shipping \($0.id) \($0.total)" }
        facts += order.feeLines.map { "fee \($0.id) \($0.total)" }
        let fingerprintText = facts.joined(separator: "\n")
        return .planned(OrderPlan(
            orderID: order.id, reference: reference,
            suppliedSalesOrderNumber: connection.dynamics.supplySalesOrderNumber ? reference : nil,
            currency: currency, customer: customer, header: header, lines: lines,
            expectedNet: expectedNet, expectedTax: order.totalTax, payment: payment, refunds: refundPlans,
            skippedRefunds: skipped, fingerprint: String(Digests.sha256Hex(Array(fingerprintText.utf8)).prefix(32))))
    }

    /// The F&O customer record for an order's customer (registered or guest).
    public func customerPlan(order: WooOrder, currency: String) -> CustomerPlan {
        if order.isGuest, mapping.guestPolicy == .sharedAccount {
            let account = guestAccount(email: order.billing.email)
            var record = baseCustomer(account: account, currency: currency)
            record["PartyType"] = .string("Organization")
            record["OrganizationName"] = .string("Web shop guests")
            return CustomerPlan(account: account, record: record, isSharedGuest: true)
        }
        let account = order.isGuest ? guestAccount(email: order.billing.email) : customerAccount(customerID: order.customerID)
        return CustomerPlan(account: account, record: customerRecord(account: account, currency: currency, billing: order.billing), isSharedGuest: false)
    }

    /// The F&O customer fields taken from a WooCommerce billing address (also used by
    /// `customer.updated`: name, address and email).
    public func customerRecord(account: String, currency: String?, billing: WooAddress) -> ODataRecord {
        var record = baseCustomer(account: account, currency: currency)
        let first = billing.firstName.trimmingCharacters(in: .whitespaces)
        let last = billing.lastName.trimmingCharacters(in: .whitespaces)
        if !billing.company.isEmpty || (first.isEmpty && last.isEmpty) {
            record["PartyType"] = .string("Organization")
            record["OrganizationName"] = .string(billing.company.isEmpty ? (billing.email.isEmpty ? account : billing.email) : billing.company)
        } else {
            record["PartyType"] = .string("Person")
            if !first.isEmpty { record["PersonFirstName"] = .string(first) }
            if !last.isEmpty { record["PersonLastName"] = .string(last) }
        }
        if !billing.email.isEmpty { record["PrimaryContactEmail"] = .string(billing.email) }
        if !billing.address1.isEmpty || !billing.city.isEmpty {
            record["AddressDescription"] = .string("Billing")
            record["AddressStreet"] = .string(Self.street(billing))
            record["AddressCity"] = .string(billing.city)
            if !billing.state.isEmpty { record["AddressState"] = .string(billing.state) }
            record["AddressZipCode"] = .string(billing.postcode)
            record["AddressCountryRegionISOCode"] = .string(billing.country)
        }
        return record
    }

    private func baseCustomer(account: String, currency: String?) -> ODataRecord {
        var record = ODataRecord()
        record["dataAreaId"] = .string(legalEntity)
        record["CustomerAccount"] = .string(account)
        record["CustomerGroupId"] = .string(mapping.customerGroup)
        if let currency { record["SalesCurrencyCode"] = .string(currency) }
        return record
    }

    private func journalLine(_ kind: JournalLinePlan.Kind, order: WooOrder, account: String, gateway: MappingSettings.Gateway, amount: Decimal,
                             reference: String, refundID: Int?, date: Date, currency: String) -> JournalLinePlan {
        var record = ODataRecord()
        record["dataAreaId"] = .string(legalEntity)
        record["TransactionDate"] = .utcDate(of: date)
        record["AccountType"] = .enumMember(type: FOEnum.ledgerJournalAccountType, member: "Cust")
        record["AccountDisplayValue"] = .string(account)
        record[kind == .payment ? "CreditAmount" : "DebitAmount"] = .decimal(amount)
        record["CurrencyCode"] = .string(currency)
        record["PaymentMethodName"] = .string(gateway.paymentMethod)
        record["PaymentReference"] = .string(reference)
        let text = kind == .payment
            ? "Woo order \(order.number)" + (order.transactionID.isEmpty ? "" : " / \(order.transactionID)")
            : "Woo refund \(refundID ?? 0) of order \(order.number)"
        record["TransactionText"] = .string(String(text.prefix(60)))
        record["OffsetAccountType"] = .enumMember(type: FOEnum.ledgerJournalAccountType, member: "Bank")
        record["OffsetAccountDisplayValue"] = .string(gateway.offsetAccount)
        if kind == .payment { record["IsPrepayment"] = .noYes(true) }
        return JournalLinePlan(kind: kind, reference: reference, journalName: gateway.journalName, refundID: refundID, amount: amount, record: record)
    }

    private func salesTaxGroup(country: String, state: String, problems: inout [MappingProblem]) -> String? {
        guard !mapping.destinationTaxGroups.isEmpty else { return nil }
        let country = country.uppercased(), state = state.uppercased()
        if let exact = mapping.destinationTaxGroups.first(where: { $0.country.uppercased() == country && $0.state?.uppercased() == state && !state.isEmpty }) {
            return exact.salesTaxGroup
        }
        if let whole = mapping.destinationTaxGroups.first(where: { $0.country.uppercased() == country && $0.state == nil }) {
            return whole.salesTaxGroup
        }
        problems.append(.init("no sales tax group for destination \(country)\(state.isEmpty ? "" : "/\(state)")", fix: "add it to mapping.destinationTaxGroups"))
        return nil
    }

    private func itemTaxGroup(taxClass: String, problems: inout [MappingProblem]) -> String? {
        guard !mapping.taxClasses.isEmpty else { return nil }
        if let code = mapping.taxClasses[taxClass] { return code }
        let shown = taxClass.isEmpty ? "standard (\"\")" : "'\(taxClass)'"
        problems.append(.init("tax class \(shown) is not mapped", fix: "add it to mapping.taxClasses with its F&O item sales tax group"))
        return nil
    }

    /// F&O dimension ids of a variation line, from the attributes WooCommerce keeps in the
    /// line's meta data (`size` = `M`).
    private func variantDimensions(_ item: WooLineItem, problems: inout [MappingProblem]) -> [String: String] {
        var dimensions: [String: String] = [:]
        let byAttribute = Dictionary(mapping.variantDimensions.map { (Self.attributeSlug($0.key), $0.value) }, uniquingKeysWith: { a, _ in a })
        for meta in item.metaData ?? [] where !meta.key.hasPrefix("_") {
            guard let dimension = byAttribute[Self.attributeSlug(meta.key)], let value = meta.value.text else { continue }
            switch dimension.lowercased() {
            case "color", "colour": dimensions["ProductColorId"] = value
            case "size": dimensions["ProductSizeId"] = value
            case "style": dimensions["ProductStyleId"] = value
            case "config", "configuration": dimensions["ProductConfigurationId"] = value
            default:
                problems.append(.init("mapping.variantDimensions maps '\(meta.key)' to '\(dimension)'", fix: "use color, size, style or config"))
            }
        }
        if dimensions.isEmpty {
            problems.append(.init("variation \(item.sku ?? "?") carries no attribute mapped to an F&O dimension", fix: "map its attributes in mapping.variantDimensions (e.g. \"Size\": \"size\")"))
        }
        return dimensions
    }

    /// True when `value` has no more than two decimals (whole cents).
    static func isCents(_ value: Decimal) -> Bool {
        var value = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, 2, .plain)
        return rounded == value
    }

    /// `pa_size`, `Size` and `size` all name the same attribute.
    static func attributeSlug(_ name: String) -> String {
        var slug = name.lowercased().trimmingCharacters(in: .whitespaces)
        if slug.hasPrefix("pa_") { slug.removeFirst(3) }
        return slug.replacingOccurrences(of: " ", with: "-")
    }

    static func name(_ address: WooAddress, fallback: String) -> String {
        let name = [address.firstName, address.lastName].filter { !$0.isEmpty }.joined(separator: " ")
        return name.isEmpty ? (address.company.isEmpty ? fallback : address.company) : name
    }

    static func street(_ address: WooAddress) -> String {
        [address.address1, address.address2].filter { !$0.isEmpty }.joined(separator: "\n")
    }
}
