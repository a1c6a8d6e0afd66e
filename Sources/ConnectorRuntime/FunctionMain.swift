import ConnectorCore
import ConnectorStore
import CoreMetrics
import Foundation
import Logging

/// What a function's wiring gets to build its handler from.
public struct FunctionEnvironment: Sendable {
    public var name: String
    public var settings: RuntimeSettings
    public var environment: [String: String]
    public var store: any KeyValueStore
    public var clock: any WallClock
    public var logger: Logger
    /// The wake-up sender when `K_SINK` is bound.
    public var wakeUp: (any WakeUpSender)?
    /// The factory whose metrics `GET /metrics` shows (http mode). `build` also runs with it bound
    /// as swift-metrics' task-local factory, so clients that default to `MetricsSystem.factory`
    /// (the remote clients) report there without being handed it.
    public var metricsFactory: any MetricsFactory = NOOPMetricsHandler.instance
}

/// The `main` of every function binary: pick the mode, build the handler, run it, exit.
public enum FunctionMain {
    /// Exit code for a start-up configuration error (BSD `EX_CONFIG`), distinct from the
    /// event outcomes 0 / 75 / 65.
    public static let configurationErrorExit: Int32 = 78

    /// The executables' entry point: `run` on the cooperative pool while the main thread waits,
    /// then `exit` with its code. Deliberately not an async `main`: Swift parks an async main's
    /// thread in `dispatch_main()`, whose `pthread_exit` has libgcc unwind the main stack through
    /// ~0.7 MiB of unwind tables on every cold start. The main thread only waits, so nothing in
    /// the functions may use the main actor or `DispatchQueue.main` (it would never run).
    public static func main(
        name: String,
        gauges: StoreGauges? = nil,
        build: @escaping @Sendable (FunctionEnvironment) async throws -> any FunctionHandler
    ) -> Never {
        Task.detached {
            exit(await run(name: name, gauges: gauges, build: build))
        }
        while true { pause() }
    }

