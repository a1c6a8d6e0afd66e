import ConnectorCore
import Crypto
import Foundation

/// WooCommerce's webhook signature: base64(HMAC-SHA256(key: webhook secret, message: the exact
/// body bytes sent)). Verified over the raw bytes before any parsing, in constant time.
public enum WebhookSignature {
    /// The signature WooCommerce would send for `body`.
    public static func sign<Body: DataProtocol>(_ body: Body, secret: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return Data(mac).base64EncodedString()
    }

    /// True when `header` is the signature of `body` under `secret`. Compares the decoded MAC
    /// bytes in constant time; a header that is not base64 simply fails.
    public static func isValid<Body: DataProtocol>(_ header: String, body: Body, secret: String) -> Bool {
        guard let presented = Data(base64Encoded: header.trimmingCharacters(in: .whitespaces)) else { return false }
        let expected = HMAC<SHA256>.authenticationCode(for: body, using: SymmetricKey(data: Array(secret.utf8)))
        return Digests.constantTimeEquals(Array(presented), Array(expected))
    }
}

/// The store's identity as WooCommerce announces it in `X-WC-Webhook-Source` (the home URL,
/// with a trailing slash) compared with the connection's `baseURL`.
public enum StoreURL {
    /// scheme://host[:port]/path with the scheme and host lower-cased, the default port
    /// dropped and trailing slashes removed; nil when `text` is not an http(s) URL.
    public static func normalized(_ text: String) -> String? {
        guard let components = URLComponents(string: text.trimmingCharacters(in: .whitespaces)),
              let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = components.host?.lowercased(), !host.isEmpty else { return nil }
        var out = "\(scheme)://\(host)"
        if let port = components.port, !(scheme == "https" && port == 443) && !(scheme == "http" && port == 80) {
            out += ":\(port)"
        }
        var path = components.percentEncodedPath
        while path.hasSuffix("/") { path.removeLast() }
        return out + path
    }

    /// True when both name the same store.
    public static func sameStore(_ a: String, _ b: String) -> Bool {
        guard let x = normalized(a), let y = normalized(b) else { return false }
        return x == y
    }
}
