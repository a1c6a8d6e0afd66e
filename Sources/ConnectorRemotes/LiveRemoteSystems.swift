import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import CoreMetrics
import DynamicsClient
import Foundation
import Logging
import Synchronization
import WooCommerceClient

/// The real clients for a connection, over one shared HTTP client: one token provider per F&O
/// app and environment (so concurrent orders share one token), the store's throttle gate, and
/// a WooCommerce client per connection (with its own TLS trust when the connection pins a CA).
/// Every F&O and WooCommerce call, and every throttle, is counted in the metrics factory.
public final class LiveRemoteSystems: RemoteSystems {
    private let http: HTTPClient
    private let clock: any WallClock
    private let sleeper: any Sleeper
    private let gate: MeteredThrottleGate
    private let metrics: RemoteCallMetrics
    private let tokenCache: (any TokenCache)?
    private let logger: Logger
    private let providers = Mutex<[DynamicsCredentials: TokenProvider]>([:])
    private let pinnedClients = Mutex<[String: HTTPClient]>([:])
    private let retry: RetryPolicy
    private let signingClock: any WallClock

    /// `httpClient` is owned by the caller; clients made here for pinned CA certificates are
    /// shut down by `shutdown()`.
    /// `signingClock` stamps OAuth 1.0a requests; it is `clock` unless a test moves `clock`
    /// ahead of the store's real time (WooCommerce refuses timestamps 15 minutes off).
    /// `metricsFactory` receives the call metrics; by default swift-metrics' current factory (the
    /// one `FunctionMain` binds for `/metrics`, a no-op elsewhere).
    public init(httpClient: HTTPClient, store: any KeyValueStore, clock: any WallClock, sleeper: any Sleeper,
                tokenCache: (any TokenCache)? = nil, retry: RetryPolicy = RetryPolicy(), signingClock: (any WallClock)? = nil, logger: Logger,
                metricsFactory: (any MetricsFactory)? = nil) {
        self.http = httpClient
        self.clock = clock
        self.signingClock = signingClock ?? clock
        self.sleeper = sleeper
        self.metrics = RemoteCallMetrics(factory: metricsFactory ?? MetricsSystem.factory)
        self.gate = MeteredThrottleGate(inner: StoreThrottleGate(store: store, clock: clock), clock: clock, metrics: metrics)
        self.tokenCache = tokenCache
        self.retry = retry
        self.logger = logger
    }

    public func woocommerce(_ connection: Connection) throws -> WooCommerceClient {
        let settings = connection.woocommerce
        let configuration = WooCommerceClient.Configuration(
            baseURL: settings.baseURL, consumerKey: settings.consumerKey.reveal(), consumerSecret: settings.consumerSecret.reveal(),
            authMode: WooCommerceClient.Configuration.AuthMode(rawValue: settings.authMode.rawValue) ?? .basic,
            caCertificatePEM: settings.caCertificatePEM, allowInsecureHTTP: settings.allowInsecureHTTP, sandbox: connection.sandbox)
        var client = http
        if let pem = settings.caCertificatePEM {
            client = try pinnedClients.withLock { clients in
                if let existing = clients[pem] { return existing }
                let made = try WooCommerceClient.makeHTTPClient(trusting: pem)
                clients[pem] = made
                return made
            }
        }
        var logger = logger
        logger[metadataKey: "connection"] = "\(connection.id)"
        // The WooCommerce client has no call hook; its per-response log lines are the hook.
        let metrics = self.metrics, host = RemoteCallMetrics.host(settings.baseURL)
        logger.handler = WooCallObservingLogHandler(inner: logger.handler) { label, status, milliseconds in
            metrics.woocommerce(host: host, request: label, status: status, milliseconds: milliseconds)
        }
        return try WooCommerceClient(configuration: configuration, httpClient: client, clock: signingClock, logger: logger)
    }

