import AsyncHTTPClient
import ConnectorCore
import ConnectorRuntime
import ConnectorTestSupport
import Foundation
import Synchronization
import NIOHTTP1
import Testing

@Suite("CloudEvents")
struct CloudEventTests {
    @Test("a binary and a structured CloudEvent decode to the same event")
    func binaryAndStructuredAgree() throws {
        let binary = try #require(try CloudEventCodec.decode(headers: [
            "ce-specversion": "1.0", "ce-id": "evt-1", "ce-source": "/ml-connector/webhook-receiver/acme",
            "ce-type": "com.mlconnector.order.changed", "ce-time": "2026-11-26T10:00:00Z", "ce-subject": "order%201042",
            "ce-traceparent": "00-abc-def-01", "content-type": "application/json",
        ], body: Array(#"{ "orderId": 1042,  "connection": "acme" }"#.utf8)))
        let structured = try #require(try CloudEventCodec.decode(headers: ["content-type": "application/cloudevents+json; charset=utf-8"], body: Array("""
            {"specversion":"1.0","id":"evt-1","source":"/ml-connector/webhook-receiver/acme","type":"com.mlconnector.order.changed",
             "time":"2026-11-26T10:00:00Z","subject":"order 1042","traceparent":"00-abc-def-01","datacontenttype":"application/json",
             "data":{"connection":"acme","orderId":1042}}
            """.utf8)))
        #expect(binary == structured)
        #expect(binary.subject == "order 1042")
        #expect(binary.extensions == ["traceparent": "00-abc-def-01"])
        struct Payload: Decodable, Equatable { var connection: String; var orderId: Int }
        #expect(try binary.decodeData(Payload.self) == Payload(connection: "acme", orderId: 1042))
        // And the encoder's output decodes back to the same event.
        #expect(try CloudEventCodec.decodeStructured(CloudEventCodec.encodeStructured(binary)) == binary)
        let headers = Dictionary(uniqueKeysWithValues: CloudEventCodec.binaryHeaders(binary))
        #expect(try CloudEventCodec.decodeBinary(headers: headers, body: binary.data ?? []) == binary)
    }

    /// Found by the fuzz harness: JSON bytes in another form than the canonical one (here " 1")
    /// were written inline and came back canonicalised — another event than the one encoded.
    @Test("an event whose data_base64 holds non-canonical JSON re-encodes to itself", arguments: ["IDE=", "eyJiIjoxLCAiYSI6Mn0="])
    func nonCanonicalJSONDataRoundTrips(base64: String) throws {
        let event = try CloudEventCodec.decodeStructured(Array(#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data_base64":"\#(base64)"}"#.utf8))
        #expect(event.data == Array(Data(base64Encoded: base64)!))
        #expect(try CloudEventCodec.decodeStructured(CloudEventCodec.encodeStructured(event)) == event)
        // Canonical JSON still travels inline.
        let canonical = CloudEvent(id: "2", source: "/s", type: "t", data: Array(#"{"a":2,"b":1}"#.utf8))
        #expect(String(decoding: CloudEventCodec.encodeStructured(canonical), as: UTF8.self).hasSuffix(#","data":{"a":2,"b":1}}"#))
    }

    @Test func dataBase64IsDecoded() throws {
        let event = try CloudEventCodec.decodeStructured(Array(#"{"specversion":"1.0","id":"1","source":"/s","type":"t","datacontenttype":"application/octet-stream","data_base64":"AAEC"}"#.utf8))
        #expect(event.data == [0, 1, 2])
    }

    @Test("a CloudEvent missing a required attribute is named", arguments: ["id", "source", "type", "specversion"])
    func missingAttribute(name: String) {
        var headers = ["ce-specversion": "1.0", "ce-id": "1", "ce-source": "/s", "ce-type": "t"]
        headers["ce-\(name)"] = nil
        if name == "specversion" {
            #expect((try? CloudEventCodec.decode(headers: headers, body: [])) == nil)
            return
        }
        #expect(throws: CloudEventError.missing(name)) { _ = try CloudEventCodec.decode(headers: headers, body: []) }
    }

    @Test func malformedEventsAreRejectedWithAReason() {
        #expect(throws: CloudEventError.batchNotSupported) { _ = try CloudEventCodec.decode(headers: ["content-type": "application/cloudevents-batch+json"], body: Array("[]".utf8)) }
        #expect(throws: CloudEventError.unsupportedSpecVersion("0.3")) { _ = try CloudEventCodec.decode(headers: ["ce-specversion": "0.3", "ce-id": "1", "ce-source": "/s", "ce-type": "t"], body: []) }
        #expect(throws: CloudEventError.invalidAttribute("id")) { _ = try CloudEventCodec.decode(headers: ["ce-specversion": "1.0", "ce-id": "%ZZ", "ce-source": "/s", "ce-type": "t"], body: []) }
        #expect(throws: CloudEventError.invalidAttribute("id")) { _ = try CloudEventCodec.decode(headers: ["ce-specversion": "1.0", "ce-id": "%C3%28", "ce-source": "/s", "ce-type": "t"], body: []) }
        #expect(throws: CloudEventError.malformed("not JSON (expected a member name at byte 1)")) { _ = try CloudEventCodec.decodeStructured(Array("{".utf8)) }
        #expect(throws: CloudEventError.malformed("both data and data_base64 are present")) {
            _ = try CloudEventCodec.decodeStructured(Array(#"{"specversion":"1.0","id":"1","source":"/s","type":"t","data":{},"data_base64":"AA=="}"#.utf8))
        }
    }
}

@Suite("Runtime modes")
struct RuntimeModeTests {
    @Test func modeComesFromMLCModeThenPlatformThenArguments() throws {
        #expect(try RunMode.detect(environment: ["MLC_MODE": "http"], arguments: ["x", "--event-file", "f"]) == .http)
        #expect(try RunMode.detect(environment: ["AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001"], arguments: []) == .lambda)
        #expect(try RunMode.detect(environment: ["FUNCTIONS_CUSTOMHANDLER_PORT": "7071"], arguments: []) == .azure)
        #expect(try RunMode.detect(environment: [:], arguments: ["x", "--stdin"]) == .once)
        #expect(try RunMode.detect(environment: ["MLC_EVENT_JSON": "{}"], arguments: []) == .once)
        #expect(try RunMode.detect(environment: [:], arguments: ["x"]) == .http)
        #expect(throws: ConnectorError.invalidConfiguration) { try RunMode.detect(environment: ["MLC_MODE": "batch"], arguments: []) }
    }

    @Test("a local store is refused when a platform variable says the function runs scaled")
    func localStoreRefusedWhenScaled() throws {
        for variable in ["K_SERVICE", "AWS_LAMBDA_RUNTIME_API", "FUNCTIONS_CUSTOMHANDLER_PORT", "CLOUD_RUN_JOB"] {
            #expect(throws: ConnectorError.invalidConfiguration) { try RuntimeSettings(environment: [variable: "x", "MLC_STORE_URL": "sqlite:/tmp/a.sqlite"]) }
            #expect(throws: ConnectorError.invalidConfiguration) { try RuntimeSettings(environment: [variable: "x"]) }
            #expect((try? RuntimeSettings(environment: [variable: "x", "MLC_ALLOW_LOCAL_STORE": "1"])) != nil)
            #expect((try? RuntimeSettings(environment: [variable: "x", "MLC_STORE_URL": "postgres://db/mlc"])) != nil)
        }
        #expect((try? RuntimeSettings(environment: [:]))?.storeURL == "sqlite:.mlc/state.sqlite")
    }

    @Test func settingsRejectNonsense() {
        #expect(throws: ConnectorError.invalidConfiguration) { try RuntimeSettings(environment: ["PORT": "http"]) }
        #expect(throws: ConnectorError.invalidConfiguration) { try RuntimeSettings(environment: ["MLC_LOG_LEVEL": "loud"]) }
        #expect(throws: ConnectorError.invalidConfiguration) { try RuntimeSettings(environment: ["MLC_MAX_BODY_BYTES": "12"]) }
    }

    @Test func onceModeReadsCapturedRequestsAndCloudEvents() throws {
        guard case .request(let request) = try OnceMode.decode(Array(#"{"method":"POST","path":"/webhooks/woocommerce/acme?x=1","headers":{"X-WC-Webhook-Topic":"order.updated"},"bodyBase64":"e30="}"#.utf8)) else {
            Issue.record("not a request"); return
        }
        #expect(request.path == "/webhooks/woocommerce/acme")
        #expect(request.query == ["x": "1"])
        #expect(request.headers["x-wc-webhook-topic"] == "order.updated")
        #expect(request.body == Array("{}".utf8))
        guard case .event(let event) = try OnceMode.decode(Array(#"{"specversion":"1.0","id":"1","source":"/s","type":"com.mlconnector.orders.drain","data":{"connection":"acme"}}"#.utf8)) else {
            Issue.record("not an event"); return
        }
        #expect(event.type == "com.mlconnector.orders.drain")
        #expect(throws: ConnectorError.invalidInput) { try OnceMode.decode(Array(#"{"path":"/x","body":"a","bodyBase64":"YQ=="}"#.utf8)) }
        #expect(throws: ConnectorError.invalidInput) { try OnceMode.decode(Array(#"{"path":"/x","bogus":1}"#.utf8)) }
        #expect(throws: ConnectorError.invalidInput) { try OnceMode.decode(Array("[1]".utf8)) }
        #expect(throws: ConnectorError.invalidInput) { try OnceMode.readEventBytes(arguments: ["x"], environment: [:]) }
    }

    @Test func outcomesMapToExitCodesAndOneResultLine() throws {
        #expect(Outcome.done().exitCode == 0)
        #expect(Outcome.retry("store down").exitCode == 75)
        #expect(Outcome.reject(401, "bad signature").exitCode == 65)
        let line = OnceMode.resultLine(function: "webhook-receiver", outcome: .done(200, json: #"{"status":"handedOff"}"#, reason: "handedOff"))
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        #expect(object["outcome"] as? String == "done")
        #expect((object["response"] as? [String: Any])?["status"] as? String == "handedOff")
        #expect(!line.contains("\n"))
    }
}

/// Records what the runtime hands a function.
final class RecordingHandler: FunctionHandler {
    let events = Mutex<[CloudEvent]>([])
    let requests = Mutex<[HTTPRequestEnvelope]>([])
    func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        requests.withLock { $0.append(request) }
        return .done(200, json: "{\"ok\":true}")
    }
    func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        events.withLock { $0.append(event) }
        return .done(202)
    }
}

@Suite("http mode")
struct HTTPModeTests {
    func serve<T: Sendable>(_ handler: RecordingHandler, _ body: @Sendable (String) async throws -> T) async throws -> T {
        var settings = try RuntimeSettings(environment: ["MLC_HOST": "127.0.0.1", "PORT": "0"])
        settings.maxBodyBytes = 1024
        settings.hardBodyLimit = 8 * 1024
        let (logger, _) = TestLogging.logger()
        return try await HTTPMode(function: "test", handler: handler, settings: settings, logger: logger).withRunningServer { port in
            try await body("http://127.0.0.1:\(port)")
        }
    }

    func send(_ url: String, method: HTTPMethodName = .POST, headers: [(String, String)] = [], body: [UInt8] = []) async throws -> (Int, String, [String]) {
        var request = HTTPClientRequest(url: url)
        request.method = method.nio
        for (n, v) in headers { request.headers.add(name: n, value: v) }
        if !body.isEmpty { request.body = .bytes(body) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        var buffer = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), buffer.readString(length: buffer.readableBytes) ?? "", response.headers.map(\.name))
    }

    enum HTTPMethodName { case GET, POST
        var nio: NIOHTTP1.HTTPMethod { self == .GET ? .GET : .POST }
    }

    @Test func healthEndpointsAnswer() async throws {
        try await serve(RecordingHandler()) { base in
            let live = try await send(base + "/health/live", method: .GET)
            let ready = try await send(base + "/health/ready", method: .GET)
            #expect(live.0 == 200 && ready.0 == 200)
        }
    }

    @Test("binary and structured CloudEvents over HTTP reach the function as the same event; no ce-* header is echoed")
    func cloudEventsOverHTTP() async throws {
        let handler = RecordingHandler()
        try await serve(handler) { base in
            let binary = try await send(base + "/", headers: [("ce-specversion", "1.0"), ("ce-id", "e1"), ("ce-source", "/s"), ("ce-type", "com.mlconnector.orders.drain"), ("content-type", "application/json")], body: Array(#"{"connection":"acme"}"#.utf8))
            let structured = try await send(base + "/", headers: [("content-type", "application/cloudevents+json")], body: Array(#"{"specversion":"1.0","id":"e1","source":"/s","type":"com.mlconnector.orders.drain","datacontenttype":"application/json","data":{"connection":"acme"}}"#.utf8))
            #expect(binary.0 == 202 && structured.0 == 202)
            #expect(!binary.2.contains { $0.lowercased().hasPrefix("ce-") })
            let batch = try await send(base + "/", headers: [("content-type", "application/cloudevents-batch+json")], body: Array("[]".utf8))
            #expect(batch.0 == 415)
            let broken = try await send(base + "/", headers: [("ce-specversion", "1.0"), ("ce-source", "/s"), ("ce-type", "t")], body: Array("{}".utf8))
            #expect(broken.0 == 400)
            #expect(broken.1.contains("'id'"))
        }
        let events = handler.events.withLock { $0 }
        #expect(events.count == 2)
        #expect(events.first == events.last)
    }

    @Test func plainRequestsKeepExactBytesAndAHardLimitAnswers413() async throws {
        let handler = RecordingHandler()
        try await serve(handler) { base in
            let body: [UInt8] = Array(#"{"a":"\/x\u00e9"}"#.utf8)
            let plain = try await send(base + "/webhooks/woocommerce/acme?code=1", headers: [("X-Test", "1")], body: body)
            let big = try await send(base + "/big", body: [UInt8](repeating: 0x41, count: 9 * 1024))
            #expect(plain.0 == 200)
            #expect(big.0 == 413)
        }
        let request = try #require(handler.requests.withLock { $0.first })
        #expect(request.body == Array(#"{"a":"\/x\u00e9"}"#.utf8))
        #expect(request.path == "/webhooks/woocommerce/acme")
        #expect(request.query["code"] == "1")
        #expect(request.headers["x-test"] == "1")
    }
}

@Suite("K_SINK wake-ups")
struct WakeUpTests {
    @Test("the sink sender posts a structured CloudEvent the http runtime decodes back to the same event")
    func wakeUpReachesASink() async throws {
        let sink = RecordingHandler()
        var settings = try RuntimeSettings(environment: ["MLC_HOST": "127.0.0.1", "PORT": "0"])
        settings.port = 0
        let (logger, logs) = TestLogging.logger()
        let event = CloudEvent(id: "acme-order-11-abc", source: "/ml-connector/webhook-receiver/acme", type: "com.mlconnector.order.changed",
                               data: Array(#"{"connection":"acme","orderId":11}"#.utf8))
        try await HTTPMode(function: "sink", handler: sink, settings: settings, logger: logger).withRunningServer { port in
            let sender = SinkWakeUpSender(sink: "http://127.0.0.1:\(port)/")
            sender.send(event, logger: logger)
            await sender.drain()
        }
        #expect(sink.events.withLock { $0 } == [event])
        // A sink that is down costs a warning, never an error for the caller.
        let down = SinkWakeUpSender(sink: "http://127.0.0.1:9/", timeout: .seconds(2))
        down.send(event, logger: logger)
        await down.drain()
        #expect(logs.lines.contains { $0.contains("wakeup.failed") })
    }
}

@Suite struct StoreURLTextTests {
    @Test func aPasswordNeverReachesTheTerminal() {
        #expect(StoreURLText.redacted("postgres://mlc:s3cret@db.example.com:5432/app?schema=x") == "postgres://mlc:***@db.example.com:5432/app?schema=x")
        #expect(StoreURLText.redacted("postgres://mlc@127.0.0.1/postgres") == "postgres://mlc@127.0.0.1/postgres")
        #expect(StoreURLText.redacted("sqlite:/tmp/a@b.sqlite") == "sqlite:/tmp/a@b.sqlite")
    }
}
