import ConnectorCore
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// `http` mode: Hummingbird on `host:port`, the health endpoints, `GET /metrics` (when given),
/// CloudEvents in binary and structured mode, raw requests for everything else; graceful drain
/// on SIGTERM.
public struct HTTPMode: Sendable {
    let function: String
    let handler: any FunctionHandler
    let settings: RuntimeSettings
    let logger: Logger
    let ready: @Sendable () async -> Bool
    let background: [any Service]
    let metrics: MetricsEndpoint?

    /// With `metrics`, `GET /metrics` answers Prometheus text and every request handled is counted
    /// there; without, `/metrics` is an ordinary request for the handler.
    public init(function: String, handler: any FunctionHandler, settings: RuntimeSettings, logger: Logger,
                ready: @escaping @Sendable () async -> Bool = { true }, background: [any Service] = [], metrics: MetricsEndpoint? = nil) {
        self.function = function
        self.handler = handler
        self.settings = settings
        self.logger = logger
        self.ready = ready
        self.background = background
        self.metrics = metrics
    }

    /// The application, ready to run; `onRunning` gets the bound port (useful with port 0).
    public func application(onRunning: @escaping @Sendable (Int) async -> Void = { _ in }) -> some ApplicationProtocol {
        let responder = CallbackResponder<BasicRequestContext> { request, context in
            await self.respond(to: request, context: context)
        }
        return Application(
            responder: responder,
            configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: nil),
            onServerRunning: { channel in
                let port = channel.localAddress?.port ?? settings.port
                logger.info("http.listening", metadata: ["port": "\(port)"])
                await onRunning(port)
            },
            logger: logger
        )
    }

    /// Runs until SIGTERM (graceful: in-flight requests complete) or SIGINT.
    public func run() async throws {
        let app = application()
        // Graceful shutdown signals services in reverse order: the announcer (last) logs first,
        // then the server stops accepting and finishes what is in flight.
        let group = ServiceGroup(configuration: .init(services: background + [app, DrainAnnouncer(logger: logger)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    func respond(to request: Request, context: BasicRequestContext) async -> Response {
        let path = request.uri.path
        if request.method == .get {
            switch path {
            case "/health/live": return Self.json(200, "{\"status\":\"live\"}")
            case "/health/ready":
                return await ready() ? Self.json(200, "{\"status\":\"ready\"}") : Self.json(503, "{\"status\":\"not ready\"}")
            case "/metrics":
                if let metrics {
                    if let token = metrics.bearerToken {
                        let presented = request.headers[.authorization] ?? ""
                        guard Digests.constantTimeEquals(Array(presented.utf8), Array("Bearer \(token)".utf8)) else {
                            return Self.json(401, "{\"error\":\"/metrics needs Authorization: Bearer <MLC_METRICS_TOKEN>\"}")
                        }
                    }
                    return await Self.metricsResponse(metrics)
                }
            default: break
            }
        }
        let started = ContinuousClock.now
        let (kind, outcome) = await handle(request, path: path)
        metrics?.process.recordRequest(function: function, kind: kind, outcome: outcome, elapsed: ContinuousClock.now - started)
        return Self.response(outcome)
    }

    /// The handler's outcome, and whether the request was a CloudEvent (`event`) or not (`request`).
    private func handle(_ request: Request, path: String) async -> (kind: String, outcome: Outcome) {
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        logger.debug("http.request.begin", metadata: ["http.path": "\(Formatting.bounded(path, limit: 120))"])
        let body: [UInt8]
        do {
            var buffer = try await request.body.collect(upTo: settings.hardBodyLimit)
            body = buffer.readBytes(length: buffer.readableBytes) ?? []
        } catch {
            logger.warning("http.body_too_large", metadata: ["limit": "\(settings.hardBodyLimit)"])
            return ("request", .reject(413, "request body over \(settings.hardBodyLimit) bytes"))
        }
        var invocation = logger
        let requestID = headers["x-request-id"].map { Formatting.bounded($0, limit: 120) } ?? UUID.random().uuidString.lowercased()
        invocation[metadataKey: "invocation_id"] = "\(requestID)"
        invocation[metadataKey: "mode"] = "http"
        let ctx = InvocationContext(function: function, invocationID: requestID, logger: invocation)

        do {
            if let event = try CloudEventCodec.decode(headers: headers, body: body) {
                var eventLogger = invocation
                eventLogger[metadataKey: "event_id"] = "\(Formatting.bounded(event.id, limit: 120))"
                eventLogger[metadataKey: "event_source"] = "\(Formatting.bounded(event.source, limit: 120))"
                return ("event", await handler.handle(event: event, context: InvocationContext(function: function, invocationID: requestID, logger: eventLogger)))
            } else {
                let target = request.uri.query.map { "\(path)?\($0)" } ?? path
                return ("request", await handler.handle(request: HTTPRequestEnvelope(method: request.method.rawValue, target: target, headers: headers, body: body), context: ctx))
            }
        } catch let error as CloudEventError {
            return ("event", error == .batchNotSupported ? .reject(415, error.description) : .reject(400, error.description))
        } catch {
            return ("request", .reject(400, "unreadable request"))
        }
    }

    static func metricsResponse(_ metrics: MetricsEndpoint) async -> Response {
        var fields = HTTPFields()
        fields[.contentType] = MetricsEndpoint.contentType
        return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: await metrics.render())))
    }

    static func response(_ outcome: Outcome) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        if let after = outcome.retryAfter { fields[.retryAfter] = String(after) }
        return Response(status: .init(code: outcome.status), headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: outcome.body)))
    }

    static func json(_ status: Int, _ text: String) -> Response {
        var fields = HTTPFields()
        fields[.contentType] = "application/json"
        return Response(status: .init(code: status), headers: fields, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}

/// Logs the moment graceful shutdown begins, so operators (and the drain test) can see that
/// in-flight requests are being finished rather than cut.
struct DrainAnnouncer: Service {
    let logger: Logger
    func run() async throws {
        try? await gracefulShutdown()
        logger.info("http.draining")
    }
}


extension HTTPMode {
    /// Serves in the background while `body` runs with the bound port, then drains gracefully.
    /// Used by `mlc demo` and by tests (port 0, no fixed ports, no waiting loops).
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
            let result: T
            do {
                result = try await body(port)
            } catch {
                await group.triggerGracefulShutdown()
                try await tasks.waitForAll()
                throw error
            }
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            continuation.finish()
            return result
        }
    }
}
