@testable import DynamicsClient
import ConnectorCore
import Foundation
import Testing

/// What the client writes on the wire, checked as text: quoting, enum literals, exact decimals,
/// and the multipart `$batch` layout (reference §2.4, §2.6, §4).
@Suite struct ODataTextTests {
    @Test func filtersQuoteStringsAndQualifyEnums() {
        let filter = ODataFilter.and([.eq("CustomersOrderReference", "O'Brien 1"), .eq("SalesOrderStatus", .enumMember(type: "SalesStatus", member: "Backorder"))])
        #expect(filter.text == "CustomersOrderReference eq 'O''Brien 1' and SalesOrderStatus eq Microsoft.Dynamics.DataEntities.SalesStatus'Backorder'")
        #expect(ODataFilter.anyOf("ItemNumber", ["A", "B"]).text == "ItemNumber eq 'A' or ItemNumber eq 'B'")
        let nested = ODataFilter.and([.eq("dataAreaId", "usmf"), .anyOf("ItemNumber", ["A", "B"])])
        #expect(nested.text == "dataAreaId eq 'usmf' and (ItemNumber eq 'A' or ItemNumber eq 'B')")
    }

    @Test func everyReadIsScopedAndCrossCompany() {
        let query = ODataQuery("SalesOrderHeadersV2", legalEntity: "USMF", filter: .eq("CustomersOrderReference", "WC1042"), select: ["SalesOrderNumber", "dataAreaId"])
        #expect(query.pathAndQuery == "SalesOrderHeadersV2?$filter=dataAreaId%20eq%20'usmf'%20and%20CustomersOrderReference%20eq%20'WC1042'&$select=SalesOrderNumber,dataAreaId&cross-company=true")
        let shared = ODataQuery("Currencies", legalEntity: nil)
        #expect(shared.pathAndQuery == "Currencies?cross-company=true")
    }

    @Test func keysInFOSyntax() {
        let key = ODataKey("CustomerPaymentJournalLines", ["dataAreaId": .string("usmf"), "JournalBatchNumber": .string("00457"), "LineNumber": .int(1)])
        #expect(key.path == "CustomerPaymentJournalLines(dataAreaId='usmf',JournalBatchNumber='00457',LineNumber=1)")
        #expect(ODataKey("CustomersV3", ["dataAreaId": .string("usmf"), "CustomerAccount": .string("A B")]).path == "CustomersV3(dataAreaId='usmf',CustomerAccount='A%20B')")
    }

    @Test func bodiesCarryExactDecimalsAndNoonDates() {
        var record = ODataRecord()
        record["LineAmount"] = .decimal(Decimal(string: "35.99")!)
        record["LineDiscountAmount"] = .decimal(Decimal(string: "1.995")!)
        record["CreditAmount"] = .decimal(Decimal(string: "0.1")! + Decimal(string: "0.2")!)
        record["RequestedShippingDate"] = .utcDate(of: Date(timeIntervalSince1970: 1_795_000_000))
        record["IsPrepayment"] = .noYes(true)
        record["Text"] = .string("Quote \" and \\ and\nnewline")
        #expect(record.jsonText == #"{"LineAmount":35.99,"LineDiscountAmount":1.995,"CreditAmount":0.3,"RequestedShippingDate":"2026-11-18T12:00:00Z","IsPrepayment":"Yes","Text":"Quote \" and \\ and\nnewline"}"#)
        record["Text"] = nil
        #expect(!record.names.contains("Text"))
    }

    @Test func batchRequestLayout() {
        var header = ODataRecord()
        header["dataAreaId"] = .string("usmf")
        let (type, body) = ODataBatch.request(changeset: [.create("SalesOrderHeadersV2", header), .create("SalesOrderLines", header)],
                                              serviceRoot: "https://env.example/data/", batchID: "b1", changesetID: "c1")
        #expect(type == "multipart/mixed; boundary=batch_b1")
        #expect(body.hasPrefix("--batch_b1\r\nContent-Type: multipart/mixed; boundary=changeset_c1\r\n\r\n--changeset_c1\r\n"))
        #expect(body.contains("Content-ID: 2\r\n\r\nPOST https://env.example/data/SalesOrderLines HTTP/1.1\r\n"))
        #expect(body.hasSuffix("--changeset_c1--\r\n--batch_b1--\r\n"))
        #expect(!body.replacingOccurrences(of: "\r\n", with: "").contains("\n"))
    }

