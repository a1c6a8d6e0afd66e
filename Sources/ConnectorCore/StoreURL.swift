import Foundation

/// The store's identity as WooCommerce announces it in `X-WC-Webhook-Source` (the home URL,
/// with a trailing slash) compared with the connection's `baseURL`.
public enum StoreURL {
    /// scheme://host[:port]/path with the scheme and host lower-cased, the default port
    /// dropped and trailing slashes removed; nil when `text` is not an http(s) URL with a host.
    /// Hand-parsed: it runs on every delivery, and a store URL has no user, query or fragment.
    public static func normalized(_ text: String) -> String? {
        var rest = Formatting.trimmedSpaces(text)
        guard let colon = rest.firstIndex(of: ":") else { return nil }
        let scheme = rest[..<colon].lowercased()
        guard scheme == "http" || scheme == "https", rest[colon...].hasPrefix("://") else { return nil }
        rest = rest[rest.index(colon, offsetBy: 3)...]
        let authorityEnd = rest.firstIndex(where: { $0 == "/" || $0 == "?" || $0 == "#" }) ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var path = rest[authorityEnd...]
        guard !authority.isEmpty, !authority.contains("@"), !path.contains("?"), !path.contains("#") else { return nil }
        var host = Substring(authority)
        var port: Int?
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[...close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let p = Int(after.dropFirst()) else { return nil }
                port = p
            }
        } else if let portColon = authority.lastIndex(of: ":") {
            host = authority[..<portColon]
            guard let p = Int(authority[authority.index(after: portColon)...]) else { return nil }
            port = p
        }
        guard !host.isEmpty else { return nil }
        var out = scheme + "://" + host.lowercased()
        if let port, !(scheme == "https" && port == 443) && !(scheme == "http" && port == 80) {
            out += ":\(port)"
        }
        while path.hasSuffix("/") { path = path.dropLast() }
        return out + path
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
