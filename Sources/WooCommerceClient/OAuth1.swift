import ConnectorCore
import Crypto
import Foundation
import Synchronization

/// Where OAuth nonces come from; injected so tests sign deterministically.
public protocol NonceSource: Sendable {
    /// A fresh nonce: unique per consumer key within WooCommerce's 15-minute window.
    func nextNonce() -> String
}

/// 32 hex characters from the system's secure random generator.
public struct RandomNonceSource: NonceSource {
    public init() {}
    public func nextNonce() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<16).map { _ in String(UInt8.random(in: 0...255, using: &generator), radix: 16).leftPadded(2) }.joined()
    }
}

/// `prefix` followed by a counter (`prefix0`, `prefix1`, …): deterministic nonces for tests.
public final class CountingNonceSource: NonceSource {
    private let counter = Mutex(0)
    private let prefix: String
    public init(prefix: String = "nonce") { self.prefix = prefix }
    public func nextNonce() -> String {
        counter.withLock { n in
            defer { n += 1 }
            return "\(prefix)\(n)"
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: "0", count: width - count) + self
    }
}

/// One-legged OAuth 1.0a as WooCommerce verifies it (`class-wc-rest-authentication.php`, and
/// the real signed requests in the captures):
///
/// * base string `METHOD&enc(scheme://home-host:port/path)&enc(sorted enc(k)=enc(v) joined by &)`
///   with the request's scheme and the store's *home URL* authority, not the URL called;
/// * every query parameter is signed along with the `oauth_*` ones; the JSON body is not;
/// * key = `consumer_secret + "&"` (no token), signature base64;
/// * `oauth_version` is optional and not sent.
///
/// Written by hand (no OAuth library) so each of those rules is visible and tested against
/// the captured requests.
public struct OAuth1Signer: Sendable {
    public var consumerKey: String
    public var consumerSecret: String
    public var method: WooCommerceClient.Configuration.SignatureMethod

    public init(consumerKey: String, consumerSecret: String, method: WooCommerceClient.Configuration.SignatureMethod) {
        self.consumerKey = consumerKey
        self.consumerSecret = consumerSecret
        self.method = method
    }

    /// The `oauth_*` parameters to add (signature last) for a request.
    /// - Parameters:
    ///   - signingURL: `scheme://home-host[:port]/path`, no query.
    ///   - query: the request's own (decoded) query parameters.
    public func parameters(httpMethod: String, signingURL: String, query: [(name: String, value: String)], nonce: String, timestamp: Int) -> [(name: String, value: String)] {
        var oauth: [(name: String, value: String)] = [
            ("oauth_consumer_key", consumerKey),
            ("oauth_nonce", nonce),
            ("oauth_signature_method", method.rawValue),
            ("oauth_timestamp", String(timestamp)),
        ]
        let base = Self.baseString(httpMethod: httpMethod, signingURL: signingURL, parameters: query + oauth)
        oauth.append(("oauth_signature", signature(baseString: base)))
        return oauth
    }

    /// base64(HMAC(consumer_secret + "&", baseString)).
    public func signature(baseString: String) -> String {
        // Byte arrays, not `Data(string.utf8)`: that init asks the runtime whether a UTF8View is
        // ContiguousBytes — a scan of every conformance record on a cold start.
        let key = SymmetricKey(data: Array((consumerSecret + "&").utf8))
        let message = Array(baseString.utf8)
        switch method {
        case .hmacSHA1: return Data(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key)).base64EncodedString()
        case .hmacSHA256: return Data(HMAC<SHA256>.authenticationCode(for: message, using: key)).base64EncodedString()
        }
    }

    /// The signature base string; pairs are encoded, then sorted by key and value bytes.
    public static func baseString(httpMethod: String, signingURL: String, parameters: [(name: String, value: String)]) -> String {
        let encoded = parameters.map { (percentEncode($0.name), percentEncode($0.value)) }
            .sorted { a, b in
                a.0 != b.0 ? Array(a.0.utf8).lexicographicallyPrecedes(Array(b.0.utf8)) : Array(a.1.utf8).lexicographicallyPrecedes(Array(b.1.utf8))
            }
            .map { "\($0.0)=\($0.1)" }
            .joined(separator: "&")
        return httpMethod.uppercased() + "&" + percentEncode(signingURL) + "&" + percentEncode(encoded)
    }

    /// RFC 3986 percent-encoding (PHP's `rawurlencode`): everything but `A-Z a-z 0-9 - . _ ~`.
    public static func percentEncode(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                out += Formatting.percentEscape(byte)
            }
        }
        return out
    }
}
