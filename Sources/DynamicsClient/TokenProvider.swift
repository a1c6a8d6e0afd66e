import AsyncHTTPClient
import ConnectorCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat

/// Who the connector is to Entra ID and which F&O environment it wants a token for.
public struct DynamicsCredentials: Sendable, Hashable {
    /// The environment URL as the token's audience: lower-case, no trailing slash (a slash or
    /// an upper-case letter in `aud` is a classic cause of 401 from F&O).
    public let audience: String
    public let tenantId: String
    public let clientId: String
    public let clientSecret: String
    /// `https://login.microsoftonline.com`, or a sandbox's loopback URL.
    public let authorityHost: String

    public init(environmentURL: String, tenantId: String, clientId: String, clientSecret: String, authorityHost: String) {
        self.audience = Self.audience(of: environmentURL)
        self.tenantId = tenantId
        self.clientId = clientId
        self.clientSecret = clientSecret
        var host = authorityHost
        while host.hasSuffix("/") { host.removeLast() }
        self.authorityHost = host
    }

    static func audience(of environmentURL: String) -> String {
        var url = environmentURL.trimmingCharacters(in: .whitespaces)
        while url.hasSuffix("/") { url.removeLast() }
        return url.lowercased()
    }

    /// The v2 token endpoint of the tenant (never `/organizations`: the tenant-specific one).
    var tokenURL: String { "\(authorityHost)/\(FormEncoding.encode(tenantId))/oauth2/v2.0/token" }
}

/// A bearer token and the instant it stops being used.
public struct AccessToken: Sendable, Equatable {
    public let value: String
    /// When the connector stops using it: shortly before Entra's `expires_in` runs out.
    public let refreshAt: Date

    public init(value: String, refreshAt: Date) {
        self.value = value
        self.refreshAt = refreshAt
    }
}

/// Where tokens can be kept between invocations (sealed in the store in production), so a
/// function scaled from zero does not ask Entra for a new token on every start.
public protocol TokenCache: Sendable {
    func load(_ credentials: DynamicsCredentials) async -> AccessToken?
    func save(_ token: AccessToken, for credentials: DynamicsCredentials) async
}

