import Foundation

/// The store's identity as WooCommerce announces it in `X-WC-Webhook-Source` (the home URL,
/// with a trailing slash) compared with the connection's `baseURL`.
public enum StoreURL {
    /// scheme://host[:port]/path with the scheme and host lower-cased, the default port
    /// dropped and trailing slashes removed; nil when `text` is not an http(s) URL with a host.
    /// Hand-parsed: it runs on every delivery, and a store URL has no user, query or fragment.
    public static func normalized(_ text: String) -> String? {
        // Over UTF-8 bytes: Character-wise Substring searches cost a measurable share of a delivery.
        let u = Array(Formatting.trimmedSpaces(text).utf8)
        let slash = UInt8(ascii: "/"), question = UInt8(ascii: "?"), hash = UInt8(ascii: "#")
        guard let colon = u.firstIndex(of: UInt8(ascii: ":")) else { return nil }
        let scheme = String(decoding: u[..<colon], as: UTF8.self).lowercased()
        guard scheme == "http" || scheme == "https", colon + 2 < u.count, u[colon + 1] == slash, u[colon + 2] == slash else { return nil }
        let authorityStart = colon + 3
        let authorityEnd = u[authorityStart...].firstIndex(where: { $0 == slash || $0 == question || $0 == hash }) ?? u.endIndex
        let authority = u[authorityStart..<authorityEnd]
        var path = u[authorityEnd...]
        guard !authority.isEmpty, !authority.contains(UInt8(ascii: "@")), !path.contains(question), !path.contains(hash) else { return nil }
        var host = authority
        var port: Int?
        if authority.first == UInt8(ascii: "[") {
            guard let close = authority.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            host = authority[...close]
            let after = authority[(close + 1)...]
            if !after.isEmpty {
                guard after.first == UInt8(ascii: ":"), let p = Int(String(decoding: after.dropFirst(), as: UTF8.self)) else { return nil }
                port = p
            }
        } else if let portColon = authority.lastIndex(of: UInt8(ascii: ":")) {
            host = authority[..<portColon]
            guard let p = Int(String(decoding: authority[(portColon + 1)...], as: UTF8.self)) else { return nil }
            port = p
        }
        guard !host.isEmpty else { return nil }
        var out = scheme + "://"
        if host.allSatisfy({ $0 < 0x80 }) {
            out += String(decoding: host.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }, as: UTF8.self)
        } else {
            out += String(decoding: host, as: UTF8.self).lowercased()
        }
        if let port, !(scheme == "https" && port == 443) && !(scheme == "http" && port == 80) {
            out += ":\(port)"
        }
        while path.last == slash { path = path.dropLast() }
        return out + String(decoding: path, as: UTF8.self)
    }

    /// True when both name the same store.
    public static func sameStore(_ a: String, _ b: String) -> Bool {
        guard let x = normalized(a), let y = normalized(b) else { return false }
        return x == y
    }
}

/// A store URL fit for a log line or a terminal: the password of a `postgres://user:pw@host/…`
/// URL replaced by `***`.
public enum StoreURLText {
    public static func redacted(_ url: String) -> String {
        guard let scheme = url.range(of: "://"), let at = url[scheme.upperBound...].firstIndex(of: "@") else { return url }
        let userInfo = url[scheme.upperBound..<at]
        guard let colon = userInfo.firstIndex(of: ":") else { return url }
        return String(url[..<url.index(after: colon)]) + "***" + String(url[at...])
    }
}
