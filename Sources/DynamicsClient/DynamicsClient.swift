import AsyncHTTPClient
import ConnectorCore
import Foundation
import Logging
import NIOCore
import NIOFoundationCompat
import NIOHTTP1

/// Where every instance learns that F&O asked to slow down: after a 429 the environment's
/// `throttledUntil` is written once, and every call everywhere holds back until then.
public protocol ThrottleGate: Sendable {
    func heldUntil(environment: String) async -> Date?
    func hold(environment: String, until: Date) async
}

/// One HTTP exchange with F&O, for the audit trail.
public struct RemoteCall: Sendable, Equatable {
    public var method: String
    /// Path and query after the host (no secrets: tokens travel in headers).
    public var path: String
    /// HTTP status, or 0 when no answer came.
    public var status: Int
    public var milliseconds: Int
}

/// How hard to try before giving the work back to the queue.
public struct RetryPolicy: Sendable, Equatable {
    /// Attempts for one call, the first included.
    public var maxAttempts = 4
    /// The first back-off after a 5xx or a timeout; doubles each time, with jitter.
    public var initialBackoff: Double = 0.5
    public var maxBackoff: Double = 30
    /// The longest `Retry-After` waited in-process; a longer one hands the work back instead.
    public var maxRetryAfter: Double = 120
    public init() {}
}

/// The F&O OData client: bearer tokens, company-scoped reads followed to the last page,
/// creates, updates, and `$batch` changesets — with 429, 5xx and 401 handled the way F&O needs.
///
/// A POST is never re-sent after an unknown outcome (a 5xx or a timeout): F&O has no
/// idempotency key, so the caller re-checks by reference first. A 429 is always re-sent: a
/// throttled request is not processed.
public struct DynamicsClient: Sendable {
    public struct Configuration: Sendable {
        public var credentials: DynamicsCredentials
        /// The legal entity (`dataAreaId`), lower-case.
        public var legalEntity: String
        public var requestTimeout: Double = 60
        public var retry = RetryPolicy()

        public init(credentials: DynamicsCredentials, legalEntity: String) {
            self.credentials = credentials
            self.legalEntity = legalEntity.lowercased()
        }
    }

    public let configuration: Configuration
    private let http: HTTPClient
    private let tokens: TokenProvider
    private let clock: any WallClock
    private let sleeper: any Sleeper
    private let gate: (any ThrottleGate)?
    private let logger: Logger
    private let observer: (@Sendable (RemoteCall) -> Void)?
    private let beforeWrite: (@Sendable () async throws -> Void)?

    public init(configuration: Configuration, httpClient: HTTPClient, tokens: TokenProvider, clock: any WallClock, sleeper: any Sleeper,
                throttleGate: (any ThrottleGate)?, logger: Logger) {
        self.init(configuration: configuration, http: httpClient, tokens: tokens, clock: clock, sleeper: sleeper, gate: throttleGate, logger: logger, observer: nil, beforeWrite: nil)
    }

    private init(configuration: Configuration, http: HTTPClient, tokens: TokenProvider, clock: any WallClock, sleeper: any Sleeper,
                 gate: (any ThrottleGate)?, logger: Logger, observer: (@Sendable (RemoteCall) -> Void)?, beforeWrite: (@Sendable () async throws -> Void)?) {
        self.configuration = configuration
        self.http = http
        self.tokens = tokens
        self.clock = clock
        self.sleeper = sleeper
        self.gate = gate
        self.logger = logger
        self.observer = observer
        self.beforeWrite = beforeWrite
    }

    /// The same client, reporting every HTTP exchange to `observer` (an order's audit timeline)
    /// as well as to any observer it already had (the call metrics).
    public func observing(_ observer: @escaping @Sendable (RemoteCall) -> Void) -> DynamicsClient {
        let earlier = self.observer
        return DynamicsClient(configuration: configuration, http: http, tokens: tokens, clock: clock, sleeper: sleeper, gate: gate, logger: logger,
                              observer: { call in earlier?(call); observer(call) }, beforeWrite: beforeWrite)
    }

