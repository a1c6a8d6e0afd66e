import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRuntime
import ConnectorSamples
import ConnectorStore
import ConnectorTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

/// The tests play the Azure Functions host: the readiness ping, invocation envelopes
/// (`POST /{functionName}` with `Data`/`Metadata`), and forwarded HTTP requests.
@Suite("azure mode")
struct AzureAdapterTests {
    struct Answer {
        var status: Int
        var text: String
        var headers: HTTPHeaders
        var json: [String: Any]? { try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] }
    }

    static func serve<T: Sendable>(_ handler: any FunctionHandler, environment: [String: String] = [:], ready: @escaping @Sendable () async -> Bool = { true },
                                   _ body: @Sendable (String) async throws -> T) async throws -> T {
        let settings = try RuntimeSettings(environment: ["MLC_STORE_URL": "memory:"].merging(environment) { $1 })
        let (logger, _) = TestLogging.logger()
        return try await AzureMode(function: "test", handler: handler, settings: settings, port: 0, logger: logger, ready: ready).withRunningServer { port in
            try await body("http://127.0.0.1:\(port)")
        }
    }

    static func send(_ url: String, method: HTTPMethod = .POST, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if !body.isEmpty { request.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        var buffer = try await response.body.collect(upTo: 1 << 20)
        return Answer(status: Int(response.status.code), text: buffer.readString(length: buffer.readableBytes) ?? "", headers: response.headers)
    }

    /// The host's invocation request for a timer (runtimes.md §5.5).
    static func timerInvocation(_ function: String, utcNow: String = "2026-03-01T10:05:00.01Z", pastDue: Bool = false) -> [UInt8] {
        Array("""
            {"Data":{"tick":{"Schedule":{},"ScheduleStatus":{"Last":"2026-03-01T09:05:00+00:00","Next":"2026-03-01T11:05:00+00:00","LastUpdated":"2026-03-01T09:05:00+00:00"},"IsPastDue":\(pastDue)}},
             "Metadata":{"sys":{"MethodName":"\(function)","UtcNow":"\(utcNow)","RandGuid":"0f6e3b0e-7d4c-4c38-9a55-3f7c2d1e9b10"}}}
            """.utf8)
    }

    static let hostHeaders = [("X-Azure-Functions-HostVersion", "4.1036.1.23224"), ("User-Agent", "Azure-Functions-Host/4.1036.1.23224"), ("Content-Type", "application/json")]

    @Test("the readiness GET answers at once; a timer invocation reaches the handler as the schedule's CloudEvent")
    func readinessAndTimer() async throws {
        let handler = ScriptedHandler()
        let environment = ["MLC_SCHEDULE_DATA_BACKFILL_POLL": #"{"connection":"acme"}"#,
                           "MLC_SCHEDULE_EVENT_TYPE_FAILING": "test.retry", "MLC_SCHEDULE_EVENT_TYPE_STRICT": "test.reject"]
        let (ready, timer, failing, strict) = try await Self.serve(handler, environment: environment, ready: { false }) { base in
            let ready = try await Self.send(base + "/", method: .GET)
            let timer = try await Self.send(base + "/backfill-poll", headers: Self.hostHeaders + [("X-Azure-Functions-InvocationId", "inv-1")], body: Self.timerInvocation("backfill-poll", pastDue: true))
            let failing = try await Self.send(base + "/failing", headers: Self.hostHeaders + [("X-Azure-Functions-InvocationId", "inv-2")], body: Self.timerInvocation("failing"))
            let strict = try await Self.send(base + "/strict", headers: Self.hostHeaders + [("X-Azure-Functions-InvocationId", "inv-3")], body: Self.timerInvocation("strict"))
            return (ready, timer, failing, strict)
        }
        #expect(ready.status == 200, "the ping does no store I/O: it answers even when the store is down")

        #expect(timer.status == 200)
        let json = try #require(timer.json)
        #expect((json["Outputs"] as? [String: Any])?.isEmpty == true)
        #expect((json["Logs"] as? [String])?.first?.contains("done") == true)
        #expect((json["ReturnValue"] as? [String: Any])?["handled"] as? String == "backfill-poll@2026-03-01T10:05:00.01Z")
        let seen = handler.seen.withLock { $0 }
        let event = try #require(seen.first?.event)
        #expect(seen.first?.invocationID == "inv-1")
        #expect(event.type == "dev.knative.sources.ping")
        #expect(event.time == "2026-03-01T10:05:00.01Z")
        #expect(event.data == Array(#"{"connection":"acme"}"#.utf8), "the function's own schedule data")
        #expect(event.extensions["pastdue"] == "true")

        #expect(failing.status == 500, "retry fails the invocation")
        #expect((failing.json?["Logs"] as? [String])?.first?.contains("store is unavailable") == true)
        #expect(strict.status == 200, "a rejection is answered (retrying cannot help)")
        #expect((strict.json?["Logs"] as? [String])?.first?.contains("reject (422)") == true)
        #expect(seen.map { $0.event?.type } == ["dev.knative.sources.ping", "test.retry", "test.reject"])
    }

    @Test("a forwarded WooCommerce delivery verifies over its exact bytes and is handed on")
    func forwardedWebhook() async throws {
        let store = MemoryStore()
        let key = MasterKey.generate()
        try await ConnectionRepository(store: store).add(try TestConnections.make(id: "shop", webhookSecret: Samples.captureWebhookSecret, baseURL: Samples.captureStoreURL), key: key)
        let receiver = WebhookReceiverFunction(store: store, masterKey: key, settings: IntakeSettings(maxBodyBytes: 2 * 1024 * 1024))
        let delivery = try Samples.realDelivery("19")
        let headers = delivery.headers.filter { !["host", "content-length", "connection"].contains($0.name.lowercased()) }.map { ($0.name, $0.value) }
            + [("X-Azure-Functions-InvocationId", "inv-hook"), ("X-Forwarded-For", "203.0.113.9")]
        var flipped = delivery.body
        flipped[flipped.count / 3] ^= 0x01
        let tampered = flipped
        let (first, forged, again, unknown) = try await Self.serve(receiver) { base in
            // The default route prefix `/api` is removed; host.json sets it to "" anyway.
            let first = try await Self.send(base + "/api/webhooks/woocommerce/shop", headers: headers, body: delivery.body)
            let forged = try await Self.send(base + "/webhooks/woocommerce/shop", headers: headers, body: tampered)
            let again = try await Self.send(base + "/webhooks/woocommerce/shop", headers: headers, body: delivery.body)
            let unknown = try await Self.send(base + "/webhooks/woocommerce/nobody", headers: headers, body: delivery.body)
            return (first, forged, again, unknown)
        }
        #expect(first.status == 200)
        #expect(first.text.contains("handedOff"), "\(first.text)")
        #expect(forged.status == 401)
        #expect(again.status == 200 && again.text.contains("duplicate"))
        #expect(unknown.status == 404)
        let pending = try await store.listAll(prefix: Keyspace.pending("shop")).map(\.key)
        #expect(pending.count == 1 && pending.first?.contains("/order/") == true)
    }

    @Test("other envelopes: a queue message holding a CloudEvent, an un-forwarded HTTP trigger, a forwarded CloudEvent, and nonsense")
    func otherEnvelopes() async throws {
        let handler = ScriptedHandler()
        let cloudEvent = #"{"specversion":"1.0","id":"q-1","source":"/ml-connector/webhook-receiver/acme","type":"com.mlconnector.order.changed","datacontenttype":"application/json","data":{"connection":"acme","orderId":1042}}"#
        let queue = Array(try JSONSerialization.data(withJSONObject: ["Data": ["message": cloudEvent], "Metadata": ["DequeueCount": "1"]]))
        let httpEnvelope = Array(try JSONSerialization.data(withJSONObject: [
            "Data": ["req": ["Url": "https://shop-connector.azurewebsites.net/api/events/dynamics/acme?code=s3cret", "Method": "POST",
                             "Query": ["code": "s3cret"], "Headers": ["Content-Type": ["application/json"], "X-Test": ["a", "b"]],
                             "Params": ["connection": "acme"], "Body": #"{"BusinessEventId":"SalesInvoicePostedBusinessEvent"}"#]],
            "Metadata": ["sys": ["MethodName": "webhook-receiver"]],
        ]))
        let nonsense = Array(#"{"Data":{"blob":{"Name":"x"}},"Metadata":{}}"#.utf8)
        let (fromQueue, fromHTTP, forwardedEvent, rejected) = try await Self.serve(handler) { base in
            let q = try await Self.send(base + "/order-poster", headers: Self.hostHeaders, body: queue)
            let h = try await Self.send(base + "/webhook-receiver", headers: Self.hostHeaders, body: httpEnvelope)
            let f = try await Self.send(base + "/events/order-poster", headers: [("Content-Type", "application/cloudevents+json")], body: Array(cloudEvent.utf8))
            let n = try await Self.send(base + "/blobby", headers: Self.hostHeaders, body: nonsense)
            return (q, h, f, n)
        }
        #expect(fromQueue.status == 200)
        #expect(forwardedEvent.status == 200)
        #expect(fromHTTP.status == 200)
        let res = try #require((fromHTTP.json?["Outputs"] as? [String: Any])?["res"] as? [String: Any])
        #expect(res["statusCode"] as? String == "200")
        #expect((res["body"] as? String)?.contains("/events/dynamics/acme") == true)
        #expect(rejected.status == 200)
        #expect((rejected.json?["Logs"] as? [String])?.first?.contains("no timer, HTTP request or CloudEvent") == true)

        let seen = handler.seen.withLock { $0 }
        #expect(seen.count == 3)
        #expect(seen[0].event?.id == "q-1" && seen[0].event?.data == Array(#"{"connection":"acme","orderId":1042}"#.utf8))
        let request = try #require(seen[1].request)
        #expect(request.path == "/events/dynamics/acme")
        #expect(request.query["code"] == "s3cret")
        #expect(request.headers["x-test"] == "a, b")
        #expect(request.body == Array(#"{"BusinessEventId":"SalesInvoicePostedBusinessEvent"}"#.utf8))
        #expect(seen[2].event == seen[0].event, "the forwarded CloudEvent and the queued one are the same event")
    }

    @Test("the webhook-receiver binary detects azure from FUNCTIONS_CUSTOMHANDLER_PORT, serves the host, drains on SIGTERM")
    func binaryInAzureMode() async throws {
        let receiver = try PackagePaths.executable("webhook-receiver")
        let mlc = try PackagePaths.executable("mlc")
        let events = PackagePaths.root.appendingPathComponent("functions/webhook-receiver/events")
        let env = ["MLC_STORE_URL": "sqlite:" + TemporaryDirectory.make().appendingPathComponent("state.sqlite").path,
                   "MLC_MASTER_KEY_FILE": events.appendingPathComponent("local-test-master-key").path]
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", events.appendingPathComponent("local-test-connection.json").path], environment: env)
        #expect(add.status == 0, "\(add.stderr)")
        var azure = env
        azure["FUNCTIONS_CUSTOMHANDLER_PORT"] = "0"
        azure["MLC_ALLOW_LOCAL_STORE"] = "1"
        let server = try ProcessRunner.start(receiver, [], environment: azure)
        defer { if server.process.isRunning { server.signal(SIGKILL) } }
        #expect(await server.waitForOutput { $0.contains("azure.listening") })
        let port = try #require(server.stdoutSoFar.split(separator: "\n").compactMap { line -> Int? in
            guard line.contains("azure.listening"), let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (obj["port"] as? String).flatMap(Int.init)
        }.first)
        let base = "http://127.0.0.1:\(port)"
        #expect(try await Self.send(base + "/", method: .GET).status == 200)
        let delivery = try Samples.realDelivery("05")
        let headers = delivery.headers.filter { !["host", "content-length", "connection"].contains($0.name.lowercased()) }.map { ($0.name, $0.value) }
        let answer = try await Self.send(base + "/webhooks/woocommerce/local", headers: headers, body: delivery.body)
        #expect(answer.status == 200)
        #expect(answer.text.contains("handedOff"), "\(answer.text)")
        server.signal(SIGTERM)
        let exit = try await server.wait(timeout: 30)
        #expect(exit.status == 0)
        #expect(exit.stdout.contains("\"mode\":\"azure\""))
        #expect(exit.stdout.contains("azure.stopped"))
    }

    /// A route template of function.json (`{name}` or `{name:alpha}` segments) against a path.
    static func routeMatches(_ template: String, _ path: String) -> Bool {
        let parts = template.split(separator: "/")
        let segments = path.split(separator: "/")
        guard parts.count == segments.count else { return false }
        return zip(parts, segments).allSatisfy { part, segment in
            guard part.hasPrefix("{") else { return part == segment }
            return part.hasSuffix(":alpha}") ? segment.allSatisfy(\.isLetter) : !segment.isEmpty
        }
    }

    @Test("functions/azure: forwarding on, no route prefix, the receiver's route serves both paths, timers on the SPEC's schedules with seconds")
    func functionFiles() throws {
        let root = PackagePaths.root.appendingPathComponent("functions/azure")
        func json(_ path: String) throws -> [String: Any] {
            try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: root.appendingPathComponent(path))) as? [String: Any], "\(path)")
        }
        let host = try json("host.json")
        let custom = try #require(host["customHandler"] as? [String: Any])
        #expect(custom["enableForwardingHttpRequest"] as? Bool == true)
        #expect(custom["enableProxyingHttpRequest"] as? Bool == true)
        #expect((custom["description"] as? [String: Any])?["defaultExecutablePath"] as? String == "handler")
        #expect(((host["extensions"] as? [String: Any])?["http"] as? [String: Any])?["routePrefix"] as? String == "")

        func bindings(_ function: String) throws -> [[String: Any]] {
            try #require(try json("\(function)/function.json")["bindings"] as? [[String: Any]])
        }
        let receiver = try bindings("webhook-receiver")
        let trigger = try #require(receiver.first { $0["type"] as? String == "httpTrigger" })
        let route = try #require(trigger["route"] as? String)
        #expect(Self.routeMatches(route, "/webhooks/woocommerce/acme"))
        #expect(Self.routeMatches(route, "/events/dynamics/acme"))
        #expect(!Self.routeMatches(route, "/webhooks/woocommerce"))
        #expect(trigger["authLevel"] as? String == "anonymous", "the connector authenticates; a Functions key would clash with F&O's ?code=")
        #expect(receiver.contains { $0["type"] as? String == "http" && $0["direction"] as? String == "out" }, "forwarding needs an http output binding")

        let poster = try bindings("order-poster")
        #expect(poster.contains { $0["type"] as? String == "httpTrigger" && $0["route"] as? String == "events/order-poster" })

        let defaults = try TestConnections.make(id: "x", webhookSecret: "s").schedules
        for (function, fiveFields) in [("backfill-poll", defaults.backfill), ("catalog-push", defaults.catalog)] {
            let timer = try #require(try bindings(function).first { $0["type"] as? String == "timerTrigger" })
            let schedule = try #require(timer["schedule"] as? String)
            #expect(schedule.split(separator: " ").count == 6, "NCRONTAB has a seconds field")
            #expect(schedule == "0 " + fiveFields, "\(function): the connection default \(fiveFields) at second 0")
            #expect(timer["runOnStartup"] as? Bool == false)
        }
    }

    @Test("asked for lambda or azure mode without the platform's variable, a binary stops at start with a clear message")
    func modeWithoutPlatform() async throws {
        let receiver = try PackagePaths.executable("webhook-receiver")
        let env = ["MLC_STORE_URL": "memory:", "MLC_MASTER_KEY": Data(repeating: 1, count: 32).base64EncodedString()]
        let lambda = try await ProcessRunner.run(receiver, [], environment: env.merging(["MLC_MODE": "lambda"]) { $1 })
        #expect(lambda.status == 78)
        #expect(lambda.stdout.contains("AWS_LAMBDA_RUNTIME_API"))
        let azure = try await ProcessRunner.run(receiver, [], environment: env.merging(["MLC_MODE": "azure"]) { $1 })
        #expect(azure.status == 78)
        #expect(azure.stdout.contains("FUNCTIONS_CUSTOMHANDLER_PORT"))
    }
}
