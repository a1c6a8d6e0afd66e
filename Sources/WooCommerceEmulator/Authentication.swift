import Foundation

/// WooCommerce's REST authentication (`class-wc-rest-authentication.php`) as the captures show it.
struct Authenticator {
    enum Outcome: Equatable {
        case authenticated
        /// No usable credentials: the route's permission check answers 401 `…_cannot_*`.
        case anonymous
        case failed(code: String, message: String)
    }

    let consumerKey: String
    let consumerSecret: String
    let isHTTPS: Bool
    /// `scheme://host:port` of the home URL; the OAuth base string uses its host and port with
    /// the request's scheme.
    let homeHostPort: String

    /// `nonces` is the key's nonce store: one nonce per `oauth_timestamp` second.
    func authenticate(_ request: EmulatorRequest, now: Date, nonces: inout [Int: String]) -> Outcome {
        isHTTPS ? basic(request) : oauth(request, now: now, nonces: &nonces)
    }

    /// HTTPS: `consumer_key`/`consumer_secret` in the query first, then Basic.
    private func basic(_ request: EmulatorRequest) -> Outcome {
        let query = request.queryItems
        var key: String?, secret: String?
        if let k = query.first(where: { $0.name == "consumer_key" })?.value, let s = query.first(where: { $0.name == "consumer_secret" })?.value {
            key = k; secret = s
        } else if let header = request.header("Authorization"), header.lowercased().hasPrefix("basic "),
                  let decoded = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)) {
            let text = String(decoding: decoded, as: UTF8.self)
            if let colon = text.firstIndex(of: ":") {
                key = String(text[..<colon]); secret = String(text[text.index(after: colon)...])
            }
        }
        guard let key, let secret else { return .anonymous }
        // An unknown key is not an error here: the request simply stays anonymous.
        guard Digest.constantTimeEqual(Array(key.utf8), Array(consumerKey.utf8)) else { return .anonymous }
        guard Digest.constantTimeEqual(Array(secret.utf8), Array(consumerSecret.utf8)) else {
            return .failed(code: "woocommerce_rest_authentication_error", message: "Consumer secret is invalid.")
        }
        return .authenticated
    }

    static let oauthNames = ["oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method"]

    /// Plain HTTP: OAuth 1.0a one-legged only.
    private func oauth(_ request: EmulatorRequest, now: Date, nonces: inout [Int: String]) -> Outcome {
        var params: [String: String] = [:]
        for item in request.queryItems { params[item.name] = item.value }
        if let header = request.header("Authorization")?.trimmingCharacters(in: .whitespaces), header.hasPrefix("OAuth ") {
            for (k, v) in Self.parseHeader(String(header.dropFirst(6))) { params[k] = v }
        }
        let missing = Self.oauthNames.filter { (params[$0] ?? "").isEmpty }
        if missing.count == Self.oauthNames.count { return .anonymous }
        if !missing.isEmpty {
            return .failed(code: "woocommerce_rest_authentication_missing_parameter", message: "Missing OAuth parameter(s) \(missing.joined(separator: ", "))")
        }
        guard params["oauth_consumer_key"] == consumerKey else {
            return .failed(code: "woocommerce_rest_authentication_error", message: "Consumer key is invalid.")
        }
        let method = params["oauth_signature_method"]!
        guard method == "HMAC-SHA1" || method == "HMAC-SHA256" else {
            return .failed(code: "woocommerce_rest_authentication_error", message: "Invalid signature - signature method is invalid.")
        }
        let provided = FormCoding.percentDecode(params["oauth_signature"]!.replacingOccurrences(of: " ", with: "+"), plusIsSpace: false)
        params["oauth_signature"] = nil
        let base = signatureBaseString(method: request.method, path: request.path, params: params)
        let key = Array((consumerSecret + "&").utf8)
        let expected = method == "HMAC-SHA256"
            ? Digest.hmacSHA256Base64(key: key, message: Array(base.utf8))
            : Digest.hmacSHA1Base64(key: key, message: Array(base.utf8))
        guard Digest.constantTimeEqual(Array(expected.utf8), Array(provided.utf8)) else {
            return .failed(code: "woocommerce_rest_authentication_error", message: "Invalid signature - provided signature does not match.")
        }
        let window = 15 * 60
        let nowSeconds = Int(now.timeIntervalSince1970)
        guard let timestamp = Int(params["oauth_timestamp"]!), abs(timestamp - nowSeconds) <= window else {
            return .failed(code: "woocommerce_rest_authentication_error", message: "Invalid timestamp.")
        }
        let nonce = params["oauth_nonce"]!
        if nonces.values.contains(nonce) {
            return .failed(code: "woocommerce_rest_authentication_error", message: "Invalid nonce - nonce has already been used.")
        }
        nonces[timestamp] = nonce
        nonces = nonces.filter { $0.key >= nowSeconds - window }
        return .authenticated
    }

    /// `METHOD&enc(scheme://home-host:port/path)&enc(sorted enc(k)=enc(v) joined by &)`.
    func signatureBaseString(method: String, path: String, params: [String: String]) -> String {
        let scheme = isHTTPS ? "https" : "http"
        let url = "\(scheme)://\(homeHostPort)\(path)"
        let pairs = params.keys.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }.map {
            FormCoding.rawURLEncode(FormCoding.rawURLEncode($0) + "=" + FormCoding.rawURLEncode(params[$0]!))
        }
        return method.uppercased() + "&" + FormCoding.rawURLEncode(url) + "&" + pairs.joined(separator: "%26")
    }

    /// `k="v", k2="v2"` → decoded pairs.
    static func parseHeader(_ text: String) -> [(String, String)] {
        text.split(separator: ",").compactMap { part in
            let kv = part.split(separator: "=", maxSplits: 1)
            guard kv.count == 2 else { return nil }
            let key = kv[0].trimmingCharacters(in: .whitespaces)
            var value = kv[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return (key, FormCoding.percentDecode(value, plusIsSpace: false))
        }
    }
}
