import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorSandbox
import ConnectorStore
import ConnectorTestSupport
import Foundation
import Testing

/// SPEC §7 `mlc mapping check`: both sandboxes over loopback HTTP, orders delivered by signed
/// webhooks into the store, then the check against the sandbox F&O seed.
@Suite struct MappingCheckTests {
    /// Three orders every mapping of the sandbox connection resolves: a card order (mug +
    /// shipping), a cash-on-delivery order, and a T-shirt variation with a fee.
    static func placeCleanOrders(_ h: PostingHarness) async throws -> Placed {
        try await h.createWebhooks()
        let card = try await h.paidOrder()
        let cod = try await h.paidOrder(paymentMethod: "cod", setPaid: false)
        let (tshirt, variations) = try await h.shop.variableProduct(sku: "TSHIRT-01", name: "T-shirt", price: "24.00", variants: [("M", "Blue"), ("L", "Red")])
        let variation = try await h.shop.order(#"{"payment_method":"stripe","set_paid":true,\#(SandboxShop.californiaBilling),"line_items":[{"product_id":\#(tshirt),"variation_id":\#(variations[0]),"quantity":1}],"fee_lines":[{"name":"Gift wrap","total":"3.00"}]}"#)
        _ = await h.woo.runDeliveries()
        return Placed(orders: [card, cod, variation], tshirt: tshirt, unreleasedVariation: variations[1])
    }

    struct Placed {
        var orders: [Int]
        var tshirt: Int
        /// T-shirt L/Red: a variation F&O has no released variant for (the seed has M/Blue, L/Blue, M/Red).
        var unreleasedVariation: Int
    }

    /// A card order for a product F&O has never released, one for a reduced-rate product, and
    /// one for a T-shirt variant F&O has not released.
    static func placeProblemOrders(_ h: PostingHarness, _ placed: Placed) async throws -> (ghost: Int, reduced: Int) {
        let ghost = try await h.shop.simpleProduct(sku: "GHOST-01", name: "Not in F&O", price: "3.00")
        let poster = try #require(try await h.shop.send("/products", #"{"name":"Poster A2","type":"simple","sku":"POSTER-01","regular_price":"19.99","tax_class":"reduced-rate","manage_stock":true,"stock_quantity":10,"status":"publish"}"#)["id"]?.intValue)
        let ghostOrder = try await h.shop.order(#"{"payment_method":"stripe","payment_method_title":"Card","set_paid":true,\#(SandboxShop.californiaBilling),"line_items":[{"product_id":\#(ghost),"quantity":1}]}"#)
        let reducedOrder = try await h.shop.order(#"{"payment_method":"stripe","payment_method_title":"Card","set_paid":true,\#(SandboxShop.californiaBilling),"line_items":[{"product_id":\#(poster),"quantity":1}]}"#)
        _ = try await h.shop.order(#"{"payment_method":"stripe","set_paid":true,\#(SandboxShop.californiaBilling),"line_items":[{"product_id":\#(placed.tshirt),"variation_id":\#(placed.unreleasedVariation),"quantity":1}]}"#)
        _ = await h.woo.runDeliveries()
        return (ghostOrder, reducedOrder)
    }

    /// The sandbox connection with a journal name and a customer group F&O does not have, and
    /// without a mapping for the `reduced-rate` tax class.
    static func broken(_ connection: Connection) -> Connection {
        var c = connection
        c.mapping.paymentGateways["stripe"]?.journalName = "NOPE"
        c.mapping.customerGroup = "RETAIL"
        c.mapping.taxClasses.removeValue(forKey: "reduced-rate")
        return c
    }

    func check(_ h: PostingHarness, _ connection: Connection) async throws -> MappingCheckReport {
        try await MappingCheck(store: h.store, clock: h.clock).run(connection: connection, woo: try h.remotes.woocommerce(connection),
                                                                  fo: try h.remotes.dynamics(connection), logger: h.logger)
    }

    func row(_ report: MappingCheckReport, _ section: String, _ value: String, what: String? = nil) -> MappingCheckReport.Row? {
        report.section(section)?.rows.first { $0.value == value && (what == nil || $0.what == what) }
    }

    @Test func aFullyValidMappingIsClean() async throws {
        try await PostingHarness.run { h in
            let orders = try await Self.placeCleanOrders(h).orders
            let before = h.dynamics.requestLog.count
            let report = try await check(h, h.connection)
            #expect(report.clean, "\(report.table)")
            // Read-only, and every existence check of the run in one $batch of filtered reads.
            let calls = h.dynamics.requestLog.dropFirst(before).filter { $0.target.contains("/data/") }
            #expect(calls.count == 1 && calls.first?.method == "POST" && calls.first?.target.hasSuffix("/data/$batch") == true, "\(calls)")
            #expect(report.ordersChecked == 3 && report.ordersMapped == 3, "\(report.table)")
            // Every mapped F&O value was looked up and found, named by entity set and key.
            let setup = try #require(report.section("F&O setup")?.rows)
            #expect(setup.count >= 10, "\(report.table)")
            #expect(row(report, "F&O setup", "WEB", what: "customer group")?.detail == "CustomerGroups CustomerGroupId='WEB' in usmf exists")
            #expect(row(report, "F&O setup", "CustPay", what: "journal name (gateway stripe)")?.status == .ok)
            #expect(row(report, "F&O setup", "USMF OPER", what: "offset bank account (gateway cod)")?.detail == "BankAccounts BankAccountId='USMF OPER' in usmf exists")
            #expect(row(report, "F&O setup", "EUR", what: "currency")?.detail == "Currencies CurrencyCode='EUR' exists")
            // What the orders carried, resolved by the mapper.
            let mug = try #require(row(report, "SKUs", "MUG-01"))
            #expect(mug.status == .ok && mug.detail.contains("→ item MUG-01") && mug.detail.contains("ReleasedProductsV2 ItemNumber='MUG-01' in usmf exists"), "\(mug)")
            // A variation resolves to its master's item number and the F&O dimensions, as posted.
            let shirt = try #require(row(report, "SKUs", "TSHIRT-01-M-BLUE"))
            #expect(shirt.status == .ok && shirt.detail == "→ item TSHIRT-01 color Blue size M; ReleasedProductVariantsV2 ProductMasterNumber='TSHIRT-01' ProductColorId='Blue' ProductSizeId='M' in usmf exists", "\(shirt)")
            #expect(row(report, "fees", "Gift wrap")?.detail == "→ item FEE")
            #expect(row(report, "tax classes", "standard")?.detail == "→ item sales tax group FULL")
            #expect(row(report, "destinations", "US/CA")?.detail == "→ sales tax group CA")
            #expect(row(report, "shipping", "flat_rate")?.detail == "→ item FREIGHT")
            #expect(row(report, "payment gateways", "stripe")?.detail == "→ payment method CARD, journal CustPay, offset USMF OPER, post onPaid")
            #expect(row(report, "payment gateways", "cod")?.detail == "→ payment method COD, journal CustPay, offset USMF OPER, post never")
            #expect(report.section("orders")?.rows.isEmpty == true)
            #expect(orders.count == 3)
            // And the poster agrees: the paid card order posts.
            #expect(await h.post(orders[0]) == .posted(salesOrderNumber: "WC\(orders[0])"))
        }
    }

    @Test func eachProblemIsNamedWithItsSectionAndValue() async throws {
        try await PostingHarness.run { h in
            let placed = try await Self.placeCleanOrders(h)
            let (ghost, reduced) = try await Self.placeProblemOrders(h, placed)
            let connection = Self.broken(h.connection)
            let report = try await check(h, connection)
            #expect(!report.clean)
            #expect(report.ordersChecked == 6, "\(report.table)")

            let journal = try #require(row(report, "F&O setup", "NOPE"))
            #expect(journal.what == "journal name (gateway stripe)" && journal.status == .missing)
            #expect(journal.detail == "JournalNames Name='NOPE' in usmf not found")
            #expect(journal.fix.contains("mapping.paymentGateways.stripe.journalName"))
            let group = try #require(row(report, "F&O setup", "RETAIL"))
            #expect(group.what == "customer group" && group.status == .missing && group.detail == "CustomerGroups CustomerGroupId='RETAIL' in usmf not found")
            // The journal cod uses still exists: only the broken value is flagged.
            #expect(row(report, "F&O setup", "CustPay", what: "journal name (gateway cod)")?.status == .ok)

            let taxClass = try #require(row(report, "tax classes", "reduced-rate"))
            #expect(taxClass.status == .unmapped && taxClass.fix.contains("mapping.taxClasses"), "\(taxClass)")
            #expect(row(report, "tax classes", "standard")?.status == .ok)

            let sku = try #require(row(report, "SKUs", "GHOST-01"))
            #expect(sku.status == .missing && sku.detail.contains("ReleasedProductsV2 ItemNumber='GHOST-01' in usmf not found"), "\(sku)")
            #expect(sku.fix.contains("mapping.items"))
            let variant = try #require(row(report, "SKUs", "TSHIRT-01-L-RED"))
            #expect(variant.status == .missing && variant.detail.contains("ReleasedProductVariantsV2 ProductMasterNumber='TSHIRT-01' ProductColorId='Red' ProductSizeId='L' in usmf not found"), "\(variant)")
            #expect(row(report, "SKUs", "TSHIRT-01-M-BLUE")?.status == .ok)
            #expect(row(report, "SKUs", "MUG-01")?.status == .ok)
            #expect(row(report, "SKUs", "POSTER-01")?.status == .ok)

            // The order the poster would park is listed with the mapper's own words.
            let parked = try #require(row(report, "orders", "\(reduced)"))
            #expect(parked.detail.contains("tax class 'reduced-rate' is not mapped"), "\(parked)")
            #expect(row(report, "orders", "\(ghost)") == nil, "the mapping resolves GHOST-01; only F&O lacks it")
            #expect(report.problemCount == 6, "journal, customer group, tax class, two SKUs, the order: \(report.table)")
            #expect(report.table.contains("MISSING") && report.table.contains("UNMAPPED"))
        }
    }

    @Test func anUnmappedGatewayAndDestinationAreReported() async throws {
        try await PostingHarness.run { h in
            let orders = try await Self.placeCleanOrders(h).orders
            var connection = h.connection
            connection.mapping.paymentGateways.removeValue(forKey: "cod")
            connection.mapping.destinationTaxGroups.removeAll { $0.country == "US" }
            connection.mapping.destinationTaxGroups.append(try JSONDecoder().decode(MappingSettings.DestinationTaxGroup.self, from: Data(#"{"country":"DE","salesTaxGroup":"EXPORT"}"#.utf8)))
            let report = try await check(h, connection)
            let cod = try #require(row(report, "payment gateways", "cod"))
            #expect(cod.status == .unmapped && cod.fix.contains("mapping.paymentGateways"), "\(cod)")
            #expect(row(report, "payment gateways", "stripe")?.status == .ok)
            let ca = try #require(row(report, "destinations", "US/CA"))
            #expect(ca.status == .unmapped && ca.fix.contains("mapping.destinationTaxGroups"), "\(ca)")
            // Every order ships to California; the COD order also lacks its gateway.
            #expect(report.section("orders")?.rows.count == 3, "\(report.table)")
            #expect(row(report, "orders", "\(orders[1])")?.detail.contains("payment gateway 'cod'") == true, "\(report.table)")
        }
    }

    @Test func onlyDeliveriesInsideTheWindowCount() async throws {
        try await PostingHarness.run { h in
            _ = try await Self.placeCleanOrders(h)
            // The check's clock 31 days on: the deliveries are older than the default window.
            h.clock.advance(by: 31 * 86_400)
            let report = try await check(h, h.connection)
            #expect(report.ordersChecked == 0)
            #expect(report.section("SKUs")?.rows.isEmpty == true)
            #expect(report.clean, "mapped values are still all checked: \(report.table)")
            #expect((report.section("F&O setup")?.rows.count ?? 0) >= 10)
        }
    }

    @Test func aRefusedF_OSecretIsAClearErrorNotAVerdict() async throws {
        try await PostingHarness.run { h in
            _ = try await Self.placeCleanOrders(h)
            var connection = h.connection
            connection.dynamics.clientSecret = SecretValue("wrong-secret")
            do {
                let report = try await check(h, connection)
                Issue.record("expected an error, got a report: \(report.table)")
            } catch let error as ConnectorError {
                #expect(error == ConnectorError.credentialsRejected(""), "\(error)")
                #expect(error.message.hasPrefix("F&O could not be read: "), "\(error)")
                #expect(!error.fix.isEmpty, "\(error)")
            }
        }
    }

    /// The real `mlc` binary on a SQLite store the harness's receiver wrote the deliveries to.
    @Test func theCommandPrintsTablesAndExitsByVerdict() async throws {
        let url = try StoreBackend.sqlite.freshURL()
        let store = try await StoreFactoryForTests.open(url)
        try await PostingHarness.run(store: store, options: PostingHarness.Options()) { h in
            _ = try await Self.placeCleanOrders(h)
            let mlc = try PackagePaths.executable("mlc")
            let environment = ["MLC_STORE_URL": url, "MLC_MASTER_KEY": h.key.base64, "MLC_LOG_LEVEL": "error"]

            let clean = try await ProcessRunner.run(mlc, ["mapping", "check", "--connection", "acme"], environment: environment)
            #expect(clean.status == 0, "\(clean.stdout)\(clean.stderr)")
            #expect(clean.stdout.contains("== F&O setup =="))
            #expect(clean.stdout.contains("== SKUs =="))
            #expect(clean.stdout.contains(#"customer group"#) && clean.stdout.contains("CustomerGroups CustomerGroupId='WEB' in usmf exists"))
            #expect(clean.stdout.contains("3 order(s) delivered since") && clean.stdout.contains("3 map as they are"), "\(clean.stdout)")
            #expect(clean.stdout.contains("all mapped values exist and every value seen resolves"))

            try await ConnectionRepository(store: h.store).update(Self.broken(h.connection), key: h.key)
            let broken = try await ProcessRunner.run(mlc, ["mapping", "check", "--connection", "acme"], environment: environment)
            #expect(broken.status == 1, "\(broken.stdout)\(broken.stderr)")
            let journalLine = broken.stdout.split(separator: "\n").first { $0.contains("journal name (gateway stripe)") }.map(String.init) ?? ""
            #expect(journalLine.contains("NOPE") && journalLine.contains("MISSING") && journalLine.contains("JournalNames Name='NOPE' in usmf not found"), "\(broken.stdout)")
            #expect(broken.stdout.contains("fix: create journal name NOPE in usmf"))

            let json = try await ProcessRunner.run(mlc, ["mapping", "check", "--connection", "acme", "--json", "--days", "7"], environment: environment)
            #expect(json.status == 1, "\(json.stderr)")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
            #expect(object["clean"] as? Bool == false)
            #expect(object["problems"] as? Int == 2, "\(json.stdout)")
            let sections = try #require(object["sections"] as? [[String: Any]])
            let setupRows = try #require(sections.first { $0["name"] as? String == "F&O setup" }?["rows"] as? [[String: Any]])
            #expect(setupRows.contains { $0["value"] as? String == "RETAIL" && $0["status"] as? String == "missing" })

            let unknown = try await ProcessRunner.run(mlc, ["mapping", "check", "--connection", "nope"], environment: environment)
            #expect(unknown.status == 2)
            #expect(unknown.stderr.contains("no connection 'nope'") && unknown.stderr.contains("mlc connection list"), "\(unknown.stderr)")
            var refused = h.connection
            refused.dynamics.clientSecret = SecretValue("wrong-secret")
            try await ConnectionRepository(store: h.store).update(refused, key: h.key)
            let unreachable = try await ProcessRunner.run(mlc, ["mapping", "check", "--connection", "acme"], environment: environment)
            #expect(unreachable.status == 2, "\(unreachable.stdout)\(unreachable.stderr)")
            #expect(unreachable.stderr.contains("error: F&O could not be read: "), "\(unreachable.stderr)")
            #expect(unreachable.stdout.isEmpty)
            let usage = try await ProcessRunner.run(mlc, ["mapping", "check", "--connection", "acme", "--days", "0"], environment: environment)
            #expect(usage.status != 0 && usage.status != 1 && usage.stderr.contains("--days must be between 1 and 365"), "\(usage.status) \(usage.stderr)")
        }
    }
}