    /// The same client, calling `check` right before every write is sent (each attempt, after
    /// any wait): a worker proves it still holds its leases there, so a wait that outlived a
    /// lease can never end in a write someone else is also making.
    public func guarding(_ check: @escaping @Sendable () async throws -> Void) -> DynamicsClient {
        DynamicsClient(configuration: configuration, http: http, tokens: tokens, clock: clock, sleeper: sleeper, gate: gate, logger: logger, observer: observer, beforeWrite: check)
    }

    public var legalEntity: String { configuration.legalEntity }
    var serviceRoot: String { configuration.credentials.audience + "/data/" }
    var environment: String { configuration.credentials.audience }

    // MARK: Reads

    /// Every row the query matches, following `@odata.nextLink` to the end (at most `maxPages`).
    public func read<Row: Decodable>(_ query: ODataQuery, as: Row.Type = Row.self, maxPages: Int = 1000) async throws -> [Row] {
        var rows: [Row] = []
        var url = serviceRoot + query.pathAndQuery
        for _ in 0..<maxPages {
            let response = try await send(.GET, url: url, body: nil, idempotent: true)
            try expectSuccess(response, what: "read \(query.entitySet)")
            let page: Page<Row>
            do { page = try JSONDecoder().decode(Page<Row>.self, from: response.body) }
            catch { throw ConnectorError.remoteRejected("F&O answered \(query.entitySet) with rows this connector cannot read: \(Formatting.bounded(String(describing: error), limit: 200))", fix: "check the entity version; report this with the audit record") }
            rows += page.value
            guard let next = page.nextLink else { return rows }
            // A next link is followed verbatim, but only on the same environment: the token goes with it.
            guard next.lowercased().hasPrefix(serviceRoot.lowercased()) else {
                throw ConnectorError.remoteRejected("F&O's next page link points outside the environment", fix: "check dynamics.environmentURL")
            }
            url = next
        }
        throw ConnectorError.remoteRejected("reading \(query.entitySet) did not end after \(maxPages) pages", fix: "narrow the filter")
    }

    /// One row by key, or nil when F&O has none.
    public func read<Row: Decodable>(_ key: ODataKey, select: [String] = [], as: Row.Type = Row.self) async throws -> Row? {
        var url = serviceRoot + key.path + "?cross-company=true"
        if !select.isEmpty { url += "&$select=" + ODataURL.encodeQueryValue(select.joined(separator: ",")) }
        let response = try await send(.GET, url: url, body: nil, idempotent: true)
        if response.status == 404 { return nil }
        try expectSuccess(response, what: "read \(key.entitySet)")
        return try JSONDecoder().decode(Row.self, from: response.body)
    }

    // MARK: Writes

    /// Creates a record and returns F&O's answer (with generated numbers). Throws
    /// `remoteUnavailable` when the outcome is unknown: the caller must look the record up
    /// before trying again.
    public func create<Row: Decodable>(_ entitySet: String, _ record: ODataRecord, as: Row.Type = Row.self) async throws -> Row {
        let response = try await send(.POST, url: serviceRoot + entitySet, body: ByteBuffer(string: record.jsonText), idempotent: false)
        try expectSuccess(response, what: "create in \(entitySet)")
        do { return try JSONDecoder().decode(Row.self, from: response.body) }
        catch { throw ConnectorError.remoteRejected("F&O created a record in \(entitySet) but its answer could not be read", fix: "the next attempt finds it by reference") }
    }

    /// Changes the given fields of one record (PATCH, safe to repeat).
    public func update(_ key: ODataKey, _ record: ODataRecord) async throws {
        let response = try await send(.PATCH, url: serviceRoot + key.path + "?cross-company=true", body: ByteBuffer(string: record.jsonText), idempotent: true)
        try expectSuccess(response, what: "update \(key.entitySet)")
    }

    /// Sends one changeset (all-or-nothing in F&O) and returns each part's answer. A failed
    /// changeset throws `ChangesetFailure` with F&O's message, even though F&O answered 200.
    public func submit(changeset operations: [BatchOperation]) async throws -> [BatchPartResponse] {
        try await submit(changeset: operations, thenRead: nil).parts
    }

