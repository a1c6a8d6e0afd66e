import ConnectorCore
import Foundation
import Hummingbird
import HTTPTypes
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// An in-memory Dynamics 365 Finance & Operations environment and its Entra ID tenant on one
/// loopback server: the v1/v2 client-credentials token endpoints, the `/data` OData service
/// for every entity set of `fixtures/dynamics/entities.json` (schema read from that file at
/// start-up), `$batch`, companies and the default-company trap, F&O's write rules and error
/// texts, business events, and named fault switches.
///
/// A sandbox connection uses the server's base URL as both environment URL and authority host.
public final class DynamicsEmulator: Sendable {
    /// An app registration known to the tenant and to F&O's "Azure Active Directory
    /// applications" page, with the default company of its mapped user.
    public struct Client: Sendable, Equatable {
        public var clientId: String
        public var clientSecret: String
        public var defaultCompany: String
        public init(clientId: String, clientSecret: String, defaultCompany: String) {
            self.clientId = clientId
            self.clientSecret = clientSecret
            self.defaultCompany = defaultCompany
        }
    }

    /// How the environment is set up.
    public struct Configuration: Sendable {
        public var tenantId = "00000000-0000-4000-8000-00000000f0e0"
        public var clientId = "11111111-1111-4111-8111-111111111111"
        public var clientSecret = "emulator-secret~0123456789"
        /// The default company of the client's F&O user (reads without `cross-company=true` see only it).
        public var defaultCompany = "usmf"
        /// More registered clients (each with its own default company).
        public var additionalClients: [Client] = []
        /// `expires_in` of issued tokens, seconds.
        public var tokenLifetime = 3599
        /// Status of `invalid_client` token errors (the reference, §1.4, has both 400 and 401).
        public var tokenErrorStatus = 401
        /// Server-driven page size cap (`@odata.nextLink` beyond it).
        public var maxPageSize = 10_000
        /// Whether the sales-order number sequence allows client-chosen `SalesOrderNumber`s.
        public var allowManualSalesOrderNumbers = true
        /// Enforce ``StringLengthLimits/maximumLengths`` on writes.
        public var enforceStringLengths = true
        /// Business-event HTTPS endpoint for every company (`nil`: none).
        public var businessEventURL: String?
        /// Endpoint per company (overrides ``businessEventURL``).
        public var businessEventURLs: [String: String] = [:]
        /// The environment URL tokens must be issued for; `nil`: the server's base URL.
        public var environmentURL: String?
        /// Other resources the tenant knows (a token can be issued for them, and F&O rejects it).
        public var otherResources: [String] = ["https://graph.microsoft.com"]
        /// The initial data.
        public var seed: Seed = .standard
        /// Sales tax in percent per `"SALESTAXGROUP/ITEMTAXGROUP"` (e.g. `"CA/FULL": 7.25`). When
        /// set, headers report `OrderTotalTaxAmount` (each line's tax rounded to cents, as
        /// WooCommerce does) and `AreTotalsCalculated` Yes; when empty, no tax is calculated
        /// (`AreTotalsCalculated` No). F&O's real tax engine (tax codes, ledger) is not modelled.
        public var salesTaxRates: [String: Decimal] = [:]
        /// Seeds randomness (event ids, ControlNumber gaps, trace ids).
        public var randomSeed: UInt64 = 7

        public init() {}

        /// The standard sandbox: ``Seed/standard`` with companies `usmf` (default) and `demf`.
        public static var standard: Configuration { Configuration() }

        var clients: [Client] {
            [Client(clientId: clientId, clientSecret: clientSecret, defaultCompany: defaultCompany)] + additionalClients
        }
    }

    /// How a lost response shows itself to the client.
    public enum LostResponseMode: Sendable, Equatable {
        /// 504 Gateway Timeout with an empty body.
        case gatewayTimeout
        /// The connection is closed without any response.
        case closeConnection
    }

