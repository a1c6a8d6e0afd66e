import Foundation

/// One request inside a `$batch` changeset.
public struct BatchOperation: Sendable, Equatable {
    public enum Method: String, Sendable { case post = "POST", patch = "PATCH", delete = "DELETE" }
    public var method: Method
    /// Entity set (for POST) or key path (for PATCH/DELETE), relative to `/data/`.
    public var path: String
    public var body: ODataRecord?

    public static func create(_ entitySet: String, _ record: ODataRecord) -> BatchOperation {
        BatchOperation(method: .post, path: entitySet, body: record)
    }

    public static func update(_ key: ODataKey, _ record: ODataRecord) -> BatchOperation {
        BatchOperation(method: .patch, path: key.path, body: record)
    }
}

/// One inner response of a `$batch` answer.
public struct BatchPartResponse: Sendable, Equatable {
    public var contentID: String?
    public var status: Int
    public var headers: [String: String]
    public var body: Data
}

/// The multipart/mixed text of `$batch`, written and read by hand: no listed library speaks
/// OData batches. CRLF line endings; the blank lines are significant.
public enum ODataBatch {
    /// The request body and its Content-Type for one changeset (all-or-nothing in F&O).
    public static func request(changeset operations: [BatchOperation], serviceRoot: String, batchID: String, changesetID: String) -> (contentType: String, body: String) {
        request(reads: [], changeset: operations, serviceRoot: serviceRoot, batchID: batchID, changesetID: changesetID)
    }

    /// GETs (each its own part, outside any changeset, so one failing read fails nothing
    /// else), then at most one changeset. `reads` are paths below the service root.
    /// `readsAfter` are GETs sent after the changeset (F&O runs a batch's parts in order), e.g.
    /// the header a changeset just created, with the totals F&O calculated.
    public static func request(reads: [String], changeset operations: [BatchOperation], readsAfter: [String] = [], serviceRoot: String, batchID: String, changesetID: String) -> (contentType: String, body: String) {
        let batchBoundary = "batch_" + batchID
        func readParts(_ paths: [String], prefix: String) -> String {
            var text = ""
            for (index, read) in paths.enumerated() {
                text += "--\(batchBoundary)\r\n"
                text += "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
                text += "Content-ID: \(prefix)\(index + 1)\r\n\r\n"
                text += "GET \(serviceRoot)\(read) HTTP/1.1\r\n"
                text += "OData-Version: 4.0\r\nOData-MaxVersion: 4.0\r\nAccept: application/json;odata.metadata=minimal\r\n\r\n"
            }
            return text
        }
        var text = readParts(reads, prefix: "r")
        guard !operations.isEmpty else {
            return ("multipart/mixed; boundary=\(batchBoundary)", text + readParts(readsAfter, prefix: "a") + "--\(batchBoundary)--\r\n")
        }
        let changesetBoundary = "changeset_" + changesetID
        text += "--\(batchBoundary)\r\n"
        text += "Content-Type: multipart/mixed; boundary=\(changesetBoundary)\r\n\r\n"
        for (index, operation) in operations.enumerated() {
            text += "--\(changesetBoundary)\r\n"
            text += "Content-Type: application/http\r\n"
            text += "Content-Transfer-Encoding: binary\r\n"
            text += "Content-ID: \(index + 1)\r\n\r\n"
            text += "\(operation.method.rawValue) \(serviceRoot)\(operation.path) HTTP/1.1\r\n"
            text += "OData-Version: 4.0\r\nOData-MaxVersion: 4.0\r\n"
            text += "Accept: application/json;odata.metadata=minimal\r\n"
            if let body = operation.body {
                text += "Content-Type: application/json;odata.metadata=minimal;charset=UTF-8\r\n\r\n"
                text += body.jsonText + "\r\n"
            } else {
                text += "\r\n"
            }
        }
        text += "--\(changesetBoundary)--\r\n"
        text += readParts(readsAfter, prefix: "a")
        text += "--\(batchBoundary)--\r\n"
        return ("multipart/mixed; boundary=\(batchBoundary)", text)
    }

