import AsyncHTTPClient
import ConnectorCore
import Foundation
import NIOCore

/// Business events (reference §6): invoicing a sales order and the HTTPS endpoint delivery.
extension DynamicsEmulator {
    /// One business event with its delivery history.
    public struct BusinessEvent: Sendable, Equatable {
        public var company: String
        public var endpoint: String
        /// The flat JSON payload, keys in alphabetical order.
        public var payload: ODataValue
        /// Attempts so far (1 + retries).
        public var attempts: Int
        /// The last failure: an HTTP status or a connection error.
        public var lastError: String?
    }

    struct EventState: Sendable {
        var controlNumber: Int64 = 5_637_998_800
        var delivered: [BusinessEvent] = []
        var failed: [BusinessEvent] = []
        /// Endpoints set while running (company → URL), as an administrator activates an
        /// event in *Business events*; they override the configuration.
        var endpoints: [String: String] = [:]
        /// Quantity invoiced so far per sales order line ("company/InventoryLotId"), so a
        /// partial invoice leaves the rest open for the next one.
        var invoiced: [String: Decimal] = [:]
    }

    /// Events delivered with a 2xx, oldest first.
    public var deliveredEvents: [BusinessEvent] { core.withLock { $0.events.delivered } }

    /// Events parked after their retries failed (the "Errors" tab).
    public var failedEvents: [BusinessEvent] { core.withLock { $0.events.failed } }

    /// Points `company`'s business events at `url` from now on (nil: back to the
    /// configuration's endpoint) — an endpoint configured while the environment runs.
    public func setBusinessEventEndpoint(_ url: String?, company: String) {
        core.withLock { $0.events.endpoints[company.lowercased()] = url }
    }

