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
import Testing
import WooCommerceAPI

@Suite("webhook-receiver end to end", .serialized)
struct EndToEndTests {
    static func post(_ url: String, _ delivery: CapturedDelivery, body: [UInt8]? = nil) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in delivery.headers where !["host", "content-length", "connection"].contains(name.lowercased()) {
            request.headers.add(name: name, value: value)
        }
        request.body = .bytes(body ?? delivery.body)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        _ = try await response.body.collect(upTo: 1 << 16)
        return Int(response.status.code)
    }

    @Test("50 concurrent identical deliveries over real HTTP leave one pending entry (SQLite store)")
    func concurrentDuplicatesOverHTTP() async throws {
        let h = try await Harness(backend: .sqlite)
        var settings = try RuntimeSettings(environment: ["MLC_HOST": "127.0.0.1", "PORT": "0"])
        settings.port = 0
        let delivery = try Samples.realDelivery("19")
        let statuses = try await HTTPMode(function: "webhook-receiver", handler: h.function, settings: settings, logger: h.logger).withRunningServer { port in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<50 { group.addTask { try await Self.post("http://127.0.0.1:\(port)/webhooks/woocommerce/shop", delivery) } }
                return try await group.reduce(into: [Int]()) { $0.append($1) }
            }
        }
        #expect(statuses.count == 50)
        #expect(statuses.allSatisfy { $0 == 200 })
        #expect(try await h.pendingOrders.count == 1)
        #expect(try await h.deliveries.count == 1)
    }

    /// The documented steps of functions/webhook-receiver/README.md, run as a user runs them.
    @Test("every event file in functions/webhook-receiver/events works in once mode on a fresh store")
    func onceModeOnTheShippedEvents() async throws {
        let receiver = try PackagePaths.executable("webhook-receiver")
        let mlc = try PackagePaths.executable("mlc")
        let events = PackagePaths.root.appendingPathComponent("functions/webhook-receiver/events")
        let env = ["MLC_STORE_URL": "sqlite:" + TemporaryDirectory.make().appendingPathComponent("state.sqlite").path,
                   "MLC_MASTER_KEY_FILE": events.appendingPathComponent("local-test-master-key").path]
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", events.appendingPathComponent("local-test-connection.json").path], environment: env)
        #expect(add.status == 0, "\(add.stderr)")
        let files = try FileManager.default.contentsOfDirectory(atPath: events.path).filter { $0.hasSuffix(".json") && $0 != "local-test-connection.json" }.sorted()
        #expect(files.count == 26)
        for file in files {
            let r = try await ProcessRunner.run(receiver, ["--event-file", events.appendingPathComponent(file).path], environment: env)
            let expected: Int32 = file.hasPrefix("forged") || file.hasPrefix("wrong-source") ? 65 : 0
            #expect(r.status == expected, "\(file): exit \(r.status) \(r.stdout) \(r.stderr)")
            let lines = r.stdout.split(separator: "\n")
            #expect(lines.count == 1, "\(file): stdout must be exactly the result line")
            let result = try JSONSerialization.jsonObject(with: Data((lines.first ?? "").utf8)) as? [String: Any]
            #expect(result?["function"] as? String == "webhook-receiver")
            #expect(r.stderr.split(separator: "\n").allSatisfy { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) != nil }, "logs are JSON lines on stderr")
        }
        // Replaying one is a duplicate, still exit 0.
        let again = try await ProcessRunner.run(receiver, ["--event-file", events.appendingPathComponent("05-order-updated-set-paid.json").path], environment: env)
        #expect(again.status == 0)
        #expect(again.stdout.contains("duplicate"))
        // Without the connection's master key the delivery cannot be verified: retry (75), one clear log line.
        var wrongKey = env
        wrongKey["MLC_MASTER_KEY_FILE"] = nil
        wrongKey["MLC_MASTER_KEY"] = Data(repeating: 9, count: 32).base64EncodedString()
        let locked = try await ProcessRunner.run(receiver, ["--event-file", events.appendingPathComponent("19-order-updated-coupon-tax-shipping-fee-paid.json").path], environment: wrongKey)
        #expect(locked.status == 75)
        #expect(locked.stderr.contains("MLC_MASTER_KEY"))
        // A scaled platform refuses the local store at start-up.
        var scaled = env
        scaled["K_SERVICE"] = "webhook-receiver"
        let refused = try await ProcessRunner.run(receiver, ["--event-file", events.appendingPathComponent("05-order-updated-set-paid.json").path], environment: scaled)
        #expect(refused.status == 78)
        #expect(refused.stderr.contains("MLC_ALLOW_LOCAL_STORE"))
    }

    @Test("a request in flight when SIGTERM arrives completes")
    func gracefulDrain() async throws {
        let receiver = try PackagePaths.executable("webhook-receiver")
        let mlc = try PackagePaths.executable("mlc")
        let key = Data(repeating: 3, count: 32).base64EncodedString()
        let store = "sqlite:" + TemporaryDirectory.make().appendingPathComponent("state.sqlite").path
        let connectionFile = TemporaryDirectory.make().appendingPathComponent("c.json")
        try Data("""
            {"schemaVersion":1,"id":"shop","woocommerce":{"baseURL":"\(Samples.captureStoreURL)","consumerKey":"ck","consumerSecret":"cs","webhookSecret":"\(Samples.captureWebhookSecret)"},
             "dynamics":{"environmentURL":"https://x.operations.dynamics.com","tenantId":"t","clientId":"c","clientSecret":"s","legalEntity":"usmf"}}
            """.utf8).write(to: connectionFile)
        let env = ["MLC_STORE_URL": store, "MLC_MASTER_KEY": key]
        let added = try await ProcessRunner.run(mlc, ["connection", "add", "--file", connectionFile.path], environment: env)
        #expect(added.status == 0)
        var serverEnv = env
        serverEnv["MLC_MODE"] = "http"
        serverEnv["PORT"] = "0"
        serverEnv["MLC_HOST"] = "127.0.0.1"
        serverEnv["MLC_LOG_LEVEL"] = "debug"
        let server = try ProcessRunner.start(receiver, [], environment: serverEnv)
        defer { if server.process.isRunning { server.signal(SIGKILL) } }
        #expect(await server.waitForOutput { $0.contains("http.listening") })
        let port = try #require(server.stdoutSoFar.split(separator: "\n").compactMap { line -> Int? in
            guard line.contains("http.listening"), let obj = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return (obj["port"] as? String).flatMap(Int.init)
        }.first)

        // Send the head and half the body, then SIGTERM, then the rest.
        let delivery = try Samples.realDelivery("19")
        let half = delivery.body.count / 2
        let (chunks, feed) = AsyncStream<ByteBuffer>.makeStream()
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/webhooks/woocommerce/shop")
        request.method = .POST
        for (name, value) in delivery.headers where !["host", "content-length", "connection"].contains(name.lowercased()) {
            request.headers.add(name: name, value: value)
        }
        request.body = .stream(chunks, length: .known(Int64(delivery.body.count)))
        async let response = HTTPClient.shared.execute(request, timeout: .seconds(30))
        feed.yield(ByteBuffer(bytes: delivery.body[..<half]))
        #expect(await server.waitForOutput { $0.contains("http.request.begin") }, "the request reached the handler")
        server.signal(SIGTERM)
        #expect(await server.waitForOutput { $0.contains("http.draining") }, "graceful shutdown began")
        feed.yield(ByteBuffer(bytes: delivery.body[half...]))
        feed.finish()
        let answer = try await response
        #expect(answer.status.code == 200)
        var body = try await answer.body.collect(upTo: 1 << 16)
        #expect(body.readString(length: body.readableBytes)?.contains("handedOff") == true)
        let exit = try await server.wait(timeout: 30)
        #expect(exit.status == 0)
        #expect(exit.stdout.contains("http.stopped"))
    }

    @Test("no secret appears in any log line the suite produces")
    func noSecretInLogs() async throws {
        // Exercise every path that logs, with secrets of every kind in play…
        let h = try await Harness(backend: .sqlite)
        let other = try await ConnectionRepository(store: h.store).load("other", key: h.key)
        for delivery in try Samples.realDeliveries() { _ = await h.deliver(delivery) }
        let forged = try Samples.realDelivery("05")
        _ = await h.deliver(forged, to: "other")
        _ = await h.deliver(forged, body: Array("garbage".utf8))
        let wrongKeyFunction = WebhookReceiverFunction(store: h.store, masterKey: MasterKey.generate(), settings: IntakeSettings())
        _ = await wrongKeyFunction.handle(request: HTTPRequestEnvelope(method: "POST", path: "/webhooks/woocommerce/shop", headers: forged.lowercasedHeaders, body: forged.body),
                                          context: InvocationContext(function: "webhook-receiver", invocationID: "x", logger: h.logger))
        let shop = try await ConnectionRepository(store: h.store).load("shop", key: h.key)
        // …then search every line any test logger wrote in this process for every test secret.
        var secrets: [String] = [h.key.base64]
        for connection in [shop, other] {
            secrets += Connection.secretFields.map { connection[keyPath: $0.keyPath].reveal() }
        }
        // …and the output of real processes: once mode at trace level, `mlc connection add/show`.
        let receiver = try PackagePaths.executable("webhook-receiver")
        let mlc = try PackagePaths.executable("mlc")
        let events = PackagePaths.root.appendingPathComponent("functions/webhook-receiver/events")
        let localKey = try String(contentsOf: events.appendingPathComponent("local-test-master-key"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        let env = ["MLC_STORE_URL": "sqlite:" + TemporaryDirectory.make().appendingPathComponent("s.sqlite").path, "MLC_MASTER_KEY": localKey, "MLC_LOG_LEVEL": "trace"]
        var childOutput: [String] = []
        for args in [["connection", "add", "--file", events.appendingPathComponent("local-test-connection.json").path], ["connection", "show", "local"], ["connection", "list"]] {
            let r = try await ProcessRunner.run(mlc, args, environment: env)
            #expect(r.status == 0)
            childOutput.append(r.stdout + r.stderr)
        }
        for file in ["05-order-updated-set-paid.json", "forged-signature.json", "wrong-source.json", "01-ping-on-webhook-create.json"] {
            let r = try await ProcessRunner.run(receiver, ["--event-file", events.appendingPathComponent(file).path], environment: env)
            childOutput.append(r.stdout + r.stderr)
        }
        let local = try ConnectionFile.load(path: events.appendingPathComponent("local-test-connection.json").path)
        secrets += Connection.secretFields.map { local[keyPath: $0.keyPath].reveal() }.filter { !$0.isEmpty } + [localKey]

        let lines = TestLogging.allLines.lines + childOutput.flatMap { $0.split(separator: "\n").map(String.init) }
        #expect(lines.count > 20)
        for secret in secrets where secret.count >= 4 {
            let hits = lines.filter { $0.contains(secret) }
            #expect(hits.isEmpty, "a secret was logged: \(hits.first?.prefix(200) ?? "")")
        }
        // The signature header is as good as a secret for a replay: never logged either.
        for delivery in try Samples.realDeliveries() {
            if let signature = delivery.header("X-WC-Webhook-Signature") {
                #expect(!lines.contains { $0.contains(signature) })
            }
        }
    }
}
