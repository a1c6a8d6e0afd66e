import ConnectorCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `azure` mode: an Azure Functions custom handler (runtimes.md §5) — an HTTP server on
/// `127.0.0.1:$FUNCTIONS_CUSTOMHANDLER_PORT` that only the Functions host calls.
///
/// - `GET /` answers 200 at once: the host's readiness ping.
/// - HTTP-triggered functions use request forwarding (`enableForwardingHttpRequest` /
///   `enableProxyingHttpRequest` in host.json): the host passes the original request, exact
///   body bytes and all, and it takes the same code path as http mode (`HTTPMode.respond`), so
///   a webhook signature verifies and a CloudEvent (binary or structured) reaches
///   `handle(event:)`. A leading `/api` (the Functions default route prefix) is removed.
/// - Every other trigger arrives as `POST /{functionName}` with `{"Data":…,"Metadata":…}`:
///   a timer becomes the schedule tick CloudEvent (`MLC_SCHEDULE_EVENT_TYPE[_<FUNCTION>]`,
///   `MLC_SCHEDULE_DATA[_<FUNCTION>]`); a binding value that is a structured CloudEvent (or a
///   string holding one: queue messages) goes to `handle(event:)`; an HTTP trigger that was not
///   forwarded goes to `handle(request:)` with its body as the host re-encoded it.
///
/// Answers (runtimes.md Appendix A): `{"Outputs","Logs","ReturnValue"}`; done and reject → 200
/// (a rejection is logged as an ERROR and in `Logs`; retrying cannot help), retry → 500 so the
/// invocation fails (a queue trigger retries; a timer waits for its next tick). An HTTP trigger
/// that was not forwarded always answers 200 with the outcome's status in `Outputs.res`.
public struct AzureMode: Sendable {
    let function: String
    let handler: any FunctionHandler
    let settings: RuntimeSettings
    let port: Int
    let logger: Logger
    let clock: any WallClock
    let ready: @Sendable () async -> Bool
    let background: [any Service]

    /// The name of the HTTP output binding an un-forwarded HTTP trigger answers through.
    public static let httpOutputBinding = "res"

    public init(function: String, handler: any FunctionHandler, settings: RuntimeSettings, port: Int, logger: Logger,
                clock: any WallClock = SystemWallClock(), ready: @escaping @Sendable () async -> Bool = { true }, background: [any Service] = []) {
        self.function = function
        self.handler = handler
        self.settings = settings
        self.port = port
        self.logger = logger
        self.clock = clock
        self.ready = ready
        self.background = background
    }

    /// http mode's request path, reused for forwarded HTTP requests.
    var forwarding: HTTPMode {
        var http = settings
        http.host = "127.0.0.1"
        http.port = port
        return HTTPMode(function: function, handler: handler, settings: http, logger: logger, ready: ready)
    }

    /// The application, bound to 127.0.0.1 only; `onRunning` gets the bound port.
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let forwarding = self.forwarding
        let responder = CallbackResponder<BasicRequestContext> { request, context in
            await self.respond(to: request, context: context, forwarding: forwarding)
        }
        return Application(
            responder: responder,
            configuration: .init(address: .hostname("127.0.0.1", port: port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? self.port
                logger.info("azure.listening", metadata: ["port": "\(port)"])
                await onRunning(port)
            },
            logger: logger
        )
    }

