import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRuntime
import ConnectorSamples
import ConnectorStore
import ConnectorTestSupport
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization
import Testing

/// A handler whose answer depends on the event type, recording what it saw.
final class ScriptedHandler: FunctionHandler {
    struct Seen: Sendable {
        var event: CloudEvent?
        var request: HTTPRequestEnvelope?
        var invocationID: String
        var deadline: Date?
    }
    let seen = Mutex<[Seen]>([])
    let cancelled = Mutex<Int>(0)

    func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        seen.withLock { $0.append(Seen(request: request, invocationID: context.invocationID, deadline: context.deadline)) }
        return .done(200, json: "{\"path\":\(JSONText.quoted(request.path))}")
    }

    func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        seen.withLock { $0.append(Seen(event: event, invocationID: context.invocationID, deadline: context.deadline)) }
        context.logger.info("scripted.handled")
        switch event.type {
        case "test.retry": return .retry("the store is unavailable", after: 7)
        case "test.reject": return .reject(422, "no such connection")
        case "test.hang":
            // Runs until cancelled (the deadline cuts it); no time passes in the test.
            let (stream, continuation) = AsyncStream<Void>.makeStream()
            await withTaskCancellationHandler {
                for await _ in stream {}
            } onCancel: {
                continuation.finish()
            }
            cancelled.withLock { $0 += 1 }
            return .retry("cut")
        default: return .done(200, json: "{\"handled\":\(JSONText.quoted(event.id))}")
        }
    }
}

/// A small Lambda Runtime API (API version 2018-06-01) on loopback port 0: serves the queued
/// invocations in order, records every answer. Asked for more than it has, it answers 500.
final class FakeRuntimeAPI: Sendable {
    struct Queued: Sendable {
        var id: String
        var deadline: Date?
        var body: [UInt8]
    }
    struct Answer: Sendable {
        var kind: String  // response | error | init
        var requestID: String?
        var errorType: String?
        var body: [UInt8]
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any] }
    }
    let queue: Mutex<[Queued]>
    let answers = Mutex<[Answer]>([])
    let nextCalls = Mutex<Int>(0)

    init(_ queued: [Queued]) { queue = Mutex(queued) }

    func answer(_ requestID: String) -> Answer? { answers.withLock { $0.first { $0.requestID == requestID } } }

    var router: Router<BasicRequestContext> {
        let router = Router(context: BasicRequestContext.self)
        router.get("2018-06-01/runtime/invocation/next") { _, _ -> Response in
            self.nextCalls.withLock { $0 += 1 }
            guard let next = self.queue.withLock({ $0.isEmpty ? nil : $0.removeFirst() }) else {
                return Response(status: .internalServerError)
            }
            var fields = HTTPFields()
            fields[HTTPField.Name("Lambda-Runtime-Aws-Request-Id")!] = next.id
            if let deadline = next.deadline { fields[HTTPField.Name("Lambda-Runtime-Deadline-Ms")!] = String(deadline.unixMilliseconds) }
            fields[HTTPField.Name("Lambda-Runtime-Trace-Id")!] = "Root=1-00000000-000000000000000000000000;Sampled=0"
            fields[HTTPField.Name("Lambda-Runtime-Invoked-Function-Arn")!] = "arn:aws:lambda:eu-west-1:111122223333:function:test"
            fields[.contentType] = "application/json"
            return Response(status: .ok, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: next.body)))
        }
        for kind in ["response", "error"] {
            router.post("2018-06-01/runtime/invocation/{id}/\(kind)") { request, context -> Response in
                let id = try context.parameters.require("id")
                let body = try await request.body.collect(upTo: 1 << 20)
                let type = request.headers[HTTPField.Name("Lambda-Runtime-Function-Error-Type")!]
                self.answers.withLock { $0.append(Answer(kind: kind, requestID: id, errorType: type, body: Array(body.readableBytesView))) }
                return Response(status: .accepted)
            }
        }
        router.post("2018-06-01/runtime/init/error") { request, _ -> Response in
            let body = try await request.body.collect(upTo: 1 << 20)
            let type = request.headers[HTTPField.Name("Lambda-Runtime-Function-Error-Type")!]
            self.answers.withLock { $0.append(Answer(kind: "init", errorType: type, body: Array(body.readableBytesView))) }
            return Response(status: .accepted)
        }
        return router
    }

    /// Serves while `body` runs with the bound port.
    func serving<T: Sendable>(_ body: @Sendable (Int) async throws -> T) async throws -> T {
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        var quiet = Logger(label: "fake-runtime-api")
        quiet.logLevel = .warning
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                              onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) }, logger: quiet)
        let group = ServiceGroup(configuration: .init(services: [app], logger: quiet))
        return try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
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
}

