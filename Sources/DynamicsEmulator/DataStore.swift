import Foundation

/// One stored row: the values written or defaulted (absent = F&O's empty value) plus the
/// record identity behind the ETag.
struct StoredRow: Sendable {
    var values: [String: ODataValue]
    var recId: Int64
    var recVersion: Int
}

/// What a write needs from the configuration and the moment.
struct WriteContext {
    var company: String
    var now: Date
    var allowManualSalesOrderNumbers: Bool
    var enforceStringLengths: Bool
    /// `insert(_:_:)` seeding: also allowed on the read-only (posted / aggregate) entities.
    var seeding: Bool = false
}

/// Every table, number sequence and the RecId counter. A value type, so a `$batch` changeset
/// rolls back by restoring the copy taken before it.
struct DataStore: Sendable {
    let schema: EmulatorSchema
    /// Changed only through ``Table``'s own methods (or ``appendRow(_:to:)``), which keep its indexes.
    var tables: [String: Table] = [:]
    var sequences: [String: Int] = [:]
    var nextRecId: Int64 = 5_637_144_576
    /// Sales tax percent per "SALESTAXGROUP/ITEMTAXGROUP" (empty: F&O calculates no tax here).
    var salesTaxRates: [String: Decimal] = [:]

    /// Counts the rows read (shared with every copy).
    let probe = RowProbe()

    init(schema: EmulatorSchema, salesTaxRates: [String: Decimal] = [:]) {
        self.schema = schema
        self.salesTaxRates = salesTaxRates
    }

    /// The string fields records of a set are looked up by — by the entity logic here and by
    /// the connector's `$filter`s — indexed as F&O's tables index them.
    static let lookupFields: [String: [String]] = [
        "SalesOrderHeadersV2": ["SalesOrderNumber", "CustomersOrderReference"],
        "SalesOrderLines": ["SalesOrderNumber"],
        "CustomerPaymentJournalHeaders": ["JournalBatchNumber"],
        "CustomerPaymentJournalLines": ["JournalBatchNumber", "PaymentReference"],
        "CustomersV3": ["CustomerAccount"],
        "ReleasedProductsV2": ["ItemNumber"],
        "ProductsV2": ["ProductNumber"],
        "ReleasedProductVariantsV2": ["ProductMasterNumber"],
        "WarehousesOnHandV2": ["ItemNumber"],
        "BankAccounts": ["BankAccountId"],
        "SalesInvoiceHeadersV2": ["SalesOrderNumber"],
        "SalesInvoiceLines": ["SalesOrderNumber"],
        "SalesInvoiceV2Lines": ["SalesOrderNumber"],
    ]

    func makeTable(_ set: EntitySetSchema) -> Table {
        let lookups = (DataStore.lookupFields[set.name] ?? []).filter { set.property($0)?.kind == .string }
        return Table(keyFields: set.keys, keyDefaults: set.keys.map { set.property($0).map(emptyValue) ?? .null }, lookupFields: lookups, probe: probe)
    }

    /// Adds a row at the end of its set; returns its position.
    mutating func appendRow(_ row: StoredRow, to set: EntitySetSchema) -> Int {
        if tables[set.name] == nil { tables[set.name] = makeTable(set) }
        tables[set.name]!.append(row)
        return tables[set.name]!.count - 1
    }

    // MARK: changesets

    /// What a changeset restores when one of its parts fails.
    struct Savepoint {
        var tableNames: Set<String>
        var sequences: [String: Int]
        var nextRecId: Int64
    }

    /// Starts recording changes (instead of copying every table, which costs as much as the
    /// tables are long).
    mutating func beginChangeset() -> Savepoint {
        for name in tables.keys { tables[name]!.startRecording() }
        return Savepoint(tableNames: Set(tables.keys), sequences: sequences, nextRecId: nextRecId)
    }

    mutating func commitChangeset() {
        for name in tables.keys { tables[name]!.stopRecording() }
    }