    /// The changeset, then (in the same request, after it) a read — e.g. the created header
    /// with the tax F&O calculated. The read's rows are nil when it failed.
    public func submit(changeset operations: [BatchOperation], thenRead query: ODataQuery?) async throws -> (parts: [BatchPartResponse], read: BatchRead?) {
        precondition(!operations.isEmpty && operations.count <= 5000, "a changeset holds 1…5000 operations")
        for attempt in 1...configuration.retry.maxAttempts {
            let id = UUID().uuidString.lowercased()
            let (contentType, text) = ODataBatch.request(reads: [], changeset: operations, readsAfter: query.map { [$0.pathAndQuery] } ?? [],
                                                         serviceRoot: serviceRoot, batchID: id, changesetID: UUID().uuidString.lowercased())
            let response = try await send(.POST, url: serviceRoot + "$batch", body: ByteBuffer(string: text), idempotent: false, contentType: contentType)
            try expectSuccess(response, what: "$batch")
            var parts: [BatchPartResponse]
            do { parts = try ODataBatch.parseResponse(contentType: response.headers["content-type"] ?? "", body: response.body) }
            catch { throw ConnectorError.remoteUnavailable("F&O's $batch answer could not be read: \(error)", fix: "the next attempt checks what was saved") }
            var read: BatchRead?
            if let query, let last = parts.last, last.contentID == "a1" {
                parts.removeLast()
                if (200..<300).contains(last.status) { read = BatchRead(query: query, body: last.body) }
            }
            guard let failed = parts.first(where: { !(200..<300).contains($0.status) }) else {
                guard parts.count == operations.count else {
                    throw ConnectorError.remoteUnavailable("F&O answered \(parts.count) of \(operations.count) parts of a changeset", fix: "the next attempt checks what was saved")
                }
                return (parts, read)
            }
            // A failed changeset was rolled back whole, so re-sending after a 429 is safe.
            if failed.status == 429, attempt < configuration.retry.maxAttempts {
                let wait = retryAfter(failed.headers["retry-after"])
                try await holdBack(wait)
                continue
            }
            let part = failed.contentID.map { " (part \($0) of \(operations.count))" } ?? ""
            throw ChangesetFailure(part: failed.contentID.flatMap { Int($0) },
                                   error: Self.error(status: failed.status, body: failed.body, retryAfterHeader: failed.headers["retry-after"], what: "$batch changeset\(part)"))
        }
        throw ConnectorError.throttled("F&O kept throttling the changeset", retryAfter: configuration.retry.maxRetryAfter)
    }

    /// One read of a batch: F&O's first page for the query.
    public struct BatchRead: Sendable {
        public let query: ODataQuery
        let body: Data
    }

    /// Several reads in one round trip (a `$batch` of GETs outside any changeset). Reads are
    /// safe to repeat, so a throttled or failed part re-sends the whole batch.
    public func read(batch queries: [ODataQuery]) async throws -> [BatchRead] {
        guard !queries.isEmpty else { return [] }
        var backoff = configuration.retry.initialBackoff
        for attempt in 1...configuration.retry.maxAttempts {
            let (contentType, text) = ODataBatch.request(reads: queries.map(\.pathAndQuery), changeset: [], serviceRoot: serviceRoot,
                                                         batchID: UUID().uuidString.lowercased(), changesetID: "")
            let response = try await send(.POST, url: serviceRoot + "$batch", body: ByteBuffer(string: text), idempotent: true, writes: false, contentType: contentType)
            try expectSuccess(response, what: "$batch of reads")
            let parts: [BatchPartResponse]
            do { parts = try ODataBatch.parseResponse(contentType: response.headers["content-type"] ?? "", body: response.body) }
            catch { throw ConnectorError.remoteUnavailable("F&O's $batch answer could not be read: \(error)", fix: "retried later") }
            guard parts.count == queries.count else {
                throw ConnectorError.remoteUnavailable("F&O answered \(parts.count) of \(queries.count) reads of a batch", fix: "retried later")
            }
            if let failed = parts.first(where: { !(200..<300).contains($0.status) }) {
                let retryable = failed.status == 429 || failed.status >= 500
                if retryable, attempt < configuration.retry.maxAttempts {
                    if failed.status == 429 { try await holdBack(retryAfter(failed.headers["retry-after"])) }
                    else { try await sleeper.sleep(seconds: jittered(backoff)); backoff = min(backoff * 2, configuration.retry.maxBackoff) }
                    continue
                }
                throw Self.error(status: failed.status, body: failed.body, retryAfterHeader: failed.headers["retry-after"], what: "a read in a $batch")
            }
            return zip(queries, parts).map { BatchRead(query: $0, body: $1.body) }
        }
        throw ConnectorError.throttled("F&O kept throttling a batch of reads", retryAfter: configuration.retry.maxRetryAfter)
    }

