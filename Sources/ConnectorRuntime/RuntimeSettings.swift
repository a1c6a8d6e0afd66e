import ConnectorCore
import ConnectorStore
import ConnectorStorePostgres
import ConnectorStoreSQLite
import Foundation
import Logging

/// How the binary was asked to run (SPEC §3).
public enum RunMode: String, Sendable, CaseIterable {
    case once, http, lambda, azure

    /// `MLC_MODE` if set, else the platform's own variables, else the arguments; never by
    /// looking at stdin (Knative's stdin is at EOF by contract, a CronJob has none).
    public static func detect(environment: [String: String], arguments: [String]) throws -> RunMode {
        if let explicit = environment["MLC_MODE"], !explicit.isEmpty {
            guard let mode = RunMode(rawValue: explicit.lowercased()) else {
                throw ConnectorError.invalidConfiguration("MLC_MODE='\(explicit)' is not a mode", fix: "use one of: once, http, lambda, azure")
            }
            return mode
        }
        if environment["AWS_LAMBDA_RUNTIME_API"] != nil { return .lambda }
        if environment["FUNCTIONS_CUSTOMHANDLER_PORT"] != nil { return .azure }
        if arguments.contains("--event-file") || arguments.contains("--stdin") || environment["MLC_EVENT_JSON"] != nil { return .once }
        return .http
    }
}

/// Everything a function reads from its environment, validated once at start-up.
public struct RuntimeSettings: Sendable {
    public var storeURL: String
    public var port: Int
    public var host: String
    public var logLevel: Logger.Level
    /// Bodies above this are recorded as unusable (signed deliveries) — default 2 MiB.
    public var maxBodyBytes: Int
    /// Requests above this are refused with 413 before anything else (a memory bound for input
    /// nobody has authenticated yet) — default 32 MiB, never below `maxBodyBytes`. Between the
    /// two, a signed delivery is still verified, answered 200 and recorded as unusable.
    public var hardBodyLimit: Int
    /// Retention of deliveries, pending work and audit lines — default 30 days.
    public var retention: Duration
    /// How often a long-lived process purges expired records — default 15 minutes.
    public var purgeInterval: Duration
    /// Knative's sink for wake-up events, when bound.
    public var sink: String?
    /// `host:port` of the AWS Lambda Runtime API (`AWS_LAMBDA_RUNTIME_API`, set by Lambda).
    public var lambdaRuntimeAPI: String?
    /// The Azure Functions host's port for the custom handler, as given
    /// (`FUNCTIONS_CUSTOMHANDLER_PORT`, or the legacy `FUNCTIONS_HTTPWORKER_PORT`); checked when
    /// azure mode starts (`customHandlerPort()`).
    public var customHandlerPortText: String?
    /// Lambda: how long before the invocation deadline the handler is cut and the invocation
    /// answered as "retry", so the answer still reaches the Runtime API — default 1000 ms
    /// (`MLC_DEADLINE_MARGIN_MS`, 0…60000).
    public var deadlineMargin: TimeInterval
    /// What a bare schedule tick (an Azure timer invocation, an EventBridge "Scheduled Event")
    /// becomes: the CloudEvent type and data, per function (see `ScheduleTick`).
    public var scheduleTick: ScheduleTick

    public static let defaultStoreURL = "sqlite:.mlc/state.sqlite"