    /// Named fault switches; change them with ``setFaults(_:)``.
    public struct Faults: Sendable, Equatable {
        /// The next N OData operations (a `$batch` counts each inner operation) get 429.
        public var throttleNext = 0
        /// `Retry-After` seconds of those 429s (and of ``throttleEvery``'s).
        public var throttleRetryAfter = 30
        /// Every Nth `/data` request gets 429 (0 = off): a steady "429 storm". A `$batch` is one request.
        public var throttleEvery = 0
        /// Resource-based throttling as a token bucket: at most this many requests per second
        /// (0 = unlimited); above it, 429 with the seconds until a token is free as `Retry-After`.
        public var rateLimitPerSecond: Double = 0
        /// Operations the bucket holds when idle.
        public var rateLimitBurst: Double = 10
        /// The next N `/data` requests fail with ``failStatus``.
        public var failNext = 0
        /// 500 or 503.
        public var failStatus = 500
        /// A 503 comes as an HTML gateway page instead of JSON.
        public var failAsHTMLGatewayPage = false
        /// Every `/data` request waits this long first (through the injected `Sleeper`).
        public var latencySeconds: TimeInterval = 0
        /// The next N writes (POST/PATCH/PUT/DELETE, or a `$batch` with a changeset) commit and
        /// then lose their response.
        public var loseResponsesOfNextWrites = 0
        public var lostResponseMode: LostResponseMode = .gatewayTimeout
        /// A partial read: a collection GET of an entity set named here returns only this share
        /// of its matching rows (0 = none, 0.5 = the first half), with no error and no next link —
        /// what an interrupted export or a half-refreshed aggregate looks like to a reader.
        public var truncateReads: [String: Double] = [:]
        public init() {}
    }

    /// One request the server answered.
    public struct RequestLogEntry: Sendable, Equatable {
        public var method: String
        /// Path and query as received.
        public var target: String
        public var status: Int
        /// `nil` for token requests; otherwise whether the bearer token was valid.
        public var tokenValid: Bool?
        /// Content-IDs of the parts of a `$batch`, in order.
        public var batchContentIDs: [String]
    }

    struct IssuedToken: Sendable {
        var clientId: String
        var audience: String
        var expiresAt: Date
    }

    struct Core: Sendable {
        var data: DataStore
        var tokens: [String: IssuedToken] = [:]
        var faults = Faults()
        var log: [RequestLogEntry] = []
        var baseURL: String?
        var random: SplitMix
        var events = EventState()
        var operations = 0
        var bucketTokens: Double = 0
        var bucketAt: Date?
    }

    /// Whether this request is throttled by the storm (every Nth request) or the rate limit
    /// (token bucket), with its `Retry-After`. A throttled `$batch` is refused whole.
    static func requestThrottle(_ core: inout Core, now: Date) -> Int? {
        core.operations += 1
        if core.faults.throttleEvery > 0, core.operations % core.faults.throttleEvery == 0 { return core.faults.throttleRetryAfter }
        let rate = core.faults.rateLimitPerSecond
        guard rate > 0 else { return nil }
        let elapsed = core.bucketAt.map { max(0, now.timeIntervalSince($0)) } ?? core.faults.rateLimitBurst / rate
        core.bucketAt = now
        core.bucketTokens = min(core.faults.rateLimitBurst, core.bucketTokens + elapsed * rate)
        if core.bucketTokens >= 1 {
            core.bucketTokens -= 1
            return nil
        }
        return max(1, Int(((1 - core.bucketTokens) / rate).rounded(.up)))
    }

    /// Whether the next OData operation (a `$batch` part counts) is throttled by ``Faults/throttleNext``.
    static func throttleDecision(_ core: inout Core, now: Date) -> Int? {
        guard core.faults.throttleNext > 0 else { return nil }
        core.faults.throttleNext -= 1
        return core.faults.throttleRetryAfter
    }

    let configuration: Configuration
    let clock: any WallClock
    let sleeper: any Sleeper
    let logger: Logger
    let core: Mutex<Core>
    /// ``Faults/truncateReads``, apart from `core` (read while `core` is locked).
    let readTruncation = Mutex<[String: Double]>([:])
    /// CPU nanoseconds spent answering `/data` requests (routing, OData, `$batch`, the tables;
    /// not the HTTP server around it).
    let servingCPU = Atomic<Int>(0)
    /// The schema every entity set is served from.
    public let schema: EmulatorSchema