    /// Every inner response, in order, flattening changesets. Throws when the text is not a
    /// multipart answer (a gateway page, a truncated body).
    public static func parseResponse(contentType: String, body: Data) throws -> [BatchPartResponse] {
        guard let boundary = boundary(in: contentType) else {
            throw BatchParseError("the $batch answer is not multipart/mixed (Content-Type \(contentType.prefix(80)))")
        }
        var parts: [BatchPartResponse] = []
        for part in try split(body, boundary: boundary) {
            let (headers, content) = splitHeaders(part)
            let type = headers["content-type"] ?? ""
            if type.lowercased().hasPrefix("multipart/mixed") {
                guard let inner = self.boundary(in: type) else { throw BatchParseError("a changeset answer without a boundary") }
                for innerPart in try split(content, boundary: inner) {
                    let (innerHeaders, innerContent) = splitHeaders(innerPart)
                    parts.append(try httpResponse(innerContent, contentID: innerHeaders["content-id"]))
                }
            } else {
                parts.append(try httpResponse(content, contentID: headers["content-id"]))
            }
        }
        return parts
    }

    static func boundary(in contentType: String) -> String? {
        for parameter in contentType.split(separator: ";").dropFirst() {
            let pair = parameter.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// The bodies between `--boundary` delimiters (RFC 2046), tolerating LF-only line ends.
    static func split(_ data: Data, boundary: String) throws -> [Data] {
        let bytes = [UInt8](data)
        let delimiter = Array("--\(boundary)".utf8)
        var starts: [Int] = []
        var index = 0
        while index + delimiter.count <= bytes.count {
            if (index == 0 || bytes[index - 1] == 0x0A), bytes[index] == 0x2D, Array(bytes[index..<(index + delimiter.count)]) == delimiter {
                starts.append(index)
                index += delimiter.count
            } else {
                index += 1
            }
        }
        guard starts.count >= 2 else { throw BatchParseError("the multipart answer has no parts for boundary \(boundary)") }
        var parts: [Data] = []
        for (n, start) in starts.enumerated().dropLast() {
            var from = start + delimiter.count
            // Skip to the end of the delimiter line.
            while from < bytes.count, bytes[from] != 0x0A { from += 1 }
            from += 1
            var to = starts[n + 1]
            // The CRLF before the next delimiter belongs to the delimiter.
            if to > from, bytes[to - 1] == 0x0A { to -= 1 }
            if to > from, bytes[to - 1] == 0x0D { to -= 1 }
            parts.append(from <= to ? Data(bytes[from..<to]) : Data())
        }
        let last = starts[starts.count - 1] + delimiter.count
        guard last + 1 < bytes.count, bytes[last] == 0x2D, bytes[last + 1] == 0x2D else {
            throw BatchParseError("the multipart answer is truncated (no closing --\(boundary)--)")
        }
        return parts
    }

    /// Header lines (lower-cased names) and what follows the first blank line.
    static func splitHeaders(_ data: Data) -> ([String: String], Data) {
        let bytes = [UInt8](data)
        var headers: [String: String] = [:]
        var lineStart = 0
        var index = 0
        while index < bytes.count {
            if bytes[index] == 0x0A {
                var lineEnd = index
                if lineEnd > lineStart, bytes[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                if lineEnd == lineStart { return (headers, Data(bytes[(index + 1)...])) }
                let line = String(decoding: bytes[lineStart..<lineEnd], as: UTF8.self)
                if let colon = line.firstIndex(of: ":") {
                    headers[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                lineStart = index + 1
            }
            index += 1
        }
        return (headers, Data())
    }

    static func httpResponse(_ data: Data, contentID: String?) throws -> BatchPartResponse {
        let bytes = [UInt8](data)
        guard let newline = bytes.firstIndex(of: 0x0A) else { throw BatchParseError("an inner part without a status line") }
        let statusLine = String(decoding: bytes[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, fields[0].hasPrefix("HTTP/"), let status = Int(fields[1]) else {
            throw BatchParseError("an inner part's status line is not HTTP: \(statusLine.prefix(60))")
        }
        let (headers, body) = splitHeaders(Data(bytes[(newline + 1)...]))
        var trimmed = [UInt8](body)
        while let last = trimmed.last, last == 0x0A || last == 0x0D { trimmed.removeLast() }
        return BatchPartResponse(contentID: contentID, status: status, headers: headers, body: Data(trimmed))
    }
}

struct BatchParseError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
