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
        try Self.checkStorePolicy(storeURL: storeURL, environment: environment)
    }

    static let scaledPlatformVariables = ["K_SERVICE", "AWS_LAMBDA_RUNTIME_API", "FUNCTIONS_CUSTOMHANDLER_PORT", "CLOUD_RUN_JOB"]

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

/// Opens the store a URL names (SPEC §5).
public enum StoreFactory {
    public static func open(_ url: String, clock: any WallClock = SystemWallClock()) async throws -> any KeyValueStore {
        if url == "memory:" || url.hasPrefix("memory:") {
            return MemoryStore(clock: clock)
        }
        if url.hasPrefix("sqlite:") {
            var path = String(url.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
            guard !path.isEmpty else {
                throw ConnectorError.invalidConfiguration("MLC_STORE_URL 'sqlite:' names no file", fix: "use sqlite:PATH, e.g. sqlite:.mlc/state.sqlite")
            }
            return try await SQLiteStore.open(path: path, clock: clock)
        }
        if url.hasPrefix("postgres://") || url.hasPrefix("postgresql://") {
            return try await PostgresStore.open(url: url, clock: clock)
        }
        throw ConnectorError.invalidConfiguration("MLC_STORE_URL '\(url.prefix(12))…' names no known store", fix: "use sqlite:PATH, postgres://… or memory:")
    }
}
