import ConnectorConnections
import ConnectorMapping
import ConnectorSamples
import DynamicsClient
import Foundation
import Testing
import WooCommerceClient

/// The mapping rules of SPEC §7–§8 on the real captured orders of a WooCommerce 10.0.2 store.
@Suite struct OrderMapperTests {
    static func connection(bacs: String = "onPaid", extra: String = "", supply: Bool = true) throws -> Connection {
        let json = """
            {"schemaVersion":1,"id":"acme",
             "woocommerce":{"baseURL":"https://127.0.0.1:8443","consumerKey":"ck_x","consumerSecret":"cs_x","webhookSecret":"s"},
             "dynamics":{"environmentURL":"https://acme.operations.dynamics.com","tenantId":"t","clientId":"c","clientSecret":"x","legalEntity":"USMF","supplySalesOrderNumber":\(supply)},
             "orders":{"referencePrefix":"WC"},
             "mapping":{"shippingItem":"FREIGHT","feeItem":"FEE","variantDimensions":{"Size":"size"},
                        "taxClasses":{"":"FULL","reduced-rate":"REDUCED","shipping":"FULL"},
                        "destinationTaxGroups":[{"country":"US","state":"CA","salesTaxGroup":"CA"},{"country":"US","salesTaxGroup":"US"}],
                        "paymentGateways":{"bacs":{"paymentMethod":"BANK","journalName":"CustPay","offsetAccount":"USMF OPER","post":"\(bacs)"}}\(extra)}}
            """
        return try ConnectionFile.parse(Data(json.utf8), source: "test")
    }

    static func order(_ capture: String) throws -> WooOrder {
        try WooCommerceClient.makeDecoder().decode(WooOrder.self, from: Data(Samples.restResponse(capture).body))
    }

    static func refunds(_ capture: String) throws -> [WooRefund] {
        try WooCommerceClient.makeDecoder().decode([WooRefund].self, from: Data(Samples.restResponse(capture).body))
    }

    static func planned(_ outcome: MappingOutcome) throws -> OrderPlan {
        guard case .planned(let plan) = outcome else { Issue.record("expected a plan, got \(outcome)"); throw CancellationError() }
        return plan
    }

    @Test func realOrderWithCouponTaxShippingFeeVariationAndGuest() throws {
        let order = try Self.order("order-get-after-two-refunds")
        let plan = try Self.planned(OrderMapper(connection: Self.connection()).plan(order: order, refunds: Self.refunds("refunds-list-two-partial"), parentSKUs: [27: "MLC-TEE"]))

        #expect(plan.reference == "WC32")
        #expect(plan.suppliedSalesOrderNumber == "WC32")
        #expect(plan.customer.account == "WCGUEST")
        #expect(plan.customer.isSharedGuest)
        #expect(plan.header["dataAreaId"] == .string("usmf"))
        #expect(plan.header["CustomersOrderReference"] == .string("WC32"))
        #expect(plan.header["SalesTaxGroupCode"] == .string("CA"))
        #expect(plan.header["CustomerPaymentMethodName"] == .string("BANK"))
        #expect(plan.header["ArePricesIncludingSalesTax"] == .enumMember(type: "NoYes", member: "No"))

        // Widget 2 × 19.99 with the 10% coupon (3.99): 1.995 per unit is not whole cents, so the
        // net 35.99 is the price of 2 units — nothing rounded. The tee (1 unit) keeps its 2.01 discount.
        #expect(plan.lines.count == 4)
        let widget = plan.lines[0].record
        #expect(widget["ItemNumber"] == .string("MLC-WIDGET-001"))
        #expect(widget["SalesPrice"] == .decimal(Decimal(string: "35.99")!))
        #expect(widget["SalesPriceQuantity"] == .decimal(2))
        #expect(widget["LineDiscountAmount"] == nil)
        #expect(widget["LineAmount"] == nil)
        #expect(widget["SalesTaxItemGroupCode"] == .string("FULL"))
        let tee = plan.lines[1].record
        #expect(tee["ItemNumber"] == .string("MLC-TEE"))
        #expect(tee["SalesPrice"] == .decimal(Decimal(string: "20.00")!))
        #expect(tee["LineDiscountAmount"] == .decimal(Decimal(string: "2.01")!))
        #expect(tee["ProductSizeId"] == .string("M"))
        #expect(tee["SalesTaxItemGroupCode"] == .string("REDUCED"))
        #expect(plan.lines[2].record["ItemNumber"] == .string("FREIGHT"))
        #expect(plan.lines[3].record["ItemNumber"] == .string("FEE"))
        #expect(plan.lines.map(\.reference) == ["WC32L16", "WC32L17", "WC32L18", "WC32L19"])

        // Net to the cent: 73.22 − 4.24 = 35.99 + 17.99 + 10.00 + 5.00.
        #expect(plan.expectedNet == Decimal(string: "68.98")!)
        #expect(plan.lines.reduce(Decimal(0)) { $0 + $1.amount } == plan.expectedNet)
        #expect(plan.expectedTax == Decimal(string: "4.24")!)

        // Paid by a gateway posted on payment: one credit, and a debit per refund.
        let payment = try #require(plan.payment)
        #expect(payment.reference == "WC32P")
        #expect(payment.record["CreditAmount"] == .decimal(Decimal(string: "73.22")!))
        #expect(payment.record["AccountType"] == .enumMember(type: "LedgerJournalACType", member: "Cust"))
        #expect(plan.refunds.map(\.reference) == ["WC32R34", "WC32R35"])
        #expect(plan.refunds.map(\.amount) == [Decimal(string: "19.29")!, Decimal(string: "5.00")!])
        #expect(plan.refunds.allSatisfy { $0.record["DebitAmount"] != nil && $0.record["CreditAmount"] == nil })
    }

