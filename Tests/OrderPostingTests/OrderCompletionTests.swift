import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRuntime
import ConnectorSandbox
import ConnectorStore
import ConnectorTestSupport
import DynamicsEmulator
import Foundation
import Logging
import Testing
import WooCommerceEmulator

/// Issue 6 item 3: F&O invoices a sales order → its business event reaches webhook-receiver →
/// backfill-poll's completion step sets the WooCommerce order completed with the invoice
/// number in a note — once; and the poll completes what a lost event did not.
@Suite struct OrderCompletionTests {
    /// The harness plus a business-event receiver (its own webhook-receiver, logging into a
    /// captured sink, its wake-ups recorded), F&O's endpoint pointed at it with the
    /// connection's code, and backfill-poll with completion.
    struct Rig: Sendable {
        let h: PostingHarness
        let code: String
        let port: Int
        /// An endpoint that is up but failing (503 to everything), as a receiver in trouble is.
        let downPort: Int
        let wakeUps: RecordedWakeUps
        let function: BackfillPollFunction
        let completion: OrderCompletion
        let logs: CapturingLogSink
        let emulatorLogs: CapturingLogSink

        var endpoint: String { "http://127.0.0.1:\(port)/events/dynamics/\(h.connection.id)" }
        var downEndpoint: String { "http://127.0.0.1:\(downPort)/events/dynamics/\(h.connection.id)?code=\(code)" }
        var context: InvocationContext { InvocationContext(function: "backfill-poll", invocationID: "test", logger: h.logger) }

        /// A posted order and its sales order number.
        func postedOrder() async throws -> (orderID: Int, salesOrder: String) {
            let id = try await h.paidOrder()
            guard case .posted(let number) = await h.post(id) else { throw TestFailure("order \(id) was not posted") }
            return (id, number)
        }

        func wooOrder(_ id: Int) async throws -> WooJSON { try await h.shop.send("/orders/\(id)", method: "GET") }

        func notes(_ id: Int, containing text: String) async throws -> Int {
            try await h.shop.send("/orders/\(id)/notes", method: "GET").arrayValue?.filter { $0["note"]?.stringValue?.contains(text) == true }.count ?? -1
        }

        /// Hands every recorded wake-up to backfill-poll, as K_SINK would; the outcomes.
        func deliverWakeUps(from index: Int = 0) async -> [Outcome] {
            var outcomes: [Outcome] = []
            for event in wakeUps.sent.dropFirst(index) { outcomes.append(await function.handle(event: event, context: context)) }
            return outcomes
        }

        func tick() async -> Outcome {
            let data = #"{"connection":"\#(h.connection.id)"}"#
            return await function.handle(event: CloudEvent(id: UUID().uuidString, source: "/test", type: BackfillPollFunction.tick, data: Array(data.utf8)), context: context)
        }

        func pendingInvoices() async throws -> [String] {
            let prefix = Keyspace.pending(h.connection.id, kind: BusinessEventIntake.pendingKind)
            return try await h.store.listAll(prefix: prefix).map { String($0.key.dropFirst(prefix.count)) }
        }

        func link(_ id: Int) async throws -> OrderLink? {
            try await h.store.getJSON(OrderLink.self, Keyspace.orderLink(h.connection.id, orderID: id))?.value
        }
    }

    /// A receiver that is down: 503 to every request.
    struct Unavailable: FunctionHandler {
        func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome { .retry("down for maintenance") }
        func handle(event: CloudEvent, context: InvocationContext) async -> Outcome { .retry("down for maintenance") }
    }

    struct TestFailure: Error, CustomStringConvertible {
        var description: String
        init(_ text: String) { description = text }
    }