    /// The shape of the real failure capture (reference §4.3): outer 200, one error part.
    @Test func batchAnswerWithAFailedChangeset() throws {
        let text = [
            "--batchresponse_1f2e", "Content-Type: multipart/mixed; boundary=changesetresponse_9a", "",
            "--changesetresponse_9a", "Content-Type: application/http", "Content-Transfer-Encoding: binary", "Content-ID: 1", "",
            "HTTP/1.1 500 Internal Server Error", "Content-Type: application/json; odata.metadata=minimal; charset=utf-8", "OData-Version: 4.0", "",
            #"{"error":{"code":"","message":"An error has occurred.","innererror":{"message":"Write failed for table row of type 'CustCustomerGroupEntity'. Infolog: Info: Cannot create a record in Customer groups (CustGroup). Customer group: Batch2, Batch 2 Test group T1.\nThe record already exists..","type":"Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException","stacktrace":""}}}"#,
            "--changesetresponse_9a--", "--batchresponse_1f2e--", "",
        ].joined(separator: "\r\n")
        let parts = try ODataBatch.parseResponse(contentType: "multipart/mixed; boundary=batchresponse_1f2e", body: Data(text.utf8))
        #expect(parts.count == 1)
        #expect(parts[0].status == 500)
        #expect(parts[0].contentID == "1")
        let error = DynamicsClient.error(status: parts[0].status, body: parts[0].body, retryAfterHeader: nil, what: "$batch")
        #expect(error == .remoteRejected)
        #expect(error.message.contains("The record already exists"))
    }

    @Test func truncatedOrHTMLBatchAnswersAreErrorsNotCrashes() {
        #expect(throws: (any Error).self) { try ODataBatch.parseResponse(contentType: "text/html", body: Data("<html>502</html>".utf8)) }
        #expect(throws: (any Error).self) {
            try ODataBatch.parseResponse(contentType: "multipart/mixed; boundary=b", body: Data("--b\r\nContent-Type: application/http\r\n\r\nHTTP/1.1 201 Created\r\n\r\n{}".utf8))
        }
    }

    @Test func errorsKeepTheInfologAndClassifyByWhatToDo() {
        let infolog = Data(#"{"error":{"code":"","message":"An error has occurred.","innererror":{"message":"Write failed. Infolog: Warning: The value 'WEB' in field 'Customer group' is not found in the related table 'Customer groups'.","type":"AxODataWriteException"}}}"#.utf8)
        let rejected = DynamicsClient.error(status: 400, body: infolog, retryAfterHeader: nil, what: "create in CustomersV3")
        #expect(rejected == .remoteRejected && rejected.disposition == .permanent)
        #expect(rejected.message.contains("The value 'WEB' in field 'Customer group'"))
        let gateway = DynamicsClient.error(status: 502, body: Data("<html><body>Bad gateway</body></html>".utf8), retryAfterHeader: nil, what: "read")
        #expect(gateway == .remoteUnavailable && gateway.disposition == .transient)
        // Classified by innererror.type, not the status: an old-style 500 write failure is a refusal.
        let oldStyle = Data(#"{"error":{"code":"","message":"An error has occurred.","innererror":{"message":"Cannot create a record in Customer groups (CustGroup).","type":"Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"}}}"#.utf8)
        #expect(DynamicsClient.error(status: 500, body: oldStyle, retryAfterHeader: nil, what: "$batch") == .remoteRejected)
        let conflict = Data(#"{"error":{"code":"","message":"An error has occurred.","innererror":{"message":"Cannot edit a record in Journal lines (LedgerJournalTrans). An update conflict occurred due to another user process deleting the record or changing one or more fields in the record.","type":"Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException"}}}"#.utf8)
        let busy = DynamicsClient.error(status: 400, body: conflict, retryAfterHeader: nil, what: "create in CustomerPaymentJournalLines")
        #expect(busy == .conflict && busy.disposition == .transient)
        let throttled = DynamicsClient.error(status: 429, body: Data(), retryAfterHeader: "7", what: "read")
        #expect(throttled == .throttled && throttled.retryAfter == 7)
    }

    @Test func tokenErrorsBranchOnTheErrorField() {
        let credentials = DynamicsCredentials(environmentURL: "https://Acme.Operations.Dynamics.com/", tenantId: "t", clientId: "c", clientSecret: "s", authorityHost: "https://login.microsoftonline.com/")
        #expect(credentials.audience == "https://acme.operations.dynamics.com")
        #expect(credentials.tokenURL == "https://login.microsoftonline.com/t/oauth2/v2.0/token")
        let wrongSecret = TokenProvider.error(status: 401, json: ["error": "invalid_client", "error_codes": [7000215]], credentials: credentials)
        #expect(wrongSecret == .credentialsRejected && wrongSecret.message.contains("AADSTS7000215"))
        // The same `error` at 400 means the same thing: never branch on the status or the text.
        #expect(TokenProvider.error(status: 400, json: ["error": "invalid_client"], credentials: credentials) == .credentialsRejected)
        #expect(TokenProvider.error(status: 400, json: ["error": "invalid_resource", "error_codes": [500011]], credentials: credentials).message.contains("environment"))
        #expect(TokenProvider.error(status: 503, json: nil, credentials: credentials) == .remoteUnavailable)
        #expect(TokenProvider.error(status: 400, json: ["error": "temporarily_unavailable"], credentials: credentials) == .remoteUnavailable)
    }
}