/// An HTTP API payload 2.0 event (as a Function URL sends it) carrying `body`.
func httpAPIEvent(path: String, query: String = "", headers: [String: String], body: [UInt8], base64: Bool) -> [UInt8] {
    let object: [String: Any] = [
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": headers,
        "requestContext": ["http": ["method": "POST", "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.9", "userAgent": "WooCommerce/10.0.2"],
                           "requestId": "r-1", "time": "01/Mar/2026:10:00:03 +0000", "timeEpoch": 1_772_359_203_000],
        "body": base64 ? Data(body).base64EncodedString() : String(decoding: body, as: UTF8.self),
        "isBase64Encoded": base64,
    ]
    return Array(try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]))
}

@Suite("lambda mode")
struct LambdaAdapterTests {
    static func settings(_ extra: [String: String] = [:]) throws -> RuntimeSettings {
        try RuntimeSettings(environment: ["MLC_STORE_URL": "memory:"].merging(extra) { $1 })
    }

    /// Runs the real adapter loop against `fake` for exactly `count` invocations.
    static func run(_ fake: FakeRuntimeAPI, _ handler: any FunctionHandler, count: Int, settings: RuntimeSettings? = nil,
                    sleeper: any Sleeper = SystemSleeper(), beforeAnswer: (@Sendable () async -> Void)? = nil, logger: Logger) async throws -> Int {
        let settings = try settings ?? Self.settings()
        return try await fake.serving { port in
            let client = LambdaMode.makeClient()
            let lambda = LambdaMode(function: "test", handler: handler, settings: settings, runtimeAPI: "127.0.0.1:\(port)",
                                    client: client, sleeper: sleeper, logger: logger, beforeAnswer: beforeAnswer)
            let answered: Int
            do { answered = try await lambda.run(maxInvocations: count) } catch {
                try? await client.shutdown()
                throw error
            }
            try await client.shutdown()
            return answered
        }
    }

