import AsyncHTTPClient
import ConnectorCore
import ConnectorTestSupport
import Foundation
import Logging
import Testing
import WooCommerceClient
import WooCommerceEmulator

/// One REST capture from `fixtures/woocommerce-real/rest` (copied into this target's resources).
struct Capture {
    var name: String
    var method: String
    var url: String
    var status: Int
    var headers: [(name: String, value: String)]
    var rawBody: String
    var note: String?
    var authorizationHeader: String?

    var body: Data { Data(rawBody.utf8) }

    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }

    /// The decoded query parameters of the request URL, in order.
    var queryItems: [(name: String, value: String)] {
        (URLComponents(string: url)?.queryItems ?? []).map { ($0.name, $0.value ?? "") }
    }

    /// The path after `/wp-json/wc/v3`, e.g. `/orders/32`.
    var apiPath: String {
        let path = URLComponents(string: url)?.path ?? ""
        guard let range = path.range(of: "/wp-json/wc/v3") else { return path }
        return String(path[range.upperBound...])
    }

    static func load(_ name: String) throws -> Capture {
        let url = try #require(Bundle.module.url(forResource: "Captures/rest/\(name)", withExtension: "json"))
        let file = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
        let request = try #require(file["request"] as? [String: Any])
        let response = try #require(file["response"] as? [String: Any])
        var status = response["status"] as? Int
        if status == nil, let line = response["status_line"] as? String { status = Int(line.split(separator: " ")[1]) }
        let headers = (response["headers"] as? [[String]])?.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil } ?? []
        return Capture(
            name: name, method: try #require(request["method"] as? String), url: try #require(request["url"] as? String),
            status: try #require(status), headers: headers, rawBody: response["raw_body"] as? String ?? "",
            note: file["note"] as? String, authorizationHeader: request["authorization_header"] as? String)
    }

    static func all() throws -> [Capture] {
        let directory = try #require(Bundle.module.url(forResource: "Captures/rest", withExtension: nil))
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
            .map { try load(String($0.dropLast(5))) }
    }
}

/// Parses a JSON literal into the emulator's value type (for seeding it).
func wooJSON(_ text: String) -> WooJSON {
    do { return try WooJSON.parse(Array(text.utf8)) } catch { fatalError("bad test JSON: \(text)") }
}

/// A running emulator and a client against it, sharing one manual clock.
struct Harness {
    var woo: WooCommerceEmulator
    var client: WooCommerceClient
    var http: HTTPClient
    var url: URL
    var clock: ManualWallClock
    /// Every line the client logged (trace level).
    var logs: CapturingLogSink

    /// Another client against the same store, with changed settings.
    func client(_ change: (inout WooCommerceClient.Configuration) -> Void) throws -> WooCommerceClient {
        var configuration = client.configuration
        change(&configuration)
        return try WooCommerceClient(configuration: configuration, httpClient: http, clock: clock, nonces: CountingNonceSource(prefix: "n\(UUID().uuidString.prefix(8))"))
    }

    /// Seeds an order through the emulator's own REST handling; returns its id.
    func seedOrder(_ json: String = #"{"status":"processing","line_items":[{"product_id":1,"quantity":1}]}"#) async throws -> Int {
        let response = await woo.send("POST", "/orders", json: wooJSON(json))
        try #require(response.status == 201, "seeding an order: \(String(decoding: response.body, as: UTF8.self))")
        return try #require(try WooJSON.parse(response.body)["id"]?.intValue)
    }
}

/// Runs `body` against a fresh emulator on 127.0.0.1:0 with a client in `authMode`
/// (Basic/query: the store treats requests as HTTPS; OAuth: plain HTTP, sandbox).
func withHarness<T: Sendable>(
    authMode: WooCommerceClient.Configuration.AuthMode = .basic,
    store: (inout WooCommerceEmulator.Configuration) -> Void = { _ in },
    client: @Sendable (inout WooCommerceClient.Configuration) -> Void = { _ in },
    _ body: @Sendable (Harness) async throws -> T
) async throws -> T {
    var storeConfiguration = WooCommerceEmulator.Configuration()
    storeConfiguration.treatRequestsAsHTTPS = authMode != .oauth1
    store(&storeConfiguration)
    let clock = ManualWallClock(Date(timeIntervalSince1970: 1_795_722_796))
    let woo = WooCommerceEmulator(configuration: storeConfiguration, clock: clock, logger: Logger(label: "test-emulator", factory: { _ in SwiftLogNoOpLogHandler() }))
    let http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: .init(redirectConfiguration: .disallow))
    let result: Result<T, any Error>
    do {
        let value = try await woo.withRunningServer(port: 0) { url in
            // The emulator speaks plain HTTP (like a store behind a TLS-terminating proxy), so
            // every configuration here is a sandbox one.
            var configuration = WooCommerceClient.Configuration(
                baseURL: url.absoluteString, consumerKey: woo.credentials.consumerKey, consumerSecret: woo.credentials.consumerSecret,
                authMode: authMode, sandbox: true, requestTimeout: 10)
            client(&configuration)
            let (logger, logs) = TestLogging.logger("woocommerce-client")
            let wooClient = try WooCommerceClient(configuration: configuration, httpClient: http, clock: clock, nonces: CountingNonceSource(), logger: logger)
            return try await body(Harness(woo: woo, client: wooClient, http: http, url: url, clock: clock, logs: logs))
        }
        result = .success(value)
    } catch {
        result = .failure(error)
    }
    try await http.shutdown()
    return try result.get()
}

/// The `WooCommerceError` `body` throws (fails the test if it throws something else or nothing).
func wooError(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async -> WooCommerceError? {
    do {
        try await body()
        Issue.record("expected a WooCommerceError, nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as WooCommerceError {
        return error
    } catch {
        Issue.record("expected a WooCommerceError, got \(error)", sourceLocation: sourceLocation)
    }
    return nil
}