    /// Posts the invoice for an open sales order as F&O would: `SalesInvoiceHeadersV2` +
    /// `SalesInvoiceV2Lines` rows appear (number from a `CIV-nnnnnn` sequence per company,
    /// amounts from the lines; no tax is calculated), and, when the company has an endpoint, a
    /// `SalesInvoicePostedBusinessEvent` is delivered. Returns the invoice number.
    ///
    /// `quantities` (InventoryLotId → quantity) invoices only part of the order: a line not
    /// named is not invoiced now, a quantity above what is still open is cut to it. A line
    /// becomes Invoiced when all of it is; the order when all its lines are — until then its
    /// `SalesOrderStatus` stays Backorder (open) and its processing status PartiallyInvoiced.
    /// nil invoices everything still open.
    @discardableResult
    public func markInvoiced(company: String, salesOrderNumber: String, quantities: [String: Decimal]? = nil) async throws -> String {
        let now = clock.now()
        let company = company.lowercased()
        let (invoice, payload) = try core.withLock { core throws -> (String, ODataValue) in
            var data = core.data
            guard let headerSet = data.schema.entitySets["SalesOrderHeadersV2"],
                  let hi = data.tables["SalesOrderHeadersV2", default: []].firstIndex(where: { data.string($0, "dataAreaId") == company && data.string($0, "SalesOrderNumber").caseInsensitiveCompare(salesOrderNumber) == .orderedSame })
            else { throw EmulatorError(status: 404, message: "Sales order \(salesOrderNumber) does not exist in company \(company).") }
            _ = headerSet
            let header = data.tables["SalesOrderHeadersV2"]![hi]
            guard data.string(header, "SalesOrderStatus") == "Backorder" else {
                throw EmulatorError(status: 400, message: "Sales order \(salesOrderNumber) has status \(data.string(header, "SalesOrderStatus")) and cannot be invoiced.")
            }
            let lineIndices = data.tables["SalesOrderLines", default: []].indices.filter {
                let l = data.tables["SalesOrderLines"]![$0]
                return data.string(l, "dataAreaId") == company && data.string(l, "SalesOrderNumber") == data.string(header, "SalesOrderNumber")
            }
            guard !lineIndices.isEmpty else { throw EmulatorError(status: 400, message: "Sales order \(salesOrderNumber) has no lines to invoice.") }
            // What each line invoices now, and whether that finishes it.
            var invoiceNow: [(index: Int, quantity: Decimal, finishes: Bool)] = []
            for i in lineIndices {
                let line = data.tables["SalesOrderLines"]![i]
                let lot = company + "/" + data.string(line, "InventoryLotId")
                let ordered = data.decimal(line, "OrderedSalesQuantity")
                let open = max(ordered - core.events.invoiced[lot, default: 0], 0)
                let wanted = quantities.map { $0[data.string(line, "InventoryLotId")] ?? 0 } ?? open
                let quantity = min(max(wanted, 0), open)
                guard quantity > 0 else { continue }
                invoiceNow.append((i, quantity, quantity == open))
            }
            var invoicedSoFar = core.events.invoiced
            guard !invoiceNow.isEmpty else { throw EmulatorError(status: 400, message: "Nothing of sales order \(salesOrderNumber) is left to invoice in the quantities given.") }
            let invoiceNumber = String(format: "CIV-%06d", data.nextNumber("CustInvoice", company: company))
            let voucher = String(format: "ARI-%06d", data.nextNumber("InvoiceVoucher", company: company))
            let invoiceDate = ISODate.noon(now)
            var total = Decimal(0)
            var discount = Decimal(0)
            let seeding = WriteContext(company: company, now: now, allowManualSalesOrderNumbers: true, enforceStringLengths: false, seeding: true)
            for (n, part) in invoiceNow.enumerated() {
                let i = part.index
                let line = data.tables["SalesOrderLines"]![i]
                let ordered = data.decimal(line, "OrderedSalesQuantity")
                // The share of the line's amount this invoice carries, to the cent.
                var share = ordered == 0 ? Decimal(0) : data.decimal(line, "LineAmount") * part.quantity / ordered
                var rounded = Decimal()
                NSDecimalRound(&rounded, &share, 2, .plain)
                let amount = part.quantity == ordered ? data.decimal(line, "LineAmount") : rounded
                total += amount
                let lineDiscount = (part.quantity * data.decimal(line, "SalesPrice") - amount)
                discount += max(lineDiscount, 0)
                let item = data.string(line, "ItemNumber")
                let product = data.find("ReleasedProductsV2", "ItemNumber", item, company: company)
                let productNumber = product.map { data.string($0, "ProductNumber") } ?? item
                let name = data.find("ProductsV2", "ProductNumber", productNumber, company: nil).map { data.string($0, "ProductName") } ?? data.string(line, "LineDescription")
                var values: [(String, ODataValue)] = [
                    ("dataAreaId", .string(company)), ("InvoiceNumber", .string(invoiceNumber)), ("LineCreationSequenceNumber", .number(Decimal(n + 1))),
                    ("InvoiceDate", .string(invoiceDate)), ("LedgerVoucher", .string(voucher)), ("ProductNumber", .string(productNumber)),
                    ("ProductName", .string(name)), ("InvoicedQuantity", .number(part.quantity)),
                    ("SalesPrice", .number(data.decimal(line, "SalesPrice"))), ("LineAmount", .number(amount)),
                    ("LineTotalDiscountAmount", .number(max(lineDiscount, 0))), ("SalesUnitSymbol", .string(data.string(line, "SalesUnitSymbol"))),
                    ("InventoryWarehouseId", .string(data.string(line, "ShippingWarehouseId"))), ("InventorySiteId", .string(data.string(line, "ShippingSiteId"))),
                    ("CurrencyCode", .string(data.string(line, "CurrencyCode"))),
                ]
                for dim in ["ProductColorId", "ProductSizeId", "ProductStyleId", "ProductConfigurationId", "ProductVersionId"] {
                    values.append((dim, .string(data.string(line, dim))))
                }
                do { _ = try data.create("SalesInvoiceV2Lines", body: .object(ODataObject(values)), context: seeding) } catch { throw EmulatorError(error) }
                invoicedSoFar[company + "/" + data.string(line, "InventoryLotId"), default: 0] += part.quantity
                if part.finishes { data.tables["SalesOrderLines"]![i].values["SalesOrderLineStatus"] = "Invoiced" }
            }
            let allInvoiced = lineIndices.allSatisfy { data.string(data.tables["SalesOrderLines"]![$0], "SalesOrderLineStatus") == "Invoiced" }
            let headerValues: [(String, ODataValue)] = [
                ("dataAreaId", .string(company)), ("InvoiceNumber", .string(invoiceNumber)), ("InvoiceDate", .string(invoiceDate)), ("LedgerVoucher", .string(voucher)),
                ("SalesOrderNumber", .string(data.string(header, "SalesOrderNumber"))), ("InvoiceCustomerAccountNumber", .string(data.string(header, "InvoiceCustomerAccountNumber"))),
                ("CustomersOrderReference", .string(data.string(header, "CustomersOrderReference"))), ("CurrencyCode", .string(data.string(header, "CurrencyCode"))),
                ("TotalInvoiceAmount", .number(total)), ("TotalTaxAmount", .number(0)), ("TotalDiscountAmount", .number(discount)),
                ("PaymentTermsName", .string(data.string(header, "PaymentTermsName"))), ("DeliveryModeCode", .string(data.string(header, "DeliveryModeCode"))),
                ("SalesOrderOriginCode", .string(data.string(header, "SalesOrderOriginCode"))),
            ]
            do { _ = try data.create("SalesInvoiceHeadersV2", body: .object(ODataObject(headerValues)), context: seeding) } catch { throw EmulatorError(error) }
            if allInvoiced { data.tables["SalesOrderHeadersV2"]![hi].values["SalesOrderStatus"] = "Invoiced" }
            data.tables["SalesOrderHeadersV2"]![hi].values["SalesOrderProcessingStatus"] = allInvoiced ? "Invoiced" : "PartiallyInvoiced"
            core.data = data
            core.events.invoiced = invoicedSoFar

            // The event, flat, keys in alphabetical order (reference §6.2, §6.3).
            core.events.controlNumber += Int64(1 + core.random.next() % 7)
            let ms = Int64((now.timeIntervalSince1970 * 1000).rounded(.down))
            let dayMs = Int64((ISODate.parse(invoiceDate)!.timeIntervalSince1970 * 1000).rounded(.down))
            let iso = ISO8601DateFormatter()
            iso.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            var isoTime = iso.string(from: now)
            isoTime = isoTime.replacingOccurrences(of: "Z", with: "0000Z")
            let pairs: [(String, ODataValue)] = [
                ("BusinessEventId", "SalesInvoicePostedBusinessEvent"),
                ("BusinessEventLegalEntity", .string(company.uppercased())),
                ("ContextRecordSubject", ""),
                ("ControlNumber", .number(Decimal(core.events.controlNumber))),
                ("EventId", .string(core.random.uuid())),
                ("EventTime", .string("/Date(\(ms))/")),
                ("EventTimeIso8601", .string(isoTime)),
                ("InitiatingUserAADObjectId", .string("{" + core.random.uuid() + "}")),
                ("InvoiceAccount", .string(data.string(header, "InvoiceCustomerAccountNumber"))),
                ("InvoiceAmountInAccountingCurrency", .number(total)),
                ("InvoiceDate", .string("/Date(\(dayMs))/")),
                ("InvoiceDueDate", .string("/Date(\(dayMs))/")),
                ("InvoiceId", .string(invoiceNumber)),
                ("InvoiceTaxAmount", .number(0)),
                ("LegalEntity", .string(company)),
                ("MajorVersion", 0),
                ("MinorVersion", 0),
                ("ParentContextRecordSubjects", .array([])),
                ("SalesOrderId", .string(data.string(header, "SalesOrderNumber"))),
            ]
            return (invoiceNumber, .object(ODataObject(pairs.sorted { $0.0 < $1.0 })))
        }
        if let endpoint = core.withLock({ $0.events.endpoints[company] }) ?? configuration.businessEventURLs[company] ?? configuration.businessEventURLs[company.uppercased()] ?? configuration.businessEventURL {
            await deliver(BusinessEvent(company: company, endpoint: endpoint, payload: payload, attempts: 0, lastError: nil))
        }
        return invoice
    }