    @Test("events are answered through /response (done, reject) and /error (retry); the context carries the request id and deadline")
    func responseAndError() async throws {
        let deadline = Date(unixMilliseconds: Date().addingTimeInterval(600).unixMilliseconds)
        func ce(_ id: String, _ type: String) -> [UInt8] {
            Array(#"{"specversion":"1.0","id":"\#(id)","source":"aws.scheduler/ml-connector/test","type":"\#(type)","datacontenttype":"application/json","data":{"connection":"acme"}}"#.utf8)
        }
        let fake = FakeRuntimeAPI([
            .init(id: "req-done", deadline: deadline, body: ce("e-1", "com.mlconnector.orders.drain")),
            .init(id: "req-retry", deadline: deadline, body: ce("e-2", "test.retry")),
            .init(id: "req-reject", deadline: deadline, body: ce("e-3", "test.reject")),
            .init(id: "req-junk", deadline: deadline, body: Array(#"{"hello":"world"}"#.utf8)),
        ])
        let handler = ScriptedHandler()
        let (logger, logs) = TestLogging.logger()
        let answersBefore = Mutex<[Int]>([])
        let answered = try await Self.run(fake, handler, count: 4, beforeAnswer: {
            let count = fake.answers.withLock { $0.count }
            answersBefore.withLock { $0.append(count) }
        }, logger: logger)
        #expect(answered == 4)
        #expect(answersBefore.withLock { $0 } == [0, 1, 2, 3], "the hook runs before each answer is posted")
        #expect(fake.nextCalls.withLock { $0 } == 4, "the loop stops after its bound without asking again")

        let done = try #require(fake.answer("req-done"))
        #expect(done.kind == "response")
        #expect(done.json?["outcome"] as? String == "done")
        #expect((done.json?["response"] as? [String: Any])?["handled"] as? String == "e-1")

        let retry = try #require(fake.answer("req-retry"))
        #expect(retry.kind == "error")
        #expect(retry.errorType == "Connector.Retry")
        #expect(retry.json?["errorType"] as? String == "Connector.Retry")
        #expect((retry.json?["errorMessage"] as? String)?.contains("store is unavailable") == true)

        let reject = try #require(fake.answer("req-reject"))
        #expect(reject.kind == "response", "a rejection must not burn the async retries")
        #expect(reject.json?["outcome"] as? String == "reject")
        #expect(reject.json?["status"] as? Int == 422)
        #expect(logs.lines.contains { $0.contains("\"lambda.rejected\"") && $0.contains("\"error\"") && $0.contains("req-reject") })

        let junk = try #require(fake.answer("req-junk"))
        #expect(junk.kind == "response")
        #expect((junk.json?["reason"] as? String)?.contains("structured CloudEvent") == true)

        let seen = handler.seen.withLock { $0 }
        #expect(seen.map(\.invocationID) == ["req-done", "req-retry", "req-reject"])
        #expect(seen.allSatisfy { $0.deadline == deadline })
        #expect(seen.first?.event?.type == "com.mlconnector.orders.drain")
        #expect(seen.first?.event?.data == Array(#"{"connection":"acme"}"#.utf8))
        // The handler's own log line carries the request id and the trace id.
        let handled = try #require(logs.lines.first { $0.contains("scripted.handled") })
        #expect(handled.contains("req-done") && handled.contains("Root=1-00000000"))
    }

    @Test("a WooCommerce delivery in a Function URL event with a base64 body verifies, is handed on, and is answered in the HTTP shape")
    func webhookWithBase64Body() async throws {
        let store = MemoryStore()
        let key = MasterKey.generate()
        try await ConnectionRepository(store: store).add(try TestConnections.make(id: "shop", webhookSecret: Samples.captureWebhookSecret, baseURL: Samples.captureStoreURL), key: key)
        let receiver = WebhookReceiverFunction(store: store, masterKey: key, settings: IntakeSettings(maxBodyBytes: 2 * 1024 * 1024))
        let delivery = try Samples.realDelivery("19")
        #expect(delivery.signed)
        var tampered = delivery.body
        tampered[tampered.count / 2] ^= 0x01
        let headers = delivery.lowercasedHeaders.filter { !["host", "content-length", "connection"].contains($0.key) }
        let fake = FakeRuntimeAPI([
            .init(id: "hook-1", deadline: Date().addingTimeInterval(600), body: httpAPIEvent(path: "/webhooks/woocommerce/shop", headers: headers, body: delivery.body, base64: true)),
            .init(id: "hook-2", deadline: Date().addingTimeInterval(600), body: httpAPIEvent(path: "/webhooks/woocommerce/shop", headers: headers, body: tampered, base64: true)),
            .init(id: "hook-3", deadline: nil, body: httpAPIEvent(path: "/webhooks/woocommerce/shop", headers: headers, body: delivery.body, base64: false)),
        ])
        let (logger, _) = TestLogging.logger()
        #expect(try await Self.run(fake, receiver, count: 3, logger: logger) == 3)

        func http(_ id: String) throws -> (status: Int, body: String, headers: [String: String]) {
            let answer = try #require(fake.answer(id))
            #expect(answer.kind == "response", "HTTP events are always answered through /response")
            let json = try #require(answer.json)
            #expect(json["isBase64Encoded"] as? Bool == false)
            return (json["statusCode"] as? Int ?? -1, json["body"] as? String ?? "", json["headers"] as? [String: String] ?? [:])
        }
        let first = try http("hook-1")
        #expect(first.status == 200)
        #expect(first.body.contains("handedOff"), "\(first.body)")
        #expect(first.headers["content-type"] == "application/json")
        #expect(try await http("hook-2").status == 401, "one flipped bit and the signature no longer verifies")
        let plain = try http("hook-3")
        #expect(plain.status == 200)
        #expect(plain.body.contains("duplicate"), "the same bytes sent as a plain body are the same delivery")
        let pending = try await store.listAll(prefix: Keyspace.pending("shop")).map(\.key)
        #expect(pending.count == 1)
        #expect(pending.first?.contains("/order/") == true)
    }

    @Test("a CloudEvent posted to a Function URL (a K_SINK wake-up) reaches handle(event:), answered in the HTTP shape; a batch is refused with 415")
    func cloudEventOverFunctionURL() async throws {
        let wakeUp = CloudEvent(id: "w-1", source: "/ml-connector/webhook-receiver/acme", type: "com.mlconnector.order.changed",
                                data: Array(#"{"connection":"acme","orderId":1042}"#.utf8))
        let fake = FakeRuntimeAPI([
            .init(id: "ce-1", deadline: nil, body: httpAPIEvent(path: "/", headers: ["content-type": "application/cloudevents+json"], body: CloudEventCodec.encodeStructured(wakeUp), base64: false)),
            .init(id: "ce-2", deadline: nil, body: httpAPIEvent(path: "/", headers: ["content-type": "application/cloudevents-batch+json"], body: Array("[]".utf8), base64: false)),
        ])
        let handler = ScriptedHandler()
        let (logger, _) = TestLogging.logger()
        #expect(try await Self.run(fake, handler, count: 2, logger: logger) == 2)
        #expect(handler.seen.withLock { $0 }.map(\.event) == [wakeUp])
        #expect(fake.answer("ce-1")?.json?["statusCode"] as? Int == 200)
        #expect(fake.answer("ce-2")?.json?["statusCode"] as? Int == 415)
    }

    @Test("past the invocation deadline the handler is cut and the invocation answered through /error")
    func deadlineBoundsTheHandler() async throws {
        let deadline = Date().addingTimeInterval(300)
        let fake = FakeRuntimeAPI([
            .init(id: "slow", deadline: deadline, body: Array(#"{"specversion":"1.0","id":"h","source":"/t","type":"test.hang"}"#.utf8)),
        ])
        let handler = ScriptedHandler()
        let sleeper = RecordingSleeper()  // the deadline "passes" at once
        let (logger, logs) = TestLogging.logger()
        let settings = try Self.settings(["MLC_DEADLINE_MARGIN_MS": "2500"])
        #expect(try await Self.run(fake, handler, count: 1, settings: settings, sleeper: sleeper, logger: logger) == 1)
        let answer = try #require(fake.answer("slow"))
        #expect(answer.kind == "error")
        #expect(answer.errorType == "Connector.DeadlineExceeded")
        #expect(handler.cancelled.withLock { $0 } == 1, "the cut work saw the cancellation and finished before the next invocation")
        let waited = try #require(sleeper.recorded.first)
        // The budget is the deadline minus the margin, less however long a loaded machine took
        // to get the invocation to the handler (never more, and not minutes less).
        #expect(waited <= 300 - 2.5 + 0.5 && waited > 300 - 2.5 - 60, "the budget is the deadline minus the margin (\(waited))")
        #expect(logs.lines.contains { $0.contains("lambda.deadline") })
        #expect(logs.lines.contains { $0.contains("lambda.cut_finished") })
    }

    @Test("a start-up failure is reported to /runtime/init/error")
    func initError() async throws {
        let fake = FakeRuntimeAPI([])
        try await fake.serving { port in
            await LambdaMode.reportInitError(environment: ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)"],
                                             error: ConnectorError.invalidConfiguration("MLC_MASTER_KEY is missing", fix: "set it"))
            // Not in lambda mode: nothing is sent.
            await LambdaMode.reportInitError(environment: ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:\(port)", "MLC_MODE": "http"], error: ConnectorError.invalidConfiguration("x"))
        }
        let answers = fake.answers.withLock { $0 }
        #expect(answers.count == 1)
        #expect(answers.first?.kind == "init")
        #expect(answers.first?.errorType == "Connector.StartupFailed")
        #expect((answers.first?.json?["errorMessage"] as? String)?.contains("MLC_MASTER_KEY is missing") == true)
    }

    @Test("event shapes: HTTP payload 2.0 (cookies, query), REST payload 1.0 refused, EventBridge scheduled and custom events")
    func classification() throws {
        let tick = try RuntimeSettings(environment: ["MLC_SCHEDULE_DATA": #"{"connection":"acme"}"#]).scheduleTick
        var object = try #require(try JSONSerialization.jsonObject(with: Data(httpAPIEvent(path: "/events/dynamics/acme", query: "code=abc&x=1", headers: ["X-Custom": "v"], body: Array("{}".utf8), base64: false))) as? [String: Any])
        object["cookies"] = ["a=1", "b=2"]
        guard case .http(let request) = LambdaMode.classify(Array(try JSONSerialization.data(withJSONObject: object))) else {
            Issue.record("not an HTTP event")
            return
        }
        #expect(request.path == "/events/dynamics/acme")
        #expect(request.query == ["code": "abc", "x": "1"])
        #expect(request.headers["x-custom"] == "v")
        #expect(request.headers["cookie"] == "a=1; b=2")

        let v1 = Array(#"{"resource":"/","path":"/","httpMethod":"POST","headers":{},"requestContext":{"stage":"prod"},"body":"{}","isBase64Encoded":false}"#.utf8)
        guard case .unsupportedHTTP(let why) = LambdaMode.classify(v1) else {
            Issue.record("payload 1.0 must be refused")
            return
        }
        #expect(why.contains("payload format 2.0"))

        let scheduled = Array(#"{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events","account":"1","time":"2026-03-01T10:05:00Z","region":"eu-west-1","resources":["arn:aws:events:eu-west-1:1:rule/backfill"],"detail":{}}"#.utf8)
        guard case .cloudEvent(let ping) = LambdaMode.classify(scheduled, tick: tick) else {
            Issue.record("a scheduled event is a CloudEvent")
            return
        }
        #expect(ping.type == "dev.knative.sources.ping")
        #expect(ping.id == "arn:aws:events:eu-west-1:1:rule/backfill@2026-03-01T10:05:00Z")
        #expect(ping.data == Array(#"{"connection":"acme"}"#.utf8))

        let custom = Array(#"{"id":"9","detail-type":"com.mlconnector.orders.drain","source":"partner","time":"2026-03-01T10:05:00Z","detail":{"connection":"acme"}}"#.utf8)
        guard case .cloudEvent(let drain) = LambdaMode.classify(custom) else {
            Issue.record("a custom EventBridge event is a CloudEvent")
            return
        }
        #expect(drain.type == "com.mlconnector.orders.drain")
        #expect(drain.data == Array(#"{"connection":"acme"}"#.utf8))

        guard case .invalid = LambdaMode.classify(Array("[1,2]".utf8)) else {
            Issue.record("a JSON array is no event")
            return
        }
    }

    @Test("settings: the deadline margin and schedule data are checked at start-up")
    func settingsAreChecked() {
        #expect(throws: ConnectorError.invalidConfiguration) { try RuntimeSettings(environment: ["MLC_DEADLINE_MARGIN_MS": "-1"]) }
        #expect(throws: ConnectorError.invalidConfiguration) { try RuntimeSettings(environment: ["MLC_SCHEDULE_DATA": "acme"]) }
        #expect(throws: ConnectorError.invalidConfiguration) { try RuntimeSettings(environment: ["MLC_SCHEDULE_EVENT_TYPE_CATALOG": "two words"]) }
        let tick = (try? RuntimeSettings(environment: ["MLC_SCHEDULE_DATA_CATALOG_ACME": #"{"connection":"acme"}"#]))?.scheduleTick
        #expect(tick?.resolve(function: "catalog-acme").data == Array(#"{"connection":"acme"}"#.utf8))
        #expect(tick?.resolve(function: "backfill-poll").data == Array("{}".utf8))
        #expect(tick?.resolve(function: "backfill-poll").type == "dev.knative.sources.ping")
    }

    @Test("the webhook-receiver binary in lambda mode answers an invocation, reports a start-up failure to /runtime/init/error")
    func binaryInLambdaMode() async throws {
        let receiver = try PackagePaths.executable("webhook-receiver")
        let mlc = try PackagePaths.executable("mlc")
        let events = PackagePaths.root.appendingPathComponent("functions/webhook-receiver/events")
        let env = ["MLC_STORE_URL": "sqlite:" + TemporaryDirectory.make().appendingPathComponent("state.sqlite").path,
                   "MLC_MASTER_KEY_FILE": events.appendingPathComponent("local-test-master-key").path]
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", events.appendingPathComponent("local-test-connection.json").path], environment: env)
        #expect(add.status == 0, "\(add.stderr)")
        let delivery = try Samples.realDelivery("05")
        let headers = delivery.lowercasedHeaders.filter { !["host", "content-length", "connection"].contains($0.key) }
        let fake = FakeRuntimeAPI([.init(id: "bin-1", deadline: Date().addingTimeInterval(600),
                                         body: httpAPIEvent(path: "/webhooks/woocommerce/local", headers: headers, body: delivery.body, base64: true))])
        let result = try await fake.serving { port in
            var lambdaEnv = env
            lambdaEnv["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:\(port)"
            lambdaEnv["MLC_ALLOW_LOCAL_STORE"] = "1"
            // After the one queued invocation the fake answers `next` with 500: the runtime exits 1
            // (Lambda would restart the environment).
            let served = try await ProcessRunner.run(receiver, [], environment: lambdaEnv, timeout: 60)
            var refused = env
            refused["AWS_LAMBDA_RUNTIME_API"] = "127.0.0.1:\(port)"  // a local store on Lambda: refused at start-up
            let startup = try await ProcessRunner.run(receiver, [], environment: refused, timeout: 60)
            return (served, startup)
        }
        #expect(result.0.status == 1, "\(result.0.stdout)")
        let answer = try #require(fake.answer("bin-1"))
        #expect(answer.json?["statusCode"] as? Int == 200, "\(String(decoding: answer.body, as: UTF8.self))")
        #expect((answer.json?["body"] as? String)?.contains("handedOff") == true)
        #expect(result.0.stdout.contains("\"mode\":\"lambda\""), "logs go to stdout as JSON lines")
        #expect(result.1.status == 78)
        let initError = try #require(fake.answers.withLock { $0 }.first { $0.kind == "init" })
        #expect((initError.json?["errorMessage"] as? String)?.contains("MLC_ALLOW_LOCAL_STORE") == true)
    }
}