    /// Puts everything back as it was at `savepoint`: all or nothing.
    mutating func rollBack(to savepoint: Savepoint) {
        for name in Array(tables.keys) {
            if savepoint.tableNames.contains(name) { tables[name]!.rollBack() } else { tables.removeValue(forKey: name) }
        }
        sequences = savepoint.sequences
        nextRecId = savepoint.nextRecId
    }

    /// Entities only F&O itself writes (posted invoices, on-hand aggregates): the API refuses
    /// writes; seeds and `markInvoiced` fill them.
    static let readOnlySets: Set<String> = ["SalesInvoiceHeadersV2", "SalesInvoiceLines", "SalesInvoiceV2Lines", "WarehousesOnHandV2"]

    // MARK: values

    /// The empty value F&O returns for a property never set: `""`, `0`, the first enum member,
    /// or 1900-01-01T12:00:00Z for every `Edm.DateTimeOffset` (reference §2.6; the emulator does
    /// not distinguish date from date-time fields).
    func emptyValue(_ property: PropertySchema) -> ODataValue {
        switch property.kind {
        case .string: return ""
        case .decimal, .int32, .int64, .double: return .number(0)
        case .dateTimeOffset: return "1900-01-01T12:00:00Z"
        case .boolean: return false
        case .enumeration(let name): return .string(schema.firstMember(of: name))
        case .other: return ""
        }
    }

    func value(_ row: StoredRow, _ property: PropertySchema) -> ODataValue {
        row.values[property.name] ?? emptyValue(property)
    }

    func value(_ row: StoredRow, _ name: String, in set: EntitySetSchema) -> ODataValue {
        guard let p = set.property(name) else { return row.values[name] ?? .null }
        return value(row, p)
    }

    func string(_ row: StoredRow, _ name: String) -> String {
        row.values[name]?.stringValue ?? ""
    }

    func decimal(_ row: StoredRow, _ name: String) -> Decimal {
        row.values[name]?.decimalValue ?? 0
    }

    static func sameValue(_ a: ODataValue, _ b: ODataValue) -> Bool {
        switch (a, b) {
        case (.string(let x), .string(let y)):
            if let dx = ISODate.parse(x), let dy = ISODate.parse(y) { return dx == dy }
            return x.caseInsensitiveCompare(y) == .orderedSame
        default: return a == b
        }
    }

    /// Rows whose key equals `key` (all key parts given).
    func index(of key: [String: ODataValue], in set: EntitySetSchema) -> Int? {
        let table = tables[set.name, default: []]
        func matches(_ row: StoredRow) -> Bool {
            set.keys.allSatisfy { k in
                guard let wanted = key[k] else { return false }
                return DataStore.sameValue(value(row, k, in: set), wanted)
            }
        }
        guard let candidates = table.keyCandidates(key) else { return table.firstIndex(where: matches) }
        return candidates.first { matches(table[$0]) }
    }

    /// Finds a row of `setName` whose `field` equals `value` (in `company` when the set is per company).
    func find(_ setName: String, _ field: String, _ value: String, company: String?) -> StoredRow? {
        guard let set = schema.entitySets[setName] else { return nil }
        let table = tables[setName, default: []]
        for position in table.positions(field, value) {
            let row = table[position]
            if set.isCompanySpecific, let company, string(row, "dataAreaId") != company { continue }
            if string(row, field).caseInsensitiveCompare(value) == .orderedSame { return row }
        }
        return nil
    }

    /// The rows of `setName` whose `field` may equal `text` (ignoring ASCII case), in table
    /// order: through the field's index when it has one, else all of them. Callers check each.
    func rows(_ setName: String, _ field: String, _ text: String) -> [StoredRow] {
        let table = tables[setName, default: []]
        return table.positions(field, text).map { table[$0] }
    }

    mutating func nextNumber(_ sequence: String, company: String) -> Int {
        let key = sequence + "|" + company
        let n = sequences[key, default: 0] + 1
        sequences[key] = n
        return n
    }

