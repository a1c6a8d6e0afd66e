import ConnectorCore
import Foundation

extension WooCommerceClient {
    /// How the client reaches one store. Mirrors the connection's `woocommerce` block, but is
    /// its own type so this module never depends on `ConnectorConnections`.
    ///
    /// Invalid combinations are rejected by ``validated()`` (called by the client's
    /// initialiser) with a `ConnectorError` that names the fix, before any request is sent.
    public struct Configuration: Sendable, Equatable {
        /// How the consumer key and secret travel.
        public enum AuthMode: String, Sendable, Equatable, CaseIterable {
            /// `Authorization: Basic base64(ck:cs)`. WordPress reads it only over HTTPS.
            case basic
            /// `consumer_key`/`consumer_secret` query parameters, for hosts that strip the
            /// `Authorization` header. HTTPS only, like `basic`.
            case query
            /// One-legged OAuth 1.0a, the only thing WooCommerce accepts over plain HTTP. The
            /// JSON body is not signed, so it is allowed only for a sandbox or with
            /// ``Configuration/allowInsecureHTTP``.
            case oauth1
        }

        /// The OAuth 1.0a signature method. WooCommerce accepts both; the real captures
        /// (WooCommerce 10.0.2) were signed with HMAC-SHA256, hence the default.
        public enum SignatureMethod: String, Sendable, Equatable, CaseIterable {
            case hmacSHA1 = "HMAC-SHA1"
            case hmacSHA256 = "HMAC-SHA256"
        }

        /// The store's home URL, e.g. `https://shop.example.com` (a sub-directory install keeps
        /// its path). Requests go to `{baseURL}/wp-json/wc/v3/…`.
        public var baseURL: String
        /// `ck_…`: the REST key (WooCommerce → Settings → Advanced → REST API), read_write.
        public var consumerKey: String
        /// `cs_…`: never logged, never put in an error.
        public var consumerSecret: String
        /// Default `basic`.
        public var authMode: AuthMode
        /// A PEM certificate (not a path) to trust in addition to the system roots, for a
        /// store with a private CA or a self-signed certificate. When set, build the HTTP
        /// client with ``WooCommerceClient/makeHTTPClient(trusting:)``.
        public var caCertificatePEM: String?
        /// Permits plain `http://` for non-sandbox stores (keys or unsigned bodies in clear text).
        public var allowInsecureHTTP: Bool
        /// A sandbox connection (loopback emulator): plain HTTP is allowed.
        public var sandbox: Bool
        /// Deadline of one request, in seconds (connect, send, and read the whole body).
        public var requestTimeout: TimeInterval
        /// OAuth 1.0a only: WordPress signs over its configured home URL's host and port (with
        /// the request's scheme), not over the URL the request was sent to. Set this when the
        /// two differ (a tunnel or port forward); `nil` uses ``baseURL``.
        public var homeURL: String?
        /// OAuth 1.0a only.
        public var signatureMethod: SignatureMethod

        /// Defaults: Basic auth, no private CA, HTTPS required, 30 s per request.
        public init(
            baseURL: String, consumerKey: String, consumerSecret: String, authMode: AuthMode = .basic,
            caCertificatePEM: String? = nil, allowInsecureHTTP: Bool = false, sandbox: Bool = false,
            requestTimeout: TimeInterval = 30, homeURL: String? = nil, signatureMethod: SignatureMethod = .hmacSHA256
        ) {
            self.baseURL = baseURL
            self.consumerKey = consumerKey
            self.consumerSecret = consumerSecret
            self.authMode = authMode
            self.caCertificatePEM = caCertificatePEM
            self.allowInsecureHTTP = allowInsecureHTTP
            self.sandbox = sandbox
            self.requestTimeout = requestTimeout
            self.homeURL = homeURL
            self.signatureMethod = signatureMethod
        }

        /// The parts the client needs, after the checks below.
        struct Resolved: Sendable {
            var scheme: String
            /// `host[:port]` as written in the base URL.
            var authority: String
            /// The base URL's path without a trailing slash ("" for a root install).
            var basePath: String
            /// `host[:port]` the OAuth base string is built on.
            var signingAuthority: String
        }

        /// Checks the URL and the auth mode against the transport.
        /// - Throws: `ConnectorError.invalidConfiguration` naming the key to change.
        public func validated() throws -> Self {
            _ = try resolve()
            return self
        }

        func resolve() throws -> Resolved {
            let base = try Self.split(baseURL, field: "baseURL")
            guard !consumerKey.isEmpty, !consumerSecret.isEmpty else {
                throw ConnectorError.invalidConfiguration(
                    "the WooCommerce consumer key or secret is empty",
                    fix: "set woocommerce.consumerKey and consumerSecret (WooCommerce → Settings → Advanced → REST API)")
            }
            guard requestTimeout > 0, requestTimeout.isFinite else {
                throw ConnectorError.invalidConfiguration("requestTimeout must be a positive number of seconds", fix: "use e.g. 30")
            }
            let insecureAllowed = sandbox || allowInsecureHTTP
            switch authMode {
            case .basic, .query:
                if base.scheme == "http" && !insecureAllowed {
                    throw ConnectorError.invalidConfiguration(
                        "authMode \(authMode.rawValue) sends the consumer key and secret in clear text over http:// and WordPress ignores them there",
                        fix: "use an https:// baseURL; for a plain-HTTP test store use authMode oauth1 with allowInsecureHTTP true (or a sandbox connection)")
                }
            case .oauth1:
                if !insecureAllowed {
                    throw ConnectorError.invalidConfiguration(
                        "authMode oauth1 does not sign request bodies, so it is allowed only for a sandbox connection or with allowInsecureHTTP",
                        fix: "use authMode basic (or query) over https://, or set allowInsecureHTTP true for a store that only speaks plain HTTP")
                }
            }
            var signing = base.authority
            if let homeURL {
                signing = try Self.split(homeURL, field: "homeURL").authority
            }
            if let pem = caCertificatePEM, !Formatting.containsASCII(pem, "-----BEGIN CERTIFICATE-----") {
                throw ConnectorError.invalidConfiguration(
                    "caCertificatePEM does not contain a PEM certificate",
                    fix: "paste the certificate itself (-----BEGIN CERTIFICATE----- …), not a path or a key")
            }
            return Resolved(scheme: base.scheme, authority: base.authority, basePath: base.path, signingAuthority: signing)
        }

        static func split(_ text: String, field: String) throws -> (scheme: String, authority: String, path: String) {
            let trimmed = String(Formatting.trimmedSpaces(text))
            guard let components = URLComponents(string: trimmed), let scheme = components.scheme?.lowercased(),
                  scheme == "http" || scheme == "https", let host = components.host, !host.isEmpty,
                  components.query == nil, components.fragment == nil, components.user == nil
            else {
                throw ConnectorError.invalidConfiguration(
                    "woocommerce.\(field) \"\(Formatting.bounded(text))\" is not an http(s) URL without query or fragment",
                    fix: "use the store's home URL, e.g. https://shop.example.com")
            }
            guard let schemeEnd = Formatting.firstOffset(of: "://", in: trimmed) else {
                throw ConnectorError.invalidConfiguration("woocommerce.\(field) has no scheme", fix: "use e.g. https://shop.example.com")
            }
            let rest = Substring(trimmed.utf8.dropFirst(schemeEnd + 3))
            let authority = String(rest.prefix { $0 != "/" })
            var path = String(rest.dropFirst(authority.count))
            while path.hasSuffix("/") { path.removeLast() }
            return (scheme, authority, path)
        }
    }
}
