import ConnectorCore
import Foundation
import Testing
@testable import WooCommerceEmulator

/// The captured auto-disable sequence (`webhook-failure-seq-01…10`): after each trigger and
/// queue run, the webhook's REST view and its hidden counter (from each capture's `note`, read
/// from the database) must be what the real store showed.
@Suite struct WebhookFailureReplayTests {
    /// `(status, failure_count)` from a note such as "… date_modified_gmt) at that moment: active, 1, 1, …".
    static func databaseRow(_ capture: RESTCapture) throws -> (status: String, failures: Int) {
        let url = try #require(Bundle.module.url(forResource: "Captures/rest/\(capture.name)", withExtension: "json"))
        let note = try #require(try WooJSON.parse(Array(Data(contentsOf: url)))["note"]?.stringValue)
        let marker = try #require(note.range(of: "date_modified_gmt)"))
        let rest = note[marker.upperBound...]
        let colon = try #require(rest.firstIndex(of: ":"))
        let fields = rest[rest.index(after: colon)...].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        return (fields[0], try #require(Int(fields[1])))
    }

    @Test func autoDisableSequenceMatchesTheCaptures() async throws {
        let clock = ManualWallClock(captureStart)
        var configuration = WooCommerceEmulator.Configuration.captured
        configuration.calculateTaxes = false
        let emulator = WooCommerceEmulator(configuration: configuration, clock: clock)
        let closed = try await closedPortURL()
        let create = try RESTCapture.load("webhook-create-closed-port")
        var body = try #require(create.body?.objectValue)
        body["delivery_url"] = .string(closed.absoluteString)
        let created = await replay(create, on: emulator, body: .object(body))
        #expect(created.status == 201)
        let id = try #require(created.json["id"]?.intValue)
        let order = await call(emulator, "POST", "/orders", .obj([:]))
        let orderID = try #require(order.json["id"]?.intValue)
        await emulator.runDeliveries() // the order's own first update: failure 1 comes from it

        var step = 0
        func trigger() async -> [WooCommerceEmulator.DeliveryAttempt] {
            step += 1
            clock.advance(by: 1)
            _ = await call(emulator, "PUT", "/orders/\(orderID)", .obj(["customer_note": .string("step \(step)")]))
            return await emulator.runDeliveries()
        }
        func check(_ name: String, attempted: Bool, _ attempts: [WooCommerceEmulator.DeliveryAttempt]) async throws {
            let capture = try RESTCapture.load(name)
            let row = try Self.databaseRow(capture)
            #expect(attempts.isEmpty == !attempted, "\(name)")
            let shown = await call(emulator, "GET", "/webhooks/\(id)")
            #expect(valueDifferences(shown.json, capture.json, ignoring: volatileKeys.union(["delivery_url"])).isEmpty, "\(name)")
            #expect(shown.json["status"] == .string(row.status), "\(name)")
            #expect(emulator.webhooks().first { $0.id == id }?.failureCount == row.failures, "\(name)")
        }
        // The first failure was the creation's own order.updated above; re-check it.
        try await check("webhook-failure-seq-01-get-after-failure-1", attempted: true, [emulator.deliveryAttempts.last!])
        let names = [
            "webhook-failure-seq-02-get-after-failure-2", "webhook-failure-seq-03-get-after-failure-3",
            "webhook-failure-seq-04-get-after-failure-4", "webhook-failure-seq-05-get-after-failure-5",
            "webhook-failure-seq-06-get-after-failure-6", "webhook-failure-seq-07-get-after-failure-7",
        ]
        for name in names { try await check(name, attempted: true, await trigger()) }
        try await check("webhook-failure-seq-08-get-after-8th-trigger-no-attempt", attempted: false, await trigger())

        let reactivate = try RESTCapture.load("webhook-reactivate-put-active")
        let put = await replay(reactivate, on: emulator, target: "/wp-json/wc/v3/webhooks/\(id)")
        #expect(valueDifferences(put.json, reactivate.json, ignoring: volatileKeys.union(["delivery_url"])).isEmpty)
        #expect(emulator.webhooks().first?.failureCount == 6)
        try await check("webhook-failure-seq-09-get-after-reactivation-failure-1", attempted: true, await trigger())
        try await check("webhook-failure-seq-10-get-after-reactivation-2nd-trigger-no-attempt", attempted: false, await trigger())
        #expect(emulator.deliveryAttempts.count == 8)

        let list = try RESTCapture.load("webhooks-list-with-failing-webhook")
        let listed = await replay(list, on: emulator)
        #expect(shapeDifferences(listed.json, list.json).isEmpty)
    }
}
