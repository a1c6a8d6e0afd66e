import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import ConnectorTestSupport
import DynamicsEmulator
import Foundation
import Testing

/// SPEC §8 end to end: WooCommerce orders into the F&O sandbox over HTTP, exactly once.
@Suite struct OrderPostingTests {
    @Test func aPaidOrderLandsOnceWithItsPaymentAndRefund() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            try await h.shop.send("/orders/\(id)/refunds", #"{"amount":"12.50","reason":"broken","api_refund":false}"#)
            guard case .posted(let number) = await h.post(id) else { Issue.record("not posted"); return }
            #expect(number == "WC\(id)")
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
            #expect(h.lineAmounts(salesOrder: number).reduce(0, +) == Decimal(30))
            // 2 × 12.50 + 5.00 shipping, plus 7.25 % tax on both (1.81 + 0.36).
            #expect(h.rows("CustomerPaymentJournalLines", "PaymentReference", "WC\(id)P").first?["CreditAmount"]?.decimalValue == Decimal(string: "32.17"))
            let refunds = h.dynamics.records("CustomerPaymentJournalLines").filter { ($0["PaymentReference"]?.stringValue ?? "").hasPrefix("WC\(id)R") }
            #expect(refunds.count == 1 && refunds.first?["DebitAmount"]?.decimalValue == Decimal(string: "12.5"))

            // Again, and again: nothing new in F&O; the pending work is gone; the record says posted.
            let before = h.dynamics.records("SalesOrderLines").count + h.dynamics.records("CustomerPaymentJournalLines").count
            #expect(await h.post(id) == .posted(salesOrderNumber: number))
            #expect(await h.post(id) == .posted(salesOrderNumber: number))
            #expect(h.dynamics.records("SalesOrderLines").count + h.dynamics.records("CustomerPaymentJournalLines").count == before)
            let record = try #require(try await AuditRecords(store: h.store, clock: h.clock, retention: .seconds(60)).load(connection: "acme", kind: "order", id: String(id)))
            #expect(record.state == .posted)
            #expect(record.timeline.contains { $0.step == "call" && ($0.call ?? "").contains("$batch") })
        }
    }

    @Test func anAnswerLostAfterF_OSavedIsFoundNotDuplicated() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            var faults = DynamicsEmulator.Faults()
            faults.loseResponsesOfNextWrites = 1
            h.dynamics.setFaults(faults)
            // The first write (the customer is the shared guest, so: the header+lines changeset) commits, its answer is lost.
            guard case .retryLater = await h.post(id) else { Issue.record("expected retry after a lost answer"); return }
            h.dynamics.setFaults(.init())
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
            #expect(h.rows("SalesOrderLines", "SalesOrderNumber", "WC\(id)").count == 2)
        }
    }

    @Test func a429WaitsRetryAfterAndTellsEveryInstance() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            var faults = DynamicsEmulator.Faults()
            faults.throttleNext = 1
            faults.throttleRetryAfter = 7
            h.dynamics.setFaults(faults)
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            #expect(h.sleeper.recorded.contains(7))
            let held = try await h.store.listAll(prefix: "throttle/")
            #expect(held.count == 1)
        }
    }

    @Test func aMappingProblemParksWithNothingWritten() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder(paymentMethod: "paypal")
            guard case .parked(let reason) = await h.post(id) else { Issue.record("expected parked"); return }
            #expect(reason.contains("payment gateway 'paypal'"))
            #expect(h.salesOrders(reference: "WC\(id)").isEmpty)
            #expect(h.dynamics.records("CustomerPaymentJournalLines").isEmpty)
            let alerts = try await AlertCenter(store: h.store, clock: h.clock).list(connection: "acme")
            #expect(alerts.contains { $0.reason == "record-parked" })
            #expect(try await h.store.get(Keyspace.pending("acme", kind: "order", resourceID: String(id))) == nil)
        }
    }

    @Test func unpaidOrdersAreSkipped() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder(setPaid: false)
            guard case .skipped = await h.post(id) else { Issue.record("expected skipped"); return }
            #expect(h.salesOrders(reference: "WC\(id)").isEmpty)
        }
    }

    @Test func cashOnDeliveryPostsTheOrderButNoPayment() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder(paymentMethod: "cod", setPaid: true)
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            #expect(h.rows("CustomerPaymentJournalLines", "PaymentReference", "WC\(id)P").isEmpty)
        }
    }

    /// F&O numbers the order: header first (its number stored at once), then the lines; a
    /// failure between them is completed by `OrderLineReference`, never duplicated.
    @Test func f_ONumberedOrdersResumeByLineReference() async throws {
        try await PostingHarness.run(supplySalesOrderNumber: false) { h in
            let id = try await h.paidOrder()
            var faults = DynamicsEmulator.Faults()
            faults.loseResponsesOfNextWrites = 2   // the header's answer, then the first line's
            h.dynamics.setFaults(faults)
            guard case .retryLater = await h.post(id) else { Issue.record("expected retry after the header's answer was lost"); return }
            guard case .retryLater = await h.post(id) else { Issue.record("expected retry after the first line's answer was lost"); return }
            let headers = h.salesOrders(reference: "WC\(id)")
            #expect(headers.count == 1)
            let number = try #require(headers.first?["SalesOrderNumber"]?.stringValue)
            #expect(number != "WC\(id)")   // numbered by F&O's sequence
            #expect(await h.post(id) == .posted(salesOrderNumber: number))
            #expect(h.rows("SalesOrderLines", "SalesOrderNumber", number).count == 2)
            #expect(h.lineAmounts(salesOrder: number).reduce(0, +) == Decimal(30))
        }
    }

    @Test func concurrentWorkersPostOnce() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            let results = await withTaskGroup(of: PostResult.self) { group in
                for _ in 0..<4 { group.addTask { await h.post(id) } }
                var all: [PostResult] = []
                for await result in group { all.append(result) }
                return all
            }
            #expect(results.contains(.posted(salesOrderNumber: "WC\(id)")))
            // Whoever did not get the order's lease was told to retry; nobody posted twice.
            for _ in 0..<3 { _ = await h.post(id) }
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
            #expect(h.rows("CustomerPaymentJournalLines", "PaymentReference", "WC\(id)P").count == 1)
        }
    }

    @Test func anEditAfterPostingParksAndChangesNothingButItsRefundsStillPost() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            // A mapping change is not an edit of the order.
            var remapped = h.connection
            remapped.mapping.warehouse = "12"
            try await ConnectionRepository(store: h.store).update(remapped, key: h.key)
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))

            let lineID = try #require(try await h.shop.send("/orders/\(id)", method: "GET")["line_items"]?.arrayValue?.first?["id"]?.intValue)
            try await h.shop.send("/orders/\(id)", #"{"line_items":[{"id":\#(lineID),"quantity":3}]}"#, method: "PUT")
            try await h.shop.send("/orders/\(id)/refunds", #"{"amount":"5.00","reason":"late","api_refund":false}"#)
            guard case .parked(let reason) = await h.post(id) else { Issue.record("expected parked"); return }
            #expect(reason.contains("edited") && reason.contains("WC\(id)") && reason.contains("--accept-edits"))
            #expect(h.lineAmounts(salesOrder: "WC\(id)").reduce(0, +) == Decimal(30))
            let refunds = h.dynamics.records("CustomerPaymentJournalLines").filter { ($0["PaymentReference"]?.stringValue ?? "").hasPrefix("WC\(id)R") }
            #expect(refunds.count == 1)

            // After a person adjusted F&O: accept the current state; the order is posted again, nothing written.
            #expect(try await h.poster.acceptCurrentState(connectionID: "acme", orderID: id))
            let before = h.dynamics.requestLog.filter { $0.method != "GET" }.count
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            #expect(h.dynamics.requestLog.filter { $0.method != "GET" }.count == before)
        }
    }

    @Test func aCancelledOrderThatWasPostedParksNamingTheSalesOrder() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            try await h.shop.send("/orders/\(id)", #"{"status":"cancelled"}"#, method: "PUT")
            guard case .parked(let reason) = await h.post(id) else { Issue.record("expected parked"); return }
            #expect(reason.contains("cancelled") && reason.contains("WC\(id)"))
        }
    }

    @Test func aForeignSalesOrderUnderTheReferenceParks() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            try h.dynamics.insert("SalesOrderHeadersV2", ["dataAreaId": "usmf", "SalesOrderNumber": "SO-9999", "CustomersOrderReference": .string("WC\(id)"),
                                                          "OrderingCustomerAccountNumber": .string(DynamicsEmulator.Seed.guestAccount), "InvoiceCustomerAccountNumber": .string(DynamicsEmulator.Seed.guestAccount),
                                                          "CurrencyCode": "EUR", "RequestedShippingDate": "2026-11-26T12:00:00Z"])
            guard case .parked(let reason) = await h.post(id) else { Issue.record("expected parked"); return }
            #expect(reason.contains("SO-9999"))
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
        }
    }

    @Test func aPostedJournalIsNotReused() async throws {
        try await PostingHarness.run { h in
            let first = try await h.paidOrder()
            #expect(await h.post(first) == .posted(salesOrderNumber: "WC\(first)"))
            let journal = try #require(h.rows("CustomerPaymentJournalLines", "PaymentReference", "WC\(first)P").first?["JournalBatchNumber"]?.stringValue)
            try h.dynamics.markJournalPosted(company: "usmf", journalBatchNumber: journal)
            let second = try await h.paidOrder()
            #expect(await h.post(second) == .posted(salesOrderNumber: "WC\(second)"))
            let other = h.rows("CustomerPaymentJournalLines", "PaymentReference", "WC\(second)P").first?["JournalBatchNumber"]?.stringValue
            #expect(other != nil && other != journal)
        }
    }

    /// A wrong client secret fails every order alike: they stay pending behind one alert
    /// instead of each being parked, and post once the secret is fixed.
    @Test func rejectedCredentialsKeepOrdersPendingBehindOneAlert() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            var broken = h.connection
            broken.dynamics.clientSecret = SecretValue("not-the-secret")
            try await ConnectionRepository(store: h.store).update(broken, key: h.key)
            guard case .retryLater(let reason, _) = await h.post(id) else { Issue.record("expected retry"); return }
            #expect(reason.contains("AADSTS7000215"))
            let alerts = try await AlertCenter(store: h.store, clock: h.clock).list(connection: "acme")
            #expect(alerts.contains { $0.reason == "credentials-rejected" })
            #expect(!alerts.contains { $0.reason == "record-parked" })
            #expect(try await h.store.get(Keyspace.pending("acme", kind: "order", resourceID: String(id))) != nil)
            try await ConnectionRepository(store: h.store).update(h.connection, key: h.key)
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
        }
    }

    /// A transient failure leaves the order pending with a growing delay; drains leave it alone
    /// until then, and take it after.
    @Test func transientFailuresWaitOutGrowingDelays() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            try await h.store.set(Keyspace.pending("acme", kind: "order", resourceID: String(id)),
                                  PendingWork(connection: "acme", kind: "order", resourceID: String(id), firstSeenAt: h.clock.now(), origin: "test").encoded())
            var faults = DynamicsEmulator.Faults()
            faults.failNext = 1_000
            faults.failStatus = 503
            h.dynamics.setFaults(faults)
            let function = OrderPosterFunction(poster: h.poster, store: h.store)
            let context = InvocationContext(function: "order-poster", invocationID: "t", logger: h.logger)
            #expect(await function.drain(connection: "acme", context: context).kind == .retry)
            let key = Keyspace.pending("acme", kind: "order", resourceID: String(id))
            let first = try #require(try await h.store.getJSON(PendingWork.self, key)?.value)
            #expect(first.attempts == 1)
            #expect(abs((first.retryAt ?? .distantPast).timeIntervalSince(h.clock.now()) - 30) < 5)
            let requests = h.dynamics.requestLog.count
            // Before the delay: untouched, and the drain itself succeeded (nothing was due).
            let early = await function.drain(connection: "acme", context: context)
            #expect(early.kind == .done && String(decoding: early.body, as: UTF8.self).contains("\"deferred\":1"))
            #expect(h.dynamics.requestLog.count == requests)
            // After it: tried again, and the next delay is longer.
            h.clock.advance(by: 31)
            _ = await function.drain(connection: "acme", context: context)
            let second = try #require(try await h.store.getJSON(PendingWork.self, key)?.value)
            #expect(second.attempts == 2)
            #expect((second.retryAt ?? .distantPast).timeIntervalSince(h.clock.now()) > 50)
            // F&O back: the next due drain posts it and clears the work.
            h.dynamics.setFaults(.init())
            h.clock.advance(by: 3_600)
            #expect(await function.drain(connection: "acme", context: context).kind == .done)
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
            #expect(try await h.store.get(key) == nil)
        }
    }

    @Test func anOrderDeletedInWooCommerceIsSkippedOrParkedNamingTheSalesOrder() async throws {
        try await PostingHarness.run { h in
            let early = try await h.paidOrder()
            try await h.shop.send("/orders/\(early)?force=true", method: "DELETE")
            guard case .skipped(let reason) = await h.post(early) else { Issue.record("expected skipped"); return }
            #expect(reason.contains("no longer exists"))

            let late = try await h.paidOrder()
            #expect(await h.post(late) == .posted(salesOrderNumber: "WC\(late)"))
            try await h.shop.send("/orders/\(late)?force=true", method: "DELETE")
            guard case .parked(let parked) = await h.post(late) else { Issue.record("expected parked"); return }
            #expect(parked.contains("WC\(late)") && parked.contains("deleted"))
        }
    }

    @Test func rejectedWooCommerceKeysRaiseTheCredentialsAlert() async throws {
        try await PostingHarness.run { h in
            let id = try await h.paidOrder()
            var broken = h.connection
            broken.woocommerce.consumerSecret = SecretValue("cs_wrong")
            try await ConnectionRepository(store: h.store).update(broken, key: h.key)
            guard case .retryLater(let reason, _) = await h.post(id) else { Issue.record("expected retry"); return }
            #expect(reason.contains("woocommerce_rest_authentication_error"))
            let alerts = try await AlertCenter(store: h.store, clock: h.clock).list(connection: "acme")
            #expect(alerts.contains { $0.reason == "credentials-rejected" })
        }
    }

    /// SPEC §8: tax is compared within the tolerance; a difference parks the order naming it,
    /// until a person accepts it.
    @Test func aTaxDifferenceParksNamingItUntilAccepted() async throws {
        var options = PostingHarness.Options()
        options.dynamics.salesTaxRates = ["CA/FULL": 8, "CA/EXEMPT": 3]
        try await PostingHarness.run(options: options) { h in
            let id = try await h.paidOrder()
            guard case .parked(let reason) = await h.post(id) else { Issue.record("expected parked"); return }
            #expect(reason.contains("sales tax is 2.4") && reason.contains("WooCommerce's is 2.17") && reason.contains("tolerance 0.01"), "\(reason)")
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
            guard case .parked = await h.post(id) else { Issue.record("a tax difference stays parked"); return }
            #expect(try await h.poster.acceptCurrentState(connectionID: "acme", orderID: id))
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
        }
    }

    @Test(arguments: StoreBackend.available)
    func everyStoreBackendCarriesTheFlow(_ backend: StoreBackend) async throws {
        let store = try await backend.make()
        try await PostingHarness.run(store: store) { h in
            let id = try await h.paidOrder()
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            #expect(await h.post(id) == .posted(salesOrderNumber: "WC\(id)"))
            #expect(h.salesOrders(reference: "WC\(id)").count == 1)
            #expect(try await h.store.get(Keyspace.orderLink("acme", orderID: id)) != nil)
        }
        try await store.close()
    }
}