    /// The rows of one batch read, following `@odata.nextLink` when F&O paged it.
    public func rows<Row: Decodable>(_ batchRead: BatchRead, as: Row.Type = Row.self) async throws -> [Row] {
        let page: Page<Row>
        do { page = try JSONDecoder().decode(Page<Row>.self, from: batchRead.body) }
        catch { throw ConnectorError.remoteRejected("F&O answered \(batchRead.query.entitySet) with rows this connector cannot read: \(Formatting.bounded(String(describing: error), limit: 200))", fix: "check the entity version") }
        guard let next = page.nextLink else { return page.value }
        return page.value + (try await read(nextLink: next, entitySet: batchRead.query.entitySet, as: Row.self))
    }

    private func read<Row: Decodable>(nextLink: String, entitySet: String, as: Row.Type, maxPages: Int = 1000) async throws -> [Row] {
        var rows: [Row] = []
        var url = nextLink
        for _ in 0..<maxPages {
            guard url.lowercased().hasPrefix(serviceRoot.lowercased()) else {
                throw ConnectorError.remoteRejected("F&O's next page link points outside the environment", fix: "check dynamics.environmentURL")
            }
            let response = try await send(.GET, url: url, body: nil, idempotent: true)
            try expectSuccess(response, what: "read \(entitySet)")
            let page: Page<Row>
            do { page = try JSONDecoder().decode(Page<Row>.self, from: response.body) }
            catch { throw ConnectorError.remoteRejected("F&O answered a next page of \(entitySet) with rows this connector cannot read: \(Formatting.bounded(String(describing: error), limit: 200))", fix: "check the entity version") }
            rows += page.value
            guard let next = page.nextLink else { return rows }
            url = next
        }
        throw ConnectorError.remoteRejected("reading \(entitySet) did not end after \(maxPages) pages", fix: "narrow the filter")
    }

    /// Decodes the JSON body of a created record from a changeset part.
    public static func decode<Row: Decodable>(_ part: BatchPartResponse, as: Row.Type = Row.self) throws -> Row {
        do { return try JSONDecoder().decode(Row.self, from: part.body) }
        // The write happened; only its answer is unreadable — transient: the next attempt finds
        // the record by its reference instead of parking an order that is in F&O.
        catch { throw ConnectorError.remoteUnavailable("F&O created a record but its answer could not be read", fix: "the next attempt finds it by reference") }
    }

