import DynamicsClient
import Foundation

/// A `$batch` answer. When the input starts with a `content-type:` line, that line is the
/// answer's Content-Type and the rest its body; otherwise the whole input is the body under a
/// fixed boundary.
enum BatchFuzz {
    static let fixedContentType = "multipart/mixed; boundary=batchresponse_fuzz"

    static func run(_ input: [UInt8]) -> FuzzFinding? {
        func finding(_ what: String) -> FuzzFinding { FuzzFinding(.batch, what + " (input \(excerpt(input)))") }

        let (contentType, body) = answer(input)
        let parts: [BatchPartResponse]
        do {
            parts = try ODataBatch.parseResponse(contentType: contentType, body: Data(body))
        } catch let error as CustomStringConvertible where "\(type(of: error))" == "BatchParseError" {
            guard !error.description.isEmpty else { return finding("a parse error without a message") }
            return nil
        } catch {
            return finding("parseResponse threw \(type(of: error)), not its parse error: \(error)")
        }
        for part in parts where part.body.count > body.count {
            return finding("a part body of \(part.body.count) bytes from a \(body.count)-byte answer")
        }
        guard (try? ODataBatch.parseResponse(contentType: contentType, body: Data(body))) == parts else {
            return finding("parseResponse is not deterministic")
        }
        return nil
    }

    static func answer(_ input: [UInt8]) -> (contentType: String, body: [UInt8]) {
        let prefix = Array("content-type:".utf8)
        guard input.count >= prefix.count, input.prefix(prefix.count).map({ $0 | 0x20 }) == prefix.map({ $0 | 0x20 }) else {
            return (fixedContentType, input)
        }
        let end = input.firstIndex(of: 0x0A) ?? input.count
        var lineEnd = end
        if lineEnd > prefix.count, input[lineEnd - 1] == 0x0D { lineEnd -= 1 }
        let type = String(decoding: input[prefix.count..<lineEnd], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        return (type, end < input.count ? Array(input[(end + 1)...]) : [])
    }
}
