import Foundation

/// Renders stored rows as F&O serialises them (reference §2.6).
struct Renderer {
    let store: DataStore
    /// `http://host/data` (no trailing slash).
    let serviceRoot: String

    /// `W/"<base64 of 'RecVersion,RecId'>"`.
    static func etag(_ row: StoredRow) -> String {
        "W/\"" + Data("'\(row.recVersion),\(row.recId)'".utf8).base64EncodedString() + "\""
    }

    func render(_ row: StoredRow, set: EntitySetSchema, select: [String]?) -> ODataObject {
        var out = ODataObject()
        out["@odata.etag"] = .string(Renderer.etag(row))
        let computed = computedValues(row, set: set)
        for p in set.properties where select == nil || select!.contains(p.name) {
            out[p.name] = computed[p.name] ?? store.value(row, p)
        }
        return out
    }

    /// Header totals computed on read from the lines (only `OrderTotalAmount`; see the docs).
    func computedValues(_ row: StoredRow, set: EntitySetSchema) -> [String: ODataValue] {
        guard set.name == "SalesOrderHeadersV2" else { return [:] }
        let company = store.string(row, "dataAreaId")
        let number = store.string(row, "SalesOrderNumber")
        let lines = store.rows("SalesOrderLines", "SalesOrderNumber", number)
            .filter { store.string($0, "dataAreaId") == company && store.string($0, "SalesOrderNumber") == number }
        let total = lines.reduce(Decimal(0)) { $0 + store.decimal($1, "LineAmount") }
        guard !store.salesTaxRates.isEmpty else { return ["OrderTotalAmount": .number(total), "AreTotalsCalculated": "No"] }
        let tax = lines.reduce(Decimal(0)) { sum, line in
            let group = store.string(line, "SalesTaxGroupCode").isEmpty ? store.string(row, "SalesTaxGroupCode") : store.string(line, "SalesTaxGroupCode")
            let rate = store.salesTaxRates["\(group)/\(store.string(line, "SalesTaxItemGroupCode"))"] ?? 0
            return sum + (store.decimal(line, "LineAmount") * rate / 100).rounded(scale: 2)
        }
        return ["OrderTotalAmount": .number(total), "OrderTotalTaxAmount": .number(tax), "AreTotalsCalculated": "Yes"]
    }

    /// `Set(dataAreaId='usmf',CustomerAccount='X')`.
    static func keyPath(_ row: StoredRow, set: EntitySetSchema, store: DataStore) -> String {
        let parts = set.keys.map { k -> String in
            let v = store.value(row, k, in: set)
            switch v {
            case .number(let d): return "\(k)=\(d.plainText)"
            case .string(let s):
                if set.property(k)?.kind == .dateTimeOffset { return "\(k)=\(s)" }
                return "\(k)='\(s.replacingOccurrences(of: "'", with: "''"))'"
            default: return "\(k)=\(v)"
            }
        }
        return "\(set.name)(\(parts.joined(separator: ",")))"
    }
}

/// Parsed system query options of one request.
struct QueryOptions {
    var filter: String?
    var select: [String]?
    var top: Int?
    var skip = 0
    var count = false
    var orderBy: [(String, Bool)] = []
    var expand: [ExpandItem] = []
    var crossCompany = false
    /// The other parameters, kept for `@odata.nextLink`.
    var passthrough: [(String, String)] = []

    struct ExpandItem {
        var navigation: NavigationSchema
        var select: [String]?
        var filter: String?
        var top: Int?
    }

