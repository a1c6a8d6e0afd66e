import AsyncHTTPClient
import ConnectorCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL

/// A WooCommerce REST v3 client for one store: authentication as the store verifies it,
/// JSON in and out, typed models, paging by `X-WP-TotalPages`, and errors that keep
/// WooCommerce's `code` and class themselves permanent or transient.
///
/// It does not retry: the flows decide, from ``WooCommerceError/connectorError`` and
/// ``WooCommerceError/retryAfter``, with their injected `Sleeper`.
///
/// The `HTTPClient` is the caller's and so is its shutdown. A store with a private CA needs
/// a client that trusts it: build one with ``makeHTTPClient(trusting:)`` (the caller shuts it
/// down) or let ``withHTTPClient(for:shared:_:)`` own it for a scope.
public final class WooCommerceClient: Sendable {
    /// The configuration as given (validated).
    public let configuration: Configuration
    let resolved: Configuration.Resolved
    let httpClient: HTTPClient
    let clock: any WallClock
    let nonces: any NonceSource
    let logger: Logger
    let signer: OAuth1Signer

    /// What AsyncHTTPClient may log: its trace lines print request heads (the query string
    /// holds the keys in `query` mode, the `Authorization` header in `basic`), so they never
    /// reach the caller's logger below `.notice`.
    var transportLogger: Logger {
        var copy = logger
        if copy.logLevel < .notice { copy.logLevel = .notice }
        return copy
    }

    /// The largest response body read (a page of 100 orders is well under 1 MB).
    static let maxBodyBytes = 32 << 20
    static let apiPrefix = "/wp-json/wc/v3"

    /// - Parameters:
    ///   - clock: the source of OAuth timestamps (and `Retry-After` dates).
    ///   - nonces: OAuth nonces; inject a deterministic one in tests.
    /// - Throws: `ConnectorError.invalidConfiguration` when the configuration cannot work
    ///   (e.g. Basic over `http://` for a non-sandbox store), naming the fix.
    public init(configuration: Configuration, httpClient: HTTPClient, clock: any WallClock = SystemWallClock(),
                nonces: any NonceSource = RandomNonceSource(), logger: Logger = Logger(label: "woocommerce-client")) throws {
        self.resolved = try configuration.resolve()
        self.configuration = configuration
        self.httpClient = httpClient
        self.clock = clock
        self.nonces = nonces
        self.logger = logger
        self.signer = OAuth1Signer(consumerKey: configuration.consumerKey, consumerSecret: configuration.consumerSecret, method: configuration.signatureMethod)
    }

    // MARK: HTTP clients with a private CA

    /// A new `HTTPClient` that trusts `pem` (one or more certificates) besides the system
    /// roots. The caller owns it: call `shutdown()` when done.
    /// - Throws: `ConnectorError.invalidConfiguration` when the PEM holds no certificate.
    public static func makeHTTPClient(trusting pem: String) throws -> HTTPClient {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMBytes(Array(pem.utf8))
        } catch {
            throw ConnectorError.invalidConfiguration(
                "caCertificatePEM could not be parsed as a PEM certificate (\(Formatting.bounded(String(describing: error), limit: 80)))",
                fix: "paste the CA certificate itself, -----BEGIN CERTIFICATE----- through -----END CERTIFICATE-----")
        }
        guard !certificates.isEmpty else {
            throw ConnectorError.invalidConfiguration("caCertificatePEM holds no certificate", fix: "paste the CA certificate (-----BEGIN CERTIFICATE----- …)")
        }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.additionalTrustRoots = [.certificates(certificates)]
        var configuration = HTTPClient.Configuration(tlsConfiguration: tls)
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    /// Runs `body` with the HTTP client the configuration needs: `shared` when there is no
    /// `caCertificatePEM`, otherwise a dedicated one trusting it, shut down when `body` ends.
    public static func withHTTPClient<T: Sendable>(for configuration: Configuration, shared: HTTPClient,
                                                   _ body: (HTTPClient) async throws -> T) async throws -> T {
        guard let pem = configuration.caCertificatePEM else { return try await body(shared) }
        let client = try makeHTTPClient(trusting: pem)
        let result: Result<T, any Error>
        do { result = .success(try await body(client)) } catch { result = .failure(error) }
        try await client.shutdown()
        return try result.get()
    }