    mutating func newRecId() -> Int64 {
        defer { nextRecId += 1 }
        return nextRecId
    }

    // MARK: payload checks

    /// Checks every member of a POST/PATCH body against the entity type and converts it to the
    /// stored form. Annotations (`@odata.type`, …) are ignored.
    func validatedPayload(_ body: ODataValue, for set: EntitySetSchema, enforceLengths: Bool) throws(ODataError) -> [String: ODataValue] {
        guard case .object(let object) = body else {
            throw .badRequest("The request body must be a JSON object describing a single '\(set.entityType)' entity.")
        }
        var out: [String: ODataValue] = [:]
        for (name, raw) in object.pairs {
            if name.hasPrefix("@") || name.contains("@odata.") { continue }
            guard let property = set.property(name) else {
                if set.navigationProperty(name) != nil {
                    throw .badRequest("Deep insert through the navigation property '\(name)' is not supported; create '\(name)' records with their own requests.")
                }
                throw .badRequest("The property '\(name)' does not exist on type '\(set.entityType)'. Make sure to only use property names that are defined by the type or mark the type as open type.")
            }
            out[name] = try convert(raw, for: property, in: set)
            if enforceLengths, case .string(let s)? = out[name], let limit = StringLengthLimits.maximumLengths[name], s.count > limit {
                let labels = EntityLabels.of(set)
                throw .writeFailed("Write failed for table row of type '\(labels.aot)'. Infolog: Error: The value '\(s)' of field '\(name)' is longer than the maximum length of \(limit) characters.")
            }
        }
        return out
    }

    func convert(_ raw: ODataValue, for property: PropertySchema, in set: EntitySetSchema) throws(ODataError) -> ODataValue {
        func mismatch(_ expected: String) -> ODataError {
            .badRequest("Cannot convert the value \(raw) of property '\(property.name)' to the expected type '\(expected)' on type '\(set.entityType)'.")
        }
        if case .null = raw {
            if property.nullable { return emptyValue(property) }
            throw .badRequest("A null value was found for the property named '\(property.name)', which has the expected type '\(property.edmType)[Nullable=False]'. The expected type '\(property.edmType)[Nullable=False]' does not allow null values.")
        }
        switch property.kind {
        case .string:
            guard case .string = raw else { throw mismatch("Edm.String") }
            if property.name == "dataAreaId", case .string(let s) = raw { return .string(s.lowercased()) }
            return raw
        case .decimal, .double:
            guard case .number = raw else { throw mismatch(property.edmType) }
            return raw
        case .int32, .int64:
            guard case .number(let d) = raw, d.isIntegral else { throw mismatch(property.edmType) }
            if property.kind == .int32, d > Decimal(Int32.max) || d < Decimal(Int32.min) { throw mismatch(property.edmType) }
            return raw
        case .dateTimeOffset:
            guard case .string(let s) = raw, ISODate.parse(s) != nil else { throw mismatch("Edm.DateTimeOffset") }
            return raw
        case .boolean:
            guard case .bool = raw else { throw mismatch("Edm.Boolean") }
            return raw
        case .enumeration(let enumName):
            guard case .string(let member) = raw else { throw mismatch(property.edmType) }
            guard schema.isMember(member, of: enumName) else {
                throw .badRequest("The value '\(member)' of property '\(property.name)' is not a member of enum type '\(property.edmType)'. Requested value '\(member)' was not found.")
            }
            return raw
        case .other:
            return raw
        }
    }

    // MARK: create