    /// A fresh environment with `configuration.seed` loaded (through the same validation as a
    /// POST; a seed that breaks the schema stops here).
    public init(configuration: Configuration = .standard, clock: any WallClock = SystemWallClock(), sleeper: any Sleeper = SystemSleeper(), logger: Logger = Logger(label: "dynamics-emulator")) {
        self.configuration = configuration
        self.clock = clock
        self.sleeper = sleeper
        self.logger = logger
        self.schema = .shipped
        self.core = Mutex(Core(data: DataStore(schema: .shipped, salesTaxRates: configuration.salesTaxRates), random: SplitMix(seed: configuration.randomSeed)))
        for (set, record) in configuration.seed.records {
            do { try insert(set, record) } catch { fatalError("DynamicsEmulator seed rejected: \(set) \(error)") }
        }
    }

    /// The base URL (`http://127.0.0.1:PORT`) once the server runs.
    public var baseURL: URL? { core.withLock { $0.baseURL.flatMap(URL.init(string:)) } }

    /// The environment URL tokens must name (the base URL unless configured).
    var environmentURL: String {
        configuration.environmentURL ?? core.withLock { $0.baseURL } ?? "http://127.0.0.1"
    }

    public func setFaults(_ faults: Faults) {
        core.withLock { $0.faults = faults }
        readTruncation.withLock { $0 = faults.truncateReads }
    }
    public var faults: Faults { core.withLock { $0.faults } }

    /// Every request answered so far, oldest first.
    public var requestLog: [RequestLogEntry] { core.withLock { $0.log } }

    /// Makes every token issued so far expired (token expiry mid-run).
    public func expireTokens() {
        let now = clock.now()
        core.withLock { core in
            for key in core.tokens.keys { core.tokens[key]!.expiresAt = now.addingTimeInterval(-1) }
        }
    }

    /// CPU seconds this emulator has spent answering `/data` requests so far (the work under
    /// its lock: routing, OData, `$batch`, the tables — not the HTTP server). Benchmarks that
    /// run the emulator in their own process take it out of the process's CPU time.
    public var servingCPUSeconds: Double { Double(servingCPU.load(ordering: .relaxed)) / 1e9 }

    /// Rows read from the tables so far (by requests, look-ups, scans and ``records(_:)``):
    /// what shows that a request reads as many rows however many are stored.
    var rowsRead: Int { core.withLock { $0.data.probe.total } }

    /// The stored rows of an entity set, rendered as a full F&O read shows them.
    public func records(_ entitySet: String) -> [ODataRecord] {
        core.withLock { core in
            guard let set = core.data.schema.entitySets[entitySet] else { return [] }
            let renderer = Renderer(store: core.data, serviceRoot: "")
            return core.data.tables[entitySet, default: []].map { ODataRecord(renderer.render($0, set: set, select: nil)) }
        }
    }