    public func dynamics(_ connection: Connection) throws -> DynamicsClient {
        let settings = connection.dynamics
        let credentials = DynamicsCredentials(environmentURL: settings.environmentURL, tenantId: settings.tenantId, clientId: settings.clientId,
                                              clientSecret: settings.clientSecret.reveal(), authorityHost: settings.authorityHost)
        let baseLogger = self.logger
        let tokens = providers.withLock { providers in
            if let existing = providers[credentials] { return existing }
            let made = TokenProvider(credentials: credentials, httpClient: http, clock: clock, cache: tokenCache, logger: baseLogger)
            providers[credentials] = made
            return made
        }
        var configuration = DynamicsClient.Configuration(credentials: credentials, legalEntity: settings.legalEntity)
        configuration.retry = retry
        var logger = logger
        logger[metadataKey: "connection"] = "\(connection.id)"
        let metrics = self.metrics, host = RemoteCallMetrics.host(settings.environmentURL)
        return DynamicsClient(configuration: configuration, httpClient: http, tokens: tokens, clock: clock, sleeper: sleeper, throttleGate: gate, logger: logger)
            .observing { call in metrics.dynamics(host: host, call: call) }
    }

    /// Shuts down the HTTP clients made for pinned certificates.
    public func shutdown() async {
        let clients = pinnedClients.withLock { clients in defer { clients = [:] }; return Array(clients.values) }
        for client in clients { try? await client.shutdown() }
    }
}

/// The call metrics (docs/operations.md lists them). Labels stay low-cardinality: the host of
/// the environment or store (one per connection), the entity or resource (ids dropped), the
/// method and the status.
struct RemoteCallMetrics: Sendable {
    let factory: any MetricsFactory

    func dynamics(host: String, call: RemoteCall) {
        let entity = Self.dynamicsEntity(call.path)
        Counter(label: "mlc_fo_calls_total", dimensions: [("host", host), ("entity", entity), ("method", call.method), ("status", String(call.status))],
                factory: factory).increment()
        CoreMetrics.Timer(label: "mlc_fo_call_duration_seconds", dimensions: [("host", host), ("entity", entity)], factory: factory)
            .recordMilliseconds(call.milliseconds)
    }

    func woocommerce(host: String, request: String, status: Int, milliseconds: Int?) {
        let (method, resource) = Self.wooResource(request)
        Counter(label: "mlc_woo_calls_total", dimensions: [("host", host), ("resource", resource), ("method", method), ("status", String(status))],
                factory: factory).increment()
        if status == 429 { Counter(label: "mlc_woo_throttled_total", dimensions: [("host", host)], factory: factory).increment() }
        if let milliseconds {
            CoreMetrics.Timer(label: "mlc_woo_call_duration_seconds", dimensions: [("host", host), ("resource", resource)], factory: factory)
                .recordMilliseconds(milliseconds)
        }
    }

    /// F&O answered 429: `throttledUntil` was written for every instance.
    func throttled(host: String) {
        Counter(label: "mlc_fo_throttled_total", dimensions: [("host", host)], factory: factory).increment()
    }

    /// A call found the environment held back (`seconds` still to go).
    func heldBack(host: String, seconds: Double) {
        Counter(label: "mlc_fo_throttle_waits_total", dimensions: [("host", host)], factory: factory).increment()
        FloatingPointCounter(label: "mlc_fo_throttle_wait_seconds_total", dimensions: [("host", host)], factory: factory).increment(by: seconds)
    }

    static func host(_ url: String) -> String {
        (URLComponents(string: url)?.host ?? "unknown").lowercased()
    }

