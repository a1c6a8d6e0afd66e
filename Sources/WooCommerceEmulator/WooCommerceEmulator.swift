import ConnectorCore
import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// An in-memory WooCommerce 10.0.2 store built from real captures: REST v3 under
/// `/wp-json/wc/v3/`, its authentication rules, PHP-style JSON, and the webhook delivery engine
/// (queue coalesced per webhook and resource, payload built at send time, the 7th-failure
/// disable), with named fault switches.
///
/// Deliveries wait in the queue until ``runDeliveries()`` runs them (WP-Cron), unless the
/// configuration asks for them after every request.
public final class WooCommerceEmulator: Sendable {
    /// How the store is set up. Defaults match the captured store where it matters.
    public struct Configuration: Sendable {
        /// The site's home URL without a trailing slash (links, payloads, `X-WC-Webhook-Source`,
        /// the OAuth base string). `nil`: `http://127.0.0.1:<bound port>`.
        public var homeURL: String?
        /// Whether WordPress sees requests as HTTPS (`is_ssl()`): Basic and query-string keys
        /// work only then; otherwise OAuth 1.0a is required. The emulator itself speaks plain
        /// HTTP, as behind a TLS-terminating proxy.
        public var treatRequestsAsHTTPS = true
        /// What the key may do: `read` keys get 401 on writes, `write` keys on reads.
        public var keyPermissions: KeyPermissions = .readWrite
        public var consumerKey = "ck_emulator0000000000000000000000000000000"
        public var consumerSecret = "cs_emulator0000000000000000000000000000000"
        public var currency = "USD"
        /// The store's time zone as an offset from UTC: `date_*` fields are local time,
        /// `date_*_gmt` UTC (the captured store ran in UTC, so they were equal).
        public var utcOffsetSeconds = 0
        /// The store base address, used for taxes when an order has no address.
        public var baseCountry = "US"
        public var baseState = "CA"
        /// `woocommerce_calc_taxes`.
        public var calculateTaxes = true
        /// Gateways whose refunds can go through the API (`api_refund: true`). None by
        /// default: BACS, cheque and COD cannot, and the real store answers 500.
        public var gatewaysSupportingRefunds: Set<String> = []
        public var version = "10.0.2"
        public var wordPressVersion = "6.8.8"
        /// Seeds order keys and generated webhook secrets.
        public var randomSeed: UInt64 = 42
        /// The salt of `wp_hash` (delivery ids).
        public var authSalt = "emulator-auth-salt"
        /// When queued deliveries are sent.
        public var deliveryMode: DeliveryMode = .manual
        /// Apply WordPress's `wp_safe_remote_post` rules to delivery URLs (private hosts only
        /// when they are the site's host; ports 80, 443, 8080 or the site's port); a refused
        /// URL counts as a failed delivery. Off by default so receivers on any port work.
        public var safeRemoteRequests = false
        /// Per-delivery timeout (WooCommerce asks for 60 s).
        public var deliveryTimeout: Duration = .seconds(60)

        public init() {}

        /// The setup of the captured store: home `https://127.0.0.1:8443` and its REST keys, so
        /// the captured requests (OAuth signatures included) replay as they were sent.
        public static var captured: Configuration {
            var c = Configuration()
            c.homeURL = "https://127.0.0.1:8443"
            c.consumerKey = "ck_48b2a2f651478cb677a0274a18b1ce9fd314aa73"
            c.consumerSecret = "cs_b2fac95758610e3a9a3d90ece817b077e06f934f"
            // Taxes were off until the captured session switched them on.
            c.calculateTaxes = false
            return c
        }
    }

    /// A REST key's permission, as set when the key is generated.
    public enum KeyPermissions: Sendable, Equatable {
        case read, write, readWrite
    }

    /// When the delivery queue runs.
    public enum DeliveryMode: Sendable, Equatable {
        /// Only when ``runDeliveries()`` is called (tests: deterministic, and the cron delay).
        case manual
        /// In the background after each REST request (a site that gets traffic).
        case afterEachRequest
    }