    static func parse(_ query: String, set: EntitySetSchema?, schema: EmulatorSchema) throws(ODataError) -> QueryOptions {
        var o = QueryOptions()
        for (name, value) in FormData.pairs(query) {
            switch name {
            case "$filter": o.filter = value
            case "$select": o.select = try selectList(value, set: set)
            case "$top":
                guard let n = Int(value), n >= 0 else { throw .badRequest("Invalid value '\(value)' for $top query option found. The $top query option requires a non-negative integer value.") }
                o.top = n
            case "$skip":
                guard let n = Int(value), n >= 0 else { throw .badRequest("Invalid value '\(value)' for $skip query option found. The $skip query option requires a non-negative integer value.") }
                o.skip = n
            case "$count":
                guard value == "true" || value == "false" else { throw .badRequest("'\(value)' is not a valid count option.") }
                o.count = value == "true"
            case "$orderby":
                for item in value.split(separator: ",") {
                    let words = item.split(separator: " ").map(String.init)
                    guard let field = words.first else { continue }
                    guard set?.property(field) != nil else { throw .badRequest("Could not find a property named '\(field)' on type '\(set?.entityType ?? "")'.") }
                    let desc = words.count > 1 && words[1].lowercased() == "desc"
                    if words.count > 1, !["asc", "desc"].contains(words[1].lowercased()) { throw .badRequest("Syntax error in $orderby: '\(item)'.") }
                    o.orderBy.append((field, desc))
                }
            case "$expand":
                guard let set else { continue }
                o.expand = try expandList(value, set: set, schema: schema)
            case "cross-company": o.crossCompany = value.lowercased() == "true"
            case "$format":
                guard value.lowercased() == "json" || value.lowercased().hasPrefix("application/json") else { throw .badRequest("The $format '\(value)' is not supported; use json.") }
                o.passthrough.append((name, value))
            default:
                if name.hasPrefix("$") { throw .badRequest("The query parameter '\(name)' is not supported.") }
                o.passthrough.append((name, value))
            }
        }
        return o
    }

    static func selectList(_ value: String, set: EntitySetSchema?) throws(ODataError) -> [String]? {
        let names = value.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        if names.contains("*") { return nil }
        for n in names where set?.property(n) == nil {
            throw .badRequest("Could not find a property named '\(n)' on type '\(set?.entityType ?? "")'.")
        }
        return names
    }