    @Test func moneyNotYetReceivedIsNotPosted() throws {
        let order = try Self.order("order-get-after-two-refunds")
        let plan = try Self.planned(OrderMapper(connection: Self.connection(bacs: "never")).plan(order: order, refunds: Self.refunds("refunds-list-two-partial"), parentSKUs: [27: "MLC-TEE"]))
        #expect(plan.payment == nil)
        #expect(plan.refunds.isEmpty)
        #expect(plan.skippedRefunds.map(\.refundID).sorted() == [34, 35])
    }

    @Test func everyProblemIsNamedAtOnce() throws {
        let json = """
            {"schemaVersion":1,"id":"acme",
             "woocommerce":{"baseURL":"https://127.0.0.1:8443","consumerKey":"ck_x","consumerSecret":"cs_x","webhookSecret":"s"},
             "dynamics":{"environmentURL":"https://acme.operations.dynamics.com","tenantId":"t","clientId":"c","clientSecret":"x","legalEntity":"usmf"},
             "mapping":{"taxClasses":{"":"FULL"},"currencies":["EUR"]}}
            """
        let connection = try ConnectionFile.parse(Data(json.utf8), source: "test")
        let order = try Self.order("order-get-after-two-refunds")
        guard case .problems(let problems) = OrderMapper(connection: connection).plan(order: order, refunds: [], parentSKUs: [:]) else {
            Issue.record("expected problems"); return
        }
        let text = problems.map(\.description).joined(separator: "\n")
        #expect(text.contains("currency USD"))
        #expect(text.contains("payment gateway 'bacs'"))
        #expect(text.contains("variation MLC-TEE-M belongs to product 27"))
        #expect(text.contains("mapping.shippingItem"))
        #expect(text.contains("mapping.feeItem"))
        #expect(problems.allSatisfy { !$0.fix.isEmpty })
    }

    @Test func keysArePureFunctionsOfWooIds() throws {
        let mapper = OrderMapper(connection: try Self.connection())
        #expect(mapper.customerAccount(customerID: 123) == "WC00000123")
        #expect(mapper.paymentReference(orderID: 1042) == "WC1042P")
        #expect(mapper.refundReference(orderID: 1042, refundID: 7) == "WC1042R7")
        let perEmail = OrderMapper(connection: try Self.connection(extra: ",\"guestPolicy\":\"perEmail\""))
        let account = perEmail.guestAccount(email: " Alan.Turing@Example.com ")
        #expect(account == perEmail.guestAccount(email: "alan.turing@example.com"))
        #expect(account.count <= 20 && account.hasPrefix("WCG") && !account.contains("-"))
    }

    @Test func anEditChangesTheFingerprintARefundDoesNot() throws {
        let mapper = OrderMapper(connection: try Self.connection())
        let order = try Self.order("order-get-after-two-refunds")
        let base = try Self.planned(mapper.plan(order: order, refunds: [], parentSKUs: [27: "MLC-TEE"]))
        let refunded = try Self.planned(mapper.plan(order: order, refunds: Self.refunds("refunds-list-two-partial"), parentSKUs: [27: "MLC-TEE"]))
        #expect(base.fingerprint == refunded.fingerprint)
        var edited = order
        edited.lineItems[0].quantity = 3
        edited.lineItems[0].subtotal = Decimal(string: "59.97")!
        edited.lineItems[0].total = Decimal(string: "53.99")!
        edited.total += Decimal(18)
        let changed = try Self.planned(mapper.plan(order: edited, refunds: [], parentSKUs: [27: "MLC-TEE"]))
        #expect(changed.fingerprint != base.fingerprint)
    }

    @Test func withoutSuppliedNumbersF_OAssignsThem() throws {
        let order = try Self.order("order-get-after-two-refunds")
        let plan = try Self.planned(OrderMapper(connection: Self.connection(supply: false)).plan(order: order, refunds: [], parentSKUs: [27: "MLC-TEE"]))
        #expect(plan.suppliedSalesOrderNumber == nil)
        #expect(plan.header["SalesOrderNumber"] == nil)
    }
}