    /// Creates a record the way F&O's entity logic does: defaults, number sequences, required
    /// fields, duplicate and foreign-key checks. Returns the index of the new row.
    mutating func create(_ setName: String, body: ODataValue, context: WriteContext) throws(ODataError) -> Int {
        guard let set = schema.entitySets[setName] else { throw .entitySetNotFound }
        let labels = EntityLabels.of(set)
        if DataStore.readOnlySets.contains(setName), !context.seeding {
            throw .writeFailed("Write failed for table row of type '\(labels.aot)'. Infolog: Error: Records cannot be created in \(labels.tableLabel) (\(labels.table)) through this entity.")
        }
        var values = try validatedPayload(body, for: set, enforceLengths: context.enforceStringLengths)
        if set.isCompanySpecific {
            let company = values["dataAreaId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? context.company
            values["dataAreaId"] = .string(company.lowercased())
        }
        let company = values["dataAreaId"]?.stringValue ?? context.company
        try applyCreateRules(set, &values, company: company, context: context)

        // Every key part must be filled in, except product dimensions ("" = unused, reference §3.2).
        let dimensions: Set<String> = ["ProductConfigurationId", "ProductSizeId", "ProductColorId", "ProductStyleId", "ProductVersionId"]
        for key in set.keys where !dimensions.contains(key) {
            let v = values[key]
            if v == nil || v == .string("") {
                guard set.property(key)?.kind == .string else { continue }
                throw .writeFailed("Write failed for table row of type '\(labels.aot)'. Infolog: Warning: Field '\(key)' must be filled in.")
            }
        }
        var keyValues: [String: ODataValue] = [:]
        for key in set.keys { keyValues[key] = values[key] ?? set.property(key).map(emptyValue) }
        if index(of: keyValues, in: set) != nil {
            let shown = set.keys.filter { $0 != "dataAreaId" }.map { keyValues[$0].map(DataStore.display) ?? "" }.joined(separator: ", ")
            throw .writeFailed("Write failed for table row of type '\(labels.aot)'. Infolog: Info: Cannot create a record in \(labels.tableLabel) (\(labels.table)). \(labels.keyLabel): \(shown).\nThe record already exists..")
        }
        try checkForeignKeys(set, values, changed: Set(values.keys), company: company)
        let row = StoredRow(values: values, recId: newRecId(), recVersion: 1)
        let index = appendRow(row, to: set)
        if setName == "SalesOrderLines", !context.seeding { reserveOnHand(for: values, company: company) }
        return index
    }

    static func display(_ v: ODataValue) -> String {
        switch v {
        case .string(let s): return s
        case .number(let d): return d.plainText
        default: return v.description
        }
    }

    func infolog(_ set: EntitySetSchema, _ text: String) -> ODataError {
        .writeFailed("Write failed for table row of type '\(EntityLabels.of(set).aot)'. Infolog: \(text)")
    }

    func checkForeignKeys(_ set: EntitySetSchema, _ values: [String: ODataValue], changed: Set<String>, company: String) throws(ODataError) {
        for fk in ForeignKey.of(set.name) where changed.contains(fk.field) {
            guard let v = values[fk.field]?.stringValue, !v.isEmpty else { continue }
            if find(fk.target, fk.targetField, v, company: company) == nil {
                throw missingReference(set, fk.field, fk.fieldLabel, v, fk.targetLabel)
            }
        }
    }

    func missingReference(_ set: EntitySetSchema, _ field: String, _ label: String, _ value: String, _ table: String) -> ODataError {
        let aot = EntityLabels.of(set).aot
        return .writeFailed("Write failed for table row of type '\(aot)'. Infolog: Warning: The value '\(value)' in field '\(label)' is not found in the related table '\(table)'.; Warning: validateField failed on field '\(aot).\(field)'.")
    }

    func required(_ set: EntitySetSchema, _ values: [String: ODataValue], _ fields: [String]) throws(ODataError) {
        for f in fields where (values[f]?.stringValue ?? "").isEmpty {
            throw infolog(set, "Warning: Field '\(f)' must be filled in.; Warning: validateWrite failed on data source '\(EntityLabels.of(set).aot)'.")
        }
    }

    /// The entity-specific part of create (reference §3.1, §3.3, §3.4, §3.5).
    mutating func applyCreateRules(_ set: EntitySetSchema, _ values: inout [String: ODataValue], company: String, context: WriteContext) throws(ODataError) {
        switch set.name {
        case "CustomersV3":
            try required(set, values, ["CustomerAccount", "CustomerGroupId", "SalesCurrencyCode"])
            let partyType = values["PartyType"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? "Organization"
            values["PartyType"] = .string(partyType)
            switch partyType {
            case "Organization":
                try required(set, values, ["OrganizationName"])
            case "Person":
                if ["PersonFirstName", "PersonMiddleName", "PersonLastName"].allSatisfy({ (values[$0]?.stringValue ?? "").isEmpty }) {
                    throw infolog(set, "Warning: Field 'PersonFirstName' must be filled in.; Warning: validateWrite failed on data source '\(EntityLabels.of(set).aot)'.")
                }
            default:
                throw infolog(set, "Error: Party type '\(partyType)' is not valid; use Organization or Person.")
            }
            if values["PartyNumber"] == nil || values["PartyNumber"] == "" {
                values["PartyNumber"] = .string(String(format: "%09d", nextNumber("Party", company: "")))
            }
            if (values["InvoiceAccount"]?.stringValue ?? "").isEmpty { values.removeValue(forKey: "InvoiceAccount") }

        case "SalesOrderHeadersV2":
            if let given = values["SalesOrderNumber"]?.stringValue, !given.isEmpty {
                if !context.allowManualSalesOrderNumbers, !context.seeding {
                    throw infolog(set, "Error: The number sequence for 'Sales order' does not allow manual numbers. The value '\(given)' cannot be used.")
                }
            } else {
                values["SalesOrderNumber"] = .string(String(format: "%06d", nextNumber("SalesOrder", company: company)))
            }
            try required(set, values, ["OrderingCustomerAccountNumber"])
            if (values["InvoiceCustomerAccountNumber"]?.stringValue ?? "").isEmpty {
                let ordering = values["OrderingCustomerAccountNumber"]!.stringValue!
                let invoice = find("CustomersV3", "CustomerAccount", ordering, company: company).map { string($0, "InvoiceAccount") } ?? ""
                values["InvoiceCustomerAccountNumber"] = .string(invoice.isEmpty ? ordering : invoice)
            }
            try required(set, values, ["CurrencyCode"])
            values["SalesOrderStatus"] = "Backorder"
            values["SalesOrderProcessingStatus"] = "Active"
            values["OrderCreationDateTime"] = .string(ISODate.format(context.now))
            if values["RequestedShippingDate"] == nil { values["RequestedShippingDate"] = .string(ISODate.noon(context.now)) }

        case "SalesOrderLines":
            try required(set, values, ["SalesOrderNumber", "ItemNumber"])
            let orderNumber = values["SalesOrderNumber"]!.stringValue!
            guard let header = find("SalesOrderHeadersV2", "SalesOrderNumber", orderNumber, company: company) else {
                throw missingReference(set, "SalesOrderNumber", "Sales order", orderNumber, "Sales orders")
            }
            guard string(header, "SalesOrderStatus") == "Backorder" || header.values["SalesOrderStatus"] == nil else {
                throw infolog(set, "Error: Sales order \(orderNumber) has status \(string(header, "SalesOrderStatus")) and cannot be changed.")
            }
            let itemNumber = values["ItemNumber"]!.stringValue!
            guard let product = find("ReleasedProductsV2", "ItemNumber", itemNumber, company: company) else {
                throw missingReference(set, "ItemNumber", "Item number", itemNumber, "Items")
            }
            if string(product, "ProductSubType") == "ProductMaster" {
                try checkVariant(set, values, master: itemNumber, company: company)
            }
            if values["InventoryLotId"] == nil || values["InventoryLotId"] == "" {
                values["InventoryLotId"] = .string(String(format: "%06d", nextNumber("InventTransId", company: company)))
            }
            let siblings = rows("SalesOrderLines", "SalesOrderNumber", orderNumber).filter { string($0, "dataAreaId") == company && string($0, "SalesOrderNumber").caseInsensitiveCompare(orderNumber) == .orderedSame }
            values["LineCreationSequenceNumber"] = .number(Decimal(siblings.count + 1))
            if values["LineNumber"] == nil {
                let last = siblings.map { decimal($0, "LineNumber") }.max() ?? 0
                values["LineNumber"] = .number(last + 1)
            }
            if values["SalesPrice"] == nil { values["SalesPrice"] = .number(decimal(product, "SalesPrice")) }
            if values["SalesUnitSymbol"] == nil { values["SalesUnitSymbol"] = .string(string(product, "SalesUnitSymbol")) }
            if values["SalesTaxItemGroupCode"] == nil, !string(product, "SalesSalesTaxItemGroupCode").isEmpty {
                values["SalesTaxItemGroupCode"] = .string(string(product, "SalesSalesTaxItemGroupCode"))
            }
            if values["LineDescription"] == nil {
                let name = find("ProductsV2", "ProductNumber", string(product, "ProductNumber"), company: nil).map { string($0, "ProductName") } ?? string(product, "SearchName")
                values["LineDescription"] = .string(name)
            }
            if values["CurrencyCode"] == nil { values["CurrencyCode"] = .string(string(header, "CurrencyCode")) }
            if values["RequestedShippingDate"] == nil { values["RequestedShippingDate"] = header.values["RequestedShippingDate"] ?? .string(ISODate.noon(context.now)) }
            if values["SalesTaxGroupCode"] == nil, !string(header, "SalesTaxGroupCode").isEmpty { values["SalesTaxGroupCode"] = .string(string(header, "SalesTaxGroupCode")) }
            if values["OrderedSalesQuantity"] == nil { values["OrderedSalesQuantity"] = .number(1) }
            if values["SalesPriceQuantity"] == nil { values["SalesPriceQuantity"] = .number(1) }
            values["SalesOrderLineStatus"] = "Backorder"
            if values["LineAmount"] == nil { values["LineAmount"] = .number(DataStore.lineAmount(values)) }

        case "CustomerPaymentJournalHeaders":
            if values["JournalBatchNumber"] == nil || values["JournalBatchNumber"] == "" {
                values["JournalBatchNumber"] = .string(String(format: "%05d", nextNumber("LedgerJournal", company: company)))
            }
            try required(set, values, ["JournalName"])
            if values["IsPosted"] == nil || !context.seeding { values["IsPosted"] = values["IsPosted"].flatMap { context.seeding ? $0 : nil } ?? "No" }

        case "CustomerPaymentJournalLines":
            try required(set, values, ["JournalBatchNumber"])
            let batch = values["JournalBatchNumber"]!.stringValue!
            guard let header = find("CustomerPaymentJournalHeaders", "JournalBatchNumber", batch, company: company) else {
                throw missingReference(set, "JournalBatchNumber", "Journal batch number", batch, "Journal table")
            }
            if string(header, "IsPosted") == "Yes" {
                throw infolog(set, "Error: Journal \(batch) is posted and cannot be changed.")
            }
            if values["LineNumber"] == nil {
                let last = rows(set.name, "JournalBatchNumber", batch).filter { string($0, "dataAreaId") == company && string($0, "JournalBatchNumber") == batch }.map { decimal($0, "LineNumber") }.max() ?? 0
                values["LineNumber"] = .number(last + 1)
            }
            if values["AccountType"]?.stringValue == "Cust" {
                let account = values["AccountDisplayValue"]?.stringValue ?? ""
                let plain = account.replacingOccurrences(of: "\\-", with: "-")
                guard let customer = find("CustomersV3", "CustomerAccount", plain, company: company) else {
                    throw missingReference(set, "AccountDisplayValue", "Account", account, "Customers")
                }
                let name = string(customer, "OrganizationName").isEmpty
                    ? [string(customer, "PersonFirstName"), string(customer, "PersonLastName")].filter { !$0.isEmpty }.joined(separator: " ")
                    : string(customer, "OrganizationName")
                values["CustomerName"] = .string(name)
            }
            if values["OffsetAccountType"]?.stringValue == "Bank", let bank = values["OffsetAccountDisplayValue"]?.stringValue, !bank.isEmpty,
               find("BankAccounts", "BankAccountId", bank, company: company) == nil
            {
                throw missingReference(set, "OffsetAccountDisplayValue", "Offset account", bank, "Bank accounts")
            }
            if values["Voucher"] == nil { values["Voucher"] = .string(String(format: "ARP-%06d", nextNumber("Voucher", company: company))) }

        default:
            break
        }
    }

    func checkVariant(_ set: EntitySetSchema, _ values: [String: ODataValue], master: String, company: String) throws(ODataError) {
        let dims = ["ProductConfigurationId", "ProductSizeId", "ProductColorId", "ProductStyleId", "ProductVersionId"]
        let found = rows("ReleasedProductVariantsV2", "ProductMasterNumber", master).contains { row in
            string(row, "dataAreaId") == company && string(row, "ProductMasterNumber").caseInsensitiveCompare(master) == .orderedSame
                && dims.allSatisfy { string(row, $0).caseInsensitiveCompare(values[$0]?.stringValue ?? "") == .orderedSame }
        }
        if !found {
            let shown = dims.compactMap { values[$0]?.stringValue }.filter { !$0.isEmpty }.joined(separator: ", ")
            throw infolog(set, "Warning: The product variant (\(shown.isEmpty ? "no dimensions" : shown)) of item \(master) is not released to company \(company).; Warning: validateField failed on field '\(EntityLabels.of(set).aot).ItemNumber'.")
        }
    }

    /// Quantity × price (per price unit) − quantity × per-unit discount, less the line
    /// discount percentage, rounded to 2 decimals (emulator's formula, reference §3.4).
    static func lineAmount(_ values: [String: ODataValue]) -> Decimal {
        let qty = values["OrderedSalesQuantity"]?.decimalValue ?? 0
        let price = values["SalesPrice"]?.decimalValue ?? 0
        var per = values["SalesPriceQuantity"]?.decimalValue ?? 1
        if per == 0 { per = 1 }
        let discount = values["LineDiscountAmount"]?.decimalValue ?? 0
        let percent = values["LineDiscountPercentage"]?.decimalValue ?? 0
        let gross = qty * (price / per) - qty * discount
        return (gross * (1 - percent / 100)).rounded(scale: 2)
    }

    // MARK: update / delete

    /// Why a record may not change: invoiced orders and lines, posted journals (reference §3.12).
    func readOnlyReason(_ set: EntitySetSchema, _ row: StoredRow) -> String? {
        let company = string(row, "dataAreaId")
        switch set.name {
        case "SalesOrderHeadersV2":
            let status = string(row, "SalesOrderStatus")
            if status != "Backorder", !status.isEmpty {
                return "Error: Sales order \(string(row, "SalesOrderNumber")) has status \(status). Only open orders can be changed."
            }
        case "SalesOrderLines":
            if let header = find("SalesOrderHeadersV2", "SalesOrderNumber", string(row, "SalesOrderNumber"), company: company) {
                let status = string(header, "SalesOrderStatus")
                if status != "Backorder", !status.isEmpty {
                    return "Error: Sales order \(string(row, "SalesOrderNumber")) has status \(status). Only open orders can be changed."
                }
            }
        case "CustomerPaymentJournalHeaders":
            if string(row, "IsPosted") == "Yes" { return "Error: Journal \(string(row, "JournalBatchNumber")) is posted and cannot be changed." }
        case "CustomerPaymentJournalLines":
            if let header = find("CustomerPaymentJournalHeaders", "JournalBatchNumber", string(row, "JournalBatchNumber"), company: company), string(header, "IsPosted") == "Yes" {
                return "Error: Journal \(string(row, "JournalBatchNumber")) is posted and cannot be changed."
            }
        default:
            if DataStore.readOnlySets.contains(set.name) { return "Error: Records in \(EntityLabels.of(set).tableLabel) cannot be changed through this entity." }
        }
        return nil
    }

    /// PATCH (and PUT, treated as a merge): changed fields only.
    mutating func update(_ setName: String, key: [String: ODataValue], body: ODataValue, context: WriteContext) throws(ODataError) {
        guard let set = schema.entitySets[setName] else { throw .entitySetNotFound }
        guard let i = index(of: key, in: set) else { throw .noResourcesForUpdate }
        let existing = tables[setName]![i]
        if let reason = readOnlyReason(set, existing) {
            let labels = EntityLabels.of(set)
            throw .writeFailed("Write failed for table row of type '\(labels.aot)'. Infolog: Error: Cannot edit a record in \(labels.tableLabel) (\(labels.table)).; \(reason)")
        }
        let changes = try validatedPayload(body, for: set, enforceLengths: context.enforceStringLengths)
        for k in set.keys {
            if let v = changes[k], !DataStore.sameValue(v, value(existing, k, in: set)) {
                throw infolog(set, "Error: The key field '\(k)' cannot be changed.")
            }
        }
        var values = existing.values
        for (k, v) in changes { values[k] = v }
        let company = string(existing, "dataAreaId")
        if setName == "SalesOrderLines", changes["LineAmount"] == nil,
           !Set(changes.keys).isDisjoint(with: ["OrderedSalesQuantity", "SalesPrice", "SalesPriceQuantity", "LineDiscountAmount", "LineDiscountPercentage"])
        {
            values["LineAmount"] = .number(DataStore.lineAmount(values))
        }
        if setName == "CustomersV3" { try required(set, values, ["CustomerGroupId", "SalesCurrencyCode"]) }
        try checkForeignKeys(set, values, changed: Set(changes.keys), company: company)
        var updated = existing
        updated.values = values
        updated.recVersion = existing.recVersion &* 31 &+ 7_919 & 0x7FFF_FFFF
        tables[setName]![i] = updated
    }

    mutating func delete(_ setName: String, key: [String: ODataValue]) throws(ODataError) {
        guard let set = schema.entitySets[setName] else { throw .entitySetNotFound }
        guard let i = index(of: key, in: set) else { throw .noResourcesForUpdate }
        let row = tables[setName]![i]
        if let reason = readOnlyReason(set, row) {
            let labels = EntityLabels.of(set)
            throw .writeFailed("Write failed for table row of type '\(labels.aot)'. Infolog: Error: Cannot delete a record in \(labels.tableLabel) (\(labels.table)).; \(reason)")
        }
        tables[setName]!.remove(at: i)
        let company = string(row, "dataAreaId")
        // Deleting an order deletes its lines; deleting a journal its lines (as in F&O).
        func same(_ r: StoredRow, _ field: String) -> Bool {
            r.values["dataAreaId"]?.stringValue == company && r.values[field]?.stringValue == row.values[field]?.stringValue
        }
        if setName == "SalesOrderHeadersV2" {
            tables["SalesOrderLines"]?.removeAll { same($0, "SalesOrderNumber") }
        } else if setName == "CustomerPaymentJournalHeaders" {
            tables["CustomerPaymentJournalLines"]?.removeAll { same($0, "JournalBatchNumber") }
        }
    }
}

/// ISO-8601 date-times as F&O sends them (UTC, `Z`, optional fraction).
enum ISODate {
    static func parse(_ s: String) -> Date? {
        guard s.hasSuffix("Z"), s.count >= 20, s.dropFirst(4).first == "-", s.dropFirst(10).first == "T" else { return nil }
        let plain = ISO8601DateFormatter()
        plain.formatOptions = [.withInternetDateTime]
        if let d = plain.date(from: s) { return d }
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return fractional.date(from: s)
    }

    static func format(_ d: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: d)
    }

    /// The date of `d` (UTC) at 12:00:00Z: how F&O sends date-only fields.
    static func noon(_ d: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day], from: d)
        return String(format: "%04d-%02d-%02dT12:00:00Z", c.year!, c.month!, c.day!)
    }
}