    // MARK: Transport

    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data
    }

    /// `writes` false for a POST that only reads (a `$batch` of GETs): no lease check before it.
    private func send(_ method: HTTPMethod, url: String, body: ByteBuffer?, idempotent: Bool, writes: Bool? = nil, contentType: String = "application/json; charset=utf-8") async throws -> Response {
        var attempt = 0
        var refreshedToken = false
        var backoff = configuration.retry.initialBackoff
        while true {
            attempt += 1
            try await respectThrottle()
            let token = try await tokens.token()
            var request = HTTPClientRequest(url: url)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer " + token.value)
            request.headers.add(name: "Accept", value: "application/json")
            request.headers.add(name: "OData-Version", value: "4.0")
            request.headers.add(name: "OData-MaxVersion", value: "4.0")
            request.headers.add(name: "User-Agent", value: "ml-connector")
            if let body {
                request.headers.add(name: "Content-Type", value: contentType)
                request.body = .bytes(body)
            }
            if writes ?? (method != .GET), let beforeWrite { try await beforeWrite() }
            let started = clock.now()
            let path = Self.pathForAudit(url)
            let response: Response
            do {
                let answer = try await http.execute(request, timeout: .milliseconds(Int64(configuration.requestTimeout * 1000)))
                let bytes = try await answer.body.collect(upTo: 64 * 1024 * 1024)
                var headers: [String: String] = [:]
                for header in answer.headers { headers[header.name.lowercased()] = header.value }
                response = Response(status: Int(answer.status.code), headers: headers, body: Data(buffer: bytes))
            } catch {
                observe(method, path, 0, started)
                let reason = Formatting.bounded(String(describing: error), limit: 160)
                guard idempotent, attempt < configuration.retry.maxAttempts else {
                    throw ConnectorError.remoteUnavailable("F&O did not answer \(method.rawValue) \(path): \(reason)",
                                                           fix: idempotent ? "retried later" : "the outcome is unknown; the next attempt checks whether it was saved")
                }
                try await sleeper.sleep(seconds: jittered(backoff))
                backoff = min(backoff * 2, configuration.retry.maxBackoff)
                continue
            }
            observe(method, path, response.status, started)
            switch response.status {
            case 401 where !refreshedToken:
                await tokens.invalidate(token)
                refreshedToken = true
                attempt -= 1
                continue
            case 401:
                throw ConnectorError.credentialsRejected("F&O refused a fresh token for \(environment) (401)",
                                                         fix: "register the app's client id in F&O (System administration > Setup > Microsoft Entra ID applications) with an enabled user, and check environmentURL")
            case 429:
                let wait = retryAfter(response.headers["retry-after"])
                guard attempt < configuration.retry.maxAttempts else {
                    await gate?.hold(environment: environment, until: clock.now().addingTimeInterval(wait))
                    throw ConnectorError.throttled("F&O is throttling \(environment)", retryAfter: wait)
                }
                try await holdBack(wait)
            case 500...599 where idempotent && attempt < configuration.retry.maxAttempts:
                try await sleeper.sleep(seconds: jittered(backoff))
                backoff = min(backoff * 2, configuration.retry.maxBackoff)
            default:
                return response
            }
        }
    }

    /// Writes `throttledUntil` for every instance, then waits here if the wait is short enough.
    private func holdBack(_ seconds: Double) async throws {
        let until = clock.now().addingTimeInterval(seconds)
        await gate?.hold(environment: environment, until: until)
        logger.warning("dynamics.throttled", metadata: ["environment": "\(environment)", "retry_after_s": "\(Int(seconds))"])
        guard seconds <= configuration.retry.maxRetryAfter else {
            throw ConnectorError.throttled("F&O asked \(environment) to wait \(Int(seconds)) s", retryAfter: seconds)
        }
        try await sleeper.sleep(seconds: seconds)
    }

    private func respectThrottle() async throws {
        guard let until = await gate?.heldUntil(environment: environment) else { return }
        let wait = until.timeIntervalSince(clock.now())
        guard wait > 0 else { return }
        guard wait <= configuration.retry.maxRetryAfter else {
            throw ConnectorError.throttled("F&O throttles \(environment) for another \(Int(wait)) s", retryAfter: wait)
        }
        try await sleeper.sleep(seconds: wait)
    }

    private func retryAfter(_ header: String?) -> Double {
        // Microsoft's own sample falls back to 30 s when the header is missing.
        guard let header, let seconds = Double(header.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return 30 }
        return seconds
    }

    private func jittered(_ seconds: Double) -> Double { seconds * Double.random(in: 0.5...1.0) }

    private func observe(_ method: HTTPMethod, _ path: String, _ status: Int, _ started: Date) {
        observer?(RemoteCall(method: method.rawValue, path: path, status: status, milliseconds: max(0, Int(clock.now().timeIntervalSince(started) * 1000))))
    }

    static func pathForAudit(_ url: String) -> String {
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        guard let slash = rest.firstIndex(of: "/") else { return "/" }
        return (rest[slash...].removingPercentEncoding ?? String(rest[slash...]))
    }

    private func expectSuccess(_ response: Response, what: String) throws {
        guard !(200..<300).contains(response.status) else { return }
        throw Self.error(status: response.status, body: response.body, retryAfterHeader: response.headers["retry-after"], what: what)
    }

    /// F&O's error, with the Infolog text of `innererror.message` (the useful part) when present.
    static func error(status: Int, body: Data, retryAfterHeader: String?, what: String) -> ConnectorError {
        let text = DynamicsErrorBody.message(from: body)
        let type = DynamicsErrorBody.innerType(from: body) ?? ""
        let lowered = text?.lowercased() ?? ""
        switch status {
        case 429:
            return .throttled("F&O throttled \(what)", retryAfter: retryAfterHeader.flatMap(Double.init) ?? 30)
        case 401, 403:
            return .credentialsRejected("F&O refused \(what) (\(status))\(text.map { ": \($0)" } ?? "")", fix: "check the app registration and its F&O user's roles")
        // Two writers on one record (journals in particular): someone else's change, retried.
        case _ where lowered.contains("update conflict") || lowered.contains("cannot edit a record") || lowered.contains("another user has changed"):
            return .conflict("F&O reported a concurrent change on \(what): \(text ?? "")", fix: "retried")
        // A write F&O's business logic refused, whatever the status (older F&O answers 500): never retried.
        case _ where type.contains("AxODataWriteException"):
            return .remoteRejected("F&O refused \(what) (\(status)): \(text ?? "no message")", fix: "fix the mapping or the F&O setup it names, then replay")
        case 500...599 where !(text?.contains("Infolog") ?? false):
            return .remoteUnavailable("F&O answered \(status) to \(what)\(text.map { ": \($0)" } ?? "")", fix: "retried later")
        default:
            return .remoteRejected("F&O refused \(what) (\(status)): \(text ?? "no message")", fix: "fix the mapping or the F&O setup it names, then replay")
        }
    }
}