    /// A canned failure of the REST API itself.
    public enum APIFault: Sendable, Equatable {
        /// 429 with `Retry-After`.
        case tooManyRequests(retryAfter: Int)
        /// 503 from the host.
        case serviceUnavailable
    }

    /// Named fault switches; change them with ``setFaults(_:)``.
    public struct Faults: Sendable, Equatable {
        /// The next N deliveries are lost on the way (never reach the receiver; the store
        /// counts them as sent).
        public var dropDeliveries = 0
        /// The next N deliveries arrive twice.
        public var duplicateDeliveries = 0
        /// The next N deliveries carry the REST error object WooCommerce sends when its
        /// internal GET fails (`woocommerce_rest_cannot_view`), signed as usual.
        public var errorPayloads = 0
        /// Holds the queue even in `.afterEachRequest` mode (cron delay); ``runDeliveries()``
        /// still runs it.
        public var holdDeliveries = false
        /// Answers for the next REST requests, one per request, before anything else.
        public var apiFaults: [APIFault] = []
        /// Every REST response waits this long first (slow host).
        public var responseDelay: Duration?
        public init() {}
    }

    /// What the REST API never shows about a webhook.
    public struct WebhookInfo: Sendable, Equatable {
        public var id: Int
        public var topic: String
        public var status: String
        public var deliveryURL: String
        public var failureCount: Int
        public var pendingDelivery: Bool
    }

    /// One delivery attempt made by the engine.
    public struct DeliveryAttempt: Sendable, Equatable {
        public var webhookID: Int
        public var topic: String
        public var resourceID: Int
        /// The HTTP status, or `nil` when the connection failed or the delivery was dropped.
        public var status: Int?
        public var dropped: Bool
        public var succeeded: Bool { dropped || (status.map { (200...302).contains($0) } ?? false) }
    }

    struct Core: Sendable {
        var store: StoreState
        var home: String
        var nonces: [Int: String] = [:]
        var faults = Faults()
        var queue: [DeliveryJob] = []
        var attempts: [DeliveryAttempt] = []
        var backgroundRuns: [Task<Void, Never>] = []
    }

    let configuration: Configuration
    let clock: any WallClock
    let logger: Logger
    let core: Mutex<Core>
    /// CPU nanoseconds spent routing REST requests (the work under the lock, not the HTTP server).
    let servingCPU = Atomic<Int>(0)

    /// CPU seconds this store has spent answering REST requests so far (routing, JSON, the
    /// records — not the HTTP server). Benchmarks that run the emulator in their own process
    /// take it out of the process's CPU time.
    public var servingCPUSeconds: Double { Double(servingCPU.load(ordering: .relaxed)) / 1e9 }

    /// The calling thread's CPU time (the routing does not suspend, so one thread runs it).
    static func threadCPUNanoseconds() -> Int {
        var spec = timespec()
        guard clock_gettime(CLOCK_THREAD_CPUTIME_ID, &spec) == 0 else { return 0 }
        return Int(spec.tv_sec) * 1_000_000_000 + Int(spec.tv_nsec)
    }

    /// A store with nothing in it but the tax classes.
    public init(configuration: Configuration = .init(), clock: any WallClock = SystemWallClock(), logger: Logger = Logger(label: "woocommerce-emulator")) {
        self.configuration = configuration
        self.clock = clock
        self.logger = logger
        self.core = Mutex(Core(store: StoreState(settings: configuration), home: configuration.homeURL ?? "http://127.0.0.1"))
    }

    /// The consumer key and secret the store accepts.
    public var credentials: (consumerKey: String, consumerSecret: String) { (configuration.consumerKey, configuration.consumerSecret) }

    /// The home URL in use.
    public var homeURL: String { core.withLock { $0.home } }

    /// Replaces the fault switches.
    public func setFaults(_ faults: Faults) { core.withLock { $0.faults = faults } }

    /// The current fault switches.
    public var faults: Faults { core.withLock { $0.faults } }

