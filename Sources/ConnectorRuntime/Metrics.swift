import ConnectorCore
import ConnectorStore
import CoreMetrics
import Foundation
import Logging
import Prometheus
import Synchronization

/// One gauge read from the store: family name, help text, labels and value. A plain tuple so
/// that the flows, which do not depend on the runtime, can produce it.
public typealias StoreGaugeSample = (name: String, help: String, labels: [(String, String)], value: Double)

/// Reads the store when `/metrics` is scraped (SPEC §11): the gauges are then right even when
/// every instance has scaled to zero in between. `ConnectorFlows.StatusMetrics.gauges` is the one
/// the functions pass to ``FunctionMain/run(name:arguments:environment:gauges:build:)``.
public typealias StoreGauges = @Sendable (_ store: any KeyValueStore, _ clock: any WallClock) async throws -> [StoreGaugeSample]

/// This process's counters and histograms (requests here; the remote clients add theirs through
/// ``factory``), kept in one Prometheus registry. Nothing is global: a test makes its own.
public final class ProcessMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    /// The swift-metrics factory over ``registry``: `Counter(label:dimensions:factory:)` and
    /// `Timer(...)` made with it show up at `/metrics`.
    public let factory: any MetricsFactory
    /// The request counters and timers made so far, by their labels: making one through the
    /// factory looks it up in the registry by name and sorted labels — on every request it cost
    /// more than the increment.
    private let requestMetrics = Mutex<[String: (counter: CoreMetrics.Counter, timer: CoreMetrics.Timer)]>([:])

    /// Latency buckets in seconds: F&O writes take seconds, its timeout is 60.
    static let durationBuckets: [Duration] = [
        .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
        .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30), .seconds(60),
    ]

    public init() {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = Self.durationBuckets
        self.registry = registry
        self.factory = factory
    }

    /// One request or event handled by this process's function.
    public func recordRequest(function: String, kind: String, outcome: Outcome, elapsed: Duration) {
        let key = "\(function)\u{0}\(kind)\u{0}\(outcome.kind.rawValue)\u{0}\(outcome.status)"
        let metrics = requestMetrics.withLock { made in
            if let found = made[key] { return found }
            let counter = CoreMetrics.Counter(label: "mlc_requests_total", dimensions: [
                ("function", function), ("kind", kind), ("outcome", outcome.kind.rawValue), ("status", String(outcome.status)),
            ], factory: factory)
            let timer = CoreMetrics.Timer(label: "mlc_request_duration_seconds", dimensions: [("function", function), ("kind", kind)], factory: factory)
            made[key] = (counter, timer)
            return (counter, timer)
        }
        metrics.counter.increment()
        metrics.timer.recordNanoseconds(elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
    }

    /// The registry in the Prometheus text format.
    public func render() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }
}

/// `GET /metrics`: this process's metrics, then the store's gauges read within `timeout` — a store
/// that is slow or down gives `mlc_store_gauges_up 0`, never a hung scrape.
public struct MetricsEndpoint: Sendable {
    public var process: ProcessMetrics
    public var store: any KeyValueStore
    public var gauges: StoreGauges?
    public var clock: any WallClock
    /// Seconds the store may take to answer before the scrape goes on without its gauges.
    public var timeout: Double
    public var sleeper: any Sleeper
    public var logger: Logger
    /// When set (`MLC_METRICS_TOKEN`), a scrape must send `Authorization: Bearer <token>`: the
    /// receiver's port is public, and the gauges name connections, orders and webhooks.
    public var bearerToken: String?
    let reads = SharedRead()

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
    public static let defaultTimeout: Double = 5

    public init(process: ProcessMetrics, store: any KeyValueStore, gauges: StoreGauges?, clock: any WallClock = SystemWallClock(),
                timeout: Double = MetricsEndpoint.defaultTimeout, sleeper: any Sleeper = SystemSleeper(),
                logger: Logger = Logger(label: "metrics") { _ in SwiftLogNoOpLogHandler() }) {
        self.process = process
        self.store = store
        self.gauges = gauges
        self.clock = clock
        self.timeout = timeout
        self.sleeper = sleeper
        self.logger = logger
    }

