import AsyncHTTPClient
import ConnectorCore
@testable import ConnectorRuntime
import ConnectorStore
import ConnectorTestSupport
import Foundation
import NIOHTTP1
import Synchronization
import Testing

/// `GET /metrics` in http mode: the process's request counters and the store's gauges, read at
/// scrape time and within a bound (SPEC §11).
@Suite("metrics")
struct MetricsTests {
    struct Handler: FunctionHandler {
        func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
            request.path.hasPrefix("/busy") ? .retry("busy", status: 503, after: 5) : .done(200, json: "{}")
        }
        func handle(event: CloudEvent, context: InvocationContext) async -> Outcome { .reject(422, "no such event here") }
    }

    /// Gauges from the store: how many keys under `count/`, and the value of `level`.
    static let storeGauges: StoreGauges = { store, clock in
        let keys = try await store.listAll(prefix: "count/")
        let level = try await store.get("level").map { Double(String(decoding: $0.value, as: UTF8.self)) ?? -1 } ?? 0
        return [("test_keys", "Keys under count/", [("prefix", "count/")], Double(keys.count)),
                ("test_level", "The level key", [], level),
                ("test_age_seconds", "Seconds since the epoch on the injected clock", [], clock.now().timeIntervalSince1970)]
    }

    static func get(_ url: String, method: NIOHTTP1.HTTPMethod = .GET, headers: [(String, String)] = [], body: String? = nil) async throws -> (status: Int, contentType: String, text: String) {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(Array(body.utf8)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(20))
        var buffer = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), response.headers.first(name: "content-type") ?? "", buffer.readString(length: buffer.readableBytes) ?? "")
    }

    @Test("/metrics shows the store's gauges as they are at scrape time, and counts every request by outcome and status")
    func scrapeShowsStoreGaugesAndRequestCounters() async throws {
        let store = MemoryStore()
        _ = try await store.set("count/a", Array("1".utf8), ttl: nil)
        _ = try await store.set("count/b", Array("1".utf8), ttl: nil)
        _ = try await store.set("level", Array("7".utf8), ttl: nil)
        let clock = ManualWallClock(Date(timeIntervalSince1970: 1_800_000_000))
        let process = ProcessMetrics()
        let endpoint = MetricsEndpoint(process: process, store: store, gauges: Self.storeGauges, clock: clock)
        var settings = try RuntimeSettings(environment: ["MLC_HOST": "127.0.0.1", "PORT": "0"])
        settings.port = 0
        let (logger, _) = TestLogging.logger()
        try await HTTPMode(function: "probe", handler: Handler(), settings: settings, logger: logger, metrics: endpoint).withRunningServer { port in
            let base = "http://127.0.0.1:\(port)"
            let first = try await Self.get(base + "/metrics")
            #expect(first.status == 200)
            #expect(first.contentType.hasPrefix("text/plain; version=0.0.4"))
            var scrape = MetricsExposition(first.text)
            #expect(scrape.value("test_keys", ["prefix": "count/"]) == 2)
            #expect(scrape.value("test_level") == 7)
            #expect(scrape.value("test_age_seconds") == 1_800_000_000)
            #expect(scrape.value("mlc_store_gauges_up") == 1)
            #expect(scrape.type("test_keys") == "gauge")
            #expect(scrape.help("test_level") == "The level key")
            #expect(scrape.samples(named: "mlc_requests_total").isEmpty, "nothing handled yet: \(first.text)")

            // The store changes between scrapes (another instance worked): the next scrape says so.
            _ = try await store.set("count/c", Array("1".utf8), ttl: nil)
            _ = try await store.delete("level", expectedVersion: nil)
            clock.advance(by: 30)
            #expect(try await Self.get(base + "/plain").status == 200)
            #expect(try await Self.get(base + "/plain?x=1", method: .POST, body: "{}").status == 200)
            #expect(try await Self.get(base + "/busy").status == 503)
            let event = try await Self.get(base + "/", method: .POST, headers: [
                ("ce-specversion", "1.0"), ("ce-id", "e1"), ("ce-source", "/test"), ("ce-type", "com.mlconnector.test"), ("content-type", "application/json"),
            ], body: "{}")
            #expect(event.status == 422)
            #expect(try await Self.get(base + "/health/live").status == 200)

            scrape = MetricsExposition(try await Self.get(base + "/metrics").text)
            #expect(scrape.value("test_keys", ["prefix": "count/"]) == 3)
            #expect(scrape.value("test_level") == 0)
            #expect(scrape.value("test_age_seconds") == 1_800_000_030)
            #expect(scrape.value("mlc_requests_total", ["function": "probe", "kind": "request", "outcome": "done", "status": "200"]) == 2)
            #expect(scrape.value("mlc_requests_total", ["function": "probe", "kind": "request", "outcome": "retry", "status": "503"]) == 1)
            #expect(scrape.value("mlc_requests_total", ["function": "probe", "kind": "event", "outcome": "reject", "status": "422"]) == 1)
            // Health checks and scrapes are not requests of the function.
            #expect(scrape.samples(named: "mlc_requests_total").reduce(0) { $0 + $1.value } == 4)
            #expect(scrape.value("mlc_request_duration_seconds_count", ["function": "probe", "kind": "request"]) == 3)
            #expect(scrape.value("mlc_request_duration_seconds_bucket", ["function": "probe", "kind": "event", "le": "+Inf"]) == 1)
            #expect(scrape.type("mlc_request_duration_seconds") == "histogram")
        }
    }

    @Test("with MLC_METRICS_TOKEN set, a scrape without the bearer token gets 401 and no figure")
    func aTokenGuardsThePublicReceiversMetrics() async throws {
        var endpoint = MetricsEndpoint(process: ProcessMetrics(), store: MemoryStore(), gauges: Self.storeGauges)
        endpoint.bearerToken = "scrape-token-1"
        var settings = try RuntimeSettings(environment: ["MLC_HOST": "127.0.0.1", "PORT": "0"])
        settings.port = 0
        let (logger, _) = TestLogging.logger()
        try await HTTPMode(function: "probe", handler: Handler(), settings: settings, logger: logger, metrics: endpoint).withRunningServer { port in
            let url = "http://127.0.0.1:\(port)/metrics"
            let anonymous = try await Self.get(url)
            #expect(anonymous.status == 401 && !anonymous.text.contains("mlc_"))
            #expect(try await Self.get(url, headers: [("Authorization", "Bearer wrong")]).status == 401)
            let scrape = try await Self.get(url, headers: [("Authorization", "Bearer scrape-token-1")])
            #expect(scrape.status == 200 && scrape.text.contains("mlc_store_gauges_up"))
        }
    }

    @Test("without a metrics endpoint, /metrics is an ordinary request for the handler")
    func noEndpointMeansThePathBelongsToTheHandler() async throws {
        var settings = try RuntimeSettings(environment: ["MLC_HOST": "127.0.0.1", "PORT": "0"])
        settings.port = 0
        let (logger, _) = TestLogging.logger()
        try await HTTPMode(function: "probe", handler: Handler(), settings: settings, logger: logger).withRunningServer { port in
            let answer = try await Self.get("http://127.0.0.1:\(port)/metrics")
            #expect(answer.status == 200 && answer.text == "{}")
        }
    }

    @Test("a store that is down gives mlc_store_gauges_up 0 and the process metrics still answer")
    func storeDownIsAMetricNotAFailedScrape() async throws {
        let store = FaultyStore(MemoryStore())
        let process = ProcessMetrics()
        process.recordRequest(function: "probe", kind: "request", outcome: .done(), elapsed: .milliseconds(3))
        let (logger, sink) = TestLogging.logger()
        let endpoint = MetricsEndpoint(process: process, store: store, gauges: Self.storeGauges, clock: ManualWallClock(Date()), logger: logger)
        #expect(MetricsExposition(await endpoint.render()).value("mlc_store_gauges_up") == 1)
        store.setFailEverything(true)
        let down = MetricsExposition(await endpoint.render())
        #expect(down.value("mlc_store_gauges_up") == 0)
        #expect(down.samples(named: "test_keys").isEmpty)
        #expect(down.value("mlc_requests_total", ["function": "probe", "kind": "request", "outcome": "done", "status": "200"]) == 1)
        #expect(sink.lines.contains { $0.contains("metrics.store_gauges_failed") && $0.contains("injected fault") })
        store.setFailEverything(false)
        #expect(MetricsExposition(await endpoint.render()).value("mlc_store_gauges_up") == 1)
    }

    /// Gauges whose store read hangs, ignoring cancellation, until the test lets it go.
    final class HangingGauges: Sendable {
        let calls = Mutex(0)
        let held = Mutex<[CheckedContinuation<Void, Never>]>([])
        let hang = Mutex(true)

        var gauges: StoreGauges {
            { [self] _, _ in
                calls.withLock { $0 += 1 }
                if hang.withLock({ $0 }) {
                    await withCheckedContinuation { continuation in held.withLock { $0.append(continuation) } }
                }
                return [("test_level", "The level key", [], 1)]
            }
        }

        /// Lets every hung read finish; later reads answer at once.
        func release() -> Int {
            hang.withLock { $0 = false }
            let waiting = held.withLock { held in defer { held = [] }; return held }
            for continuation in waiting { continuation.resume() }
            return waiting.count
        }
    }

    @Test("a store slower than the bound: the scrape answers without its gauges, and later scrapes wait for that read instead of piling up more")
    func slowStoreIsBounded() async throws {
        let hanging = HangingGauges()
        let (logger, sink) = TestLogging.logger()
        // The bound's wait returns at once (an injected sleeper): the read is still hanging then.
        var endpoint = MetricsEndpoint(process: ProcessMetrics(), store: MemoryStore(), gauges: hanging.gauges, clock: ManualWallClock(Date()),
                                       timeout: 5, sleeper: RecordingSleeper(), logger: logger)
        let timedOut = MetricsExposition(await endpoint.render())
        #expect(timedOut.value("mlc_store_gauges_up") == 0)
        #expect(timedOut.samples(named: "test_level").isEmpty)
        #expect(sink.lines.contains { $0.contains("metrics.store_gauges_timed_out") })

        // The first read still hangs: the next scrape waits for that one (bounded) instead of
        // starting another.
        let again = MetricsExposition(await endpoint.render())
        #expect(again.value("mlc_store_gauges_up") == 0)
        #expect(hanging.calls.withLock { $0 } == 1)
        #expect(sink.lines.filter { $0.contains("metrics.store_gauges_timed_out") }.count == 2)

        // The hung read ends; the next scrape reads again (a real bound now, never reached).
        var released = 0
        for _ in 0..<100_000 where released == 0 {
            released = hanging.release()
            if released == 0 { await Task.yield() }
        }
        #expect(released == 1)
        endpoint.sleeper = SystemSleeper()
        var recovered = MetricsExposition(await endpoint.render())
        for _ in 0..<1000 where recovered.value("mlc_store_gauges_up") != 1 {
            // The released read is forgotten a moment after it resumes (a scrape in between joins
            // it and gets its answer); bounded.
            await Task.yield()
            recovered = MetricsExposition(await endpoint.render())
        }
        #expect(recovered.value("mlc_store_gauges_up") == 1)
        #expect(recovered.value("test_level") == 1)

        // Overlapping scrapes of a healthy store share one read.
        let before = hanging.calls.withLock { $0 }
        let settled = endpoint
        async let a = settled.render()
        async let b = settled.render()
        let (first, second) = await (MetricsExposition(a), MetricsExposition(b))
        #expect(first.value("test_level") == 1 && second.value("test_level") == 1)
        #expect(hanging.calls.withLock { $0 } - before <= 2)
    }

    @Test("gauge families that would stop the Prometheus registry are made safe, not fatal")
    func inconsistentFamiliesAreSkipped() async throws {
        let gauges: StoreGauges = { _, _ in
            [("test_mixed", "first help", [("a", "1")], 1),
             ("test_mixed", "other help", [("a", "2")], 2),
             ("test_mixed", "first help", [], 3),
             ("test_nan", "not a number", [], .nan),
             ("test_quote", "label escaping", [("reason", "SKU \"X\\1\"\nunmapped")], 4)]
        }
        let scrape = MetricsExposition(await MetricsEndpoint(process: ProcessMetrics(), store: MemoryStore(), gauges: gauges).render())
        #expect(scrape.value("test_mixed", ["a": "1"]) == 1)
        #expect(scrape.value("test_mixed", ["a": "2"]) == 2)
        #expect(scrape.samples(named: "test_mixed").count == 2)
        #expect(scrape.help("test_mixed") == "first help")
        #expect(scrape.samples(named: "test_nan").isEmpty)
        #expect(scrape.value("test_quote", ["reason": "SKU \"X\\1\"\nunmapped"]) == 4)
    }

    @Test("MLC_METRICS_STORE_TIMEOUT_SECONDS is checked at start-up and names the fix")
    func scrapeTimeoutSetting() throws {
        #expect(try FunctionMain.metricsStoreTimeout([:]) == 5)
        #expect(try FunctionMain.metricsStoreTimeout(["MLC_METRICS_STORE_TIMEOUT_SECONDS": "1.5"]) == 1.5)
        for bad in ["0", "-1", "abc", "301"] {
            #expect(throws: ConnectorError.self) { try FunctionMain.metricsStoreTimeout(["MLC_METRICS_STORE_TIMEOUT_SECONDS": bad]) }
        }
        do {
            _ = try FunctionMain.metricsStoreTimeout(["MLC_METRICS_STORE_TIMEOUT_SECONDS": "soon"])
        } catch {
            #expect("\(error)".contains("MLC_METRICS_STORE_TIMEOUT_SECONDS") && "\(error)".contains("number of seconds"))
        }
    }
}
