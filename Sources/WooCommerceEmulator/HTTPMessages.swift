import Foundation

/// A request as the emulator sees it (also the way to call it in-process, without sockets).
public struct EmulatorRequest: Sendable {
    public var method: String
    /// The path, e.g. `/wp-json/wc/v3/orders`.
    public var path: String
    /// The raw query string without `?` (percent-encoded as sent), or "".
    public var query: String
    /// Headers in order.
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Splits a target such as `/wp-json/wc/v3/orders?page=2`.
    public init(method: String, target: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.init(method: method, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "", headers: headers, body: body)
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Query parameters, decoded PHP-style (`+` is a space), in order.
    var queryItems: [(name: String, value: String)] { FormCoding.decode(query) }
}

/// A response: status, headers in order, body bytes.
public struct EmulatorResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// `application/x-www-form-urlencoded` and RFC 3986 percent-encoding as PHP does them.
enum FormCoding {
    static func decode(_ query: String) -> [(name: String, value: String)] {
        query.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (percentDecode(String(kv[0]), plusIsSpace: true), kv.count > 1 ? percentDecode(String(kv[1]), plusIsSpace: true) : "")
        }
    }

    static func percentDecode(_ s: String, plusIsSpace: Bool) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else if b == UInt8(ascii: "+"), plusIsSpace {
                bytes.append(0x20)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// PHP `rawurlencode` (RFC 3986: unreserved `A-Z a-z 0-9 - _ . ~` kept).
    static func rawURLEncode(_ s: String) -> String {
        var out = ""
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out += String(format: "%%%02X", b)
            }
        }
        return out
    }

    /// PHP `urlencode` (space as `+`, `~` encoded).
    static func urlEncode(_ s: String) -> String {
        rawURLEncode(s).replacingOccurrences(of: "%20", with: "+").replacingOccurrences(of: "~", with: "%7E")
    }
}
