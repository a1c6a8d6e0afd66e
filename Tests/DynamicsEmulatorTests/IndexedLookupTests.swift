import ConnectorCore
@testable import DynamicsEmulator
import Foundation
import Testing

/// The emulator's tables are indexed as F&O's are: what an order's requests read must not
/// grow with the orders already stored (issue 9: the scale bench's CPU per order doubled
/// from 100 to 1,000 orders because every look-up scanned every sales order and line), and an
/// indexed look-up must find exactly what a scan of every row finds.
@Suite struct IndexedLookupTests {
    let multipart = "multipart/mixed; boundary=batch_1"

    /// The connector's requests for one order (OrderPoster): the existence checks, then header,
    /// lines and payment line in one changeset with the totals read after it.
    func orderBatch(base: URL, _ n: Int) -> String {
        func get(_ id: String, _ target: String) -> String {
            "--batch_1\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: \(id)\r\n\r\nGET \(base.absoluteString)/data/\(target) HTTP/1.1\r\nAccept: application/json\r\n\r\n\r\n"
        }
        let posts = [
            ("SalesOrderHeadersV2", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-\#(n)","CustomersOrderReference":"WC\#(n)","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#),
            ("SalesOrderLines", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-\#(n)","ItemNumber":"MUG-01","OrderedSalesQuantity":2}"#),
            ("SalesOrderLines", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-\#(n)","ItemNumber":"POSTER-01","OrderedSalesQuantity":1}"#),
            ("CustomerPaymentJournalLines", #"{"dataAreaId":"usmf","JournalBatchNumber":"00001","LineNumber":\#(n),"TransactionDate":"2025-02-27T12:00:00Z","AccountType":"Cust","AccountDisplayValue":"WEBGUEST","CreditAmount":45.0,"CurrencyCode":"USD","PaymentReference":"PAY-\#(n)","OffsetAccountType":"Bank","OffsetAccountDisplayValue":"USMF OPER"}"#),
        ]
        var s = get("r1", "SalesOrderHeadersV2?$filter=" + "CustomersOrderReference eq 'WC\(n)'".q + "&$select=SalesOrderNumber")
        s += get("r2", "CustomerPaymentJournalLines?$filter=" + "PaymentReference eq 'PAY-\(n)' or PaymentReference eq 'REF-\(n)'".q)
        s += "--batch_1\r\nContent-Type: multipart/mixed; boundary=changeset_a\r\n\r\n"
        for (i, post) in posts.enumerated() {
            s += "--changeset_a\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\nContent-ID: \(i + 1)\r\n\r\n"
            s += "POST \(base.absoluteString)/data/\(post.0) HTTP/1.1\r\nOData-Version: 4.0\r\nContent-Type: application/json;odata.metadata=minimal;charset=UTF-8\r\n\r\n\(post.1)\r\n"
        }
        s += "--changeset_a--\r\n"
        s += get("r3", "SalesOrderHeadersV2?$filter=" + "SalesOrderNumber eq 'WEB-\(n)'".q + "&$select=SalesOrderNumber,OrderTotalAmount")
        return s + "--batch_1--\r\n"
    }

    @Test func rowsReadPerOrderDoNotGrowWithTheOrdersStored() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let journal = try await wire.send("POST", "/data/CustomerPaymentJournalHeaders", body: #"{"dataAreaId":"usmf","JournalName":"CustPay"}"#, token: token)
            #expect(journal.json["JournalBatchNumber"] == "00001")
            var readsPerOrder: [Int] = []
            for n in 1...120 {
                let before = emulator.rowsRead
                let reply = try await wire.send("POST", "/data/$batch", body: orderBatch(base: wire.base, n), contentType: multipart, token: token)
                readsPerOrder.append(emulator.rowsRead - before)
                #expect(reply.status == 200)
                #expect(reply.text.components(separatedBy: "HTTP/1.1 201 Created").count == 5, "order \(n): \(reply.text.prefix(600))")
                // The existence checks find nothing yet; the totals read finds the new order.
                #expect(reply.text.contains(#""value":[]"#))
                #expect(reply.text.contains(#""SalesOrderNumber":"WEB-\#(n)""#))
            }
            #expect(emulator.records("SalesOrderHeadersV2").count == 120)
            #expect(emulator.records("SalesOrderLines").count == 240)
            #expect(emulator.records("CustomerPaymentJournalLines").count == 120)
            // After 10 orders and after 110 more, an order reads no more rows (a scan read every
            // stored header, line and journal line: hundreds more by the end). Fewer is fine: the
            // on-hand reservation reads fewer warehouse rows once the first one is sold out.
            let early = readsPerOrder[10..<20]
            let late = readsPerOrder[110..<120]
            #expect(late.max()! <= early.max()!, "rows read per order: early \(Array(early)), late \(Array(late))")
            #expect(early.max()! < 100, "rows read per order: \(Array(early))")
        }
    }

    @Test func aFailedChangesetLeavesTheIndexesAsBefore() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let ok = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-1","CustomersOrderReference":"WC1","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            #expect(ok.status == 201)
            let failing = batchBody(base: wire.base, posts: [
                ("SalesOrderHeadersV2", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-2","CustomersOrderReference":"WC2","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#),
                ("SalesOrderLines", #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-2","ItemNumber":"MUG-01"}"#),
                ("SalesOrderHeadersV2", #"{"dataAreaId":"usmf","SalesOrderNumber":"web-1","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#),
            ])
            let reply = try await wire.send("POST", "/data/$batch", body: failing, contentType: multipart, token: token)
            #expect(reply.text.contains("The record already exists") && !reply.text.contains("201 Created"))
            #expect(emulator.records("SalesOrderHeadersV2").count == 1 && emulator.records("SalesOrderLines").isEmpty)
            // Nothing of the rolled-back changeset is found by key or by filter, and its key is free again.
            #expect(try await wire.send("GET", "/data/SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='WEB-2')", token: token).status == 404)
            let byReference = try await wire.send("GET", "/data/SalesOrderHeadersV2?$filter=" + "CustomersOrderReference eq 'wc2'".q, token: token)
            #expect(byReference.status == 200 && byReference.values.isEmpty)
            let again = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"WEB-2","CustomersOrderReference":"WC2","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            #expect(again.status == 201)
            let found = try await wire.send("GET", "/data/SalesOrderHeadersV2?$filter=" + "CustomersOrderReference eq 'wc2' or SalesOrderNumber eq 'WEB-1'".q + "&$select=SalesOrderNumber", token: token)
            #expect(found.values.map { $0["SalesOrderNumber"]?.stringValue ?? "" } == ["WEB-1", "WEB-2"])
            // A line written later sees the header through the index (its key unchanged by a PATCH).
            #expect(try await wire.send("PATCH", "/data/SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='WEB-2')", body: #"{"CustomersOrderReference":"WC2-B"}"#, token: token).status == 204)
            let moved = try await wire.send("GET", "/data/SalesOrderHeadersV2?$filter=" + "CustomersOrderReference eq 'WC2-b'".q + "&$select=SalesOrderNumber", token: token)
            #expect(moved.values.map { $0["SalesOrderNumber"]?.stringValue ?? "" } == ["WEB-2"])
            #expect(try await wire.send("GET", "/data/SalesOrderHeadersV2?$filter=" + "CustomersOrderReference eq 'WC2'".q, token: token).values.isEmpty)
        }
    }

    /// Index look-ups against a scan of every row, for values an index could misfile: case,
    /// non-ASCII text, date-shaped text, numbers in keys, absent fields.
    @Test func indexedLookupsFindWhatAScanFinds() throws {
        var store = DataStore(schema: .shipped)
        let set = try #require(store.schema.entitySets["SalesOrderHeadersV2"])
        let references = ["WC1", "wc1", "Straße", "STRASSE", "Ünïcode", "ünÏcode", "2025-02-27T12:00:00Z", "2025-02-27T12:00:00.000Z", "", "a*b"]
        for (i, reference) in references.enumerated() {
            var values: [String: ODataValue] = ["dataAreaId": "usmf", "SalesOrderNumber": .string("SO-\(i)")]
            if !reference.isEmpty { values["CustomersOrderReference"] = .string(reference) }
            _ = store.appendRow(StoredRow(values: values, recId: Int64(i), recVersion: 1), to: set)
        }
        let table = store.tables["SalesOrderHeadersV2"]!
        let all = Array(table)
        for wanted in references + ["WC1 ", "so-3", "strasse", "ÜNÏCODE", "2025-02-27T12:00:00.0Z", "missing"] {
            let scan = all.indices.filter { store.string(all[$0], "CustomersOrderReference").caseInsensitiveCompare(wanted) == .orderedSame }
            let indexed = table.positions("CustomersOrderReference", wanted).filter { store.string(all[$0], "CustomersOrderReference").caseInsensitiveCompare(wanted) == .orderedSame }
            #expect(indexed == scan, "\(wanted)")
            let key: [String: ODataValue] = ["dataAreaId": "USMF", "SalesOrderNumber": .string(wanted)]
            let scanned = all.firstIndex { row in set.keys.allSatisfy { DataStore.sameValue(store.value(row, $0, in: set), key[$0]!) } }
            #expect(store.index(of: key, in: set) == scanned, "\(wanted)")
        }
        #expect(store.index(of: ["dataAreaId": "usmf", "SalesOrderNumber": "so-4"], in: set) == 4)
        // Numeric key parts: 2 and 2.0 are the same line number.
        var journal = DataStore(schema: .shipped)
        let lines = try #require(journal.schema.entitySets["CustomerPaymentJournalLines"])
        for n in [1, 2, 3] {
            _ = journal.appendRow(StoredRow(values: ["dataAreaId": "usmf", "JournalBatchNumber": "00001", "LineNumber": .number(Decimal(n))], recId: Int64(n), recVersion: 1), to: lines)
        }
        #expect(journal.index(of: ["dataAreaId": "usmf", "JournalBatchNumber": "00001", "LineNumber": .number(Decimal(string: "2.0")!)], in: lines) == 1)
        #expect(journal.index(of: ["dataAreaId": "usmf", "JournalBatchNumber": "00001", "LineNumber": .number(Decimal(string: "2.5")!)], in: lines) == nil)
    }
}