    /// Posts a customer payment journal, as a person or a batch job does in F&O (there is no
    /// OData action for it): the header and its lines become `IsPosted` Yes and read-only.
    public func markJournalPosted(company: String, journalBatchNumber: String) throws {
        let company = company.lowercased()
        try core.withLock { core in
            guard let index = core.data.tables["CustomerPaymentJournalHeaders", default: []].firstIndex(where: {
                core.data.string($0, "dataAreaId") == company && core.data.string($0, "JournalBatchNumber") == journalBatchNumber
            }) else { throw EmulatorError(status: 404, message: "Journal \(journalBatchNumber) does not exist in company \(company).") }
            core.data.tables["CustomerPaymentJournalHeaders"]![index].values["IsPosted"] = "Yes"
        }
    }

    /// Sends an event: one attempt plus 3 retries 1 s apart (through the injected `Sleeper`),
    /// then parks it in ``failedEvents``.
    func deliver(_ event: BusinessEvent) async {
        var event = event
        for attempt in 0...3 {
            if attempt > 0 { try? await sleeper.sleep(seconds: 1) }
            event.attempts += 1
            do {
                var request = HTTPClientRequest(url: event.endpoint)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: event.payload.encoded()))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                _ = try? await response.body.collect(upTo: 1 << 20)
                if (200..<300).contains(Int(response.status.code)) {
                    event.lastError = nil
                    core.withLock { $0.events.delivered.append(event) }
                    return
                }
                event.lastError = "HTTP \(response.status.code)"
            } catch {
                event.lastError = "\(error)"
            }
            // Without the query: an HTTPS endpoint carries its credential there (`?code=…`).
            let shown = event.endpoint.split(separator: "?", maxSplits: 1).first.map(String.init) ?? ""
            logger.info("business event delivery failed", metadata: ["event.endpoint": "\(shown)", "event.attempt": "\(event.attempts)", "event.error": "\(event.lastError ?? "")"])
        }
        core.withLock { $0.events.failed.append(event) }
    }

    /// Resends every parked event (the "Resend" button) to its company's endpoint as configured
    /// now (an administrator fixes the endpoint, then resends); returns how many were delivered.
    @discardableResult
    public func resendFailedEvents() async -> Int {
        let parked = core.withLock { core -> [BusinessEvent] in
            defer { core.events.failed.removeAll() }
            return core.events.failed.map { event in
                var event = event
                if let current = core.events.endpoints[event.company] { event.endpoint = current }
                return event
            }
        }
        for event in parked { await deliver(event) }
        return core.withLock { core in core.events.delivered.count { d in parked.contains { $0.payload == d.payload } } }
    }
}