    /// `/data/SalesOrderHeadersV2(dataAreaId='usmf',…)?…` → `SalesOrderHeadersV2`; `/data/$batch` → `$batch`.
    static func dynamicsEntity(_ path: String) -> String {
        guard let at = Formatting.firstOffset(of: "/data/", in: path) else { return "other" }
        let name = Substring(path.utf8.dropFirst(at + 6)).prefix { $0 != "(" && $0 != "?" && $0 != "/" }
        guard !name.isEmpty, name.count <= 80, name.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "$") }) else { return "other" }
        return String(name)
    }

    /// `GET /wp-json/wc/v3/orders/123/notes` → (`GET`, `orders/notes`): ids dropped.
    static func wooResource(_ request: String) -> (method: String, resource: String) {
        let parts = request.split(separator: " ", maxSplits: 1)
        guard parts.count == 2 else { return ("other", "other") }
        let method = parts[0].allSatisfy(\.isLetter) ? String(parts[0].prefix(10)) : "other"
        // A byte search and a plain loop rather than Foundation's `range(of:)` and `joined`: both
        // run unspecialized generic code whose metadata the runtime resolves by name, at a cold
        // start's expense.
        let target = String(parts[1])
        let path = Formatting.firstOffset(of: "/wc/v3/", in: target).map { String(Substring(target.utf8.dropFirst($0 + 7))) } ?? target
        var resource = ""
        var kept = 0
        for segment in path.split(separator: "/") where !segment.allSatisfy(\.isNumber) {
            guard kept < 3 else { break }
            guard segment.count <= 40, segment.allSatisfy({ $0.isASCII && ($0.isLowercase || $0 == "_" || $0 == "-") }) else {
                return (method, "other")
            }
            if kept > 0 { resource += "/" }
            resource += String(segment)
            kept += 1
        }
        return (method, kept == 0 ? "other" : resource)
    }
}

/// The store's throttle gate, counting what it sees: a 429 that set `throttledUntil`, and each
/// call that found the environment held back.
final class MeteredThrottleGate: ThrottleGate {
    let inner: StoreThrottleGate
    let clock: any WallClock
    let metrics: RemoteCallMetrics

    init(inner: StoreThrottleGate, clock: any WallClock, metrics: RemoteCallMetrics) {
        self.inner = inner
        self.clock = clock
        self.metrics = metrics
    }

    func heldUntil(environment: String) async -> Date? {
        let until = await inner.heldUntil(environment: environment)
        if let until, case let seconds = until.timeIntervalSince(clock.now()), seconds > 0 {
            metrics.heldBack(host: RemoteCallMetrics.host(environment), seconds: seconds)
        }
        return until
    }

    func hold(environment: String, until: Date) async {
        metrics.throttled(host: RemoteCallMetrics.host(environment))
        await inner.hold(environment: environment, until: until)
    }
}

/// Passes every line on to `inner` (at `inner`'s level) and reports the WooCommerce client's
/// per-request lines — `woocommerce response` (debug, with `woo.status` and `woo.duration_ms`) and
/// `woocommerce request failed` (no answer: status 0) — to `observe`, whatever the log level.
struct WooCallObservingLogHandler: LogHandler {
    var inner: any LogHandler
    let observe: @Sendable (_ request: String, _ status: Int, _ milliseconds: Int?) -> Void
    /// The level below which lines are neither observed nor logged: debug, unless a copy was
    /// turned down (the client's transport logger is set to notice, to keep request heads out).
    private var floor: Logger.Level = .debug

    init(inner: any LogHandler, observe: @escaping @Sendable (_ request: String, _ status: Int, _ milliseconds: Int?) -> Void) {
        self.inner = inner
        self.observe = observe
    }

    func log(event: LogEvent) {
        let metadata = event.metadata ?? [:]
        if let request = metadata["woo.request"].map({ "\($0)" }) {
            switch event.message.description {
            case "woocommerce response":
                if let status = metadata["woo.status"].flatMap({ Int("\($0)") }) {
                    observe(request, status, metadata["woo.duration_ms"].flatMap { Int("\($0)") })
                }
            case "woocommerce request failed":
                observe(request, 0, nil)
            default: break
            }
        }
        if event.level >= inner.logLevel { inner.log(event: event) }
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { inner[metadataKey: key] }
        set { inner[metadataKey: key] = newValue }
    }

    var metadata: Logger.Metadata {
        get { inner.metadata }
        set { inner.metadata = newValue }
    }

    var metadataProvider: Logger.MetadataProvider? {
        get { inner.metadataProvider }
        set { inner.metadataProvider = newValue }
    }

    var logLevel: Logger.Level {
        get { min(floor, inner.logLevel) }
        set {
            inner.logLevel = newValue
            floor = newValue
        }
    }
}
