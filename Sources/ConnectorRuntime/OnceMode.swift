import ConnectorCore
import Foundation
import Logging

/// `once` mode: one event from a file, stdin or `MLC_EVENT_JSON`, handled exactly as http mode
/// would handle the same request; one JSON result line on stdout; exit 0 / 75 / 65.
public enum OnceMode {
    /// The input of one invocation.
    public enum Input: Sendable {
        case request(HTTPRequestEnvelope)
        case event(CloudEvent)
    }

    /// Where the event comes from, from the arguments and environment.
    public static func readEventBytes(arguments: [String], environment: [String: String]) throws -> [UInt8] {
        if let index = arguments.firstIndex(of: "--event-file") {
            guard index + 1 < arguments.count else {
                throw ConnectorError.invalidInput("--event-file needs a path", fix: "e.g. --event-file functions/webhook-receiver/events/05-order-updated-set-paid.json")
            }
            let path = arguments[index + 1]
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConnectorError.invalidInput("cannot read event file \(path)", fix: "check the path (relative paths start at the current directory)")
            }
            return Array(data)
        }
        if arguments.contains("--stdin") {
            return Array(FileHandle.standardInput.readDataToEndOfFile())
        }
        if let json = environment["MLC_EVENT_JSON"] {
            return Array(json.utf8)
        }
        throw ConnectorError.invalidInput("once mode needs an event", fix: "pass --event-file F or --stdin, or set MLC_EVENT_JSON")
    }

    /// A structured CloudEvent (has `specversion`) or a captured HTTP request:
    /// `{"method","path","headers":{…},"body"|"bodyBase64"}`.
    public static func decode(_ bytes: [UInt8]) throws -> Input {
        let document: JSONValue
        do {
            document = try JSONValue.parse(bytes)
        } catch {
            throw ConnectorError.invalidInput("the event is not JSON (\(error.reason) at byte \(error.offset))",
                                              fix: "give a structured CloudEvent or a captured request {\"method\",\"path\",\"headers\",\"body\"} as UTF-8 JSON")
        }
        guard case .object(let object) = document else {
            throw ConnectorError.invalidInput("the event is not a JSON object", fix: "give a structured CloudEvent or a captured request {\"method\",\"path\",\"headers\",\"body\"}")
        }
        if object["specversion"] != nil {
            do {
                return .event(try CloudEventCodec.decodeStructured(members: object))
            } catch {
                throw ConnectorError.invalidInput("\(error)")
            }
        }
        let allowed: Set<String> = ["method", "path", "headers", "body", "bodyBase64", "description"]
        if let unknown = object.keys.sorted().first(where: { !allowed.contains($0) }) {
            throw ConnectorError.invalidInput("captured request has an unknown key '\(unknown)'", fix: "use method, path, headers, body or bodyBase64 (and description)")
        }
        guard let path = object["path"]?.stringValue, path.hasPrefix("/") else {
            throw ConnectorError.invalidInput("captured request needs a 'path' starting with /")
        }
        let method = object["method"]?.stringValue ?? "POST"
        var headers: [String: String] = [:]
        if let raw = object["headers"] {
            guard case .object(let fields) = raw else { throw ConnectorError.invalidInput("'headers' must be an object of name → string") }
            for (name, value) in fields {
                guard let text = value.stringValue else { throw ConnectorError.invalidInput("header '\(name)' must be a string") }
                let lower = name.lowercased()
                headers[lower] = headers[lower].map { $0 + ", " + text } ?? text
            }
        }
        var body: [UInt8] = []
        switch (object["body"], object["bodyBase64"]) {
        case (.string(let text)?, nil): body = Array(text.utf8)
        case (nil, .string(let base64)?):
            guard let data = Data(base64Encoded: base64) else { throw ConnectorError.invalidInput("'bodyBase64' is not base64") }
            body = Array(data)
        case (nil, nil): break
        case (_?, _?): throw ConnectorError.invalidInput("give either 'body' (text) or 'bodyBase64', not both")
        case (_?, nil): throw ConnectorError.invalidInput("'body' must be a string (use 'bodyBase64' for bytes)")
        case (nil, _?): throw ConnectorError.invalidInput("'bodyBase64' must be a string of base64")
        }
        let request = HTTPRequestEnvelope(method: method, target: path, headers: headers, body: body)
        return .request(request)
    }

    /// The one result line.
    public static func resultLine(function: String, outcome: Outcome) -> String {
        var line = "{\"function\":\(JSONText.quoted(function)),\"outcome\":\"\(outcome.kind.rawValue)\",\"status\":\(outcome.status),\"reason\":\(JSONText.quoted(outcome.reason))"
        if !outcome.body.isEmpty {
            switch try? JSONValue.parse(outcome.body) {
            case let value? where value.isContainer:
                // Inline as one line: the answer as it is, or re-written when it spans lines or
                // starts with a byte-order mark.
                let rewrite = outcome.body.contains(0x0A) || outcome.body.contains(0x0D) || outcome.body.starts(with: [0xEF, 0xBB, 0xBF])
                line += ",\"response\":" + (rewrite ? value.canonicalText : String(decoding: outcome.body, as: UTF8.self))
            default:
                line += ",\"response\":" + JSONText.quoted(String(decoding: outcome.body, as: UTF8.self))
            }
        }
        return line + "}"
    }
}