    // MARK: requests

    struct Response {
        var status: Int
        var headers: HTTPHeaders
        var body: ByteBuffer
        var request: String
    }

    /// Sends one request to `{baseURL}/wp-json/wc/v3{path}`, authenticated per the auth mode;
    /// throws ``WooCommerceError`` for anything but a 2xx.
    func send(_ method: HTTPMethod, _ path: String, query: [(name: String, value: String)] = [], body: ByteBuffer? = nil) async throws -> Response {
        let fullPath = resolved.basePath + Self.apiPrefix + path
        let label = "\(method.rawValue) \(Self.apiPrefix)\(path)"
        var parameters = query
        var request = HTTPClientRequest(url: "")
        request.method = method
        request.headers.add(name: "User-Agent", value: "ml-connector")
        request.headers.add(name: "Accept", value: "application/json")
        switch configuration.authMode {
        case .basic:
            let token = Data("\(configuration.consumerKey):\(configuration.consumerSecret)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(token)")
        case .query:
            parameters += [("consumer_key", configuration.consumerKey), ("consumer_secret", configuration.consumerSecret)]
        case .oauth1:
            let signingURL = "\(resolved.scheme)://\(resolved.signingAuthority)\(fullPath)"
            let timestamp = Int(clock.now().timeIntervalSince1970)
            parameters += signer.parameters(httpMethod: method.rawValue, signingURL: signingURL, query: query, nonce: nonces.nextNonce(), timestamp: timestamp)
        }
        var url = "\(resolved.scheme)://\(resolved.authority)\(fullPath)"
        if !parameters.isEmpty {
            url += "?" + parameters.map { OAuth1Signer.percentEncode($0.name) + "=" + OAuth1Signer.percentEncode($0.value) }.joined(separator: "&")
        }
        request.url = url
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(body)
        }