/// `customer.updated` (SPEC §7): the F&O customer follows name, address and email changes.
@Suite struct CustomerSyncTests {
    @Test func aChangedCustomerIsUpdatedInF_OAndANewOneWaitsForItsFirstOrder() async throws {
        try await PostingHarness.run { h in
            try await h.createWebhooks()
            let billing = #""billing":{"first_name":"Grace","last_name":"Hopper","address_1":"1 Navy Way","city":"Arlington","state":"VA","postcode":"22202","country":"US","email":"grace@example.com"}"#
            let grace = try #require(try await h.shop.send("/customers", #"{"email":"grace@example.com","first_name":"Grace","last_name":"Hopper",\#(billing)}"#)["id"]?.intValue)
            let lurker = try #require(try await h.shop.send("/customers", #"{"email":"lurker@example.com","first_name":"Lou","last_name":"Ker"}"#)["id"]?.intValue)
            let mug = try await h.shop.simpleProduct(sku: "MUG-01", name: "Coffee mug", price: "12.50")
            _ = try await h.shop.order(#"{"customer_id":\#(grace),"payment_method":"stripe","set_paid":true,\#(billing),"line_items":[{"product_id":\#(mug),"quantity":1}]}"#)
            _ = await h.woo.runDeliveries()
            await h.drainUntilDone()
            let account = "WC" + String(repeating: "0", count: 8 - String(grace).count) + String(grace)
            let before = try #require(h.rows("CustomersV3", "CustomerAccount", account).first)
            #expect(before["PersonLastName"]?.stringValue == "Hopper")

            try await h.shop.send("/customers/\(grace)", #"{"last_name":"Hopper-Murray","billing":{"last_name":"Hopper-Murray","city":"Washington","state":"DC","postcode":"20001","email":"grace.hopper@example.com"}}"#, method: "PUT")
            try await h.shop.send("/customers/\(lurker)", #"{"last_name":"Kerr"}"#, method: "PUT")
            _ = await h.woo.runDeliveries()
            #expect(try await h.store.get(Keyspace.pending(h.connection.id, kind: "customer", resourceID: String(grace))) != nil)
            await h.drainUntilDone()
            let after = try #require(h.rows("CustomersV3", "CustomerAccount", account).first)
            #expect(after["PersonLastName"]?.stringValue == "Hopper-Murray")
            #expect(after["AddressCity"]?.stringValue == "Washington")
            #expect(after["PrimaryContactEmail"]?.stringValue == "grace.hopper@example.com")
            #expect(after["CustomerGroupId"]?.stringValue == "WEB")
            // A customer who never ordered is not created by a profile change.
            #expect(h.rows("CustomersV3", "CustomerAccount", "WC" + String(repeating: "0", count: 8 - String(lurker).count) + String(lurker)).isEmpty)
            let record = try await AuditRecords(store: h.store, clock: h.clock, retention: .seconds(60)).load(connection: h.connection.id, kind: "customer", id: String(lurker))
            #expect(record?.state == .skipped)
            #expect(try await h.store.listAll(prefix: Keyspace.pending(h.connection.id, kind: "customer")).isEmpty)
        }
    }
}
