import ConnectorCore
import DynamicsEmulator
import Foundation
import Testing

@Suite struct WriteTests {
    @Test func createUpdateDeleteAndGeneratedNumbers() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let customer = try await wire.send("POST", "/data/CustomersV3", body: #"{"dataAreaId":"USMF","CustomerAccount":"WC000123","PartyType":"Person","PersonFirstName":"Ada","PersonLastName":"Lovelace","CustomerGroupId":"WEB","SalesCurrencyCode":"USD","PrimaryContactEmail":"ada@example.com"}"#, token: token)
            #expect(customer.status == 201)
            #expect(customer.json["dataAreaId"] == "usmf")
            #expect(customer.header("Location") == wire.base.absoluteString + "/data/CustomersV3(dataAreaId='usmf',CustomerAccount='WC000123')")
            #expect(customer.json.objectValue?.count == 1 + 1 + 305)

            let header = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"dataAreaId":"usmf","OrderingCustomerAccountNumber":"WC000123","CurrencyCode":"USD","CustomersOrderReference":"WC-1042","CustomerPaymentMethodName":"CARD","SalesTaxGroupCode":"CA","DeliveryModeCode":"UPS-G"}"#, token: token)
            #expect(header.status == 201)
            #expect(header.json["SalesOrderNumber"] == "000001")
            #expect(header.json["InvoiceCustomerAccountNumber"] == "WC000123")
            #expect(header.json["SalesOrderStatus"] == "Backorder")