    /// Webhooks with their hidden counters, by id.
    public func webhooks() -> [WebhookInfo] {
        core.withLock { core in
            core.store.webhooks.values.sorted { $0.id < $1.id }.map {
                WebhookInfo(id: $0.id, topic: $0.topic, status: $0.status, deliveryURL: $0.deliveryURL, failureCount: $0.failureCount, pendingDelivery: $0.pendingDelivery)
            }
        }
    }

    /// An order as `GET /orders/{id}` shows it, or `nil`.
    public func order(_ id: Int) -> WooJSON? {
        core.withLock { core in core.store.orders[id].map { Renderer(state: core.store, home: core.home).order($0) } }
    }

    /// Ids of all orders (trashed included), ascending.
    public func orderIDs() -> [Int] { core.withLock { $0.store.orders.keys.sorted() } }

    /// A product or variation in the `/products/{id}` shape, or `nil`.
    public func product(_ id: Int) -> WooJSON? {
        core.withLock { core in core.store.products[id].map { Renderer(state: core.store, home: core.home).product($0) } }
    }

    /// Deliveries waiting for the next run.
    public var pendingDeliveryCount: Int { core.withLock { $0.queue.count } }

    /// Every delivery attempt so far, oldest first.
    public var deliveryAttempts: [DeliveryAttempt] { core.withLock { $0.attempts } }

    // MARK: serving

