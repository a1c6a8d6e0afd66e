import Foundation

/// OData `$batch` (multipart/mixed) as F&O answers it (reference §4).
extension DynamicsEmulator {
    static let maxBatchOperations = 5_000

    struct BatchOperation {
        var contentID: String?
        var method: String
        var path: String
        var query: String
        var body: [UInt8]
    }

    enum BatchItem {
        case single(BatchOperation)
        case changeset([BatchOperation])
    }

    static func boundary(_ contentType: String?) -> String? {
        guard let contentType, contentType.lowercased().hasPrefix("multipart/mixed") else { return nil }
        for param in contentType.split(separator: ";").dropFirst() {
            let kv = param.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if kv.count == 2, kv[0].lowercased() == "boundary" {
                return kv[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// The parts between `--boundary` lines, each as (headers, content).
    static func multipartParts(_ text: String, boundary: String) throws(ODataError) -> [(headers: [String: String], content: String)] {
        let normalized = text.replacingOccurrences(of: "\r\n", with: "\n")
        let delimiter = "--" + boundary
        guard normalized.contains(delimiter + "--") else {
            throw .badRequest("The multipart body is missing its closing delimiter '\(delimiter)--'.")
        }
        var parts: [(headers: [String: String], content: String)] = []
        let chunks = normalized.components(separatedBy: delimiter)
        for chunk in chunks.dropFirst() {
            if chunk.hasPrefix("--") { break }
            var body = chunk
            if body.hasPrefix("\n") { body.removeFirst() }
            if body.hasSuffix("\n") { body.removeLast() }
            let (headers, content) = splitHeaders(body)
            parts.append((headers, content))
        }
        return parts
    }

    static func splitHeaders(_ text: String) -> ([String: String], String) {
        var headers: [String: String] = [:]
        let range = text.range(of: "\n\n")
        let head = range.map { String(text[..<$0.lowerBound]) } ?? text
        let rest = range.map { String(text[$0.upperBound...]) } ?? ""
        for line in head.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        return (headers, rest)
    }

    /// Parses one `application/http` part into its request.
    static func operation(_ part: (headers: [String: String], content: String)) throws(ODataError) -> BatchOperation {
        var content = part.content
        while content.hasPrefix("\n") { content.removeFirst() }
        guard let lineEnd = content.firstIndex(of: "\n") ?? Optional(content.endIndex) else { throw .badRequest("Empty batch part.") }
        let requestLine = content[..<lineEnd].split(separator: " ").map(String.init)
        guard requestLine.count >= 2 else { throw .badRequest("The batch part's request line '\(content[..<lineEnd])' is not valid.") }
        let afterLine = lineEnd < content.endIndex ? String(content[content.index(after: lineEnd)...]) : ""
        let (innerHeaders, rawBody) = splitHeaders(afterLine)
        _ = innerHeaders
        var url = requestLine[1]
        if let scheme = url.range(of: "://") {
            let afterScheme = url[scheme.upperBound...]
            url = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/"
        }
        if !url.hasPrefix("/") { url = "/data/" + url }
        let pieces = url.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        let body = rawBody.trimmingCharacters(in: .whitespacesAndNewlines)
        return BatchOperation(contentID: part.headers["content-id"], method: requestLine[0].uppercased(), path: String(pieces[0]), query: pieces.count > 1 ? String(pieces[1]) : "", body: Array(body.utf8))
    }

    static func reason(_ status: Int) -> String {
        switch status {
        case 200: return "OK"
        case 201: return "Created"
        case 204: return "No Content"
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 404: return "Not Found"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        default: return "Status"
        }
    }

    static func httpPart(_ response: DynamicsHTTPResponse, contentID: String?) -> String {
        var text = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
        if let contentID { text += "Content-ID: \(contentID)\r\n" }
        text += "\r\nHTTP/1.1 \(response.status) \(reason(response.status))\r\n"
        for h in response.headers { text += "\(h.name): \(h.value)\r\n" }
        text += "\r\n" + String(decoding: response.body, as: UTF8.self) + "\r\n"
        return text
    }

    func batch(_ request: DynamicsHTTPRequest, client: Client, serviceRoot: String) -> (DynamicsHTTPResponse, [String], Bool) {
        let items: [BatchItem]
        do { items = try parseBatch(request) } catch { return (.odata(error), [], false) }
        let contentIDs = items.flatMap { item -> [String] in
            switch item {
            case .single(let op): return op.contentID.map { [$0] } ?? []
            case .changeset(let ops): return ops.compactMap(\.contentID)
            }
        }
        let count = items.reduce(0) { n, item in
            if case .changeset(let ops) = item { return n + ops.count }
            return n + 1
        }
        if count > DynamicsEmulator.maxBatchOperations {
            return (.odata(.badRequest("The batch contains \(count) operations; the maximum is \(DynamicsEmulator.maxBatchOperations).")), contentIDs, false)
        }
        let now = clock.now()
        return core.withLock { core in
            let batchBoundary = "batchresponse_" + core.random.uuid().lowercased()
            var out = ""
            var wrote = false
            func throttled(_ core: inout Core) -> DynamicsHTTPResponse? {
                guard let after = DynamicsEmulator.throttleDecision(&core, now: now) else { return nil }
                let text = "This request could not be processed at this time due to system experiencing high resource utilization. Retry the request after \(after) seconds"
                return .odata(ODataError(status: 429, message: text, inner: nil, innerType: "", headers: [("Retry-After", String(after))]))
            }
            for item in items {
                out += "--\(batchBoundary)\r\n"
                switch item {
                case .single(let op):
                    let response: DynamicsHTTPResponse
                    if let t = throttled(&core) {
                        response = t
                    } else {
                        let (r, w) = operation(method: op.method, path: op.path, query: op.query, body: op.body, client: client, store: &core.data, serviceRoot: serviceRoot, now: now)
                        response = r
                        wrote = wrote || w
                    }
                    out += DynamicsEmulator.httpPart(response, contentID: op.contentID)
                case .changeset(let ops):
                    let changesetBoundary = "changesetresponse_" + core.random.uuid().lowercased()
                    out += "Content-Type: multipart/mixed; boundary=\(changesetBoundary)\r\n\r\n"
                    let savepoint = core.data.beginChangeset()
                    var parts: [String] = []
                    var failed = false
                    for op in ops {
                        let response: DynamicsHTTPResponse
                        if let t = throttled(&core) {
                            response = t
                        } else {
                            response = operation(method: op.method, path: op.path, query: op.query, body: op.body, client: client, store: &core.data, serviceRoot: serviceRoot, now: now).0
                        }
                        if response.status >= 400 {
                            // All or nothing: roll back, answer the changeset with the failing part only.
                            core.data.rollBack(to: savepoint)
                            parts = [DynamicsEmulator.httpPart(response, contentID: op.contentID)]
                            failed = true
                            break
                        }
                        parts.append(DynamicsEmulator.httpPart(response, contentID: op.contentID))
                    }
                    if !failed { core.data.commitChangeset() }
                    if !failed, !ops.isEmpty { wrote = true }
                    for part in parts { out += "--\(changesetBoundary)\r\n" + part }
                    out += "--\(changesetBoundary)--\r\n"
                }
            }
            out += "--\(batchBoundary)--\r\n"
            let response = DynamicsHTTPResponse(status: 200, headers: [("Content-Type", "multipart/mixed; boundary=\(batchBoundary)"), ("OData-Version", "4.0")], body: Array(out.utf8))
            return (response, contentIDs, wrote)
        }
    }

    func parseBatch(_ request: DynamicsHTTPRequest) throws(ODataError) -> [BatchItem] {
        guard let boundary = DynamicsEmulator.boundary(request.header("Content-Type")) else {
            throw .badRequest("The content type of a $batch request must be multipart/mixed with a boundary.")
        }
        let text = String(decoding: request.body, as: UTF8.self)
        var items: [BatchItem] = []
        for part in try DynamicsEmulator.multipartParts(text, boundary: boundary) {
            let type = part.headers["content-type"] ?? ""
            if let inner = DynamicsEmulator.boundary(type) {
                var ops: [BatchOperation] = []
                for sub in try DynamicsEmulator.multipartParts(part.content, boundary: inner) {
                    let op = try DynamicsEmulator.operation(sub)
                    guard op.method != "GET" else { throw .badRequest("A GET request cannot be part of a changeset.") }
                    ops.append(op)
                }
                items.append(.changeset(ops))
            } else {
                guard type.lowercased().hasPrefix("application/http") else {
                    throw .badRequest("A batch part must have Content-Type application/http or multipart/mixed, found '\(type)'.")
                }
                items.append(.single(try DynamicsEmulator.operation(part)))
            }
        }
        return items
    }
}
