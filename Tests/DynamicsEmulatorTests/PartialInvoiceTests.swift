import ConnectorCore
import DynamicsEmulator
import Foundation
import Testing

/// `markInvoiced(…, quantities:)`: a partial invoice leaves the order open (SalesStatus
/// Backorder, processing status PartiallyInvoiced); the rest finishes it, as in F&O.
@Suite struct PartialInvoiceTests {
    @Test func aPartialInvoiceLeavesTheOrderOpenTheRestInvoicesIt() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let header = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            let number = try #require(header.json["SalesOrderNumber"]?.stringValue)
            let mugs = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"SalesOrderNumber":"\#(number)","ItemNumber":"MUG-01","OrderedSalesQuantity":2}"#, token: token)
            let second = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"SalesOrderNumber":"\#(number)","ItemNumber":"MUG-01","OrderedSalesQuantity":1}"#, token: token)
            let mugLot = try #require(mugs.json["InventoryLotId"]?.stringValue)
            let secondLot = try #require(second.json["InventoryLotId"]?.stringValue)
            let unitPrice = try #require(mugs.json["SalesPrice"]?.decimalValue)

            func orderHeader() -> ODataRecord? { emulator.records("SalesOrderHeadersV2").first { $0.string("SalesOrderNumber") == number } }
            func line(_ lot: String) -> ODataRecord? { emulator.records("SalesOrderLines").first { $0.string("InventoryLotId") == lot } }

            let first = try await emulator.markInvoiced(company: "usmf", salesOrderNumber: number, quantities: [mugLot: 1])
            #expect(orderHeader()?.string("SalesOrderStatus") == "Backorder")
            #expect(orderHeader()?.string("SalesOrderProcessingStatus") == "PartiallyInvoiced")
            #expect(line(mugLot)?.string("SalesOrderLineStatus") != "Invoiced")
            #expect(line(secondLot)?.string("SalesOrderLineStatus") != "Invoiced")
            let firstLines = emulator.records("SalesInvoiceV2Lines").filter { $0.string("InvoiceNumber") == first }
            #expect(firstLines.count == 1, "a line not named is not invoiced")
            #expect(firstLines.first?["InvoicedQuantity"] == .number(1))
            #expect(firstLines.first?["LineAmount"] == .number(unitPrice))

            // More than is open is cut to what is open; the order is Invoiced once all of it is.
            let rest = try await emulator.markInvoiced(company: "usmf", salesOrderNumber: number, quantities: [mugLot: 5, secondLot: 1])
            #expect(orderHeader()?.string("SalesOrderStatus") == "Invoiced")
            #expect(orderHeader()?.string("SalesOrderProcessingStatus") == "Invoiced")
            #expect(line(mugLot)?.string("SalesOrderLineStatus") == "Invoiced")
            let restLines = emulator.records("SalesInvoiceV2Lines").filter { $0.string("InvoiceNumber") == rest }
            #expect(restLines.compactMap { $0["InvoicedQuantity"]?.decimalValue }.sorted() == [1, 1])
            let invoices = emulator.records("SalesInvoiceHeadersV2").filter { $0.string("SalesOrderNumber") == number }
            #expect(invoices.compactMap { $0.string("InvoiceNumber") }.sorted() == [first, rest])
            await #expect(throws: (any Error).self) { try await emulator.markInvoiced(company: "usmf", salesOrderNumber: number) }
        }
    }

    @Test func quantitiesThatInvoiceNothingAreRefused() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let header = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            let number = try #require(header.json["SalesOrderNumber"]?.stringValue)
            _ = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"SalesOrderNumber":"\#(number)","ItemNumber":"MUG-01","OrderedSalesQuantity":2}"#, token: token)
            await #expect(throws: (any Error).self) { try await emulator.markInvoiced(company: "usmf", salesOrderNumber: number, quantities: ["no-such-lot": 1]) }
            #expect(emulator.records("SalesInvoiceHeadersV2").isEmpty)
            #expect(emulator.records("SalesOrderHeadersV2").first?.string("SalesOrderStatus") == "Backorder")
        }
    }
}