    /// Serves on 127.0.0.1 (port 0 = any free port) while `body` runs with the base URL
    /// (e.g. `http://127.0.0.1:54321`), then shuts down gracefully.
    public func withRunningServer<T: Sendable>(port: Int = 0, _ body: @Sendable (URL) async throws -> T) async throws -> T {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = application(port: port) { continuation.yield($0) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let bound = await iterator.next() else { throw CancellationError() }
            if configuration.homeURL == nil { core.withLock { $0.home = "http://127.0.0.1:\(bound)" } }
            let url = URL(string: "http://127.0.0.1:\(bound)")!
            let result: Result<T, any Error>
            do { result = .success(try await body(url)) } catch { result = .failure(error) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            continuation.finish()
            return try result.get()
        }
    }

    /// Serves on 127.0.0.1 until SIGTERM/SIGINT (`mlc sandbox`); `onRunning` gets the base URL.
    public func run(port: Int, onRunning: @escaping @Sendable (URL) async -> Void = { _ in }) async throws {
        let app = application(port: port) { bound in
            if self.configuration.homeURL == nil { self.core.withLock { $0.home = "http://127.0.0.1:\(bound)" } }
            await onRunning(URL(string: "http://127.0.0.1:\(bound)")!)
        }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    func application(port: Int, onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            await self.respond(to: request)
        }
        return Application(
            responder: responder,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    func respond(to request: Request) async -> Response {
        var headers: [(name: String, value: String)] = []
        for field in request.headers { headers.append((field.name.canonicalName, field.value)) }
        let body: [UInt8]
        do {
            var buffer = try await request.body.collect(upTo: 8 << 20)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            return Response(status: .contentTooLarge)
        }
        let emulated = await handle(EmulatorRequest(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "", headers: headers, body: body))
        var fields = HTTPFields()
        for header in emulated.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(status: .init(code: emulated.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: emulated.body)))
    }

    /// Answers one REST request in-process (what the server does for each request).
    public func handle(_ request: EmulatorRequest) async -> EmulatorResponse {
        let (fault, delay) = core.withLock { core -> (APIFault?, Duration?) in
            let fault = core.faults.apiFaults.isEmpty ? nil : core.faults.apiFaults.removeFirst()
            return (fault, core.faults.responseDelay)
        }
        if let delay { try? await Task.sleep(for: delay) }
        switch fault {
        case .tooManyRequests(let after)?:
            return EmulatorResponse(status: 429, headers: [("Retry-After", String(after)), ("Content-Type", "text/html; charset=iso-8859-1")], body: Array("<html><body>Too Many Requests</body></html>".utf8))
        case .serviceUnavailable?:
            return EmulatorResponse(status: 503, headers: [("Content-Type", "text/html; charset=iso-8859-1")], body: Array("<html><body>Service Unavailable</body></html>".utf8))
        case nil: break
        }
        let (response, pings) = core.withLock { core in
            let started = Self.threadCPUNanoseconds()
            defer { servingCPU.add(Self.threadCPUNanoseconds() - started, ordering: .relaxed) }
            var router = RESTRouter(core: core, configuration: configuration, now: clock.now())
            let response = router.route(request)
            core = router.core
            enqueueEvents(&core)
            return (response, router.pings)
        }
        for ping in pings { await sendPing(ping) }
        let background = core.withLock { configuration.deliveryMode == .afterEachRequest && !$0.faults.holdDeliveries && !$0.queue.isEmpty }
        if background {
            let run = Task { _ = await self.runDeliveries() }
            core.withLock { $0.backgroundRuns.append(run) }
        }
        return response
    }

    /// Waits for the queue runs started in `.afterEachRequest` mode so far (tests use this
    /// instead of sleeping).
    public func waitForBackgroundDeliveries() async {
        while true {
            let runs = core.withLock { core -> [Task<Void, Never>] in
                defer { core.backgroundRuns.removeAll() }
                return core.backgroundRuns
            }
            if runs.isEmpty { return }
            for run in runs { await run.value }
        }
    }
}

extension WooCommerceEmulator {
    /// How ``send(_:_:json:signatureMethod:)`` authenticates.
    public enum SignatureMethod: String, Sendable {
        case hmacSHA1 = "HMAC-SHA1"
        case hmacSHA256 = "HMAC-SHA256"
    }

    /// Sends a REST request in-process with the store's own key, authenticated the way the
    /// store demands: Basic when it treats requests as HTTPS, otherwise OAuth 1.0a signed
    /// with the emulator's clock (for seeding a sandbox or a test without a client).
    /// `path` is below `/wp-json/wc/v3`, e.g. `/orders?per_page=5`.
    public func send(_ method: String, _ path: String, json: WooJSON? = nil, signatureMethod: SignatureMethod = .hmacSHA256) async -> EmulatorResponse {
        var request = EmulatorRequest(method: method, target: "/wp-json/wc/v3" + path, headers: [("Content-Type", "application/json")], body: json?.phpEncoded() ?? [])
        if configuration.treatRequestsAsHTTPS {
            let token = Data("\(configuration.consumerKey):\(configuration.consumerSecret)".utf8).base64EncodedString()
            request.headers.append(("Authorization", "Basic " + token))
        } else {
            let nonce = core.withLock { core in Digest.hex((0..<16).map { _ in UInt8(truncatingIfNeeded: core.store.random.next()) }) }
            request.headers.append(("Authorization", oauthHeader(for: request, nonce: nonce, timestamp: Int(clock.now().timeIntervalSince1970), method: signatureMethod)))
        }
        return await handle(request)
    }

    /// An `Authorization: OAuth …` header for `request`, signed as the store checks it.
    public func oauthHeader(for request: EmulatorRequest, nonce: String, timestamp: Int, method: SignatureMethod = .hmacSHA256) -> String {
        var params: [String: String] = [:]
        for item in request.queryItems { params[item.name] = item.value }
        let oauth: [(String, String)] = [
            ("oauth_consumer_key", configuration.consumerKey), ("oauth_nonce", nonce),
            ("oauth_signature_method", method.rawValue), ("oauth_timestamp", String(timestamp)),
        ]
        for (k, v) in oauth { params[k] = v }
        let authenticator = Authenticator(
            consumerKey: configuration.consumerKey, consumerSecret: configuration.consumerSecret,
            isHTTPS: configuration.treatRequestsAsHTTPS, homeHostPort: RESTRouter.hostPort(homeURL))
        let base = Array(authenticator.signatureBaseString(method: request.method, path: request.path, params: params).utf8)
        let key = Array((configuration.consumerSecret + "&").utf8)
        let signature = method == .hmacSHA256 ? Digest.hmacSHA256Base64(key: key, message: base) : Digest.hmacSHA1Base64(key: key, message: base)
        let fields = oauth + [("oauth_signature", signature)]
        return "OAuth " + fields.map { "\($0.0)=\"\(FormCoding.rawURLEncode($0.1))\"" }.joined(separator: ", ")
    }
}