    public init(environment: [String: String]) throws {
        storeURL = environment["MLC_STORE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? Self.defaultStoreURL
        guard let port = Int(environment["PORT"] ?? "8080"), (0...65535).contains(port) else {
            throw ConnectorError.invalidConfiguration("PORT='\(environment["PORT"] ?? "")' is not a port number")
        }
        self.port = port
        host = environment["MLC_HOST"] ?? "0.0.0.0"
        let levelName = environment["MLC_LOG_LEVEL"] ?? environment["AWS_LAMBDA_LOG_LEVEL"] ?? "info"
        guard let level = Logger.Level(loose: levelName) else {
            throw ConnectorError.invalidConfiguration("MLC_LOG_LEVEL='\(levelName)' is not a log level", fix: "use trace, debug, info, notice, warning, error or critical")
        }
        logLevel = level
        guard let maxBody = Int(environment["MLC_MAX_BODY_BYTES"] ?? "2097152"), maxBody >= 1024, maxBody <= 64 * 1024 * 1024 else {
            throw ConnectorError.invalidConfiguration("MLC_MAX_BODY_BYTES must be a byte count between 1024 and 67108864")
        }
        maxBodyBytes = maxBody
        guard let maxRequest = Int(environment["MLC_MAX_REQUEST_BYTES"] ?? "33554432"), maxRequest >= maxBody, maxRequest <= 1024 * 1024 * 1024 else {
            throw ConnectorError.invalidConfiguration("MLC_MAX_REQUEST_BYTES must be a byte count at least MLC_MAX_BODY_BYTES and at most 1 GiB")
        }
        hardBodyLimit = maxRequest
        guard let days = Int(environment["MLC_RETENTION_DAYS"] ?? "30"), days >= 1 else {
            throw ConnectorError.invalidConfiguration("MLC_RETENTION_DAYS must be a whole number of days ≥ 1")
        }
        retention = .seconds(days * 86_400)
        guard let purgeMinutes = Int(environment["MLC_PURGE_INTERVAL_MINUTES"] ?? "15"), purgeMinutes >= 1 else {
            throw ConnectorError.invalidConfiguration("MLC_PURGE_INTERVAL_MINUTES must be a whole number of minutes ≥ 1")
        }
        purgeInterval = .seconds(purgeMinutes * 60)
        sink = environment["K_SINK"].flatMap { $0.isEmpty ? nil : $0 }
        lambdaRuntimeAPI = environment["AWS_LAMBDA_RUNTIME_API"].flatMap { $0.isEmpty ? nil : $0 }
        customHandlerPortText = (environment["FUNCTIONS_CUSTOMHANDLER_PORT"] ?? environment["FUNCTIONS_HTTPWORKER_PORT"]).flatMap { $0.isEmpty ? nil : $0 }
        guard let marginMS = Int(environment["MLC_DEADLINE_MARGIN_MS"] ?? "1000"), (0...60_000).contains(marginMS) else {
            throw ConnectorError.invalidConfiguration("MLC_DEADLINE_MARGIN_MS must be a whole number of milliseconds between 0 and 60000")
        }
        deadlineMargin = TimeInterval(marginMS) / 1000
        scheduleTick = try ScheduleTick(environment: environment)
        try Self.checkStorePolicy(storeURL: storeURL, environment: environment)
    }

    static let scaledPlatformVariables = ["K_SERVICE", "AWS_LAMBDA_RUNTIME_API", "FUNCTIONS_CUSTOMHANDLER_PORT", "FUNCTIONS_HTTPWORKER_PORT", "CLOUD_RUN_JOB"]

    /// The port azure mode listens on (always on 127.0.0.1: only the Functions host calls it).
    public func customHandlerPort() throws -> Int {
        guard let text = customHandlerPortText else {
            throw ConnectorError.invalidConfiguration("azure mode needs FUNCTIONS_CUSTOMHANDLER_PORT", fix: "the Azure Functions host sets it when it starts the custom handler; to try azure mode locally set it yourself, e.g. FUNCTIONS_CUSTOMHANDLER_PORT=7071")
        }
        guard let port = Int(text), (0...65535).contains(port) else {
            throw ConnectorError.invalidConfiguration("FUNCTIONS_CUSTOMHANDLER_PORT='\(Formatting.bounded(text, limit: 20))' is not a port number")
        }
        return port
    }

    /// Separate pods with separate SQLite files would each think they own the orders and post
    /// them twice: on a scaled platform only a shared store is allowed (SPEC §5).
    public static func checkStorePolicy(storeURL: String, environment: [String: String]) throws {
        guard storeURL.hasPrefix("sqlite:") || storeURL.hasPrefix("memory:") else { return }
        guard environment["MLC_ALLOW_LOCAL_STORE"] != "1" else { return }
        if let variable = scaledPlatformVariables.first(where: { environment[$0] != nil }) {
            throw ConnectorError.invalidConfiguration(
                "MLC_STORE_URL is a local store (\(storeURL.prefix(7))…) but \(variable) says this runs scaled; separate instances with separate files would post orders twice",
                fix: "point MLC_STORE_URL at a shared postgres:// store, or set MLC_ALLOW_LOCAL_STORE=1 if exactly one instance ever runs")
        }
    }
}

/// What a schedule tick that carries no event of its own becomes (an Azure timer invocation, an
/// EventBridge rule's "Scheduled Event"): a CloudEvent of `type` with `data`.
///
/// `MLC_SCHEDULE_EVENT_TYPE` (default `dev.knative.sources.ping`, which backfill-poll and
/// catalog-push both take) and `MLC_SCHEDULE_DATA` (a JSON object, default `{}` — backfill-poll
/// then polls every connection; catalog-push needs `{"connection":"…"}`) apply to every timer;
/// `MLC_SCHEDULE_EVENT_TYPE_<FUNCTION>` / `MLC_SCHEDULE_DATA_<FUNCTION>` override them for one
/// Azure function (its name upper-cased, every other character than A–Z and 0–9 as `_`, e.g.
/// `MLC_SCHEDULE_DATA_CATALOG_ACME` for the timer function `catalog-acme`).
public struct ScheduleTick: Sendable, Equatable {
    public static let defaultType = "dev.knative.sources.ping"

