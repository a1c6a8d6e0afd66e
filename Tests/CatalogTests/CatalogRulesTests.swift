import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorSandbox
import ConnectorStore
import DynamicsEmulator
import Foundation
import Testing
import WooCommerceEmulator

/// SPEC §12's rules: adoption by SKU, owned fields only, per-item failures retried alone,
/// unposted orders, retirement, and the safety valve.
@Suite struct CatalogRulesTests {
    @Test func aHandMadeProductIsAdoptedAndItsNonOwnedFieldsKeepTheMerchantsValues() async throws {
        try await CatalogHarness.run { h in
            let mug = try await h.shop.simpleProduct(sku: "MUG-01", name: "Our lovely mug", price: "9.99", stock: 50)
            try await h.shop.send("/products/\(mug)", #"{"description":"Hand-written by the merchant"}"#, method: "PUT")
            let (tshirt, _) = try await h.shop.variableProduct(sku: "TSHIRT-01", name: "T-shirt", price: "20.00", variants: [("M", "Blue"), ("L", "Blue"), ("M", "Red")])

            let report = try await h.run()
            #expect(report.failed == 0, "\(report.changes)")
            #expect(report.created == 1, "only POSTER-01 is new")
            let products = try await h.products()   // fails on a duplicate SKU
            #expect(products.count == 3)
            let adopted = try #require(products["MUG-01"])
            #expect(adopted["id"]?.intValue == mug)
            #expect(Decimal(string: adopted["regular_price"]?.stringValue ?? "") == Decimal(string: "12.50"))
            #expect(adopted["stock_quantity"]?.intValue == 120)
            #expect(adopted["name"]?.stringValue == "Coffee mug", "name is owned by default")
            #expect(adopted["description"]?.stringValue?.contains("Hand-written by the merchant") == true, "description is not owned by default")
            #expect(adopted["status"]?.stringValue == "publish", "adoption does not unpublish")
            #expect(products["TSHIRT-01"]?["id"]?.intValue == tshirt)
            let variations = try await h.variations(tshirt)
            #expect(variations.count == 3)
            #expect(Decimal(string: variations["TSHIRT-01-M-RED"]?["regular_price"]?.stringValue ?? "") == 24)
            #expect(variations["TSHIRT-01-M-RED"]?["stock_quantity"]?.intValue == 6)
            let states = try await h.push.states(connectionID: h.connection.id)
            #expect(states["MUG-01"]?.wooID == mug)

            let before = try await h.modifiedDates()
            h.wooClock.advance(by: 120)
            let second = try await h.run()
            #expect(second.wooWrites == 0 && second.updated == 0 && second.created == 0)
            #expect(try await h.modifiedDates() == before)
        }
    }

    @Test func aNewVariantAddsItsOptionAndKeepsTheMerchantsOtherAttributes() async throws {
        try await CatalogHarness.run { h in
            let (tshirt, _) = try await h.shop.variableProduct(sku: "TSHIRT-01", name: "T-shirt", price: "24.00", variants: [("M", "Blue"), ("L", "Blue"), ("M", "Red")])
            try await h.shop.send("/products/\(tshirt)", #"{"attributes":[{"name":"Size","visible":true,"variation":true,"options":["L","M"]},{"name":"Color","visible":true,"variation":true,"options":["Blue","Red"]},{"name":"Material","visible":true,"variation":false,"options":["Cotton"]}]}"#, method: "PUT")
            try await h.run()
            try h.dynamics.insert("ReleasedProductVariantsV2", ["dataAreaId": "usmf", "ProductMasterNumber": "TSHIRT-01", "ProductConfigurationId": "", "ProductSizeId": "S",
                                                                "ProductColorId": "Green", "ProductStyleId": "", "ProductVersionId": "", "ItemNumber": "TSHIRT-01",
                                                                "SalesSalesTaxItemGroupCode": "FULL"])
            try h.onHand("TSHIRT-01", size: "S", color: "Green", warehouse: "11", 8)
            let report = try await h.run()
            #expect(report.created == 1 && report.updated == 1 && report.failed == 0, "\(report.changes)")
            let product = try #require(try await h.products()["TSHIRT-01"])
            let attributes = Dictionary(uniqueKeysWithValues: (product["attributes"]?.arrayValue ?? []).map { ($0["name"]?.stringValue ?? "", ($0["options"]?.arrayValue ?? []).compactMap(\.stringValue)) })
            #expect(Set(attributes["Size"] ?? []) == ["L", "M", "S"])
            #expect(Set(attributes["Color"] ?? []) == ["Blue", "Green", "Red"])
            #expect(attributes["Material"] == ["Cotton"], "the merchant's attribute stays")
            #expect(try await h.variations(tshirt)["TSHIRT-01-S-GREEN"]?["stock_quantity"]?.intValue == 8)
        }
    }

    @Test func anInvalidItemFailsAloneIsAuditedAndTheNextRunRetriesOnlyIt() async throws {
        try await CatalogHarness.run { h in
            try await h.setSalesPrice("POSTER-01", -1)
            let first = try await h.run()
            #expect(first.failed == 1)
            #expect(first.created == 5, "MUG-01 and TSHIRT-01 with its three variations")
            #expect(first.changes.first { $0.sku == "POSTER-01" }?.action == .fail)
            #expect(try await h.products()["POSTER-01"] == nil, "never sent")
            let records = AuditRecords(store: h.store, clock: h.clock, retention: .seconds(3600))
            let failed = try #require(try await records.load(connection: h.connection.id, kind: "product", id: "POSTER-01"))
            #expect(failed.state == .failed)
            #expect(failed.reason?.contains("negative") == true)

            try await h.setSalesPrice("POSTER-01", Decimal(string: "19.99")!)
            let before = try await h.modifiedDates()
            h.wooClock.advance(by: 120)
            let second = try await h.run()
            #expect(second.created == 1 && second.updated == 0 && second.failed == 0)
            #expect(second.wooWrites == 1)
            #expect(second.changes.map(\.sku) == ["POSTER-01"])
            let after = try await h.modifiedDates()
            #expect(Set(after.keys.filter { after[$0] != before[$0] }) == ["POSTER-01"])
            #expect(try await records.load(connection: h.connection.id, kind: "product", id: "POSTER-01")?.state == .posted)
        }
    }

    @Test func aWooCommercePerItemErrorIsRecordedWhileTheRestOfTheBatchLands() async throws {
        try await CatalogHarness.run { h in
            try await h.run()
            // The merchant deletes POSTER-01 for good; then two prices change in F&O.
            let poster = try #require(try await h.products()["POSTER-01"]?["id"]?.intValue)
            try await h.shop.send("/products/\(poster)?force=true", method: "DELETE")
            try await h.setSalesPrice("POSTER-01", Decimal(string: "20.99")!)
            try await h.setSalesPrice("MUG-01", Decimal(string: "13.00")!)
            let report = try await h.run()
            #expect(report.updated == 1 && report.failed == 1)
            #expect(report.wooWrites == 1, "one batch carried both")
            #expect(Decimal(string: try await h.products()["MUG-01"]?["regular_price"]?.stringValue ?? "") == 13)
            let record = try await AuditRecords(store: h.store, clock: h.clock, retention: .seconds(3600)).load(connection: h.connection.id, kind: "product", id: "POSTER-01")
            #expect(record?.state == .failed)
            #expect(record?.reason?.contains("invalid") == true, "\(record?.reason ?? "")")

            // The next run looks the SKU up again and, finding nothing, creates it anew.
            let next = try await h.run()
            #expect(next.created == 1 && next.failed == 0 && next.updated == 0, "\(next.changes)")
            let recreated = try #require(try await h.products()["POSTER-01"])
            #expect(recreated["id"]?.intValue != poster)
            #expect(Decimal(string: recreated["regular_price"]?.stringValue ?? "") == Decimal(string: "20.99"))
            #expect(try await h.run().wooWrites == 0)
        }
    }

    @Test func anUnpostedOrderLowersStockAndIsNotSubtractedTwiceOncePosted() async throws {
        try await CatalogHarness.run { h in
            try await h.run()
            let mug = try #require(try await h.products()["MUG-01"]?["id"]?.intValue)
            let tshirt = try #require(try await h.products()["TSHIRT-01"]?["id"]?.intValue)
            let red = try #require(try await h.variations(tshirt)["TSHIRT-01-M-RED"]?["id"]?.intValue)
            let order = try await h.shop.order(#"{"payment_method":"stripe","payment_method_title":"Card","set_paid":true,\#(SandboxShop.californiaBilling),"line_items":[{"product_id":\#(mug),"quantity":3}]}"#)
            let other = try await h.shop.order(#"{"payment_method":"stripe","payment_method_title":"Card","set_paid":true,\#(SandboxShop.californiaBilling),"line_items":[{"product_id":\#(tshirt),"variation_id":\#(red),"quantity":2}]}"#)
            for id in [order, other] {
                let work = PendingWork(connection: h.connection.id, kind: "order", resourceID: String(id), firstSeenAt: h.clock.now(), origin: "test")
                _ = try await h.store.insertIfAbsent(Keyspace.pending(h.connection.id, kind: "order", resourceID: String(id)), work.encoded())
            }

            let pending = try await h.run()
            #expect(Set(pending.changes.map(\.sku)) == ["MUG-01", "TSHIRT-01-M-RED"])
            #expect(pending.changes.first { $0.sku == "MUG-01" }?.detail == "stock: 120 → 117")
            #expect(pending.changes.first { $0.sku == "TSHIRT-01-M-RED" }?.detail == "stock: 6 → 4")
            #expect(try await h.products()["MUG-01"]?["stock_quantity"]?.intValue == 117)

            // Posted: F&O reserves the 3, the order is no longer subtracted — still 117.
            let posted = await h.poster.post(connectionID: h.connection.id, orderID: order, logger: h.logger)
            guard case .posted = posted else { Issue.record("order not posted: \(posted)"); return }
            let reserved = h.dynamics.records("WarehousesOnHandV2").first { $0["ItemNumber"]?.stringValue == "MUG-01" }
            #expect(reserved?["AvailableOnHandQuantity"]?.decimalValue == 117)
            let after = try await h.run()
            #expect(after.wooWrites == 0 && after.updated == 0, "the other order is still pending and still held back: \(after.changes)")
            #expect(try await h.products()["MUG-01"]?["stock_quantity"]?.intValue == 117)
            #expect(try await h.variations(tshirt)["TSHIRT-01-M-RED"]?["stock_quantity"]?.intValue == 4)
        }
    }

    @Test func anItemNoLongerWebSellableIsDraftedNotDeleted() async throws {
        try await CatalogHarness.run(catalog: { $0.safetyValveShare = 1 }) { h in
            try await h.run()
            let poster = try #require(try await h.products()["POSTER-01"]?["id"]?.intValue)
            try await h.shop.send("/products/\(poster)", #"{"status":"publish"}"#, method: "PUT")
            try await h.setItemGroup("POSTER-01", "Retail")
            let report = try await h.run()
            #expect(report.retired == 1 && report.updated == 0 && report.created == 0)
            #expect(report.changes.map(\.action) == [.retire])
            let product = try await h.products()["POSTER-01"]
            #expect(product?["status"]?.stringValue == "draft")
            #expect(product?["id"]?.intValue == poster)
            // Retired once: the next run leaves it alone.
            #expect(try await h.run().wooWrites == 0)
        }
    }

    @Test func withOutOfStockARetiredMasterKeepsItsStatusAndItsVariationsGoToZero() async throws {
        try await CatalogHarness.run(catalog: { $0.safetyValveShare = 1; $0.retiredAction = .outOfStock }) { h in
            try await h.run()
            try await h.setItemGroup("TSHIRT-01", "Retail")
            // A run for some items only never retires the others.
            #expect(try await h.run(itemNumbers: ["MUG-01"]).retired == 0)
            let report = try await h.run()
            #expect(report.retired == 2, "the two variations that had stock (L/Blue is at 0 already: \(report.changes))")
            let tshirt = try #require(try await h.products()["TSHIRT-01"])
            #expect(tshirt["status"]?.stringValue == "draft", "status untouched (it was created as a draft)")
            let variations = try await h.variations(try #require(tshirt["id"]?.intValue))
            #expect(variations.values.allSatisfy { $0["stock_quantity"]?.intValue == 0 && $0["stock_status"]?.stringValue == "outofstock" })
            let after = try await h.run()
            #expect(after.wooWrites == 0 && after.changes.isEmpty, "retired once: \(after.changes)")
            #expect(try await h.push.states(connectionID: h.connection.id).values.filter(\.retired).count == 4)
        }
    }

    @Test func anEmptyOrPartialF_OReadChangesNothingAndRaisesOneAlert() async throws {
        try await CatalogHarness.run(catalog: { $0.safetyValveShare = 0.02 }) { h in
            try await h.addHoodie()
            try await h.run()
            let before = try await h.modifiedDates()
            h.wooClock.advance(by: 120)
            for truncation in [["ReleasedProductsV2": 0.0], ["ReleasedProductsV2": 0.5], ["WarehousesOnHandV2": 0.0]] {
                var faults = DynamicsEmulator.Faults()
                faults.truncateReads = truncation
                h.dynamics.setFaults(faults)
                let report = try await h.run()
                #expect(report.safetyValve != nil, "\(truncation)")
                #expect(report.wooWrites == 0 && report.created == 0 && report.updated == 0 && report.retired == 0)
            }
            #expect(try await h.modifiedDates() == before, "nothing in WooCommerce changed")
            let alerts = try await AlertCenter(store: h.store, clock: h.clock).list(connection: h.connection.id).filter { $0.reason == CatalogPush.safetyValveReason }
            #expect(alerts.count == 1)
            #expect(alerts.first?.count == 3, "one alert, the later runs only counted")
            #expect(alerts.first?.detail.contains("no on-hand rows") == true, "the last cause is named: \(alerts.first?.detail ?? "")")

            // The read is whole again: the catalog is untouched and nothing needs writing.
            h.dynamics.setFaults(DynamicsEmulator.Faults())
            #expect(try await h.run().wooWrites == 0)
        }
    }

    @Test func aNameReadThatComesBackEmptyDoesNotRenameTheShop() async throws {
        try await CatalogHarness.run { h in
            try await h.run()
            var faults = DynamicsEmulator.Faults()
            faults.truncateReads = ["ProductsV2": 0]
            h.dynamics.setFaults(faults)
            let report = try await h.run()
            #expect(report.wooWrites == 0 && report.updated == 0, "\(report.changes)")
            #expect(try await h.products()["MUG-01"]?["name"]?.stringValue == "Coffee mug")
        }
    }

    @Test func aDryRunShowsTheChangesAndWritesNothing() async throws {
        try await CatalogHarness.run { h in
            let report = try await h.run(dryRun: true)
            #expect(report.dryRun && report.created == 6 && report.wooWrites == 0)
            #expect(Set(report.changes.map(\.sku)) == ["MUG-01", "POSTER-01", "TSHIRT-01", "TSHIRT-01-M-BLUE", "TSHIRT-01-L-BLUE", "TSHIRT-01-M-RED"])
            #expect(try await h.products().isEmpty)
            #expect(try await h.push.states(connectionID: h.connection.id).isEmpty)
        }
    }

    @Test func oneRunPerConnectionAtATime() async throws {
        try await CatalogHarness.run { h in
            let held = try #require(try await h.store.acquireLease(Keyspace.catalogLease(h.connection.id), owner: "other-run", ttl: .seconds(60)).lease)
            await #expect(throws: ConnectorError.self) { try await h.run() }
            let function = CatalogPushFunction(push: h.push)
            struct Ping: Encodable { var connection: String }
            let outcome = await function.handle(event: try CloudEvent(id: "1", source: "/test", type: CatalogPushFunction.ping, json: Ping(connection: h.connection.id)),
                                                context: InvocationContext(function: "catalog-push", invocationID: "t", logger: h.logger))
            #expect(outcome.kind == .retry)
            #expect(try await h.products().isEmpty)
            #expect(try await h.run(dryRun: true).created == 6, "a dry run needs no turn")
            _ = try await h.store.releaseLease(held)
            #expect(try await h.run().created == 6)
        }
    }

    @Test func theFunctionPushesOnSyncAndPingAndRejectsOtherEvents() async throws {
        try await CatalogHarness.run { h in
            let function = CatalogPushFunction(push: h.push)
            let context = InvocationContext(function: "catalog-push", invocationID: "test", logger: h.logger)
            struct Sync: Encodable { var connection: String; var itemNumbers: [String]? }
            let sync = try CloudEvent(id: "1", source: "/test", type: CatalogPushFunction.catalogSync, json: Sync(connection: h.connection.id, itemNumbers: ["MUG-01"]))
            let one = await function.handle(event: sync, context: context)
            #expect(one.kind == .done && one.status == 200)
            #expect(String(decoding: one.body, as: UTF8.self).contains("\"created\":1"))
            #expect(Set(try await h.products().keys) == ["MUG-01"])

            let ping = try CloudEvent(id: "2", source: "/test", type: CatalogPushFunction.ping, json: Sync(connection: h.connection.id))
            let all = await function.handle(event: ping, context: context)
            #expect(all.kind == .done)
            #expect(String(decoding: all.body, as: UTF8.self).contains("\"created\":5"))

            let other = try CloudEvent(id: "3", source: "/test", type: "com.mlconnector.order.changed", json: Sync(connection: h.connection.id))
            #expect(await function.handle(event: other, context: context).status == 400)
            let unknown = try CloudEvent(id: "4", source: "/test", type: CatalogPushFunction.catalogSync, json: Sync(connection: "nobody"))
            #expect(await function.handle(event: unknown, context: context).status == 404)
        }
    }
}
