import Crypto
import Foundation

/// The hashes the store uses: HMAC-SHA256 signatures, HMAC-MD5 for `wp_hash`, SHA-256 hex.
enum Digest {
    static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        bytes.map { String(format: "%02x", $0) }.joined()
    }

    static func sha256Hex(_ bytes: [UInt8]) -> String { hex(SHA256.hash(data: bytes)) }

    /// base64(HMAC-SHA256(key, message)): the webhook signature and OAuth HMAC-SHA256.
    static func hmacSHA256Base64(key: [UInt8], message: [UInt8]) -> String {
        Data(HMAC<SHA256>.authenticationCode(for: message, using: SymmetricKey(data: key))).base64EncodedString()
    }

    static func hmacSHA1Base64(key: [UInt8], message: [UInt8]) -> String {
        Data(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: SymmetricKey(data: key))).base64EncodedString()
    }

    /// WordPress's `wp_hash($data)`: HMAC-MD5 keyed with the site's auth salt, 32 hex digits.
    static func wpHash(_ data: String, salt: String) -> String {
        hex(HMAC<Insecure.MD5>.authenticationCode(for: Array(data.utf8), using: SymmetricKey(data: Array(salt.utf8))))
    }

    /// Constant-time comparison of two byte strings.
    static func constantTimeEqual(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for i in a.indices { difference |= a[i] ^ b[i] }
        return difference == 0
    }
}
