import ArgumentParser
import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorRuntime
import ConnectorStore
import Dispatch
import Foundation
import Logging
import Synchronization

/// `mlc run`: the four functions in this process — one HTTP listener for webhook-receiver, an
/// in-process hand-off to order-poster, and each connection's schedules firing backfill-poll
/// and catalog-push — so one machine works without Knative. Wiring only: the pieces are
/// `LocalFunctions`, `LocalScheduler` and `HTTPMode`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run all four functions in this process: webhooks in, order posting, and each connection's backfill and catalog schedules (until Ctrl-C).",
        discussion: """
            Serves POST /webhooks/woocommerce/{connection} (and the receiver's other routes), GET /health/live and /health/ready. \
            Deliveries and polls hand orders to order-poster in this process; every connection in the store is polled on schedules.backfill \
            and its catalog pushed on schedules.catalog (UTC cron), read again every minute. SIGINT/SIGTERM stop taking new work and finish \
            what is in flight. Needs MLC_MASTER_KEY (or MLC_MASTER_KEY_FILE).
            """)

    @Option(help: "Port to listen on (default: $MLC_PORT, else 8080; 0 = any free port).") var port: Int?
    @Option(help: "Address to listen on (0.0.0.0 to take deliveries from other machines).") var host = "127.0.0.1"
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let settings: RuntimeSettings
        let key: MasterKey
        do {
            key = try masterKey()
            var parsed = try RuntimeSettings(environment: environment.merging(["MLC_STORE_URL": store.resolved]) { $1 })
            parsed.port = try Self.port(option: port, environment: environment)
            parsed.host = host
            settings = parsed
        } catch { Self.exitCleanly(CLIError(error)) }
        let logger = Logger(label: "mlc-run") { label in JSONLogHandler(label: label, sink: FileDescriptorLogSink.standardOutput, level: settings.logLevel) }

        let kv: any KeyValueStore
        do { kv = try await StoreFactory.open(settings.storeURL) } catch { Self.exitCleanly(CLIError(error)) }
        let clock = SystemWallClock()
        let remotes = LiveRemoteSystems(httpClient: .shared, store: kv, clock: clock, sleeper: SystemSleeper(),
                                        tokenCache: SealedTokenCache(store: kv, key: key, clock: clock), logger: logger)
        var functionSettings = LocalFunctions.Settings()
        functionSettings.retention = settings.retention
        functionSettings.maxBodyBytes = settings.maxBodyBytes
        let functions = LocalFunctions(store: kv, masterKey: key, remotes: remotes, clock: clock, sleeper: SystemSleeper(), settings: functionSettings,
                                       alertTransport: LiveAlertTransport(), logger: logger)
        let scheduler = LocalScheduler(functions: functions, clock: clock, sleeper: SystemSleeper(),
                                       purgeInterval: TimeInterval(settings.purgeInterval.components.seconds), logger: logger)
        let server = HTTPMode(function: "mlc-run", handler: functions.router, settings: settings, logger: logger, ready: {
            do {
                _ = try await kv.get("health/ready")
                return true
            } catch { return false }
        })
        let signals = SignalWaiter([SIGINT, SIGTERM])
        // HTTPMode.withRunningServer waits for the bound port and never hears that binding
        // failed (a port in use): if the listener is not up in time, or a signal comes first,
        // give up instead of hanging.
        let started = StartFlag()
        let serving = Task {
            try await server.withRunningServer { bound in
                started.set()
                say("mlc run: listening on http://\(settings.host):\(bound) — store \(StoreURLText.redacted(settings.storeURL))")
                say("  WooCommerce webhooks → http://\(settings.host):\(bound)/webhooks/woocommerce/{connection}")
                await scheduler.refresh()
                for (job, next) in scheduler.nextFireTimes.sorted(by: { $0.key.description < $1.key.description }) {
                    say("  schedule \(job): next \(Formatting.timestamp(next))")
                }
                if scheduler.nextFireTimes.isEmpty { say("  no connections yet: add one with mlc connection add --file F (picked up within a minute)") }
                say("Ctrl-C stops: in-flight requests and runs finish first.")
                // Work left pending before this start is taken at once.
                let drain = CloudEvent(id: "mlc-run-start-\(UUID().uuidString.lowercased())", source: "/ml-connector/mlc-run", type: OrderPosterFunction.ordersDrain, data: Array("{}".utf8))
                functions.handOff.send(drain, logger: logger)
                let loop = Task { await scheduler.run() }
                let signal = await signals.next()
                logger.info("run.stopping", metadata: ["signal": "\(signal)"])
                say("mlc run: stopping (signal \(signal)); finishing what is in flight…")
                loop.cancel()
                await loop.value
                await scheduler.waitForRuns()
            }
        }
        let watchdog = Task {
            try? await Task.sleep(for: Self.startTimeout)
            if !started.isSet { serving.cancel() }
        }
        Task {
            _ = await signals.next()
            if !started.isSet { serving.cancel() }
        }
        do {
            try await serving.value
            watchdog.cancel()
        } catch {
            watchdog.cancel()
            logger.critical("run.failed", metadata: ["error": "\(error)"])
            await remotes.shutdown()
            try? await kv.close()
            let reason = error is CancellationError ? "the listener did not start (is the port in use?)" : "\(error)"
            Self.exitCleanly(CLIError(message: "mlc run could not serve on \(settings.host):\(settings.port): \(reason) — pick another --port or stop what holds it"))
        }
        // The listener has stopped; hand-offs it queued are worked before the store closes.
        await functions.handOff.drain()
        functions.handOff.stop()
        let counts = functions.handOff.counts
        logger.info("run.stopped", metadata: ["handoff.outcomes": "\(counts.outcomes)", "handoff.dropped": "\(counts.dropped)"])
        await remotes.shutdown()
        try? await kv.close()
        say("mlc run: stopped.")
    }

    /// How long the listener may take to come up.
    static let startTimeout: Duration = .seconds(20)

    /// `--port`, else `MLC_PORT`, else 8080.
    static func port(option: Int?, environment: [String: String]) throws -> Int {
        if let option {
            guard (0...65535).contains(option) else { throw CLIError(message: "--port \(option) is not a port number — use 0…65535 (0 = any free port)") }
            return option
        }
        guard let text = environment["MLC_PORT"], !text.isEmpty else { return 8080 }
        guard let value = Int(text), (0...65535).contains(value) else {
            throw CLIError(message: "MLC_PORT='\(text)' is not a port number — set it to 0…65535 or pass --port")
        }
        return value
    }
}

/// Set once the listener is up.
final class StartFlag: Sendable {
    private let value = Mutex(false)
    func set() { value.withLock { $0 = true } }
    var isSet: Bool { value.withLock { $0 } }
}

/// Waits for the first of some signals (their default action is turned off so the process
/// can stop gracefully).
final class SignalWaiter: @unchecked Sendable {
    private let lock = NSLock()
    private var sources: [any DispatchSourceSignal] = []
    private var received: Int32?
    private var waiters: [CheckedContinuation<Int32, Never>] = []

    init(_ numbers: [Int32]) {
        for number in numbers {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in self?.fire(number) }
            source.resume()
            sources.append(source)
        }
    }

    private func fire(_ number: Int32) {
        lock.lock()
        if received == nil { received = number }
        let waiting = waiters
        waiters = []
        lock.unlock()
        for waiter in waiting { waiter.resume(returning: number) }
    }

    /// The first signal received (at once if one already was).
    func next() async -> Int32 {
        await withCheckedContinuation { continuation in
            lock.lock()
            if let received {
                lock.unlock()
                continuation.resume(returning: received)
            } else {
                waiters.append(continuation)
                lock.unlock()
            }
        }
    }
}

/// A line on standard output at once (print buffers when stdout is a pipe).
private func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
