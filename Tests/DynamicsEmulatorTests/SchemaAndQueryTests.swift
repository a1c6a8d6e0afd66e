import ConnectorCore
import DynamicsEmulator
import Foundation
import Testing

@Suite struct SchemaAndQueryTests {
    /// `entities.json` as the fixture directory has it (read independently of the emulator).
    static func fixture() throws -> [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../Sources/DynamicsEmulator/Resources/entities.json")
        return try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
    }

    @Test func everyEntitySetAndPropertyComesFromEntitiesJSON() async throws {
        let fixture = try Self.fixture()
        let emulator = DynamicsEmulator(clock: ManualWallClock())
        let sets = fixture.keys.filter { $0 != "enums" }
        #expect(Set(emulator.schema.entitySets.keys) == Set(sets))
        for name in sets {
            let spec = fixture[name] as! [String: Any]
            let schema = try #require(emulator.schema.entitySets[name])
            #expect(schema.entityType == spec["entityType"] as? String)
            #expect(schema.keys == spec["keys"] as! [String])
            let properties = spec["properties"] as! [String: [String: Any]]
            #expect(schema.properties.count == properties.count, "\(name)")
            for (p, def) in properties {
                let prop = try #require(schema.property(p), "\(name).\(p)")
                #expect(prop.edmType == def["type"] as? String)
                #expect(prop.nullable == def["nullable"] as? Bool)
            }
        }
        let enums = fixture["enums"] as! [String: [String: Int]]
        for (name, members) in enums {
            let mine = try #require(emulator.schema.enums[name])
            #expect(Dictionary(uniqueKeysWithValues: mine.map { ($0.name, $0.value) }) == members)
        }
        // A full read renders exactly the metadata's properties, in order.
        let record = try #require(emulator.records("CustomersV3").first)
        #expect(record.object.keys == ["@odata.etag"] + emulator.schema.entitySets["CustomersV3"]!.properties.map(\.name))
    }

