import AsyncHTTPClient
import ConnectorCore
import ConnectorStore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// `lambda` mode: the AWS Lambda Runtime API loop (runtimes.md §4.1), written directly on
/// AsyncHTTPClient — `GET …/invocation/next`, hand the event to the same `FunctionHandler` every
/// other mode uses, `POST …/response` or `…/error`.
///
/// What an event becomes (runtimes.md §4.4, §4.5, §9.3):
/// - an HTTP API / Function URL event (payload format 2.0: `requestContext.http`) →
///   `handle(request:)`; a base64 body is decoded to the exact bytes first (webhook HMACs are
///   computed over them). The answer is always `/response` with `{statusCode, headers, body}`.
/// - a structured CloudEvent (`specversion`; the documented EventBridge Scheduler input) →
///   `handle(event:)`.
/// - an EventBridge event (`detail-type`): a "Scheduled Event" becomes the schedule tick of
///   `MLC_SCHEDULE_EVENT_TYPE` / `MLC_SCHEDULE_DATA`; any other becomes a CloudEvent of type
///   `detail-type` with `detail` as data.
///
/// Outcomes of non-HTTP events (runtimes.md Appendix A): done → `/response`; retry → `/error`
/// (an asynchronous invoke or the Scheduler's retry policy tries again); reject → `/response`
/// with the rejection and an ERROR log line (retrying cannot help, so no retries are burnt).
public struct LambdaMode: Sendable {
    /// Lambda's answer to `next`: the event and its identity.
    public struct Invocation: Sendable {
        public var requestID: String
        public var deadline: Date?
        public var traceID: String?
        public var functionARN: String?
        public var body: [UInt8]
    }

    /// What one event asks for.
    public enum Event: Sendable {
        /// An HTTP API / Function URL request (answered in the HTTP response shape).
        case http(HTTPRequestEnvelope)
        /// An HTTP event this adapter does not take (answered in the HTTP response shape).
        case unsupportedHTTP(String)
        case cloudEvent(CloudEvent)
        /// Not an event the connector understands (answered through `/response` as a rejection).
        case invalid(String)
    }

    static let apiVersion = "2018-06-01"
    /// The `Lambda-Runtime-Function-Error-Type` header sent with every `/error`.
    static let errorTypeHeader = "Lambda-Runtime-Function-Error-Type"

    let function: String
    let handler: any FunctionHandler
    let settings: RuntimeSettings
    let runtimeAPI: String
    let client: HTTPClient
    let clock: any WallClock
    let sleeper: any Sleeper
    let logger: Logger
    /// Runs after an invocation was answered and before the next is asked for (retention:
    /// the environment is frozen between invocations, so nothing may run in the background).
    let between: (@Sendable () async -> Void)?
    /// Runs after the handler and before its answer is posted: Lambda may freeze the process
    /// as soon as it has the answer, so work the handler started in the background (wake-ups)
    /// is finished here.
    let beforeAnswer: (@Sendable () async -> Void)?

    /// - Parameters:
    ///   - client: must not put a read timeout on `next` (Lambda holds it until an event comes);
    ///     `LambdaMode.makeClient()` makes one.
    ///   - sleeper: waits out the invocation deadline (tests inject one that returns at once).
    public init(function: String, handler: any FunctionHandler, settings: RuntimeSettings, runtimeAPI: String, client: HTTPClient,
                clock: any WallClock = SystemWallClock(), sleeper: any Sleeper = SystemSleeper(), logger: Logger,
                between: (@Sendable () async -> Void)? = nil, beforeAnswer: (@Sendable () async -> Void)? = nil) {
        self.function = function
        self.handler = handler
        self.settings = settings
        self.runtimeAPI = runtimeAPI
        self.client = client
        self.clock = clock
        self.sleeper = sleeper
        self.logger = logger
        self.between = between
        self.beforeAnswer = beforeAnswer
    }