    /// Adds a record as a POST would (same schema, type, FK and required-field checks, same
    /// defaults), except that read-only entities (posted invoices, on-hand) accept it too.
    /// Company-specific records without `dataAreaId` go to the default company.
    public func insert(_ entitySet: String, _ record: [String: ODataValue]) throws {
        let now = clock.now()
        let object = ODataObject(record.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
        try core.withLock { core in
            let context = WriteContext(company: configuration.defaultCompany, now: now, allowManualSalesOrderNumbers: true, enforceStringLengths: configuration.enforceStringLengths, seeding: true)
            do { _ = try core.data.create(entitySet, body: .object(object), context: context) } catch { throw EmulatorError(error) }
        }
    }

    // MARK: serving

    /// Serves on 127.0.0.1 (port 0 = any free port) while `body` runs with the base URL, then shuts down.
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
            let url = URL(string: "http://127.0.0.1:\(bound)")!
            core.withLock { $0.baseURL = url.absoluteString }
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
            let url = URL(string: "http://127.0.0.1:\(bound)")!
            self.core.withLock { $0.baseURL = url.absoluteString }
            await onRunning(url)
        }
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    func application(port: Int, onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let responder = CallbackResponder<ChannelRequestContext> { request, context in
            await self.respond(to: request, context: context)
        }
        return Application(
            responder: responder,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    func respond(to request: Request, context: ChannelRequestContext) async -> Response {
        var headers: [(name: String, value: String)] = []
        for field in request.headers { headers.append((field.name.canonicalName, field.value)) }
        let body: [UInt8]
        do {
            var buffer = try await request.body.collect(upTo: 64 << 20)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            return Response(status: .contentTooLarge)
        }
        let answer = await handle(DynamicsHTTPRequest(method: request.method.rawValue, path: request.uri.path, query: request.uri.query ?? "", headers: headers, body: body))
        if answer.closeConnection {
            try? await context.channel.close()
        }
        var fields = HTTPFields()
        for header in answer.headers {
            if let name = HTTPField.Name(header.name) { fields.append(HTTPField(name: name, value: header.value)) }
        }
        return Response(status: .init(code: answer.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: answer.body)))
    }

    /// Answers one request in-process (what the server does for each request).
    public func handle(_ request: DynamicsHTTPRequest) async -> DynamicsHTTPResponse {
        let path = request.path
        if request.method == "POST", path.hasSuffix("/oauth2/v2.0/token") || path.hasSuffix("/oauth2/token") {
            let response = token(request)
            log(request, response.status, tokenValid: nil, contentIDs: [])
            return response
        }
        guard path == "/data" || path.hasPrefix("/data/") else {
            let response = DynamicsHTTPResponse(status: 404, headers: [("Content-Type", "text/html")], body: Array("<html><body><h1>404 Not Found</h1></body></html>".utf8))
            log(request, 404, tokenValid: nil, contentIDs: [])
            return response
        }
        let latency = faults.latencySeconds
        if latency > 0 { try? await sleeper.sleep(seconds: latency) }

        guard let client = authenticate(request) else {
            log(request, 401, tokenValid: false, contentIDs: [])
            return DynamicsHTTPResponse(status: 401, headers: [("WWW-Authenticate", "Bearer")], body: [])
        }
        let isBatch = path == "/data/$batch"
        // Gateway-level failures first (they never reach F&O's business logic).
        if let failure = takeFailure() {
            log(request, failure.status, tokenValid: true, contentIDs: [])
            return failure
        }
        if let throttled = takeRequestThrottle() {
            log(request, throttled.status, tokenValid: true, contentIDs: [])
            return throttled.response
        }
        if !isBatch, let throttled = takeThrottle() {
            log(request, throttled.status, tokenValid: true, contentIDs: [])
            return throttled.response
        }
        let started = ThreadCPU.nanoseconds()
        let (response, contentIDs, wrote) = serve(request, client: client, isBatch: isBatch)
        servingCPU.add(ThreadCPU.nanoseconds() - started, ordering: .relaxed)
        log(request, response.status, tokenValid: true, contentIDs: contentIDs)
        if wrote, let lost = takeLostResponse() { return lost }
        return response
    }

    func log(_ request: DynamicsHTTPRequest, _ status: Int, tokenValid: Bool?, contentIDs: [String]) {
        let target = request.query.isEmpty ? request.path : request.path + "?" + request.query
        core.withLock { $0.log.append(RequestLogEntry(method: request.method, target: target, status: status, tokenValid: tokenValid, batchContentIDs: contentIDs)) }
    }

    func takeFailure() -> DynamicsHTTPResponse? {
        let status: Int? = core.withLock { core in
            guard core.faults.failNext > 0 else { return nil }
            core.faults.failNext -= 1
            return core.faults.failStatus
        }
        guard let status else { return nil }
        if status == 503, faults.failAsHTMLGatewayPage {
            let page = "<!DOCTYPE html><html><head><title>503 Service Unavailable</title></head><body><h1>Service Unavailable</h1><p>The service is temporarily unavailable. Please try again later.</p></body></html>"
            return DynamicsHTTPResponse(status: 503, headers: [("Content-Type", "text/html")], body: Array(page.utf8))
        }
        return DynamicsHTTPResponse.odata(ODataError(status: status, message: ODataError.genericMessage, inner: "The server encountered an unexpected condition.", innerType: "System.Exception"))
    }

    struct Throttle { var status: Int; var response: DynamicsHTTPResponse; var error: ODataError }

    func takeRequestThrottle() -> Throttle? {
        let now = clock.now()
        guard let after = core.withLock({ core in Self.requestThrottle(&core, now: now) }) else { return nil }
        return Self.throttle(after)
    }

    static func throttle(_ after: Int) -> Throttle {
        let text = "This request could not be processed at this time due to system experiencing high resource utilization. Retry the request after \(after) seconds"
        let error = ODataError(status: 429, message: text, inner: nil, innerType: "", headers: [("Retry-After", String(after))])
        return Throttle(status: 429, response: .odata(error), error: error)
    }

    /// Consumes one throttled operation, if the switch is on.
    func takeThrottle() -> Throttle? {
        let now = clock.now()
        let after: Int? = core.withLock { core in Self.throttleDecision(&core, now: now) }
        guard let after else { return nil }
        let text = "This request could not be processed at this time due to system experiencing high resource utilization. Retry the request after \(after) seconds"
        let error = ODataError(status: 429, message: text, inner: nil, innerType: "", headers: [("Retry-After", String(after))])
        return Throttle(status: 429, response: .odata(error), error: error)
    }

    func takeLostResponse() -> DynamicsHTTPResponse? {
        let mode: LostResponseMode? = core.withLock { core in
            guard core.faults.loseResponsesOfNextWrites > 0 else { return nil }
            core.faults.loseResponsesOfNextWrites -= 1
            return core.faults.lostResponseMode
        }
        switch mode {
        case .gatewayTimeout?: return DynamicsHTTPResponse(status: 504, headers: [("Content-Length", "0")], body: [])
        case .closeConnection?: return DynamicsHTTPResponse(status: 504, headers: [], body: [], closeConnection: true)
        case nil: return nil
        }
    }
}

/// A request context that keeps the channel, so the "connection lost" fault can close it.
struct ChannelRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// A request as the emulator sees it (also the way to call it in-process, without sockets).
public struct DynamicsHTTPRequest: Sendable {
    public var method: String
    /// The path, e.g. `/data/CustomersV3`.
    public var path: String
    /// The raw query string without `?`, or "".
    public var query: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]

