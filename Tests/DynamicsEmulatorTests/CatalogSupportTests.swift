import ConnectorCore
import DynamicsEmulator
import Foundation
import Testing

/// The two behaviours the catalog push is tested against (docs/dynamics-emulator.md).
@Suite struct CatalogSupportTests {
    @Test func truncateReadsReturnsOnlyTheConfiguredShareOfAnEntitySet() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let all = try await wire.send("GET", "/data/WarehousesOnHandV2?cross-company=true", token: token)
            #expect(all.values.count == 5)

            var faults = DynamicsEmulator.Faults()
            faults.truncateReads = ["WarehousesOnHandV2": 0.5, "ReleasedProductsV2": 0]
            emulator.setFaults(faults)
            let half = try await wire.send("GET", "/data/WarehousesOnHandV2?cross-company=true", token: token)
            #expect(half.status == 200)
            #expect(half.values.count == 2, "the first half, rounded down")
            #expect(half.json["@odata.nextLink"] == nil, "a partial read looks complete")
            let none = try await wire.send("GET", "/data/ReleasedProductsV2?cross-company=true&$select=ItemNumber", token: token)
            #expect(none.status == 200 && none.values.isEmpty)
            let other = try await wire.send("GET", "/data/ProductsV2?$select=ProductNumber", token: token)
            #expect(other.values.count == 3, "other entity sets are untouched")

            emulator.setFaults(DynamicsEmulator.Faults())
            let again = try await wire.send("GET", "/data/WarehousesOnHandV2?cross-company=true", token: token)
            #expect(again.values.count == 5)
        }
    }

    @Test func aSalesOrderLineReservesAvailableOnHand() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let header = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"dataAreaId":"usmf","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            let number = try #require(header.json["SalesOrderNumber"]?.stringValue)
            // A variant: only its own row (size M, colour Red) moves.
            let line = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"\#(number)","ItemNumber":"TSHIRT-01","ProductSizeId":"M","ProductColorId":"Red","OrderedSalesQuantity":2}"#, token: token)
            #expect(line.status == 201)
            // More than is available reserves what there is.
            _ = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"\#(number)","ItemNumber":"POSTER-01","OrderedSalesQuantity":50,"ShippingWarehouseId":"11"}"#, token: token)

            func row(_ item: String, size: String = "", color: String = "") -> ODataRecord? {
                emulator.records("WarehousesOnHandV2").first {
                    $0["ItemNumber"]?.stringValue == item && $0["ProductSizeId"]?.stringValue == size && $0["ProductColorId"]?.stringValue == color
                }
            }
            #expect(row("TSHIRT-01", size: "M", color: "Red")?["AvailableOnHandQuantity"]?.decimalValue == 4)
            #expect(row("TSHIRT-01", size: "M", color: "Red")?["ReservedOnHandQuantity"]?.decimalValue == 2)
            #expect(row("TSHIRT-01", size: "M", color: "Blue")?["AvailableOnHandQuantity"]?.decimalValue == 14)
            #expect(row("POSTER-01")?["AvailableOnHandQuantity"]?.decimalValue == 0)
            #expect(row("POSTER-01")?["ReservedOnHandQuantity"]?.decimalValue == 35)
            #expect(row("POSTER-01")?["OnHandQuantity"]?.decimalValue == 35, "physical stock stays until the order ships")
            #expect(row("MUG-01")?["AvailableOnHandQuantity"]?.decimalValue == 120)
        }
    }
}