        let started = ContinuousClock.now
        let response: HTTPClientResponse
        let bytes: ByteBuffer
        do {
            response = try await httpClient.execute(request, timeout: .milliseconds(Int64(configuration.requestTimeout * 1000)), logger: transportLogger)
            bytes = try await Self.collect(response, upTo: Self.maxBodyBytes)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            let failure = Self.transportError(error, request: label, hiding: configuration.consumerSecret)
            logger.warning("woocommerce request failed", metadata: ["woo.request": "\(label)", "woo.code": "\(failure.code)"])
            throw failure
        }
        let status = Int(response.status.code)
        let elapsed = ContinuousClock.now - started
        logger.debug("woocommerce response", metadata: [
            "woo.request": "\(label)", "woo.status": "\(status)",
            "woo.duration_ms": "\(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)",
        ])
        if (300..<400).contains(status) {
            // Redirects are not followed with the keys attached; the fix is the base URL.
            let location = response.headers.first(name: "Location").map { String($0.prefix { $0 != "?" }) } ?? "no Location"
            throw WooCommerceError(status: status, code: "http_redirect", message: "the store redirects to \(Formatting.bounded(location, limit: 120))", request: label)
        }
        guard (200..<300).contains(status) else {
            let retryAfter = response.headers.first(name: "Retry-After").flatMap { Self.retryAfterSeconds($0, now: clock.now()) }
            throw WooCommerceError.from(status: status, body: Array(buffer: bytes), retryAfter: retryAfter, request: label)
        }
        return Response(status: status, headers: response.headers, body: bytes, request: label)
    }

    /// The whole body in one buffer, sized by `Content-Length` when the store sends it
    /// (`collect(upTo:)` grows by doubling: a 5 MB batch answer would sit in 8 MB, copied on
    /// the way there).
    static func collect(_ response: HTTPClientResponse, upTo limit: Int) async throws -> ByteBuffer {
        guard let length = response.headers.first(name: "Content-Length").flatMap({ Int($0) }), (0...limit).contains(length) else {
            return try await response.body.collect(upTo: limit)
        }
        var bytes = ByteBufferAllocator().buffer(capacity: length)
        for try await var chunk in response.body {
            guard bytes.readableBytes + chunk.readableBytes <= limit else { throw NIOTooManyBytesError(maxBytes: limit) }
            bytes.writeBuffer(&chunk)
        }
        return bytes
    }

    /// Sends `body` as JSON and decodes the answer as `T`.
    func call<T: Decodable>(_ method: HTTPMethod, _ path: String, query: [(name: String, value: String)] = [],
                            json body: (some Encodable)? = Optional<Empty>.none, as type: T.Type = T.self) async throws -> T {
        let buffer = try body.map { try encoded($0, request: "\(method.rawValue) \(path)") }
        let response = try await send(method, path, query: query, body: buffer)
        return try decode(T.self, response)
    }

    /// POSTs a batch and decodes the answer one item at a time (``WooBatchResult/decodeItemByItem(_:decoder:)``).
    func sendBatch<Input, Item: Decodable>(_ path: String, _ batch: WooBatch<Input>) async throws -> WooBatchResult<Item> {
        let response = try await send(.POST, path, body: try encoded(batch, request: "POST \(path)"))
        do {
            return try WooBatchResult<Item>.decodeItemByItem(response.body, decoder: Self.makeDecoder())
        } catch {
            throw WooCommerceError(status: response.status, code: "invalid_response", message: Self.describe(error), request: response.request)
        }
    }

    func encoded(_ body: some Encodable, request: String) throws -> ByteBuffer {
        do {
            return ByteBuffer(data: try Self.makeEncoder().encode(body))
        } catch {
            throw WooCommerceError.invalidRequest("the request body could not be encoded: \(error)", request: request)
        }
    }

    func decode<T: Decodable>(_ type: T.Type, _ response: Response) throws -> T {
        do {
            return try Self.makeDecoder().decode(T.self, from: response.body)
        } catch {
            throw WooCommerceError(status: response.status, code: "invalid_response", message: Self.describe(error), request: response.request)
        }
    }

    /// A decoding failure in one line: where, and what.
    static func describe(_ error: any Error) -> String {
        guard let error = error as? DecodingError else { return Formatting.bounded(String(describing: error), limit: 200) }
        func path(_ context: DecodingError.Context) -> String {
            let keys = context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? "." + $0.stringValue }.joined()
            return keys.isEmpty ? "$" : "$" + keys
        }
        switch error {
        case .keyNotFound(let key, let context): return "missing \(path(context)).\(key.stringValue)"
        case .typeMismatch(let type, let context): return "\(path(context)) is not \(type): \(Formatting.bounded(context.debugDescription, limit: 120))"
        case .valueNotFound(let type, let context): return "\(path(context)) is null, expected \(type)"
        case .dataCorrupted(let context): return "\(path(context)): \(Formatting.bounded(context.debugDescription, limit: 120))"
        @unknown default: return Formatting.bounded(String(describing: error), limit: 200)
        }
    }

    /// Timeouts and refused or dropped connections are transient; TLS trust failures are not.
    static func transportError(_ error: any Error, request: String, hiding secret: String) -> WooCommerceError {
        // The URL holds the secret in `query` mode; no error text may carry it.
        let text = Formatting.bounded(String(describing: error).replacingOccurrences(of: secret, with: "[secret]"), limit: 160)
        if let e = error as? HTTPClientError,
           e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout || e == .writeTimeout {
            return WooCommerceError(status: nil, code: "transport_timeout", message: "no answer in time (\(text))", request: request)
        }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return WooCommerceError(status: nil, code: "tls_failed", message: "TLS failed (\(text))", request: request)
        }
        return WooCommerceError(status: nil, code: "transport_failed", message: "connection failed (\(text))", request: request)
    }

    /// `Retry-After` as seconds: a number, or an HTTP date relative to `now`.
    static func retryAfterSeconds(_ value: String, now: Date) -> TimeInterval? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int(trimmed) { return TimeInterval(max(0, seconds)) }
        guard let date = parseHTTPDate(trimmed) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), without locale-dependent formatters.
    static func parseHTTPDate(_ text: String) -> Date? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        guard let month = months.firstIndex(of: String(parts[2])) else { return nil }
        let iso = "\(Formatting.pad(year, 4))-\(Formatting.pad(month + 1, 2))-\(Formatting.pad(day, 2))T\(parts[4])Z"
        return Formatting.parseTimestamp(iso)
    }

    /// A body-less marker for `call`.
    struct Empty: Encodable {}
}
