import ConnectorCore
import DynamicsEmulator
import Foundation
import Hummingbird
import Synchronization
import Testing

/// A `$batch` body with one changeset of POSTs (absolute URLs) and optionally a GET outside it.
func batchBody(base: URL, posts: [(String, String)], get: String? = nil) -> String {
    var s = ""
    if let get {
        s += "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: g1\r\n\r\nGET \(get) HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n"
    }
    s += "--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_a\r\n\r\n"
    for (i, post) in posts.enumerated() {
        s += "--changeset_a\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: \(i + 1)\r\n\r\n"
        s += "POST \(base.absoluteString)/data/\(post.0) HTTP/1.1\r\nOData-Version: 4.0\r\nContent-Type: application/json;odata.metadata=minimal;charset=UTF-8\r\n\r\n\(post.1)\r\n"
    }
    s += "--changeset_a--\r\n--batch_1--\r\n"
    return s
}

@Suite struct BatchFaultEventTests {
    let multipart = "multipart/mixed; boundary=batch_1"

    @Test func changesetWithHeaderAndLinesSucceeds() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let body = batchBody(base: wire.base, posts: [
                ("SalesOrderHeadersV2", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-1042","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#),
                ("SalesOrderLines", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-1042","ItemNumber":"MUG-01","OrderedSalesQuantity":2}"#),
                ("SalesOrderLines", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-1042","ItemNumber":"TSHIRT-01","ProductSizeId":"L","ProductColorId":"Blue"}"#),
            ], get: "Currencies?$select=CurrencyCode")
            let reply = try await wire.send("POST", "/data/$batch", body: body, contentType: multipart, token: token)
            #expect(reply.status == 200)
            let boundary = try #require(reply.header("Content-Type")?.components(separatedBy: "boundary=").last)
            #expect(boundary.hasPrefix("batchresponse_"))
            #expect(reply.text.contains("boundary=changesetresponse_"))
            #expect(reply.text.components(separatedBy: "HTTP/1.1 201 Created").count == 4)
            #expect(reply.text.contains("HTTP/1.1 200 OK"))
            for id in ["1", "2", "3"] { #expect(reply.text.contains("Content-ID: \(id)\r\n")) }
            #expect(reply.text.hasSuffix("--\(boundary)--\r\n"))
            #expect(emulator.records("SalesOrderLines").count == 2)
            #expect(emulator.requestLog.last?.batchContentIDs == ["g1", "1", "2", "3"])
        }
    }

    @Test func failingChangesetPersistsNothingAndAnswers200WithOneErrorPart() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let body = batchBody(base: wire.base, posts: [
                ("SalesOrderHeadersV2", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-2","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#),
                ("SalesOrderLines", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-2","ItemNumber":"NOT-RELEASED"}"#),
                ("SalesOrderLines", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-2","ItemNumber":"MUG-01"}"#),
            ])
            let reply = try await wire.send("POST", "/data/$batch", body: body, contentType: multipart, token: token)
            #expect(reply.status == 200)
            #expect(!reply.text.contains("201 Created"))
            #expect(reply.text.components(separatedBy: "HTTP/1.1 400 Bad Request").count == 2)
            #expect(reply.text.contains("Content-ID: 2\r\n") && !reply.text.contains("Content-ID: 1\r\n"))
            #expect(reply.text.contains("'NOT-RELEASED'"))
            #expect(emulator.records("SalesOrderHeadersV2").isEmpty)
            #expect(emulator.records("SalesOrderLines").isEmpty)
        }
    }

    @Test func throttlingInsideAndOutsideBatches() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            var faults = DynamicsEmulator.Faults()
            faults.throttleNext = 1
            faults.throttleRetryAfter = 7
            emulator.setFaults(faults)
            let throttled = try await wire.send("GET", "/data/Currencies", token: token)
            #expect(throttled.status == 429 && throttled.header("Retry-After") == "7")
            #expect(throttled.text.contains("This request could not be processed at this time due to system experiencing high resource utilization. Retry the request after 7 seconds"))
            #expect(try await wire.send("GET", "/data/Currencies", token: token).status == 200)

            faults.throttleNext = 1
            faults.throttleRetryAfter = 12
            emulator.setFaults(faults)
            let body = batchBody(base: wire.base, posts: [("CustomerGroups", #"{"CustomerGroupId":"B1"}"#)], get: "Currencies")
            let reply = try await wire.send("POST", "/data/$batch", body: body, contentType: multipart, token: token)
            #expect(reply.status == 200)
            #expect(reply.text.contains("HTTP/1.1 429 Too Many Requests\r\n"))
            #expect(reply.text.contains("Retry-After: 12\r\n"))
            #expect(reply.text.contains("HTTP/1.1 201 Created"))
            #expect(emulator.faults.throttleNext == 0)
        }
    }

    @Test func gatewayFaultsAndLatency() async throws {
        try await withEmulator { wire, emulator, _, sleeper in
            let token = try await wire.token()
            var faults = DynamicsEmulator.Faults()
            faults.failNext = 2
            faults.failStatus = 503
            faults.failAsHTMLGatewayPage = true
            faults.latencySeconds = 2
            emulator.setFaults(faults)
            let first = try await wire.send("GET", "/data/Currencies", token: token)
            #expect(first.status == 503 && first.text.hasPrefix("<!DOCTYPE html>"))
            #expect(try await wire.send("GET", "/data/Currencies", token: token).status == 503)
            #expect(try await wire.send("GET", "/data/Currencies", token: token).status == 200)
            #expect(sleeper.recorded == [2, 2, 2])
        }
    }

    @Test func lostResponseStillCommitsTheWrite() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            var faults = DynamicsEmulator.Faults()
            faults.loseResponsesOfNextWrites = 1
            emulator.setFaults(faults)
            let lost = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD","CustomersOrderReference":"WC-1"}"#, token: token)
            #expect(lost.status == 504 && lost.body.isEmpty)
            #expect(emulator.records("SalesOrderHeadersV2").map { $0.string("CustomersOrderReference") } == ["WC-1"])
            // A blind retry creates a duplicate order (no unique constraint on the reference).
            _ = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD","CustomersOrderReference":"WC-1"}"#, token: token)
            #expect(emulator.records("SalesOrderHeadersV2").count == 2)

            faults.loseResponsesOfNextWrites = 1
            faults.lostResponseMode = .closeConnection
            emulator.setFaults(faults)
            await #expect(throws: (any Error).self) {
                _ = try await wire.send("POST", "/data/CustomerGroups", body: #"{"CustomerGroupId":"LOST"}"#, token: token)
            }
            #expect(emulator.records("CustomerGroups").contains { $0.string("CustomerGroupId") == "LOST" })
        }
    }

    /// A loopback receiver answering with the statuses given, one per delivery, then 200.
    final class Receiver: Sendable {
        let statuses: Mutex<[Int]>
        let bodies = Mutex<[String]>([])
        init(_ statuses: [Int]) { self.statuses = Mutex(statuses) }
    }

    @Test func businessEventDeliveredRetriedParkedAndResent() async throws {
        let receiver = Receiver([500, 503])
        let router = Router()
        router.post("/events") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            receiver.bodies.withLock { $0.append(String(buffer: body)) }
            let status = receiver.statuses.withLock { $0.isEmpty ? 200 : $0.removeFirst() }
            return Response(status: .init(code: status))
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { continuation.yield($0.localAddress!.port!) })
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await app.runService() }
            var it = ports.makeAsyncIterator()
            let port = try #require(await it.next())
            try await withEmulator({ $0.businessEventURLs = ["usmf": "http://127.0.0.1:\(port)/events"] }) { wire, emulator, _, sleeper in
                let token = try await wire.token()
                let header = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
                let number = header.json["SalesOrderNumber"]!.stringValue!
                _ = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"SalesOrderNumber":"\#(number)","ItemNumber":"POSTER-01","OrderedSalesQuantity":2}"#, token: token)
                let invoice = try await emulator.markInvoiced(company: "usmf", salesOrderNumber: number)
                #expect(invoice == "CIV-000001")
                // Two failures, then delivered on the 3rd attempt; retries 1 s apart.
                #expect(sleeper.recorded == [1, 1])
                #expect(emulator.deliveredEvents.count == 1 && emulator.failedEvents.isEmpty)
                let payload = try #require(emulator.deliveredEvents.first?.payload)
                #expect(payload.objectValue?.keys == payload.objectValue?.keys.sorted())
                #expect(payload["BusinessEventId"] == "SalesInvoicePostedBusinessEvent")
                #expect(payload["InvoiceId"] == "CIV-000001" && payload["SalesOrderId"] == .string(number))
                #expect(payload["InvoiceAmountInAccountingCurrency"] == .decimal("39.98"))
                #expect(payload["EventTime"]?.stringValue?.hasPrefix("/Date(") == true)
                #expect(payload["InvoiceAccount"] == "WEBGUEST" && payload["LegalEntity"] == "usmf")
                let delivered = receiver.bodies.withLock { $0 }
                #expect(delivered.count == 3)
                #expect(try ODataValue.parse(json: Array(delivered.last!.utf8)) == payload)

                // Now every attempt fails: 1 + 3 retries, then parked; resend delivers it.
                receiver.statuses.withLock { $0 = [500, 500, 500, 500] }
                let second = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
                let n2 = second.json["SalesOrderNumber"]!.stringValue!
                _ = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"SalesOrderNumber":"\#(n2)","ItemNumber":"MUG-01"}"#, token: token)
                try await emulator.markInvoiced(company: "usmf", salesOrderNumber: n2)
                #expect(sleeper.recorded == [1, 1, 1, 1, 1])
                #expect(emulator.failedEvents.count == 1 && emulator.failedEvents.first?.attempts == 4)
                let firstControl = payload["ControlNumber"]!.decimalValue!
                let secondControl = emulator.failedEvents.first!.payload["ControlNumber"]!.decimalValue!
                #expect(secondControl > firstControl)
                #expect(await emulator.resendFailedEvents() == 1)
                #expect(emulator.failedEvents.isEmpty && emulator.deliveredEvents.count == 2)
            }
            group.cancelAll()
        }
    }
}