    static func splitTopLevel(_ s: String, on separator: Character) -> [String] {
        var parts: [String] = []
        var depth = 0
        var current = ""
        var quoted = false
        for c in s {
            if c == "'" { quoted.toggle() }
            if !quoted, c == "(" { depth += 1 }
            if !quoted, c == ")" { depth -= 1 }
            if c == separator, depth == 0, !quoted {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts
    }

    static func expandList(_ value: String, set: EntitySetSchema, schema: EmulatorSchema) throws(ODataError) -> [ExpandItem] {
        var items: [ExpandItem] = []
        for raw in splitTopLevel(value, on: ",") {
            let text = raw.trimmingCharacters(in: .whitespaces)
            var name = text
            var inner = ""
            if let open = text.firstIndex(of: "("), text.hasSuffix(")") {
                name = String(text[..<open])
                inner = String(text[text.index(after: open)..<text.index(before: text.endIndex)])
            }
            guard let nav = set.navigationProperty(name) else {
                throw .badRequest("Could not find a property named '\(name)' on type '\(set.entityType)'.")
            }
            guard let target = schema.entitySets[nav.target] else {
                throw .badRequest("The navigation property '\(name)' leads to entity set '\(nav.target)', which the emulator does not model.")
            }
            var item = ExpandItem(navigation: nav)
            for option in splitTopLevel(inner, on: ";") where !option.isEmpty {
                let kv = option.split(separator: "=", maxSplits: 1).map(String.init)
                guard kv.count == 2 else { throw .badRequest("Syntax error in $expand: '\(option)'.") }
                switch kv[0] {
                case "$select": item.select = try selectList(kv[1], set: target)
                case "$filter": item.filter = kv[1]
                case "$top": item.top = Int(kv[1])
                case "$expand": throw .badRequest("The request includes a $expand path which is too deep. The maximum depth allowed is 1.")
                default: throw .badRequest("The query option '\(kv[0])' is not supported inside $expand.")
                }
            }
            items.append(item)
        }
        return items
    }
}

extension DynamicsEmulator {
    /// Serves one authenticated `/data` request; returns the response, the batch Content-IDs,
    /// and whether something was written.
    func serve(_ request: DynamicsHTTPRequest, client: Client, isBatch: Bool) -> (DynamicsHTTPResponse, [String], Bool) {
        let root = environmentURL + "/data"
        if isBatch {
            guard request.method == "POST" else {
                return (.odata(.badRequest("The HTTP verb '\(request.method)' is not allowed on $batch.")), [], false)
            }
            return batch(request, client: client, serviceRoot: root)
        }
        let now = clock.now()
        return core.withLock { core in
            let (response, wrote) = operation(method: request.method, path: request.path, query: request.query, body: request.body, client: client, store: &core.data, serviceRoot: root, now: now)
            return (response, [], wrote)
        }
    }

    /// One OData operation against `store` (the `$batch` engine calls this for each part).
    func operation(method: String, path: String, query: String, body: [UInt8], client: Client, store: inout DataStore, serviceRoot: String, now: Date) -> (DynamicsHTTPResponse, Bool) {
        do {
            return try route(method: method, path: path, query: query, body: body, client: client, store: &store, serviceRoot: serviceRoot, now: now)
        } catch {
            return (.odata(error), false)
        }
    }

    private func route(method: String, path: String, query: String, body: [UInt8], client: Client, store: inout DataStore, serviceRoot: String, now: Date) throws(ODataError) -> (DynamicsHTTPResponse, Bool) {
        var rest = path.hasPrefix("/data") ? String(path.dropFirst(5)) : path
        if rest.hasPrefix("/") { rest.removeFirst() }
        rest = FormData.percentDecode(rest, plusIsSpace: false)
        if rest.isEmpty {
            guard method == "GET" else { throw .badRequest("The HTTP verb '\(method)' is not allowed on the service document.") }
            let sets = store.schema.entitySets.keys.sorted().map { name -> ODataValue in
                .object(ODataObject([("name", .string(name)), ("kind", "EntitySet"), ("url", .string(name))]))
            }
            return (.json(200, .object(ODataObject([("@odata.context", .string(serviceRoot + "/$metadata")), ("value", .array(sets))]))), false)
        }
        var segments = rest.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
        let countOnly = segments.last == "$count"
        if countOnly { segments.removeLast() }
        guard segments.count == 1 else {
            throw .badRequest("The path '/data/\(rest)' is not supported: only entity sets, keys and /$count.")
        }
        var setName = segments[0]
        var keyText: String?
        if let open = setName.firstIndex(of: "("), setName.hasSuffix(")") {
            keyText = String(setName[setName.index(after: open)..<setName.index(before: setName.endIndex)])
            setName = String(setName[..<open])
        }
        guard let set = store.schema.entitySets[setName] else { throw .entitySetNotFound }
        let options = try QueryOptions.parse(query, set: set, schema: store.schema)
        let context = WriteContext(company: client.defaultCompany, now: now, allowManualSalesOrderNumbers: configuration.allowManualSalesOrderNumbers, enforceStringLengths: configuration.enforceStringLengths)

        if let keyText {
            let key = try KeyParser.parse(keyText, set: set)
            switch method {
            case "GET":
                guard let i = store.index(of: key, in: set) else {
                    throw ODataError(status: 404, message: "No resource was found for the key \(setName)(\(keyText)).", inner: nil, innerType: "")
                }
                let renderer = Renderer(store: store, serviceRoot: serviceRoot)
                var object = ODataObject()
                object["@odata.context"] = .string(contextURL(serviceRoot, set, options) + "/$entity")
                let row = store.tables[setName]![i]
                for (k, v) in renderer.render(row, set: set, select: options.select).pairs { object[k] = v }
                try expand(&object, row: row, set: set, options: options, store: store, renderer: renderer)
                return (.json(200, .object(object)), false)
            case "PATCH", "PUT", "MERGE":
                let json = try parseBody(body)
                try store.update(setName, key: key, body: json, context: context)
                return (DynamicsHTTPResponse(status: 204, headers: [("OData-Version", "4.0")], body: []), true)
            case "DELETE":
                try store.delete(setName, key: key)
                return (DynamicsHTTPResponse(status: 204, headers: [("OData-Version", "4.0")], body: []), true)
            default:
                throw .badRequest("The HTTP verb '\(method)' is not allowed on an entity.")
            }
        }

        switch method {
        case "GET":
            return (try collection(set, options: options, countOnly: countOnly, client: client, store: store, serviceRoot: serviceRoot), false)
        case "POST":
            guard !countOnly else { throw .badRequest("POST is not allowed on /$count.") }
            let json = try parseBody(body)
            let i = try store.create(setName, body: json, context: context)
            let row = store.tables[setName]![i]
            let renderer = Renderer(store: store, serviceRoot: serviceRoot)
            var object = ODataObject()
            object["@odata.context"] = .string(serviceRoot + "/$metadata#\(setName)/$entity")
            for (k, v) in renderer.render(row, set: set, select: nil).pairs { object[k] = v }
            let location = serviceRoot + "/" + Renderer.keyPath(row, set: set, store: store)
            return (.json(201, .object(object), extra: [("Location", location), ("ETag", Renderer.etag(row))]), true)
        default:
            throw .badRequest("The HTTP verb '\(method)' is not allowed on an entity set.")
        }
    }

    func parseBody(_ body: [UInt8]) throws(ODataError) -> ODataValue {
        do { return try ODataJSON.parse(body) } catch {
            throw .badRequest("The request body is not valid JSON: \(error)", type: "Microsoft.OData.ODataException")
        }
    }

    func contextURL(_ root: String, _ set: EntitySetSchema, _ options: QueryOptions) -> String {
        var items = options.select ?? []
        for e in options.expand {
            items.append(e.navigation.name + "(" + (e.select ?? []).joined(separator: ",") + ")")
        }
        if options.select == nil, !options.expand.isEmpty { items.insert("*", at: 0) }
        return root + "/$metadata#" + set.name + (items.isEmpty ? "" : "(" + items.joined(separator: ",") + ")")
    }

    func collection(_ set: EntitySetSchema, options: QueryOptions, countOnly: Bool, client: Client, store: DataStore, serviceRoot: String) throws(ODataError) -> DynamicsHTTPResponse {
        let table = store.tables[set.name, default: []]
        var expression: FilterExpression?
        if let filter = options.filter {
            var parser = try FilterParser(filter, set: set, schema: store.schema)
            expression = try parser.parse()
        }
        // The rows the filter can match, through an index when it compares an indexed field
        // with eq (a superset, in table order; the filter below decides).
        var rows: [StoredRow]
        if let expression, let positions = FilterEvaluator.candidates(expression, in: table, set: set) {
            rows = positions.map { table[$0] }
        } else {
            rows = Array(table)
        }
        // The default-company trap: without cross-company only the user's company is visible.
        if set.isCompanySpecific, !options.crossCompany {
            rows = rows.filter { store.string($0, "dataAreaId") == client.defaultCompany.lowercased() }
        }
        if let expression {
            let evaluator = FilterEvaluator(store: store, set: set)
            rows = rows.filter { evaluator.matches(expression, $0) }
        }
        rows = truncatedForFault(rows, entitySet: set.name)
        if !options.orderBy.isEmpty {
            let evaluator = FilterEvaluator(store: store, set: set)
            rows.sort { a, b in
                for (field, desc) in options.orderBy {
                    let x = evaluator.operand(.property(field), a)
                    let y = evaluator.operand(.property(field), b)
                    let order = QueryOrdering.compare(x, y)
                    if order == .orderedSame { continue }
                    return desc ? order == .orderedDescending : order == .orderedAscending
                }
                return false
            }
        }
        let total = rows.count
        if countOnly {
            return DynamicsHTTPResponse(status: 200, headers: [("Content-Type", "text/plain"), ("OData-Version", "4.0")], body: Array(String(total).utf8))
        }
        let afterSkip = Array(rows.dropFirst(options.skip))
        let wanted = options.top.map { min($0, afterSkip.count) } ?? afterSkip.count
        let pageSize = min(wanted, max(1, configuration.maxPageSize))
        let page = Array(afterSkip.prefix(pageSize))
        let renderer = Renderer(store: store, serviceRoot: serviceRoot)
        var values: [ODataValue] = []
        for row in page {
            var object = renderer.render(row, set: set, select: options.select)
            try expand(&object, row: row, set: set, options: options, store: store, renderer: renderer)
            values.append(.object(object))
        }
        var body = ODataObject()
        body["@odata.context"] = .string(contextURL(serviceRoot, set, options))
        if options.count { body["@odata.count"] = .number(Decimal(total)) }
        body["value"] = .array(values)
        if pageSize < wanted {
            var params: [(String, String)] = []
            if options.crossCompany { params.append(("cross-company", "true")) }
            if let f = options.filter { params.append(("$filter", f)) }
            if let s = options.select { params.append(("$select", s.joined(separator: ","))) }
            if !options.orderBy.isEmpty { params.append(("$orderby", options.orderBy.map { $0.0 + ($0.1 ? " desc" : "") }.joined(separator: ","))) }
            if options.count { params.append(("$count", "true")) }
            params += options.passthrough
            params.append(("$skip", String(options.skip + pageSize)))
            if let top = options.top { params.append(("$top", String(top - pageSize))) }
            let expandText = QueryOptions.expandText(options.expand)
            if !expandText.isEmpty { params.append(("$expand", expandText)) }
            body["@odata.nextLink"] = .string(serviceRoot + "/" + set.name + "?" + params.map { "\($0.0)=\(FormData.encode($0.1))" }.joined(separator: "&"))
        }
        return .json(200, .object(body))
    }

    /// One-level `$expand`: a collection navigation joins target rows that share all of the
    /// source's key values; a single-valued one joins the target whose key values all appear on
    /// the source.
    func expand(_ object: inout ODataObject, row: StoredRow, set: EntitySetSchema, options: QueryOptions, store: DataStore, renderer: Renderer) throws(ODataError) {
        for item in options.expand {
            guard let target = store.schema.entitySets[item.navigation.target] else { continue }
            let joinFields = item.navigation.collection
                ? set.keys.filter { target.property($0) != nil }
                : target.keys.filter { set.property($0) != nil }
            guard !joinFields.isEmpty, item.navigation.collection || joinFields.count == target.keys.count else {
                throw .badRequest("The emulator cannot resolve navigation property '\(item.navigation.name)' of '\(set.name)'.")
            }
            var related = store.tables[target.name, default: []].filter { candidate in
                joinFields.allSatisfy { DataStore.sameValue(store.value(candidate, $0, in: target), store.value(row, $0, in: set)) }
            }
            if let filter = item.filter {
                var parser = try FilterParser(filter, set: target, schema: store.schema)
                let expression = try parser.parse()
                let evaluator = FilterEvaluator(store: store, set: target)
                related = related.filter { evaluator.matches(expression, $0) }
            }
            if let top = item.top { related = Array(related.prefix(top)) }
            let rendered = related.map { ODataValue.object(renderer.render($0, set: target, select: item.select)) }
            object[item.navigation.name] = item.navigation.collection ? .array(rendered) : (rendered.first ?? .null)
        }
    }
}

extension QueryOptions {
    static func expandText(_ items: [ExpandItem]) -> String {
        items.map { item in
            var inner: [String] = []
            if let s = item.select { inner.append("$select=" + s.joined(separator: ",")) }
            if let f = item.filter { inner.append("$filter=" + f) }
            if let t = item.top { inner.append("$top=\(t)") }
            return item.navigation.name + (inner.isEmpty ? "" : "(" + inner.joined(separator: ";") + ")")
        }.joined(separator: ",")
    }
}

enum QueryOrdering {
    static func compare(_ a: FilterEvaluator.Operand, _ b: FilterEvaluator.Operand) -> ComparisonResult {
        switch (a, b) {
        case (.text(let x), .text(let y)): return x.compare(y, options: [.caseInsensitive])
        case (.number(let x), .number(let y)): return x < y ? .orderedAscending : (x > y ? .orderedDescending : .orderedSame)
        case (.date(let x), .date(let y)): return x.compare(y)
        case (.bool(let x), .bool(let y)): return x == y ? .orderedSame : (!x ? .orderedAscending : .orderedDescending)
        default: return .orderedSame
        }
    }
}