    /// POSTs raw bytes; the status.
    static func post(_ url: String, _ body: [UInt8]) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(body)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    static func withRig(_ body: @Sendable (Rig) async throws -> Void) async throws {
        let (emulatorLogger, emulatorLogs) = TestLogging.logger("dynamics-emulator", level: .trace)
        // The emulator's 3 retries 1 s apart wait on a recorded sleeper, not the wall clock.
        let dynamics = try Sandbox.dynamics(sleeper: RecordingSleeper(), logger: emulatorLogger)
        try await dynamics.withRunningServer { foURL in
            try await PostingHarness.run(options: PostingHarness.Options(), dynamics: dynamics, foURL: foURL) { h in
                let (logger, logs) = TestLogging.logger("webhook-receiver", level: .trace)
                let wakeUps = RecordedWakeUps()
                let handler = WebhookReceiverFunction(store: h.store, masterKey: h.key, settings: IntakeSettings(), clock: h.clock, wakeUp: wakeUps)
                var settings = try RuntimeSettings(environment: ["PORT": "0", "MLC_HOST": "127.0.0.1"])
                settings.port = 0
                let receiver = HTTPMode(function: "webhook-receiver", handler: handler, settings: settings, logger: logger)
                let down = HTTPMode(function: "webhook-receiver", handler: Unavailable(), settings: settings, logger: h.logger)
                try await down.withRunningServer { downPort in try await receiver.withRunningServer { port in
                    let code = try await ConnectionRepository(store: h.store).load(h.connection.id, key: h.key).dynamics.businessEventCode.reveal()
                    h.dynamics.setBusinessEventEndpoint("http://127.0.0.1:\(port)/events/dynamics/\(h.connection.id)?code=\(code)", company: "usmf")
                    let connections = StoredConnections(repository: ConnectionRepository(store: h.store), key: h.key, clock: h.clock, freshness: 0)
                    let completion = OrderCompletion(store: h.store, connections: connections, remotes: h.remotes, clock: h.clock)
                    let poll = BackfillPoll(store: h.store, connections: connections, remotes: h.remotes, clock: h.clock, wakeUp: nil, settings: .init())
                    try await body(Rig(h: h, code: code, port: port, downPort: downPort, wakeUps: wakeUps, function: BackfillPollFunction(poll: poll, completion: completion),
                                       completion: completion, logs: logs, emulatorLogs: emulatorLogs))
                } }
            }
        }
    }

    @Test func anInvoicedOrderIsCompletedOnceWithTheInvoiceNumberEvenWhenTheEventComesThreeTimes() async throws {
        try await Self.withRig { r in
            let (id, salesOrder) = try await r.postedOrder()
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "processing")

            let invoice = try await r.h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: salesOrder)
            #expect(r.h.dynamics.deliveredEvents.count == 1, "the receiver answered F&O's first attempt with a 2xx")
            #expect(r.h.dynamics.deliveredEvents.first?.attempts == 1)
            // The same event twice more (F&O's at-least-once delivery, or a resend).
            let payload = try #require(r.h.dynamics.deliveredEvents.first?.payload.encoded())
            for _ in 0..<2 { #expect(try await Self.post(r.endpoint + "?code=\(r.code)", payload) == 200) }
            #expect(try await r.pendingInvoices() == [salesOrder], "one hand-off for three deliveries")
            #expect(r.wakeUps.sent.count == 1)
            #expect(r.wakeUps.sent.first?.type == BusinessEventIntake.invoicedEventType)
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "processing", "the receiver only records and hands on")

            // The wake-up, delivered three times at once (K_SINK duplicates, a racing poll).
            let event = try #require(r.wakeUps.sent.first)
            let outcomes = await withTaskGroup(of: Outcome.self) { group in
                for _ in 0..<3 { group.addTask { await r.function.handle(event: event, context: r.context) } }
                return await group.reduce(into: [Outcome]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0.reason == "completed" }.count == 1, "exactly one worker completes it: \(outcomes.map(\.reason))")
            #expect(outcomes.allSatisfy { ["completed", "alreadyCompleted", "busy"].contains($0.reason) })
            // And once more, late (a wake-up redelivered after the work was done).
            #expect(await r.function.handle(event: event, context: r.context).reason == "alreadyCompleted")

            let order = try await r.wooOrder(id)
            #expect(order["status"]?.stringValue == "completed")
            #expect(try await r.notes(id, containing: invoice) == 1, "one note naming \(invoice)")
            #expect(try await r.notes(id, containing: salesOrder) == 1)
            let link = try #require(try await r.link(id))
            #expect(link.completedAt != nil)
            #expect(link.invoiceNumbers == [invoice])
            #expect(try await r.pendingInvoices().isEmpty)
            // WooCommerce's order.updated for the status change reaches order-poster: not an edit.
            if case .parked(let reason) = await r.h.post(id) { Issue.record("completing the order parked it: \(reason)") }

            // Later polls leave it alone: nothing is read for it, nothing changes.
            let outcome = await r.tick()
            #expect(outcome.kind == .done)
            let json = String(decoding: outcome.body, as: UTF8.self)
            #expect(json.contains(#""completion":{"paused":false,"pendingTaken":0,"checked":0"#), "\(json)")
            #expect(try await r.notes(id, containing: invoice) == 1)