/// Entra ID client-credentials tokens for one app and environment: cached until shortly before
/// they expire, one request shared by every concurrent caller, dropped on a 401 from F&O.
/// There is no refresh token in this flow; a new token is simply requested again.
public actor TokenProvider {
    private let credentials: DynamicsCredentials
    private let http: HTTPClient
    private let clock: any WallClock
    private let cache: (any TokenCache)?
    private let logger: Logger
    private let timeout: TimeAmount
    private var current: AccessToken?
    private var inFlight: Task<AccessToken, any Error>?
    /// Tokens F&O refused: never taken from the cache again (another instance may have stored one).
    private var refused: Set<String> = []
    /// How many tokens were fetched from Entra (for tests and metrics).
    public private(set) var fetches = 0

    public init(credentials: DynamicsCredentials, httpClient: HTTPClient, clock: any WallClock, cache: (any TokenCache)? = nil,
                timeout: TimeAmount = .seconds(30), logger: Logger) {
        self.credentials = credentials
        self.http = httpClient
        self.clock = clock
        self.cache = cache
        self.timeout = timeout
        self.logger = logger
    }

    /// A valid token, from memory, the cache, or Entra.
    public func token() async throws -> AccessToken {
        if let current, clock.now() < current.refreshAt { return current }
        if let inFlight { return try await inFlight.value }
        let task = Task { try await self.obtain() }
        inFlight = task
        defer { inFlight = nil }
        let token = try await task.value
        current = token
        return token
    }

    /// Forgets `token` after F&O refused it, so the next `token()` asks Entra again.
    public func invalidate(_ token: AccessToken) {
        if current == token { current = nil }
        refused.insert(token.value)
    }

    private func obtain() async throws -> AccessToken {
        if let cached = await cache?.load(credentials), clock.now() < cached.refreshAt, !refused.contains(cached.value) { return cached }
        let token = try await fetch()
        await cache?.save(token, for: credentials)
        return token
    }

    private func fetch() async throws -> AccessToken {
        fetches += 1
        var request = HTTPClientRequest(url: credentials.tokenURL)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded")
        request.headers.add(name: "Accept", value: "application/json")
        let form = [
            ("client_id", credentials.clientId), ("client_secret", credentials.clientSecret),
            ("grant_type", "client_credentials"), ("scope", credentials.audience + "/.default"),
        ]
        request.body = .bytes(ByteBuffer(string: form.map { "\($0.0)=\(FormEncoding.encode($0.1))" }.joined(separator: "&")))
        let requestedAt = clock.now()
        let status: Int
        let body: ByteBuffer
        do {
            let response = try await http.execute(request, timeout: timeout)
            status = Int(response.status.code)
            body = try await response.body.collect(upTo: 256 * 1024)
        } catch {
            throw ConnectorError.remoteUnavailable("Entra ID token endpoint \(credentials.authorityHost) did not answer: \(Formatting.bounded(String(describing: error), limit: 160))",
                                                   fix: "check the connection's authorityHost and the network; retried later")
        }
        let json = (try? JSONSerialization.jsonObject(with: Data(buffer: body))) as? [String: Any]
        if status == 200, let json, let value = json["access_token"] as? String, !value.isEmpty {
            // v2 answers numbers, v1 strings: accept both.
            let lifetime = (json["expires_in"] as? NSNumber)?.doubleValue ?? (json["expires_in"] as? String).flatMap(Double.init) ?? 3599
            let margin = min(300, lifetime / 10)
            logger.debug("dynamics.token.fetched", metadata: ["lifetime_s": "\(Int(lifetime))"])
            return AccessToken(value: value, refreshAt: requestedAt.addingTimeInterval(lifetime - margin))
        }
        throw Self.error(status: status, json: json, credentials: credentials)
    }

    /// Maps Entra's answer by its `error` field — never by the description text, as Microsoft asks.
    static func error(status: Int, json: [String: Any]?, credentials: DynamicsCredentials) -> ConnectorError {
        let code = json?["error"] as? String ?? ""
        let aadsts = ((json?["error_codes"] as? [Any])?.first).map { "AADSTS\($0)" } ?? ""
        let detail = [code, aadsts].filter { !$0.isEmpty }.joined(separator: " ")
        switch code {
        case "invalid_client", "unauthorized_client":
            return .credentialsRejected("Entra ID refused client \(credentials.clientId) in tenant \(credentials.tenantId) (\(detail))",
                                        fix: "check the connection's clientId and clientSecret (mlc connection set-secret), and that the secret has not expired")
        case "invalid_resource", "invalid_scope":
            return .credentialsRejected("Entra ID does not know the F&O environment \(credentials.audience) (\(detail))",
                                        fix: "check dynamics.environmentURL: the exact environment URL, no path")
        case "invalid_request" where aadsts == "AADSTS90002":
            return .credentialsRejected("Entra ID does not know tenant \(credentials.tenantId) (\(detail))", fix: "check dynamics.tenantId")
        case "temporarily_unavailable":
            return .remoteUnavailable("Entra ID is temporarily unavailable (\(detail))", fix: "retried later")
        default:
            if status >= 500 || status == 429 || json == nil && status != 400 {
                return .remoteUnavailable("Entra ID token endpoint answered \(status)", fix: "retried later")
            }
            return .credentialsRejected("Entra ID refused the token request: \(status) \(detail)", fix: "check the connection's dynamics settings")
        }
    }
}

/// `application/x-www-form-urlencoded` values: RFC 3986 unreserved kept, everything else escaped.
enum FormEncoding {
    private static let unreserved: Set<UInt8> = Set(Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8))

    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            if unreserved.contains(byte) { out.unicodeScalars.append(UnicodeScalar(byte)) }
            else { out += "%" + String(byte, radix: 16, uppercase: true).leftPad(2) }
        }
        return out
    }
}