    /// A client for the Runtime API: a connect timeout, no read timeout (see `next`).
    public static func makeClient() -> HTTPClient {
        HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup,
                   configuration: .init(timeout: .init(connect: .seconds(10), read: nil)))
    }

    var base: String { "http://\(runtimeAPI)/\(Self.apiVersion)/runtime" }

    /// Handles invocations until `maxInvocations` were answered (nil: until the task is
    /// cancelled or the Runtime API fails). Returns how many were answered. Throws when the
    /// Runtime API cannot be reached or answers nonsense — Lambda then restarts the environment.
    @discardableResult
    public func run(maxInvocations: Int? = nil) async throws -> Int {
        var answered = 0
        logger.info("lambda.started", metadata: ["lambda.runtime_api": "\(runtimeAPI)"])
        while maxInvocations.map({ answered < $0 }) ?? true {
            try Task.checkCancellation()
            let invocation = try await next()
            try await process(invocation)
            answered += 1
            await between?()
        }
        return answered
    }

    /// `GET /runtime/invocation/next`, with no deadline: Lambda may freeze the process while
    /// it waits, and an event can arrive hours later.
    func next() async throws -> Invocation {
        var request = HTTPClientRequest(url: "\(base)/invocation/next")
        request.method = .GET
        let response = try await client.execute(request, deadline: .distantFuture, logger: nil)
        // Lambda's own limit is 6 MB synchronous / 1 MB asynchronous; a base64 body grows by 4/3.
        let limit = max(8 * 1024 * 1024, settings.hardBodyLimit / 3 * 4 + 1024 * 1024)
        var buffer = try await response.body.collect(upTo: limit)
        guard response.status == .ok else {
            throw ConnectorError.remoteUnavailable("the Lambda Runtime API answered \(response.status.code) to invocation/next")
        }
        guard let requestID = response.headers.first(name: "Lambda-Runtime-Aws-Request-Id"), !requestID.isEmpty else {
            throw ConnectorError.remoteRejected("the Lambda Runtime API sent an invocation without Lambda-Runtime-Aws-Request-Id")
        }
        let deadline = response.headers.first(name: "Lambda-Runtime-Deadline-Ms").flatMap(Int64.init).map { Date(unixMilliseconds: $0) }
        return Invocation(
            requestID: requestID, deadline: deadline,
            traceID: response.headers.first(name: "Lambda-Runtime-Trace-Id"),
            functionARN: response.headers.first(name: "Lambda-Runtime-Invoked-Function-Arn"),
            body: buffer.readBytes(length: buffer.readableBytes) ?? [])
    }

    /// Dispatches one invocation and answers it.
    func process(_ invocation: Invocation) async throws {
        var log = logger
        log[metadataKey: "invocation_id"] = "\(Formatting.bounded(invocation.requestID, limit: 120))"
        if let trace = invocation.traceID { log[metadataKey: "aws.trace_id"] = "\(Formatting.bounded(trace, limit: 200))" }
        let event = Self.classify(invocation.body, tick: settings.scheduleTick)
        switch event {
        case .http(let request):
            log[metadataKey: "http.path"] = "\(Formatting.bounded(request.path, limit: 120))"
            let context = InvocationContext(function: function, invocationID: invocation.requestID, logger: log, deadline: invocation.deadline)
            var outcome = Outcome.reject(413, "request body over \(settings.hardBodyLimit) bytes")
            var cut: Task<Outcome, Never>?
            if request.body.count <= settings.hardBodyLimit {
                // As in http mode: a CloudEvent sent over HTTP (a K_SINK wake-up to a Function URL)
                // is an event; anything else is a request with its exact bytes.
                switch Self.carried(in: request) {
                case .event(let event):
                    log[metadataKey: "event_id"] = "\(Formatting.bounded(event.id, limit: 120))"
                    let eventContext = InvocationContext(function: function, invocationID: invocation.requestID, logger: log, deadline: invocation.deadline)
                    (outcome, cut) = await bounded(invocation, logger: log) { await handler.handle(event: event, context: eventContext) }
                case .plain:
                    (outcome, cut) = await bounded(invocation, logger: log) { await handler.handle(request: request, context: context) }
                case .refused(let refusal):
                    outcome = refusal
                }
            }
            log.info("lambda.done", metadata: ["outcome": "\(outcome.kind.rawValue)", "http.status": "\(outcome.status)"])
            try await post(invocation, "response", body: Self.httpResponse(outcome), logger: log)
            await finish(cut, logger: log)
        case .unsupportedHTTP(let why):
            log.error("lambda.rejected", metadata: ["reason": "\(why)"])
            try await post(invocation, "response", body: Self.httpResponse(.reject(400, why)), logger: log)
        case .cloudEvent(let cloudEvent):
            log[metadataKey: "event_id"] = "\(Formatting.bounded(cloudEvent.id, limit: 120))"
            log[metadataKey: "event_source"] = "\(Formatting.bounded(cloudEvent.source, limit: 120))"
            let context = InvocationContext(function: function, invocationID: invocation.requestID, logger: log, deadline: invocation.deadline)
            let (outcome, cut) = await bounded(invocation, logger: log) { await handler.handle(event: cloudEvent, context: context) }
            try await answerEvent(invocation, outcome, logger: log)
            await finish(cut, logger: log)
        case .invalid(let why):
            try await answerEvent(invocation, .reject(400, why), logger: log)
        }
    }

    /// Non-HTTP outcomes: done and reject through `/response`, retry through `/error`.
    func answerEvent(_ invocation: Invocation, _ outcome: Outcome, logger log: Logger) async throws {
        let line = Array(OnceMode.resultLine(function: function, outcome: outcome).utf8)
        switch outcome.kind {
        case .done:
            log.info("lambda.done", metadata: ["outcome": "done", "http.status": "\(outcome.status)"])
            try await post(invocation, "response", body: line, logger: log)
        case .reject:
            // Retrying cannot help a rejected event: answer it, and say so where people look.
            log.error("lambda.rejected", metadata: ["http.status": "\(outcome.status)", "reason": "\(Formatting.bounded(outcome.reason, limit: 300))"])
            try await post(invocation, "response", body: line, logger: log)
        case .retry:
            log.warning("lambda.retry", metadata: ["http.status": "\(outcome.status)", "reason": "\(Formatting.bounded(outcome.reason, limit: 300))"])
            let type = outcome.reason.hasPrefix(Self.deadlineReason) ? "Connector.DeadlineExceeded" : "Connector.Retry"
            try await post(invocation, "error", body: Self.errorBody(type: type, message: outcome.reason), errorType: type, logger: log)
        }
    }

    static let deadlineReason = "the invocation deadline was reached"

    /// Runs `work` until the invocation's deadline minus the margin. Past it, the work is
    /// cancelled and the invocation is answered "retry" at once; the cut work is handed back so
    /// the caller waits for it (it releases its leases) after answering and before the next
    /// invocation is asked for.
    func bounded(_ invocation: Invocation, logger log: Logger, _ work: @escaping @Sendable () async -> Outcome) async -> (Outcome, Task<Outcome, Never>?) {
        let task = Task { await work() }
        guard let deadline = invocation.deadline else { return (await task.value, nil) }
        let budget = deadline.timeIntervalSince(clock.now()) - settings.deadlineMargin
        let sleeper = self.sleeper
        let timer = Task<Void, Never> { try? await sleeper.sleep(seconds: max(0, budget)) }
        let first = FirstAnswer()
        let outcome: Outcome? = await withCheckedContinuation { continuation in
            first.arm(continuation)
            Task {
                let outcome = await task.value
                timer.cancel()
                first.answer(outcome)
            }
            Task {
                await timer.value
                first.answer(nil)
            }
        }
        if let outcome { return (outcome, nil) }
        task.cancel()
        log.error("lambda.deadline", metadata: ["budget_ms": "\(Int(budget * 1000))"])
        return (.retry("\(Self.deadlineReason) (\(Int(settings.deadlineMargin * 1000)) ms margin); the work was cut and is retried"), task)
    }

    /// Waits for work cut at the deadline to wind down.
    func finish(_ cut: Task<Outcome, Never>?, logger log: Logger) async {
        guard let cut else { return }
        let outcome = await cut.value
        log.info("lambda.cut_finished", metadata: ["outcome": "\(outcome.kind.rawValue)"])
    }

    /// `POST /runtime/invocation/{id}/{kind}`.
    func post(_ invocation: Invocation, _ kind: String, body: [UInt8], errorType: String? = nil, logger log: Logger) async throws {
        await beforeAnswer?()
        let id = invocation.requestID.addingPercentEncoding(withAllowedCharacters: .urlPathAllowed.subtracting(CharacterSet(charactersIn: "/"))) ?? invocation.requestID
        var request = HTTPClientRequest(url: "\(base)/invocation/\(id)/\(kind)")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        if let errorType { request.headers.add(name: Self.errorTypeHeader, value: errorType) }
        request.body = .bytes(body)
        let response = try await client.execute(request, timeout: .seconds(30))
        _ = try? await response.body.collect(upTo: 64 * 1024)
        guard (200..<300).contains(Int(response.status.code)) else {
            // 413: the answer is over Lambda's payload limit; anything else: the invocation is gone.
            log.error("lambda.answer_refused", metadata: ["lambda.answer": "\(kind)", "http.status": "\(response.status.code)"])
            if kind == "response" && response.status.code == 413 {
                let message = "the function's answer (\(body.count) bytes) is over Lambda's response limit"
                try await post(invocation, "error", body: Self.errorBody(type: "Connector.ResponseTooLarge", message: message), errorType: "Connector.ResponseTooLarge", logger: log)
            }
            return
        }
    }

    // MARK: - Events in, answers out

    /// What an HTTP request carries: a CloudEvent (binary or structured mode), a plain request,
    /// or nothing usable — with the refusal http mode gives (415 for a batch, 400 otherwise).
    enum Carried {
        case event(CloudEvent)
        case plain
        case refused(Outcome)
    }

    static func carried(in request: HTTPRequestEnvelope) -> Carried {
        do {
            return try CloudEventCodec.decode(headers: request.headers, body: request.body).map(Carried.event) ?? .plain
        } catch let error as CloudEventError {
            return .refused(error == .batchNotSupported ? .reject(415, error.description) : .reject(400, error.description))
        } catch {
            return .refused(.reject(400, "unreadable request"))
        }
    }

    struct Probe: Decodable {
        struct Context: Decodable {
            struct HTTP: Decodable { var method: String? }
            var http: HTTP?
        }
        var specversion: String?
        var requestContext: Context?
        var httpMethod: String?
        var detailType: String?
        enum CodingKeys: String, CodingKey { case specversion, requestContext, httpMethod, detailType = "detail-type" }
    }

    /// HTTP API payload format 2.0 (Function URLs use it too).
    struct HTTPEvent: Decodable {
        struct Context: Decodable {
            struct HTTP: Decodable { var method: String; var path: String? }
            var http: HTTP
            var requestId: String?
        }
        var rawPath: String?
        var rawQueryString: String?
        var cookies: [String]?
        var headers: [String: String]?
        var body: String?
        var isBase64Encoded: Bool?
        var requestContext: Context
    }

    /// Tells the kinds of event apart and turns each into what the handler takes.
    public static func classify(_ bytes: [UInt8], tick: ScheduleTick = ScheduleTick()) -> Event {
        guard let probe = try? JSONDecoder().decode(Probe.self, from: Data(bytes)) else {
            return .invalid("the Lambda event is not a JSON object the connector reads; send an HTTP API / Function URL event (payload 2.0), a structured CloudEvent, or an EventBridge event")
        }
        if probe.requestContext?.http != nil {
            guard let event = try? JSONDecoder().decode(HTTPEvent.self, from: Data(bytes)) else {
                return .unsupportedHTTP("the HTTP event is malformed (requestContext.http.method, headers, body)")
            }
            return httpRequest(event)
        }
        if probe.httpMethod != nil {
            return .unsupportedHTTP("API Gateway REST API events (payload format 1.0) are not taken; use a Function URL or an HTTP API with payload format 2.0")
        }
        if probe.specversion != nil {
            do {
                return .cloudEvent(try CloudEventCodec.decodeStructured(bytes))
            } catch {
                return .invalid("\(error)")
            }
        }
        if probe.detailType != nil {
            return eventBridge(bytes, tick: tick)
        }
        return .invalid("the Lambda event is neither an HTTP event (payload 2.0), a structured CloudEvent (specversion) nor an EventBridge event (detail-type); give the schedule's target a structured CloudEvent as its input (docs/runtime-adapters.md)")
    }

    static func httpRequest(_ event: HTTPEvent) -> Event {
        var headers: [String: String] = [:]
        for (name, value) in event.headers ?? [:] {
            let lower = name.lowercased()
            headers[lower] = headers[lower].map { $0 + ", " + value } ?? value
        }
        // Payload 2.0 moves the Cookie header into `cookies`.
        if let cookies = event.cookies, !cookies.isEmpty, headers["cookie"] == nil {
            headers["cookie"] = cookies.joined(separator: "; ")
        }
        var body: [UInt8] = []
        if let text = event.body {
            if event.isBase64Encoded == true {
                guard let bytes = Data(base64Encoded: text) else { return .unsupportedHTTP("the HTTP event says isBase64Encoded but its body is not base64") }
                body = Array(bytes)
            } else {
                body = Array(text.utf8)
            }
        }
        let path = event.rawPath ?? event.requestContext.http.path ?? "/"
        let target = (event.rawQueryString ?? "").isEmpty ? path : path + "?" + event.rawQueryString!
        return .http(HTTPRequestEnvelope(method: event.requestContext.http.method, target: target, headers: headers, body: body))
    }

    static func eventBridge(_ bytes: [UInt8], tick: ScheduleTick) -> Event {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              let detailType = object["detail-type"] as? String, !detailType.isEmpty,
              let id = object["id"] as? String, !id.isEmpty else {
            return .invalid("the EventBridge event needs id and detail-type")
        }
        let source = ((object["resources"] as? [String])?.first) ?? (object["source"] as? String) ?? "aws.events"
        let time = object["time"] as? String
        if detailType == "Scheduled Event" {
            let (type, data) = tick.resolve(function: nil)
            return .cloudEvent(CloudEvent(id: "\(source)@\(time ?? id)", source: source, type: type, time: time, extensions: ["awseventid": id], data: data))
        }
        var data: [UInt8]?
        if let detail = object["detail"], !(detail is NSNull) {
            data = (try? JSONSerialization.data(withJSONObject: detail, options: [.sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])).map(Array.init)
        }
        return .cloudEvent(CloudEvent(id: id, source: source, type: detailType, time: time, data: data))
    }

    struct HTTPAnswer: Encodable {
        var statusCode: Int
        var headers: [String: String]
        var body: String
        var isBase64Encoded: Bool
    }

    /// The HTTP API / Function URL response shape.
    public static func httpResponse(_ outcome: Outcome) -> [UInt8] {
        var headers = ["content-type": "application/json"]
        if let after = outcome.retryAfter { headers["retry-after"] = String(after) }
        let text = String(validating: outcome.body, as: UTF8.self)
        let response = HTTPAnswer(statusCode: outcome.status, headers: headers,
                                    body: text ?? Data(outcome.body).base64EncodedString(), isBase64Encoded: text == nil)
        return encode(response)
    }

    struct ErrorBody: Encodable {
        var errorType: String
        var errorMessage: String
        var stackTrace: [String] = []
    }

    static func errorBody(type: String, message: String) -> [UInt8] {
        encode(ErrorBody(errorType: type, errorMessage: Formatting.bounded(message, limit: 1000)))
    }

    static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).map(Array.init) ?? Array("{}".utf8)
    }

    /// Retention for a process that lives between frozen invocations: purges what expired once
    /// `interval` has passed since the last purge (a failed purge is logged and tried again).
    public static func retention(store: any KeyValueStore, clock: any WallClock, interval: Duration, logger: Logger) -> @Sendable () async -> Void {
        let last = LastPurge()
        let seconds = TimeInterval(interval.components.seconds)
        return {
            let now = clock.now()
            let due = last.date.withLock { previous -> Bool in
                guard previous.map({ now.timeIntervalSince($0) >= seconds }) ?? true else { return false }
                previous = now
                return true
            }
            guard due else { return }
            do {
                let removed = try await Retention.purge(store, now: now)
                if removed > 0 { logger.info("retention.purged", metadata: ["removed": "\(removed)"]) }
            } catch {
                logger.warning("retention.failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Start-up failed before the first `next`: tell Lambda (`/runtime/init/error`) so the
    /// init failure shows with its reason. Does nothing outside lambda mode; bounded to 5 s.
    public static func reportInitError(environment: [String: String], arguments: [String] = [], error: any Error) async {
        guard let api = environment["AWS_LAMBDA_RUNTIME_API"], !api.isEmpty else { return }
        let mode: RunMode = (try? RunMode.detect(environment: environment, arguments: arguments)) ?? .lambda
        guard mode == .lambda else { return }
        var request = HTTPClientRequest(url: "http://\(api)/\(apiVersion)/runtime/init/error")
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/json")
        request.headers.add(name: errorTypeHeader, value: "Connector.StartupFailed")
        request.body = .bytes(errorBody(type: "Connector.StartupFailed", message: "\(error)"))
        if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(5)) {
            _ = try? await response.body.collect(upTo: 64 * 1024)
        }
    }
}

/// When a between-invocations purge last ran.
final class LastPurge: Sendable {
    let date = Mutex<Date?>(nil)
}

/// The first of two racing answers resumes the waiting continuation; the other is ignored.
final class FirstAnswer: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Outcome?, Never>?, early: Outcome??)>((nil, nil))

    func arm(_ continuation: CheckedContinuation<Outcome?, Never>) {
        let early: Outcome?? = state.withLock { s in
            if let early = s.early { return early }
            s.continuation = continuation
            return nil
        }
        if let early { continuation.resume(returning: early) }
    }

    func answer(_ outcome: Outcome?) {
        let continuation: CheckedContinuation<Outcome?, Never>? = state.withLock { s in
            guard s.early == nil else { return nil }
            s.early = .some(outcome)
            let c = s.continuation
            s.continuation = nil
            return c
        }
        continuation?.resume(returning: outcome)
    }
}
