import ConnectorCore
import Foundation

/// A CloudEvent request: header lines (`name: value`) up to the first blank line, then the body.
/// Input that starts with `{` is a whole structured-mode body (an event file).
enum CloudEventFuzz {
    static func run(_ input: [UInt8]) -> FuzzFinding? {
        func finding(_ what: String) -> FuzzFinding { FuzzFinding(.cloudevent, what + " (input \(excerpt(input)))") }

        let (headers, body) = request(input)
        let event: CloudEvent
        do {
            guard let decoded = try CloudEventCodec.decode(headers: headers, body: body) else {
                guard CloudEventCodec.mode(headers: headers) == .none else { return finding("nil for a request in CloudEvent mode") }
                return nil
            }
            event = decoded
        } catch is CloudEventError {
            return nil
        } catch {
            return finding("decode threw \(type(of: error)), not CloudEventError: \(error)")
        }
        guard event.specversion == "1.0", !event.id.isEmpty, !event.source.isEmpty, !event.type.isEmpty else {
            return finding("decoded an event without its required attributes")
        }

        // Structured round trip.
        let structured = CloudEventCodec.encodeStructured(event)
        do {
            let again = try CloudEventCodec.decodeStructured(structured)
            guard again == event else { return finding("structured re-encoding decodes to another event: \(excerpt(structured, limit: 200))") }
        } catch {
            return finding("its structured encoding does not decode (\(error)): \(excerpt(structured, limit: 200))")
        }

        // Binary round trip, where binary mode can carry the event: a content type (binary mode
        // writes application/json for none), not a structured-mode one, a non-empty body, and —
        // under a JSON content type — JSON in canonical form, since binary mode canonicalises a
        // JSON body and refuses one that is not JSON (an event file's data_base64 can hold either).
        if let type = event.datacontenttype, !type.lowercased().hasPrefix("application/cloudevents"),
           let data = event.data, !data.isEmpty, !event.isJSONData || CloudEventCodec.canonicalJSON(data) == data {
            var binary: [String: String] = [:]
            for (name, value) in CloudEventCodec.binaryHeaders(event) { binary[name] = value }
            do {
                let again = try CloudEventCodec.decode(headers: binary, body: data)
                guard again == event else { return finding("binary re-encoding decodes to another event: \(binary)") }
            } catch {
                return finding("its binary encoding does not decode (\(error)): \(binary)")
            }
        }
        return nil
    }

    /// Lower-cased header names and the body.
    static func request(_ input: [UInt8]) -> (headers: [String: String], body: [UInt8]) {
        if input.first(where: { $0 != 0x20 && $0 != 0x0A && $0 != 0x0D && $0 != 0x09 }) == UInt8(ascii: "{") {
            return (["content-type": "application/cloudevents+json; charset=utf-8"], input)
        }
        var headers: [String: String] = [:]
        var lineStart = 0
        var index = 0
        while index < input.count {
            if input[index] == 0x0A {
                var lineEnd = index
                if lineEnd > lineStart, input[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                if lineEnd == lineStart { return (headers, Array(input[(index + 1)...])) }
                let line = String(decoding: input[lineStart..<lineEnd], as: UTF8.self)
                if let colon = line.firstIndex(of: ":") {
                    headers[line[..<colon].trimmingCharacters(in: .whitespaces).lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                lineStart = index + 1
            }
            index += 1
        }
        return (headers, [])
    }
}