    public static func run(
        name: String,
        arguments: [String] = CommandLine.arguments,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        gauges: StoreGauges? = nil,
        build: @Sendable (FunctionEnvironment) async throws -> any FunctionHandler
    ) async -> Int32 {
        let mode: RunMode
        let settings: RuntimeSettings
        let scrapeTimeout: Double
        var logger: Logger
        do {
            mode = try RunMode.detect(environment: environment, arguments: arguments)
            settings = try RuntimeSettings(environment: environment)
            scrapeTimeout = try metricsStoreTimeout(environment)
        } catch {
            let sink = FileDescriptorLogSink.standardError
            sink.write(line: "{\"level\":\"critical\",\"severity\":\"CRITICAL\",\"message\":\"startup.failed\",\"handler\":\(JSONText.quoted(name)),\"error\":\(JSONText.quoted("\(error)"))}")
            if arguments.contains("--event-file") || arguments.contains("--stdin") || environment["MLC_EVENT_JSON"] != nil {
                writeStartupFailure(name: name, error: error)
            }
            await LambdaMode.reportInitError(environment: environment, arguments: arguments, error: error)
            return configurationErrorExit
        }
        // once mode keeps stdout for the one result line; every other mode logs to stdout.
        let sink: any LogSink = mode == .once ? FileDescriptorLogSink.standardError : FileDescriptorLogSink.standardOutput
        logger = Logger(label: name) { label in JSONLogHandler(label: label, sink: sink, level: settings.logLevel) }
        logger[metadataKey: "handler"] = "\(name)"
        logger[metadataKey: "mode"] = "\(mode.rawValue)"

        let store: any KeyValueStore
        let handler: any FunctionHandler
        let wakeUp: (any WakeUpSender)? = settings.sink.map { SinkWakeUpSender(sink: $0) }
        // Only a long-lived process is scraped; once mode keeps the no-op factory.
        let metrics: ProcessMetrics? = mode == .http ? ProcessMetrics() : nil
        let factory: any MetricsFactory = metrics?.factory ?? NOOPMetricsHandler.instance
        do {
            store = try await StoreFactory.open(settings.storeURL, shortLived: mode == .once)
            var env = FunctionEnvironment(
                name: name, settings: settings, environment: environment, store: store, clock: SystemWallClock(), logger: logger,
                wakeUp: wakeUp)
            env.metricsFactory = factory
            // Task-local, not `MetricsSystem.bootstrap`: nothing global, so tests may call `run` too.
            handler = try await withMetricsFactory(factory) { try await build(env) }
        } catch {
            logger.critical("startup.failed", metadata: ["error": "\(error)"])
            if mode == .once { writeStartupFailure(name: name, error: error) }
            if mode == .lambda { await LambdaMode.reportInitError(environment: environment, arguments: arguments, error: error) }
            return configurationErrorExit
        }
        let endpoint = metrics.map {
            var endpoint = MetricsEndpoint(process: $0, store: store, gauges: gauges, clock: SystemWallClock(), timeout: scrapeTimeout, logger: logger)
            endpoint.bearerToken = environment["MLC_METRICS_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
            return endpoint
        }
        let code = await withMetricsFactory(factory) {
            await serve(mode: mode, name: name, handler: handler, settings: settings, arguments: arguments, environment: environment, logger: logger, store: store,
                        metrics: endpoint, wakeUp: wakeUp)
        }
        await wakeUp?.drain()
        try? await store.close()
        return code
    }

    /// `MLC_METRICS_STORE_TIMEOUT_SECONDS`: how long a `/metrics` scrape waits for the store's
    /// gauges (default 5) before answering without them and `mlc_store_gauges_up 0`.
    static func metricsStoreTimeout(_ environment: [String: String]) throws -> Double {
        guard let text = environment["MLC_METRICS_STORE_TIMEOUT_SECONDS"], !text.isEmpty else { return MetricsEndpoint.defaultTimeout }
        guard let seconds = Double(text), seconds > 0, seconds <= 300 else {
            throw ConnectorError.invalidConfiguration("MLC_METRICS_STORE_TIMEOUT_SECONDS='\(Formatting.bounded(text, limit: 40))' is not a number of seconds",
                                                      fix: "use a number of seconds above 0 and at most 300, e.g. 5, below the scraper's own timeout")
        }
        return seconds
    }

    static func readiness(_ store: any KeyValueStore) async -> Bool {
        do {
            _ = try await store.get("health/ready")
            return true
        } catch {
            return false
        }
    }

    /// In once mode the caller reads stdout: a start-up failure is a result line too.
    private static func writeStartupFailure(name: String, error: any Error) {
        let outcome = Outcome(kind: .reject, status: 500, body: Array("{\"error\":\(JSONText.quoted("\(error)"))}".utf8), reason: "start-up failed")
        FileDescriptorLogSink.standardOutput.write(line: OnceMode.resultLine(function: name, outcome: outcome))
    }

    private static func serve(
        mode: RunMode, name: String, handler: any FunctionHandler, settings: RuntimeSettings,
        arguments: [String], environment: [String: String], logger: Logger, store: any KeyValueStore, metrics: MetricsEndpoint?,
        wakeUp: (any WakeUpSender)? = nil
    ) async -> Int32 {
        switch mode {
        case .once:
            let invocationID = UUID.random().uuidString.lowercased()
            var invocation = logger
            invocation[metadataKey: "invocation_id"] = "\(invocationID)"
            let context = InvocationContext(function: name, invocationID: invocationID, logger: invocation)
            let outcome: Outcome
            do {
                switch try OnceMode.decode(OnceMode.readEventBytes(arguments: arguments, environment: environment)) {
                case .request(let request):
                    outcome = request.body.count > settings.hardBodyLimit
                        ? .reject(413, "request body over \(settings.hardBodyLimit) bytes")
                        : await handler.handle(request: request, context: context)
                case .event(let event):
                    outcome = await handler.handle(event: event, context: context)
                }
            } catch {
                outcome = .reject(400, "\(error)")
            }
            invocation.info("once.done", metadata: ["outcome": "\(outcome.kind.rawValue)", "http.status": "\(outcome.status)"])
            FileDescriptorLogSink.standardOutput.write(line: OnceMode.resultLine(function: name, outcome: outcome))
            return outcome.exitCode
        case .http:
            do {
                // Ready means the store answers: a pod that cannot reach it must not take traffic.
                let janitor = StoreJanitor(store: store, clock: SystemWallClock(), interval: settings.purgeInterval, logger: logger)
                try await HTTPMode(function: name, handler: handler, settings: settings, logger: logger, ready: { await readiness(store) }, background: [janitor],
                                   metrics: metrics).run()
                logger.info("http.stopped")
                return 0
            } catch {
                logger.critical("http.failed", metadata: ["error": "\(error)"])
                return 1
            }
        case .lambda:
            guard let api = settings.lambdaRuntimeAPI else {
                logger.critical("startup.failed", metadata: ["error": "MLC_MODE=lambda needs AWS_LAMBDA_RUNTIME_API — Lambda sets it; locally, run the image under the AWS Lambda runtime interface emulator, or use MLC_MODE=once or http"])
                return configurationErrorExit
            }
            // The environment is frozen between invocations: retention runs between them, not in the background.
            let client = LambdaMode.makeClient()
            var beforeAnswer: (@Sendable () async -> Void)?
            if let wakeUp { beforeAnswer = { await wakeUp.drain() } }
            let lambda = LambdaMode(function: name, handler: handler, settings: settings, runtimeAPI: api, client: client, logger: logger,
                                    between: LambdaMode.retention(store: store, clock: SystemWallClock(), interval: settings.purgeInterval, logger: logger),
                                    // Lambda may freeze the process once answered: wake-ups leave first.
                                    beforeAnswer: beforeAnswer)
            let code: Int32
            do {
                try await lambda.run()
                code = 0
            } catch {
                logger.critical("lambda.failed", metadata: ["error": "\(error)"])
                code = 1
            }
            try? await client.shutdown()
            return code
        case .azure:
            do {
                let port = try settings.customHandlerPort()
                let janitor = StoreJanitor(store: store, clock: SystemWallClock(), interval: settings.purgeInterval, logger: logger)
                try await AzureMode(function: name, handler: handler, settings: settings, port: port, logger: logger,
                                    ready: { await readiness(store) }, background: [janitor]).run()
                logger.info("azure.stopped")
                return 0
            } catch let error as ConnectorError where error.label == "invalidConfiguration" {
                logger.critical("startup.failed", metadata: ["error": "\(error)"])
                return configurationErrorExit
            } catch {
                logger.critical("azure.failed", metadata: ["error": "\(error)"])
                return 1
            }
        }
    }
}