    @Test func propertiesTheMetadataLacksAreRejected() async throws {
        try await withEmulator { wire, _, _, _ in
            let token = try await wire.token()
            let line = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"X","ItemNumber":"MUG-01","ItemSalesTaxGroupCode":"FULL"}"#, token: token)
            #expect(line.status == 400)
            #expect(line.json["error"]?["message"] == "An error has occurred.")
            #expect(line.inner.contains("'ItemSalesTaxGroupCode'") && line.inner.contains("Microsoft.Dynamics.DataEntities.SalesOrderLine"))
            let product = try await wire.send("POST", "/data/ReleasedProductsV2", body: #"{"dataAreaId":"usmf","ItemNumber":"NEW-1","ProductNumber":"MUG-01","ProductName":"Mug"}"#, token: token)
            #expect(product.status == 400 && product.inner.contains("'ProductName'") && product.inner.contains("ReleasedProductV2"))
            let select = try await wire.send("GET", "/data/ReleasedProductsV2?$select=ItemNumber,ProductName", token: token)
            #expect(select.status == 400 && select.inner == "Could not find a property named 'ProductName' on type 'Microsoft.Dynamics.DataEntities.ReleasedProductV2'.")
            let filter = try await wire.send("GET", "/data/CustomersV3?$filter=\("CustomerRef eq 'x'".q)", token: token)
            #expect(filter.status == 400 && filter.inner.contains("CustomerRef"))
            let order = try await wire.send("GET", "/data/CustomersV3?$orderby=Nope", token: token)
            #expect(order.status == 400)
            // Wrong JSON type and unknown enum member name the field.
            let wrongType = try await wire.send("POST", "/data/CustomerGroups", body: #"{"CustomerGroupId":"X1","Description":5}"#, token: token)
            #expect(wrongType.status == 400 && wrongType.inner.contains("'Description'"))
            let badEnum = try await wire.send("POST", "/data/CustomerGroups", body: #"{"CustomerGroupId":"X1","IsSalesTaxIncludedInPrice":"Maybe"}"#, token: token)
            #expect(badEnum.status == 400 && badEnum.inner.contains("'IsSalesTaxIncludedInPrice'") && badEnum.inner.contains("Maybe"))
            let badDate = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD","RequestedShippingDate":"2025-03-01"}"#, token: token)
            #expect(badDate.status == 400 && badDate.inner.contains("RequestedShippingDate"))
            // Unknown entity set.
            let unknown = try await wire.send("GET", "/data/SalesOrderLinesV2", token: token)
            #expect(unknown.status == 404 && unknown.text == #"{"error":{"code":"","message":"Entity set not found."}}"#)
        }
    }

    @Test func serialisationAndKeys() async throws {
        try await withEmulator { wire, _, _, _ in
            let token = try await wire.token()
            let guest = try await wire.send("GET", "/data/CustomersV3(dataAreaId='USMF',CustomerAccount='WEBGUEST')", token: token)
            #expect(guest.status == 200)
            #expect(guest.json["@odata.context"] == .string(wire.base.absoluteString + "/data/$metadata#CustomersV3/$entity"))
            #expect(guest.json["dataAreaId"] == "usmf")
            #expect(guest.json["AddressCity"] == "")
            #expect(guest.json["CreditLimit"] == .number(0))
            #expect(guest.json["CreditLimitIsMandatory"] == "No")
            #expect(guest.json["AddressValidFrom"] == "1900-01-01T12:00:00Z")
            let etag = try #require(guest.json["@odata.etag"]?.stringValue)
            #expect(etag.hasPrefix("W/\"") && etag.hasSuffix("\""))
            let decoded = String(decoding: Data(base64Encoded: String(etag.dropFirst(3).dropLast()))!, as: UTF8.self)
            #expect(decoded.hasPrefix("'1,") && decoded.hasSuffix("'"))
            let incomplete = try await wire.send("GET", "/data/CustomersV3(CustomerAccount='WEBGUEST')", token: token)
            #expect(incomplete.status == 400 && incomplete.inner == "Only 1 of 2 keys provided for lookup, provide keys for dataAreaId, CustomerAccount.")
            // Quotes in keys are doubled; numeric key parts are bare.
            let created = try await wire.send("POST", "/data/CustomerGroups", body: #"{"dataAreaId":"usmf","CustomerGroupId":"O'B"}"#, token: token)
            #expect(created.status == 201)
            #expect(try await wire.send("GET", "/data/CustomerGroups(dataAreaId='usmf',CustomerGroupId='O''B')", token: token).status == 200)
            let agreement = try await wire.send("GET", "/data/SalesPriceAgreements(dataAreaId='usmf',RecordId=5637145326)", token: token)
            #expect(agreement.status == 200 && agreement.json["Price"] == .decimal("11"))
            let select = try await wire.send("GET", "/data/CustomerGroups?$select=CustomerGroupId,Description", token: token)
            #expect(select.json["@odata.context"] == .string(wire.base.absoluteString + "/data/$metadata#CustomerGroups(CustomerGroupId,Description)"))
            #expect(select.values.first?.objectValue?.keys == ["@odata.etag", "CustomerGroupId", "Description"])
        }
    }

    @Test func defaultCompanyTrap() async throws {
        try await withEmulator { wire, _, _, _ in
            let token = try await wire.token()
            let plain = try await wire.send("GET", "/data/CustomersV3?$filter=\("dataAreaId eq 'demf'".q)", token: token)
            #expect(plain.status == 200 && plain.values.isEmpty)
            let all = try await wire.send("GET", "/data/CustomersV3?$filter=\("dataAreaId eq 'demf'".q)&cross-company=true", token: token)
            #expect(all.values.map { $0["CustomerAccount"] } == ["WCDE0001"])
            let usmf = try await wire.send("GET", "/data/CustomersV3?$select=CustomerAccount", token: token)
            #expect(usmf.values.map { $0["CustomerAccount"] } == ["WEBGUEST"])
            // By key the company is in the key.
            #expect(try await wire.send("GET", "/data/CustomersV3(dataAreaId='demf',CustomerAccount='WCDE0001')", token: token).status == 200)
        }
    }

    @Test func enumLiteralRule() async throws {
        try await withEmulator { wire, _, _, _ in
            let token = try await wire.token()
            let qualified = try await wire.send("GET", "/data/ReleasedProductsV2?$filter=\("ProductSubType eq Microsoft.Dynamics.DataEntities.EcoResProductSubtype'ProductMaster'".q)", token: token)
            #expect(qualified.status == 200 && qualified.values.map { $0["ItemNumber"] } == ["TSHIRT-01"])
            let bare = try await wire.send("GET", "/data/ReleasedProductsV2?$filter=\("ProductSubType eq 'ProductMaster'".q)", token: token)
            #expect(bare.status == 400)
            let wrongType = try await wire.send("GET", "/data/ReleasedProductsV2?$filter=\("ProductSubType eq Microsoft.Dynamics.DataEntities.NoYes'Yes'".q)", token: token)
            #expect(wrongType.status == 400)
            let renamed = try await wire.send("GET", "/data/CustomerPaymentJournalLines?$filter=\("AccountType eq Microsoft.Dynamics.DataEntities.LedgerJournalAcType'Cust'".q)", token: token)
            #expect(renamed.status == 400)
            let real = try await wire.send("GET", "/data/CustomerPaymentJournalLines?$filter=\("AccountType eq Microsoft.Dynamics.DataEntities.LedgerJournalACType'Cust'".q)", token: token)
            #expect(real.status == 200)
            let inOperator = try await wire.send("GET", "/data/ReleasedProductsV2?$filter=\("ItemNumber in ('MUG-01','POSTER-01')".q)", token: token)
            #expect(inOperator.status == 400)
            let has = try await wire.send("GET", "/data/ReleasedProductsV2?$filter=\("ProductSubType has Microsoft.Dynamics.DataEntities.EcoResProductSubtype'Product'".q)", token: token)
            #expect(has.status == 400)
        }
    }

    @Test func queryOptionsAndPaging() async throws {
        try await withEmulator({ $0.maxPageSize = 2 }) { wire, _, _, _ in
            let token = try await wire.token()
            let filtered = try await wire.send("GET", "/data/ReleasedProductsV2?$filter=\("(SalesPrice gt 12 and SalesPrice le 20) or ItemNumber eq 'tshirt*'".q)&$orderby=\("SalesPrice desc".q)&$select=ItemNumber,SalesPrice&$count=true", token: token)
            #expect(filtered.status == 200)
            #expect(filtered.json["@odata.count"] == .number(3))
            #expect(filtered.values.map { $0["ItemNumber"] } == ["TSHIRT-01", "POSTER-01"])
            let next = try #require(filtered.json["@odata.nextLink"]?.stringValue)
            #expect(next.hasPrefix(wire.base.absoluteString + "/data/ReleasedProductsV2?") && next.contains("$skip=2"))
            let page2 = try await wire.send("GET", String(next.dropFirst(wire.base.absoluteString.count)), token: token)
            #expect(page2.values.map { $0["ItemNumber"] } == ["MUG-01"])
            #expect(page2.json["@odata.nextLink"] == nil)

            let notFilter = try await wire.send("GET", "/data/ReleasedProductsV2?$filter=\("not (ItemNumber eq '*-01') or SalesPrice ne 0".q)&$top=1&$skip=1&$orderby=ItemNumber", token: token)
            #expect(notFilter.values.map { $0["ItemNumber"] } == ["POSTER-01"])
            let count = try await wire.send("GET", "/data/ReleasedProductsV2/$count", token: token)
            #expect(count.text == "3")
            let dates = try await wire.send("GET", "/data/SalesPriceAgreements?$filter=\("PriceApplicableFromDate ge 2024-12-31T00:00:00Z".q)", token: token)
            #expect(dates.values.count == 1)
            let onHand = try await wire.send("GET", "/data/WarehousesOnHandV2?$filter=\("ItemNumber eq 'TSHIRT-01' and AvailableOnHandQuantity gt 0".q)&$orderby=\("ProductColorId,ProductSizeId desc".q)", token: token)
            #expect(onHand.values.map { $0["ProductColorId"] } == ["Blue", "Red"])

            // $expand: header → lines, one level.
            let header = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"dataAreaId":"usmf","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            let number = try #require(header.json["SalesOrderNumber"]?.stringValue)
            for item in ["MUG-01", "POSTER-01"] {
                let line = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"\#(number)","ItemNumber":"\#(item)","OrderedSalesQuantity":2}"#, token: token)
                #expect(line.status == 201)
            }
            let expanded = try await wire.send("GET", "/data/SalesOrderHeadersV2?$filter=\("SalesOrderNumber eq '\(number)'".q)&$select=SalesOrderNumber,OrderTotalAmount&$expand=\("SalesOrderLines($select=ItemNumber,LineAmount)".q)", token: token)
            #expect(expanded.status == 200)
            let lines = expanded.values.first?["SalesOrderLines"]?.arrayValue ?? []
            #expect(lines.map { $0["ItemNumber"] } == ["MUG-01", "POSTER-01"])
            #expect(lines.map { $0["LineAmount"] } == [.decimal("25"), .decimal("39.98")])
            #expect(expanded.values.first?["OrderTotalAmount"] == .decimal("64.98"))
            let deep = try await wire.send("GET", "/data/SalesOrderHeadersV2?$expand=\("SalesOrderLines($expand=SalesOrderHeaderV2)".q)", token: token)
            #expect(deep.status == 400)
        }
    }
}