            // The trail: one received event, one completion.
            let trail = try await AuditTrail(store: r.h.store, clock: r.h.clock, retention: .seconds(3600)).list(connection: r.h.connection.id)
            #expect(trail.filter { $0.subject == "business-event" && $0.event == "received" }.count == 1)
            #expect(trail.filter { $0.subject == "order" && $0.event == "completed" }.count == 1)
            let record = try await AuditRecords(store: r.h.store, clock: r.h.clock, retention: .seconds(3600)).load(connection: r.h.connection.id, kind: "order", id: String(id))
            #expect(record?.keys["invoices"] == invoice)
            #expect(record?.timeline.contains { $0.step == "completed" } == true)
        }
    }

    @Test func aWrongOrMissingCodeGets401AndChangesNothing() async throws {
        try await Self.withRig { r in
            let (id, salesOrder) = try await r.postedOrder()
            // F&O configured with a stale code: every attempt is refused, the event is parked.
            r.h.dynamics.setBusinessEventEndpoint(r.endpoint + "?code=" + String(repeating: "x", count: 43), company: "usmf")
            try await r.h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: salesOrder)
            #expect(r.h.dynamics.deliveredEvents.isEmpty)
            #expect(r.h.dynamics.failedEvents.count == 1)
            #expect(r.h.dynamics.failedEvents.first?.lastError == "HTTP 401")
            #expect(r.h.dynamics.failedEvents.first?.attempts == 4, "one attempt and F&O's 3 retries")

            let payload = try #require(r.h.dynamics.failedEvents.first?.payload.encoded())
            #expect(try await Self.post(r.endpoint, payload) == 401, "no code")
            #expect(try await Self.post(r.endpoint + "?code=", payload) == 401, "empty code")
            #expect(try await Self.post(r.endpoint + "?code=\(r.code.dropLast())", payload) == 401, "a prefix of the code")
            #expect(try await Self.post("http://127.0.0.1:\(r.port)/events/dynamics/nosuch?code=\(r.code)", payload) == 404, "unknown connection")

            #expect(try await r.h.store.listAll(prefix: Keyspace.businessEvents(r.h.connection.id)).isEmpty)
            #expect(try await r.pendingInvoices().isEmpty)
            #expect(r.wakeUps.sent.isEmpty)
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "processing")
            let trail = try await AuditTrail(store: r.h.store, clock: r.h.clock, retention: .seconds(3600)).list(connection: r.h.connection.id)
            #expect(trail.filter { $0.event.hasPrefix("rejected.code") }.count == 4 + 3)

            // Resent with the right endpoint (F&O's "Resend"), it is taken.
            r.h.dynamics.setBusinessEventEndpoint(r.endpoint + "?code=\(r.code)", company: "usmf")
            #expect(await r.h.dynamics.resendFailedEvents() == 1)
            #expect(await r.deliverWakeUps().map(\.reason) == ["completed"])
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "completed")
        }
    }

    @Test func withTheEventEndpointDownTheNextPollCompletesTheOrder() async throws {
        try await Self.withRig { r in
            let (id, salesOrder) = try await r.postedOrder()
            let (other, _) = try await r.postedOrder()
            // The endpoint answers 503 to every attempt: F&O retries 3 times, then parks the event.
            r.h.dynamics.setBusinessEventEndpoint(r.downEndpoint, company: "usmf")
            let invoice = try await r.h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: salesOrder)
            #expect(r.h.dynamics.failedEvents.count == 1)
            #expect(r.h.dynamics.failedEvents.first?.attempts == 4)
            #expect(r.wakeUps.sent.isEmpty)
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "processing")

            let outcome = await r.tick()
            #expect(outcome.kind == .done)
            let json = String(decoding: outcome.body, as: UTF8.self)
            #expect(json.contains(#""checked":2,"batches":1,"completed":1,"notFullyInvoiced":1"#), "\(json)")
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "completed")
            #expect(try await r.notes(id, containing: invoice) == 1)
            #expect(try await r.wooOrder(other)["status"]?.stringValue == "processing", "the order F&O has not invoiced stays open")

            // Paused (F&O maintenance): the event is still recorded, but neither its wake-up nor the
            // poll reads or completes anything — until resumed.
            let (third, thirdSO) = try await r.postedOrder()
            try await ConnectionControl(store: r.h.store).setPaused(r.h.connection.id, true, at: r.h.clock.now())
            r.h.dynamics.setBusinessEventEndpoint(r.endpoint + "?code=\(r.code)", company: "usmf")
            try await r.h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: thirdSO)
            #expect(try await r.pendingInvoices() == [thirdSO])
            #expect(await r.deliverWakeUps().map(\.reason) == ["paused"])
            let paused = try await r.completion.run(connectionID: r.h.connection.id, logger: r.h.logger)
            #expect(paused.paused && paused.checked == 0 && paused.completed == 0)
            #expect(try await r.wooOrder(third)["status"]?.stringValue == "processing")
            #expect(try await r.pendingInvoices() == [thirdSO], "the work waits")
            try await ConnectionControl(store: r.h.store).setPaused(r.h.connection.id, false, at: r.h.clock.now())
            let resumed = try await r.completion.run(connectionID: r.h.connection.id, logger: r.h.logger)
            #expect(resumed.pendingTaken == 1 && resumed.completed == 1)
            #expect(try await r.wooOrder(third)["status"]?.stringValue == "completed")
            #expect(try await r.pendingInvoices().isEmpty)
        }
    }

    @Test func aThrottledF_O_HoldsCompletionBackUntilItLetsGo() async throws {
        try await Self.withRig { r in
            let (id, salesOrder) = try await r.postedOrder()
            r.h.dynamics.setBusinessEventEndpoint(r.downEndpoint, company: "usmf")
            try await r.h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: salesOrder)
            var faults = r.h.dynamics.faults
            faults.throttleNext = 4
            faults.throttleRetryAfter = 30
            r.h.dynamics.setFaults(faults)

            // F&O answers 429 to every try of the read-back: the run gives up, asks to be retried,
            // and the environment's throttledUntil is in the store for every instance.
            let throttled = await r.tick()
            #expect(throttled.kind == .retry, "\(throttled.reason)")
            #expect(throttled.retryAfter != nil)
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "processing")
            let host = try #require(r.h.dynamicsURL.host)
            #expect(try await r.h.store.get(Keyspace.throttle(environment: host)) != nil)
            #expect(r.h.sleeper.recorded.contains(30), "Retry-After was honoured: \(r.h.sleeper.recorded)")

            // Later, F&O lets go: the next poll completes it.
            let later = await r.tick()
            #expect(later.kind == .done, "\(later.reason)")
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "completed")
        }
    }

    @Test func aPartialInvoiceDoesNotCompleteTheOrderTheRestDoes() async throws {
        try await Self.withRig { r in
            let (id, salesOrder) = try await r.postedOrder()
            let lines = r.h.rows("SalesOrderLines", "SalesOrderNumber", salesOrder)
            let mug = try #require(lines.first { $0["ItemNumber"]?.stringValue == "MUG-01" })
            let lot = try #require(mug["InventoryLotId"]?.stringValue)
            #expect(lines.count == 2, "the mugs and the freight line")

            // One of the two mugs.
            let first = try await r.h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: salesOrder, quantities: [lot: 1])
            #expect(r.h.salesOrders(reference: "WC\(id)").first?["SalesOrderProcessingStatus"]?.stringValue == "PartiallyInvoiced")
            #expect(await r.deliverWakeUps().map(\.reason) == ["notFullyInvoiced"])
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "processing")
            #expect(try await r.notes(id, containing: first) == 0)
            #expect(try await r.link(id)?.completedAt == nil)
            let poll = try await r.completion.run(connectionID: r.h.connection.id, logger: r.h.logger)
            #expect(poll.checked == 1 && poll.completed == 0 && poll.notFullyInvoiced == 1)

            // The rest: now all of it is invoiced, over two invoices.
            let second = try await r.h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: salesOrder)
            #expect(await r.deliverWakeUps(from: 1).map(\.reason) == ["completed"])
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "completed")
            #expect(try await r.notes(id, containing: "\(first), \(second)") == 1)
            #expect(try await r.link(id)?.invoiceNumbers == [first, second])
        }
    }

    @Test func eventsForOrdersTheConnectorDidNotCreateAndUnknownEventsAreAcknowledgedOnly() async throws {
        try await Self.withRig { r in
            let (id, salesOrder) = try await r.postedOrder()
            let header = try #require(r.h.salesOrders(reference: "WC\(id)").first)
            let account = try #require(header["OrderingCustomerAccountNumber"]?.stringValue)
            let item = try #require(r.h.rows("SalesOrderLines", "SalesOrderNumber", salesOrder).first?["ItemNumber"]?.stringValue)
            // Two orders keyed in by hand in F&O: one by phone, one with a look-alike reference.
            for (number, reference) in [("MAN-000001", "PHONE-77"), ("MAN-000002", "WC\(id)")] {
                try r.h.dynamics.insert("SalesOrderHeadersV2", ["dataAreaId": "usmf", "SalesOrderNumber": .string(number), "OrderingCustomerAccountNumber": .string(account),
                                                                "CurrencyCode": "USD", "CustomersOrderReference": .string(reference)])
                try r.h.dynamics.insert("SalesOrderLines", ["dataAreaId": "usmf", "SalesOrderNumber": .string(number), "ItemNumber": .string(item), "OrderedSalesQuantity": 1])
                try await r.h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: number)
            }
            #expect(r.h.dynamics.deliveredEvents.count == 2, "both acknowledged with a 2xx")
            #expect(await r.deliverWakeUps().map(\.reason) == ["notOurs", "notOurs"])
            #expect(try await r.pendingInvoices().isEmpty)
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "processing")
            #expect(try await r.link(id)?.completedAt == nil)

            // An event type the connector does not act on, and one for another company.
            let freeText = #"{"BusinessEventId":"CustFreeTextInvoicePostedBusinessEvent","BusinessEventLegalEntity":"USMF","ControlNumber":5637999001,"EventId":"0B6E3F7A-1C2D-4E5F-8A9B-0C1D2E3F4A5B","EventTime":"/Date(1740650400000)/","InvoiceId":"FTI-000001","LegalEntity":"usmf","MajorVersion":0,"MinorVersion":0}"#
            let otherCompany = #"[{"BusinessEventId":"SalesInvoicePostedBusinessEvent","BusinessEventLegalEntity":"DEMF","ControlNumber":5637999002,"EventId":"1B6E3F7A-1C2D-4E5F-8A9B-0C1D2E3F4A5B","InvoiceId":"CIV-000009","LegalEntity":"demf","SalesOrderId":"\#(salesOrder)"}]"#
            for body in [freeText, otherCompany] { #expect(try await Self.post(r.endpoint + "?code=\(r.code)", Array(body.utf8)) == 200) }
            #expect(r.wakeUps.sent.count == 2, "no hand-off for either")
            #expect(try await r.pendingInvoices().isEmpty)
            let trail = try await AuditTrail(store: r.h.store, clock: r.h.clock, retention: .seconds(3600)).list(connection: r.h.connection.id)
            #expect(trail.filter { $0.event == "ignored" }.compactMap { $0.detail["type"] }.sorted() == ["CustFreeTextInvoicePostedBusinessEvent", "SalesInvoicePostedBusinessEvent"])
            #expect(trail.filter { $0.event == "ignored.not-ours" }.count == 2)
            #expect(try await r.wooOrder(id)["status"]?.stringValue == "processing")

            // Not an event at all: a clear 400.
            #expect(try await Self.post(r.endpoint + "?code=\(r.code)", Array(#"{"hello":1}"#.utf8)) == 400)
        }
    }

    @Test func theCodeNeverReachesALogLineTheAuditTrailOrTheStore() async throws {
        try await Self.withRig { r in
            let (_, salesOrder) = try await r.postedOrder()
            let payload = Array(#"{"BusinessEventId":"SalesInvoicePostedBusinessEvent","EventId":"2B6E3F7A-1C2D-4E5F-8A9B-0C1D2E3F4A5B","LegalEntity":"usmf","SalesOrderId":"\#(salesOrder)"}"#.utf8)
            // A wrong code that shares a long prefix with the right one, the right one, a parked delivery.
            #expect(try await Self.post(r.endpoint + "?code=\(r.code.prefix(40))zzz", payload) == 401)
            #expect(try await Self.post(r.endpoint + "?code=\(r.code)", payload) == 200)
            r.h.dynamics.setBusinessEventEndpoint(r.downEndpoint, company: "usmf")
            try await r.h.dynamics.markInvoiced(company: "usmf", salesOrderNumber: salesOrder)
            _ = await r.deliverWakeUps()
            _ = await r.tick()

            let lines = r.logs.lines + r.emulatorLogs.lines
            #expect(lines.contains { $0.contains("business_event.rejected") }, "the rejection was logged")
            #expect(lines.contains { $0.contains("business_event.accepted") })
            #expect(r.emulatorLogs.lines.contains { $0.contains("business event delivery failed") })
            #expect(!lines.contains { $0.contains(r.code) }, "no log line holds the code")
            #expect(!lines.contains { $0.contains(String(r.code.prefix(40))) }, "nor the wrong code's prefix")
            for item in try await r.h.store.listAll(prefix: "") {
                let text = String(decoding: item.value, as: UTF8.self)
                #expect(!text.contains(r.code) && !item.key.contains(r.code), "\(item.key) holds the code")
            }
        }
    }

    static let fixtures = PackagePaths.root.appendingPathComponent("functions/webhook-receiver/events/dynamics")

    /// The body of one shipped once-mode fixture (a captured request).
    static func fixtureBody(_ name: String) throws -> [UInt8] {
        let object = try JSONSerialization.jsonObject(with: Data(contentsOf: fixtures.appendingPathComponent(name))) as? [String: Any]
        return Array(try #require(object?["body"] as? String).utf8)
    }

    @Test func envelopesParseAsF_O_SendsThem() throws {
        let events = try BusinessEventEnvelope.parse(try Self.fixtureBody("01-sales-invoice-posted.json"))
        #expect(events.count == 1)
        #expect(events.first?.businessEventID == "SalesInvoicePostedBusinessEvent")
        #expect(events.first?.eventID == "1D8C2E7A-4B7F-4E1B-9C0F-2A6E5D4C3B21")
        #expect(events.first?.legalEntity == "usmf")
        #expect(events.first?.controlNumber == 5_637_998_811)
        #expect(events.first?.salesOrderNumber == "000812")
        #expect(events.first?.invoiceNumber == "CIV-000231")
        #expect(events.first?.eventTime == Date(timeIntervalSince1970: 1_740_650_400))
        #expect(BusinessEventEnvelope.dotNetDate("/Date(1740614400000+0000)/") == Date(timeIntervalSince1970: 1_740_614_400))
        #expect(BusinessEventEnvelope.dotNetDate("2025-02-27") == nil)
        #expect(throws: ConnectorError.self) { try BusinessEventEnvelope.parse(Array("[]".utf8)) }
        #expect(throws: ConnectorError.self) { try BusinessEventEnvelope.parse(Array(#"{"BusinessEventId":"X"}"#.utf8)) }
        #expect(throws: ConnectorError.self) { try BusinessEventEnvelope.parse(Array("not json".utf8)) }
    }

    /// The documented once-mode steps of functions/webhook-receiver/README.md for business events.
    @Test func theShippedBusinessEventFixturesWorkInOnceMode() async throws {
        let receiver = try PackagePaths.executable("webhook-receiver")
        let mlc = try PackagePaths.executable("mlc")
        let events = PackagePaths.root.appendingPathComponent("functions/webhook-receiver/events")
        let env = ["MLC_STORE_URL": "sqlite:" + TemporaryDirectory.make().appendingPathComponent("state.sqlite").path,
                   "MLC_MASTER_KEY_FILE": events.appendingPathComponent("local-test-master-key").path, "MLC_LOG_LEVEL": "trace"]
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", events.appendingPathComponent("local-test-connection.json").path], environment: env)
        #expect(add.status == 0, "\(add.stderr)")
        let code = try ConnectionFile.load(path: events.appendingPathComponent("local-test-connection.json").path).dynamics.businessEventCode.reveal()
        #expect(code.count >= 32)
        let expected: [(file: String, exit: Int32, result: String)] = [
            ("01-sales-invoice-posted.json", 0, #""handedOff":1"#), ("02-sales-invoice-posted-repeat.json", 0, #""duplicates":1"#),
            ("03-unknown-event-type.json", 0, #""ignored":1"#), ("04-wrong-code.json", 65, "invalid code"),
        ]
        #expect(try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".json") }.sorted() == expected.map(\.file))
        for step in expected {
            let r = try await ProcessRunner.run(receiver, ["--event-file", Self.fixtures.appendingPathComponent(step.file).path], environment: env)
            #expect(r.status == step.exit, "\(step.file): exit \(r.status) \(r.stdout) \(r.stderr)")
            #expect(r.stdout.contains(step.result), "\(step.file): \(r.stdout)")
            #expect(!(r.stdout + r.stderr).contains(code), "\(step.file): the code reached the output")
            #expect(!(r.stdout + r.stderr).contains("not-the-local-test-business-event-code"), "\(step.file): the wrong code reached the output")
        }
    }
}