/// A changeset F&O refused, with the 1-based position of the operation that failed (its
/// Content-ID) when F&O named it — so a caller can tell which of its writes was refused.
public struct ChangesetFailure: Error, Sendable, CustomStringConvertible {
    public let part: Int?
    public let error: ConnectorError
    public var description: String { error.description }
}

/// Reads F&O's error envelope: `{"error":{"code":"","message":"An error has occurred.","innererror":{"message":"…"}}}`.
enum DynamicsErrorBody {
    /// `innererror.type`, e.g. `Microsoft.Dynamics.Platform.Integration.Services.OData.AxODataWriteException`.
    static func innerType(from body: Data) -> String? {
        guard let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let error = object["error"] as? [String: Any] else { return nil }
        return (error["innererror"] as? [String: Any])?["type"] as? String
    }

    static func message(from body: Data) -> String? {
        guard !body.isEmpty else { return nil }
        if let object = try? JSONSerialization.jsonObject(with: body) as? [String: Any], let error = object["error"] as? [String: Any] {
            if let inner = (error["innererror"] as? [String: Any])?["message"] as? String, !inner.isEmpty {
                return Formatting.bounded(inner.replacingOccurrences(of: "\n", with: " "), limit: 600)
            }
            if let message = error["message"] as? String { return Formatting.bounded(message, limit: 300) }
        }
        // Gateways answer HTML: keep a short, printable excerpt.
        return Formatting.bounded(String(decoding: body.prefix(300), as: UTF8.self).replacingOccurrences(of: "\n", with: " "), limit: 160)
    }
}

struct Page<Row: Decodable>: Decodable {
    var value: [Row]
    var nextLink: String?
    enum CodingKeys: String, CodingKey {
        case value
        case nextLink = "@odata.nextLink"
    }
}