    /// The whole exposition: process metrics, then a fresh registry with the store's gauges.
    public func render() async -> [UInt8] {
        var buffer = process.render()
        guard let gauges else { return buffer }
        let registry = PrometheusCollectorRegistry()
        let started = ContinuousClock.now
        let store = self.store, clock = self.clock
        // Scrapes that overlap share one read: a hung store holds one read, not one per scrape.
        let read = reads.join { try await gauges(store, clock) }
        let answer = await Self.bounded(seconds: timeout, sleeper: sleeper) { try await read.value }
        if case .timedOut = answer { read.cancel() }
        let elapsed = ContinuousClock.now - started
        switch answer {
        case .value(let samples):
            Self.add(samples, to: registry)
        case .failed(let error):
            logger.error("metrics.store_gauges_failed", metadata: ["error": "\(Formatting.bounded(String(describing: error), limit: 200))"])
        case .timedOut:
            logger.error("metrics.store_gauges_timed_out", metadata: ["timeout_s": "\(timeout)"])
        }
        var up = false
        if case .value = answer { up = true }
        registry.makeGauge(descriptor: Self.descriptor("mlc_store_gauges_up", "1 when this scrape read the store's gauges within the bound, 0 when the store failed or was slower than the bound"))
            .set(to: up ? 1 : 0)
        registry.makeGauge(descriptor: Self.descriptor("mlc_store_gauges_duration_seconds", "How long reading the store's gauges took in this scrape"))
            .set(to: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        registry.emit(into: &buffer)
        return buffer
    }

    /// Samples into gauges. The Prometheus registry stops the process on a family that mixes
    /// help texts or labelled and unlabelled samples, so the first sample of a family decides.
    static func add(_ samples: [StoreGaugeSample], to registry: PrometheusCollectorRegistry) {
        var families: [String: (help: String, labelled: Bool)] = [:]
        for sample in samples where sample.value.isFinite {
            let family = families[sample.name] ?? (sample.help, !sample.labels.isEmpty)
            families[sample.name] = family
            guard family.labelled == !sample.labels.isEmpty else { continue }
            let descriptor = Self.descriptor(sample.name, family.help)
            let gauge = family.labelled ? registry.makeGauge(descriptor: descriptor, labels: sample.labels) : registry.makeGauge(descriptor: descriptor)
            gauge.set(to: sample.value)
        }
    }

    static func descriptor(_ name: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(metricName: name.isEmpty ? "unnamed" : name, unitName: "", helpText: help)
    }

    enum Bounded<T: Sendable>: Sendable {
        case value(T)
        case failed(any Error)
        case timedOut
    }

    /// The store read in progress, if any: a scrape joins it instead of starting another, so a
    /// read that outlived its bound (a store that ignores cancellation) is never joined by more.
    final class SharedRead: Sendable {
        private struct State {
            var task: Task<[StoreGaugeSample], any Error>?
            var generation = 0
        }
        private let state = Mutex(State())

        func join(_ read: @escaping @Sendable () async throws -> [StoreGaugeSample]) -> Task<[StoreGaugeSample], any Error> {
            state.withLock { state in
                if let task = state.task { return task }
                state.generation += 1
                let generation = state.generation
                let task = Task {
                    defer { self.finished(generation) }
                    return try await read()
                }
                state.task = task
                return task
            }
        }

        private func finished(_ generation: Int) {
            state.withLock { if $0.generation == generation { $0.task = nil } }
        }
    }

    /// Runs `operation`, giving up after `seconds` (the operation is cancelled then, and its late
    /// answer dropped). Returns as soon as either happens, even if the operation ignores cancellation.
    static func bounded<T: Sendable>(seconds: Double, sleeper: any Sleeper, _ operation: @escaping @Sendable () async throws -> T) async -> Bounded<T> {
        let race = Race<T>()
        return await withCheckedContinuation { continuation in
            race.start(continuation)
            race.add(Task {
                let result: Bounded<T>
                do { result = .value(try await operation()) } catch { result = .failed(error) }
                race.finish(result)
            })
            race.add(Task {
                try? await sleeper.sleep(seconds: seconds)
                race.finish(.timedOut)
            })
        }
    }

    /// The first of the work and the timer to finish resumes the scrape and cancels the other.
    final class Race<T: Sendable>: Sendable {
        private struct State {
            var continuation: CheckedContinuation<Bounded<T>, Never>?
            var tasks: [Task<Void, Never>] = []
            var finished = false
        }
        private let state = Mutex(State())

        func start(_ continuation: CheckedContinuation<Bounded<T>, Never>) { state.withLock { $0.continuation = continuation } }

        func add(_ task: Task<Void, Never>) {
            let finished = state.withLock { state -> Bool in
                state.tasks.append(task)
                return state.finished
            }
            if finished { task.cancel() }
        }

        func finish(_ result: Bounded<T>) {
            let (continuation, tasks) = state.withLock { state -> (CheckedContinuation<Bounded<T>, Never>?, [Task<Void, Never>]) in
                guard !state.finished else { return (nil, []) }
                state.finished = true
                defer { state.continuation = nil }
                return (state.continuation, state.tasks)
            }
            continuation?.resume(returning: result)
            for task in tasks { task.cancel() }
        }
    }
}