    public init(method: String, path: String, query: String = "", headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Splits a target such as `/data/CustomersV3?$top=1`.
    public init(method: String, target: String, headers: [(name: String, value: String)] = [], body: [UInt8] = []) {
        let parts = target.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false)
        self.init(method: method, path: String(parts[0]), query: parts.count > 1 ? String(parts[1]) : "", headers: headers, body: body)
    }

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }
}

/// A response: status, headers in order, body bytes.
public struct DynamicsHTTPResponse: Sendable {
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The server closes the connection instead of answering (fault).
    public var closeConnection = false

    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// The body parsed as JSON (`nil` if it is not JSON).
    public var json: ODataValue? { try? ODataJSON.parse(body) }

    static let odataContentType = "application/json; odata.metadata=minimal; odata.streaming=true; IEEE754Compatible=false; charset=utf-8"

    static func json(_ status: Int, _ value: ODataValue, extra: [(name: String, value: String)] = []) -> DynamicsHTTPResponse {
        DynamicsHTTPResponse(status: status, headers: [("Content-Type", odataContentType), ("OData-Version", "4.0")] + extra, body: value.encoded())
    }

    static func odata(_ error: ODataError) -> DynamicsHTTPResponse {
        json(error.status, error.body, extra: error.headers)
    }
}

/// An error thrown by the emulator's Swift API (``DynamicsEmulator/insert(_:_:)``,
/// ``DynamicsEmulator/markInvoiced(company:salesOrderNumber:)``), carrying F&O's status and text.
public struct EmulatorError: Error, Sendable, CustomStringConvertible {
    public var status: Int
    /// The Infolog / OData text F&O would answer with.
    public var message: String

    init(_ error: ODataError) {
        status = error.status
        message = error.inner ?? error.message
    }

    init(_ error: any Error) {
        if let odata = error as? ODataError { self.init(odata) } else { self.init(status: 500, message: "\(error)") }
    }

    init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    public var description: String { "\(status): \(message)" }
}

/// A small deterministic random source (event ids, ControlNumber gaps, trace ids).
struct SplitMix: Sendable {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    mutating func uuid() -> String {
        let a = next(), b = next()
        let hex = String(format: "%016llX%016llX", a, b)
        let c = Array(hex)
        return String(c[0..<8]) + "-" + String(c[8..<12]) + "-4" + String(c[13..<16]) + "-A" + String(c[17..<20]) + "-" + String(c[20..<32])
    }
}