    public var type: String
    /// Canonical JSON (sorted keys) of an object.
    public var data: [UInt8]
    /// Per-function overrides, keyed by the normalised function name.
    public var types: [String: String]
    public var datas: [String: [UInt8]]

    public init(type: String = Self.defaultType, data: [UInt8] = Array("{}".utf8), types: [String: String] = [:], datas: [String: [UInt8]] = [:]) {
        self.type = type
        self.data = data
        self.types = types
        self.datas = datas
    }

    init(environment: [String: String]) throws {
        self.init()
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            if name == "MLC_SCHEDULE_EVENT_TYPE" {
                type = try Self.checkType(value, variable: name)
            } else if name.hasPrefix("MLC_SCHEDULE_EVENT_TYPE_") {
                types[String(name.dropFirst("MLC_SCHEDULE_EVENT_TYPE_".count))] = try Self.checkType(value, variable: name)
            } else if name == "MLC_SCHEDULE_DATA" {
                data = try Self.checkData(value, variable: name)
            } else if name.hasPrefix("MLC_SCHEDULE_DATA_") {
                datas[String(name.dropFirst("MLC_SCHEDULE_DATA_".count))] = try Self.checkData(value, variable: name)
            }
        }
    }

    /// The type and data for the timer function `function` (nil: the defaults).
    public func resolve(function: String?) -> (type: String, data: [UInt8]) {
        guard let function else { return (type, data) }
        let key = Self.variableSuffix(function)
        return (types[key] ?? type, datas[key] ?? data)
    }

    /// `catalog-acme` → `CATALOG_ACME`.
    public static func variableSuffix(_ function: String) -> String {
        String(function.uppercased().unicodeScalars.map { ("A"..."Z").contains($0) || ("0"..."9").contains($0) ? Character($0) : "_" })
    }

    static func checkType(_ value: String, variable: String) throws -> String {
        guard !value.isEmpty, value.count <= 200, !value.contains(where: \.isWhitespace) else {
            throw ConnectorError.invalidConfiguration("\(variable) must be a CloudEvent type such as dev.knative.sources.ping or com.mlconnector.orders.drain")
        }
        return value
    }

    static func checkData(_ value: String, variable: String) throws -> [UInt8] {
        guard let object = try? JSONSerialization.jsonObject(with: Data(value.utf8)) as? [String: Any],
              let canonical = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes]) else {
            throw ConnectorError.invalidConfiguration("\(variable) is not a JSON object", fix: "e.g. \(variable)='{\"connection\":\"acme\"}'")
        }
        return Array(canonical)
    }
}

/// Opens the store a URL names (SPEC §5).
public enum StoreFactory {
    /// Pages of SQLite write-ahead log a short-lived process lets build up (see `SQLiteStore.open`).
    public static let shortLivedCheckpointPages = 256

    /// `shortLived`: the process handles one event and exits (once mode) — its SQLite log is kept short.
    public static func open(_ url: String, clock: any WallClock = SystemWallClock(), shortLived: Bool = false) async throws -> any KeyValueStore {
        if url == "memory:" || url.hasPrefix("memory:") {
            return MemoryStore(clock: clock)
        }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else {
                throw ConnectorError.invalidConfiguration("MLC_STORE_URL 'sqlite:' names no file", fix: "use sqlite:PATH, e.g. sqlite:.mlc/state.sqlite")
            }
            return try await SQLiteStore.open(path: path, clock: clock, checkpointPages: shortLived ? shortLivedCheckpointPages : nil)
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try await PostgresStore.open(url: url, clock: clock)
        }
        throw ConnectorError.invalidConfiguration("MLC_STORE_URL '\(url.prefix(12))…' names no known store", fix: "use sqlite:PATH, postgres://… or memory:")
    }
}
