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
    public static func isValid(_ header: String, body: [UInt8], secret: String) -> Bool {
        guard let presented = Data(base64Encoded: String(Formatting.trimmedSpaces(header))) else { return false }
        // Over one contiguous buffer: the generic DataProtocol path walks it far more slowly.
        let expected = body.withUnsafeBytes { HMAC<SHA256>.authenticationCode(for: $0, using: SymmetricKey(data: Array(secret.utf8))) }
        return Digests.constantTimeEquals(Array(presented), Array(expected))
    }
}