    /// Runs until the host stops the process (SIGTERM: in-flight invocations complete).
    public func run() async throws {
        let group = ServiceGroup(configuration: .init(services: background + [application(), DrainAnnouncer(logger: logger)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// Serves in the background while `body` runs with the bound port (tests: port 0).
    public func withRunningServer<T: Sendable>(_ body: @Sendable (Int) async throws -> T) async throws -> T {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = application { port in continuation.yield(port) }
        let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
        return try await withThrowingTaskGroup(of: T?.self) { tasks in
            tasks.addTask {
                try await group.run()
                return nil
            }
            var iterator = ports.makeAsyncIterator()
            guard let port = await iterator.next() else { throw CancellationError() }
            let result: Result<T, any Error>
            do { result = .success(try await body(port)) } catch { result = .failure(error) }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            continuation.finish()
            return try result.get()
        }
    }

    func respond(to request: Request, context: BasicRequestContext, forwarding: HTTPMode) async -> Response {
        let path = request.uri.path
        if request.method == .get && path == "/" {
            // The host's readiness ping: any answer means "started"; no I/O, answer at once.
            return HTTPMode.json(200, "{\"status\":\"ready\"}")
        }
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        if request.method == .post, segments.count == 2, !segments[1].isEmpty {
            // `POST /{functionName}`: an invocation envelope, unless the body says otherwise.
            let limit = settings.hardBodyLimit / 3 * 4 + 1024 * 1024
            let body: ByteBuffer
            do {
                body = try await request.body.collect(upTo: limit)
            } catch {
                logger.warning("azure.body_too_large", metadata: ["limit": "\(limit)"])
                return HTTPMode.json(413, "{\"error\":\"request body over \(limit) bytes\"}")
            }
            let bytes = Array(body.readableBytesView)
            if let envelope = Self.envelope(bytes) {
                let name = String(segments[1]).removingPercentEncoding ?? String(segments[1])
                let invocationID = request.headers[HTTPField.Name("X-Azure-Functions-InvocationId")!].map { Formatting.bounded($0, limit: 120) }
                    ?? Self.string(envelope.metadata, "sys", "RandGuid") ?? UUID.random().uuidString.lowercased()
                return await invoke(function: name, envelope: envelope, invocationID: invocationID)
            }
            return await forwarding.respond(to: Request(head: request.head, body: RequestBody(buffer: body)), context: context)
        }
        return await forwarding.respond(to: Self.withoutRoutePrefix(request), context: context)
    }

    /// `/api/webhooks/…` → `/webhooks/…` (host.json sets `routePrefix` to "" anyway).
    static func withoutRoutePrefix(_ request: Request) -> Request {
        guard let target = request.head.path, target.hasPrefix("/api/") else { return request }
        var head = request.head
        head.path = String(target.dropFirst(4))
        return Request(head: head, body: request.body)
    }

    // MARK: - Invocation envelopes

    /// `{"Data": {binding: value}, "Metadata": {…}}` as the host sends it.
    struct Envelope {
        var data: [String: Any]
        var metadata: [String: Any]
    }

    static func envelope(_ bytes: [UInt8]) -> Envelope? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
              object["specversion"] == nil, object["Data"] != nil || object["Metadata"] != nil else { return nil }
        return Envelope(data: object["Data"] as? [String: Any] ?? [:], metadata: object["Metadata"] as? [String: Any] ?? [:])
    }

    /// What an invocation asks for.
    enum Trigger {
        case timer(pastDue: Bool)
        case http(HTTPRequestEnvelope)
        case event(CloudEvent)
        case invalid(String)
    }

    /// Reads the trigger from the input bindings (the first that is a timer, an HTTP request or
    /// a CloudEvent, in binding-name order).
    static func trigger(_ envelope: Envelope) -> Trigger {
        for name in envelope.data.keys.sorted() {
            var value = envelope.data[name]
            // Plain strings (queue messages) arrive JSON-encoded: a string holding the JSON.
            if let text = value as? String, let inner = try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed]) {
                value = inner
            }
            guard let object = value as? [String: Any] else { continue }
            if object["ScheduleStatus"] != nil || object["IsPastDue"] != nil || object["Schedule"] != nil {
                return .timer(pastDue: (object["IsPastDue"] as? Bool) ?? false)
            }
            if object["specversion"] != nil {
                guard let bytes = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else { continue }
                do {
                    return .event(try CloudEventCodec.decodeStructured(Array(bytes)))
                } catch {
                    return .invalid("\(error)")
                }
            }
            if let method = object["Method"] as? String, let url = object["Url"] as? String {
                return httpRequest(method: method, url: url, object: object)
            }
        }
        return .invalid("the invocation carries no timer, HTTP request or CloudEvent in Data (bindings: \(envelope.data.keys.sorted().joined(separator: ", ")))")
    }

    /// An HTTP trigger's request in the envelope (forwarding off): `Url`, `Method`, `Headers`
    /// (name → [values]), `Body` (text as the host decoded it).
    static func httpRequest(method: String, url: String, object: [String: Any]) -> Trigger {
        guard let components = URLComponents(string: url) else { return .invalid("the HTTP trigger's Url is not a URL") }
        var path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        if path.hasPrefix("/api/") { path = String(path.dropFirst(4)) }
        var headers: [String: String] = [:]
        for (name, value) in object["Headers"] as? [String: Any] ?? [:] {
            let text = (value as? [String])?.joined(separator: ", ") ?? (value as? String) ?? ""
            let lower = name.lowercased()
            headers[lower] = headers[lower].map { $0 + ", " + text } ?? text
        }
        var body: [UInt8] = []
        switch object["Body"] {
        case let text as String: body = Array(text.utf8)
        case nil, is NSNull: break
        case let other?: body = (try? JSONSerialization.data(withJSONObject: other, options: [.fragmentsAllowed, .withoutEscapingSlashes])).map(Array.init) ?? []
        }
        let target = components.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
        return .http(HTTPRequestEnvelope(method: method, target: target, headers: headers, body: body))
    }

    func invoke(function name: String, envelope: Envelope, invocationID: String) async -> Response {
        var log = logger
        log[metadataKey: "invocation_id"] = "\(invocationID)"
        log[metadataKey: "azure.function"] = "\(Formatting.bounded(name, limit: 120))"
        let context = { (logger: Logger) in InvocationContext(function: function, invocationID: invocationID, logger: logger) }
        switch Self.trigger(envelope) {
        case .timer(let pastDue):
            let event = scheduleEvent(function: name, metadata: envelope.metadata, pastDue: pastDue)
            log[metadataKey: "event_id"] = "\(Formatting.bounded(event.id, limit: 120))"
            let outcome = await handler.handle(event: event, context: context(log))
            return answer(outcome, logger: log)
        case .event(let event):
            log[metadataKey: "event_id"] = "\(Formatting.bounded(event.id, limit: 120))"
            log[metadataKey: "event_source"] = "\(Formatting.bounded(event.source, limit: 120))"
            let outcome = await handler.handle(event: event, context: context(log))
            return answer(outcome, logger: log)
        case .http(let request):
            let outcome: Outcome
            if request.body.count > settings.hardBodyLimit {
                outcome = .reject(413, "request body over \(settings.hardBodyLimit) bytes")
            } else {
                switch LambdaMode.carried(in: request) {
                case .event(let event): outcome = await handler.handle(event: event, context: context(log))
                case .plain: outcome = await handler.handle(request: request, context: context(log))
                case .refused(let refusal): outcome = refusal
                }
            }
            log.info("azure.done", metadata: ["outcome": "\(outcome.kind.rawValue)", "http.status": "\(outcome.status)"])
            return Self.httpOutput(outcome)
        case .invalid(let why):
            return answer(.reject(400, why), logger: log)
        }
    }

    /// A timer tick as the CloudEvent the schedule stands for.
    func scheduleEvent(function name: String, metadata: [String: Any], pastDue: Bool) -> CloudEvent {
        let now = Self.string(metadata, "sys", "UtcNow") ?? Formatting.timestamp(clock.now())
        let (type, data) = settings.scheduleTick.resolve(function: name)
        return CloudEvent(id: "\(name)@\(now)", source: "/azure/functions/\(name)", type: type, time: now,
                          extensions: pastDue ? ["pastdue": "true"] : [:], data: data)
    }

    /// done / reject → 200, retry → 500 (the invocation fails), with `Logs` and `ReturnValue`.
    func answer(_ outcome: Outcome, logger log: Logger) -> Response {
        let status: Int
        switch outcome.kind {
        case .done:
            log.info("azure.done", metadata: ["outcome": "done", "http.status": "\(outcome.status)"])
            status = 200
        case .reject:
            log.error("azure.rejected", metadata: ["http.status": "\(outcome.status)", "reason": "\(Formatting.bounded(outcome.reason, limit: 300))"])
            status = 200
        case .retry:
            log.warning("azure.retry", metadata: ["http.status": "\(outcome.status)", "reason": "\(Formatting.bounded(outcome.reason, limit: 300))"])
            status = 500
        }
        let returnValue: Any = (try? JSONSerialization.jsonObject(with: Data(outcome.body), options: [.fragmentsAllowed])) ?? NSNull()
        let logs = ["\(function): \(outcome.kind.rawValue) (\(outcome.status)) \(Formatting.bounded(outcome.reason, limit: 300))"]
        return Self.jsonResponse(status, ["Outputs": [String: Any](), "Logs": logs, "ReturnValue": returnValue])
    }

    /// An un-forwarded HTTP trigger: always 200 to the host, the outcome in the HTTP output.
    static func httpOutput(_ outcome: Outcome) -> Response {
        var headers = ["Content-Type": "application/json"]
        if let after = outcome.retryAfter { headers["Retry-After"] = String(after) }
        let http: [String: Any] = ["statusCode": String(outcome.status), "headers": headers, "body": String(decoding: outcome.body, as: UTF8.self)]
        let logs = ["\(outcome.kind.rawValue) (\(outcome.status)) \(Formatting.bounded(outcome.reason, limit: 300))"]
        return jsonResponse(200, ["Outputs": [httpOutputBinding: http], "Logs": logs, "ReturnValue": http])
    }

    static func jsonResponse(_ status: Int, _ object: [String: Any]) -> Response {
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data("{}".utf8)
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    static func string(_ object: [String: Any], _ keys: String...) -> String? {
        var current: Any? = object
        for key in keys { current = (current as? [String: Any])?[key] }
        return current as? String
    }
}