            let line = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"000001","ItemNumber":"TSHIRT-01","ProductSizeId":"M","ProductColorId":"Blue","OrderedSalesQuantity":3,"SalesPrice":19.99,"LineDiscountAmount":1.5,"LineDiscountPercentage":10}"#, token: token)
            #expect(line.status == 201)
            #expect(line.json["InventoryLotId"] == "000001")
            #expect(line.json["LineCreationSequenceNumber"] == .number(1))
            #expect(line.json["LineAmount"] == .decimal("49.92")) // (3×19.99 − 3×1.5) × 0.9 = 49.923
            let defaulted = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"000001","ItemNumber":"POSTER-01","OrderedSalesQuantity":2}"#, token: token)
            #expect(defaulted.json["SalesPrice"] == .decimal("19.99") && defaulted.json["LineAmount"] == .decimal("39.98"))
            #expect(defaulted.json["LineCreationSequenceNumber"] == .number(2) && defaulted.json["SalesTaxItemGroupCode"] == "FULL")
            let explicit = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"000001","ItemNumber":"MUG-01","OrderedSalesQuantity":1,"LineAmount":5}"#, token: token)
            #expect(explicit.json["LineAmount"] == .number(5))
            let unreleasedVariant = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"dataAreaId":"usmf","SalesOrderNumber":"000001","ItemNumber":"TSHIRT-01","ProductSizeId":"XL","ProductColorId":"Blue"}"#, token: token)
            #expect(unreleasedVariant.status == 400)

            let patch = try await wire.send("PATCH", "/data/SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='000001')", body: #"{"CustomerRequisitionNumber":"1042"}"#, token: token)
            #expect(patch.status == 204)
            let read = try await wire.send("GET", "/data/SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='000001')?$select=CustomerRequisitionNumber", token: token)
            #expect(read.json["CustomerRequisitionNumber"] == "1042")
            #expect(String(decoding: Data(base64Encoded: String(read.json["@odata.etag"]!.stringValue!.dropFirst(3).dropLast()))!, as: UTF8.self).hasPrefix("'1,") == false)

            let journal = try await wire.send("POST", "/data/CustomerPaymentJournalHeaders", body: #"{"dataAreaId":"usmf","JournalName":"CustPay","Description":"Woo payments"}"#, token: token)
            #expect(journal.status == 201 && journal.json["JournalBatchNumber"] == "00001" && journal.json["IsPosted"] == "No")
            let payment = try await wire.send("POST", "/data/CustomerPaymentJournalLines", body: #"{"dataAreaId":"usmf","JournalBatchNumber":"00001","LineNumber":1,"TransactionDate":"2025-02-27T12:00:00Z","AccountType":"Cust","AccountDisplayValue":"WC000123","CreditAmount":43.18,"CurrencyCode":"USD","PaymentMethodName":"CARD","OffsetAccountType":"Bank","OffsetAccountDisplayValue":"USMF OPER","IsPrepayment":"Yes"}"#, token: token)
            #expect(payment.status == 201 && payment.json["CustomerName"] == "Ada Lovelace" && payment.json["CreditAmount"] == .decimal("43.18"))
            #expect(try await wire.send("GET", "/data/CustomerPaymentJournalLines(dataAreaId='usmf',JournalBatchNumber='00001',LineNumber=1)", token: token).status == 200)

            let deleted = try await wire.send("DELETE", "/data/SalesOrderLines(dataAreaId='usmf',InventoryLotId='000003')", token: token)
            #expect(deleted.status == 204)
            let missing = try await wire.send("PATCH", "/data/SalesOrderLines(dataAreaId='usmf',InventoryLotId='999999')", body: "{}", token: token)
            #expect(missing.status == 400 && missing.inner == "No resources were found when selecting for update.")
            let missingDelete = try await wire.send("DELETE", "/data/SalesOrderLines(dataAreaId='usmf',InventoryLotId='999999')", token: token)
            #expect(missingDelete.status == 400 && missingDelete.inner == "No resources were found when selecting for update.")
            #expect(emulator.records("SalesOrderLines").count == 2)
            #expect(emulator.records("SalesOrderLines").first?.decimal("LineAmount") == Decimal(string: "49.92"))
        }
    }

    @Test func duplicateIsA400NotA409() async throws {
        try await withEmulator { wire, _, _, _ in
            let token = try await wire.token()
            let reply = try await wire.send("POST", "/data/CustomerGroups", body: #"{"dataAreaId":"usmf","CustomerGroupId":"WEB","Description":"again"}"#, token: token)
            #expect(reply.status == 400)
            #expect(reply.inner == "Write failed for table row of type 'CustCustomerGroupEntity'. Infolog: Info: Cannot create a record in Customer groups (CustGroup). Customer group: WEB.\nThe record already exists..")
            #expect(reply.json["error"]?["innererror"]?["type"] == "Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException")
            let customer = try await wire.send("POST", "/data/CustomersV3", body: #"{"CustomerAccount":"webguest","OrganizationName":"x","CustomerGroupId":"WEB","SalesCurrencyCode":"USD"}"#, token: token)
            #expect(customer.status == 400 && customer.inner.contains("The record already exists"))
        }
    }

    @Test func foreignKeysRequiredFieldsAndLimits() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            let group = try await wire.send("POST", "/data/CustomersV3", body: #"{"CustomerAccount":"WC1","OrganizationName":"x","CustomerGroupId":"RETAIL","SalesCurrencyCode":"USD"}"#, token: token)
            #expect(group.status == 400)
            #expect(group.inner == "Write failed for table row of type 'CustCustomerV3Entity'. Infolog: Warning: The value 'RETAIL' in field 'Customer group' is not found in the related table 'Customer groups'.; Warning: validateField failed on field 'CustCustomerV3Entity.CustomerGroupId'.")
            let currency = try await wire.send("POST", "/data/CustomersV3", body: #"{"CustomerAccount":"WC1","OrganizationName":"x","CustomerGroupId":"WEB","SalesCurrencyCode":"GBP"}"#, token: token)
            #expect(currency.status == 400 && currency.inner.contains("'GBP'") && currency.inner.contains("SalesCurrencyCode"))
            // FKs are per company: demf has no UPS-G delivery mode.
            let otherCompany = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"dataAreaId":"demf","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"EUR"}"#, token: token)
            #expect(otherCompany.status == 400 && otherCompany.inner.contains("'WEBGUEST'"))
            let nameless = try await wire.send("POST", "/data/CustomersV3", body: #"{"CustomerAccount":"WC2","CustomerGroupId":"WEB","SalesCurrencyCode":"USD"}"#, token: token)
            #expect(nameless.status == 400 && nameless.inner.contains("OrganizationName"))
            let noCustomer = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"CurrencyCode":"USD"}"#, token: token)
            #expect(noCustomer.status == 400 && noCustomer.inner.contains("OrderingCustomerAccountNumber"))
            for (field, value) in [("CustomerPaymentMethodName", "PAYPAL"), ("SalesTaxGroupCode", "NY"), ("DeliveryModeCode", "DHL")] {
                let r = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD","\#(field)":"\#(value)"}"#, token: token)
                #expect(r.status == 400 && r.inner.contains("'\(value)'") && r.inner.contains("SalesOrderHeaderV2Entity.\(field)"), "\(field)")
            }
            let header = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            let number = header.json["SalesOrderNumber"]!.stringValue!
            for (body, needle) in [
                (#"{"SalesOrderNumber":"NOPE","ItemNumber":"MUG-01"}"#, "'NOPE'"),
                (#"{"SalesOrderNumber":"\#(number)","ItemNumber":"GHOST"}"#, "'GHOST'"),
                (#"{"SalesOrderNumber":"\#(number)","ItemNumber":"MUG-01","SalesTaxItemGroupCode":"HALF"}"#, "'HALF'"),
                (#"{"SalesOrderNumber":"\#(number)","ItemNumber":"MUG-01","ShippingWarehouseId":"99"}"#, "'99'"),
            ] {
                let r = try await wire.send("POST", "/data/SalesOrderLines", body: body, token: token)
                #expect(r.status == 400 && r.inner.contains(needle) && r.inner.contains("is not found in the related table"), "\(needle)")
            }
            let journal = try await wire.send("POST", "/data/CustomerPaymentJournalHeaders", body: #"{"JournalName":"CustPay"}"#, token: token)
            let batch = journal.json["JournalBatchNumber"]!.stringValue!
            for (body, needle) in [
                (#"{"JournalBatchNumber":"99999","AccountType":"Cust","AccountDisplayValue":"WEBGUEST"}"#, "'99999'"),
                (#"{"JournalBatchNumber":"\#(batch)","AccountType":"Cust","AccountDisplayValue":"NOBODY"}"#, "'NOBODY'"),
                (#"{"JournalBatchNumber":"\#(batch)","AccountType":"Cust","AccountDisplayValue":"WEBGUEST","PaymentMethodName":"CHEQUE"}"#, "'CHEQUE'"),
            ] {
                let r = try await wire.send("POST", "/data/CustomerPaymentJournalLines", body: body, token: token)
                #expect(r.status == 400 && r.inner.contains(needle), "\(needle)")
            }
            let long = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD","CustomersOrderReference":"WC-123456789012345678901"}"#, token: token)
            #expect(long.status == 400 && long.inner.contains("CustomersOrderReference") && long.inner.contains("20"))
            // Seeds go through the same checks.
            #expect(throws: EmulatorError.self) { try emulator.insert("CustomersV3", ["CustomerAccount": "S1", "OrganizationName": "x", "CustomerGroupId": "NOPE", "SalesCurrencyCode": "USD"]) }
            #expect(throws: EmulatorError.self) { try emulator.insert("ReleasedProductsV2", ["ItemNumber": "S1", "ProductName": "x"]) }
        }
    }

    @Test func manualSalesOrderNumbersSwitch() async throws {
        try await withEmulator({ $0.allowManualSalesOrderNumbers = false }) { wire, _, _, _ in
            let token = try await wire.token()
            let r = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"SalesOrderNumber":"WEB-1","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            #expect(r.status == 400 && r.inner.contains("WEB-1") && r.inner.contains("Infolog"))
        }
        try await withEmulator { wire, _, _, _ in
            let token = try await wire.token()
            let r = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"SalesOrderNumber":"WEB-1","OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            #expect(r.status == 201 && r.json["SalesOrderNumber"] == "WEB-1")
        }
    }

    @Test func postedJournalsAndInvoicedOrdersAreReadOnly() async throws {
        try await withEmulator { wire, emulator, _, _ in
            let token = try await wire.token()
            try emulator.insert("CustomerPaymentJournalHeaders", ["JournalBatchNumber": "00900", "JournalName": "CustPay", "IsPosted": "Yes"])
            let patchPosted = try await wire.send("PATCH", "/data/CustomerPaymentJournalHeaders(dataAreaId='usmf',JournalBatchNumber='00900')", body: #"{"Description":"x"}"#, token: token)
            #expect(patchPosted.status == 400 && patchPosted.inner.contains("posted"))
            let addLine = try await wire.send("POST", "/data/CustomerPaymentJournalLines", body: #"{"JournalBatchNumber":"00900","AccountType":"Cust","AccountDisplayValue":"WEBGUEST","CreditAmount":1}"#, token: token)
            #expect(addLine.status == 400 && addLine.inner.contains("posted"))

            let header = try await wire.send("POST", "/data/SalesOrderHeadersV2", body: #"{"OrderingCustomerAccountNumber":"WEBGUEST","CurrencyCode":"USD"}"#, token: token)
            let number = header.json["SalesOrderNumber"]!.stringValue!
            let line = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"SalesOrderNumber":"\#(number)","ItemNumber":"MUG-01","OrderedSalesQuantity":2}"#, token: token)
            try await emulator.markInvoiced(company: "usmf", salesOrderNumber: number)
            let patch = try await wire.send("PATCH", "/data/SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='\(number)')", body: #"{"CustomerRequisitionNumber":"x"}"#, token: token)
            #expect(patch.status == 400 && patch.inner.contains("Invoiced"))
            let lotId = line.json["InventoryLotId"]!.stringValue!
            let patchLine = try await wire.send("PATCH", "/data/SalesOrderLines(dataAreaId='usmf',InventoryLotId='\(lotId)')", body: #"{"OrderedSalesQuantity":5}"#, token: token)
            #expect(patchLine.status == 400)
            let delete = try await wire.send("DELETE", "/data/SalesOrderHeadersV2(dataAreaId='usmf',SalesOrderNumber='\(number)')", token: token)
            #expect(delete.status == 400)
            let newLine = try await wire.send("POST", "/data/SalesOrderLines", body: #"{"SalesOrderNumber":"\#(number)","ItemNumber":"MUG-01"}"#, token: token)
            #expect(newLine.status == 400)
            let invoices = try await wire.send("GET", "/data/SalesInvoiceHeadersV2?$filter=\("SalesOrderNumber eq '\(number)'".q)&$expand=SalesInvoiceLinesV2", token: token)
            #expect(invoices.values.first?["InvoiceNumber"] == "CIV-000001")
            #expect(invoices.values.first?["TotalInvoiceAmount"] == .number(25))
            #expect(invoices.values.first?["SalesInvoiceLinesV2"]?.arrayValue?.first?["InvoicedQuantity"] == .number(2))
            #expect(emulator.records("SalesOrderLines").first?.string("SalesOrderLineStatus") == "Invoiced")
        }
    }
}
