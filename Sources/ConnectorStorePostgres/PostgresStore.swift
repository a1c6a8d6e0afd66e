import ConnectorCore
import ConnectorStore
import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO

/// Connection settings read from a `postgres://` URL.
///
/// `postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE?sslmode=…&schema=…&pool=…` — `sslmode`
/// `disable` (default), `prefer`, `require` or `verify-full` (both verify the certificate),
/// `schema` the schema holding the tables (default `public`; one per deployment if several share
/// a database), `pool` the most connections per process (default 10).
public struct PostgresStoreURL: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var sslMode: String
    public var schema: String
    public var poolSize: Int
    /// How long one store operation may wait for the server (default 10 s) before it fails as
    /// retryable — during an outage the pool would otherwise wait for a connection forever.
    public var operationTimeout: Duration

    public init(_ text: String) throws {
        guard let components = URLComponents(string: text), ["postgres", "postgresql"].contains(components.scheme?.lowercased() ?? ""),
              let host = components.host, !host.isEmpty else {
            throw ConnectorError.invalidConfiguration("MLC_STORE_URL is not a postgres://USER@HOST[:PORT]/DATABASE URL")
        }
        self.host = host
        port = components.port ?? 5432
        guard let user = components.user, !user.isEmpty else {
            throw ConnectorError.invalidConfiguration("MLC_STORE_URL names no user", fix: "use postgres://USER[:PASSWORD]@HOST/DATABASE")
        }
        username = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        let path = components.path.trimmingCharacters(in: CharacterSet(charactersIn: "/"))
        database = path.isEmpty ? nil : path
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name] = item.value ?? "" }
        sslMode = query["sslmode"] ?? "disable"
        guard ["disable", "prefer", "require", "verify-full", "verify-ca"].contains(sslMode) else {
            throw ConnectorError.invalidConfiguration("MLC_STORE_URL sslmode='\(sslMode)' is not supported", fix: "use disable, prefer, require or verify-full")
        }
        schema = query["schema"] ?? "public"
        guard (try? /^[a-z_][a-z0-9_]{0,62}$/.wholeMatch(in: schema)) != nil else {
            throw ConnectorError.invalidConfiguration("MLC_STORE_URL schema='\(schema)' is not a plain lower-case identifier")
        }
        poolSize = Int(query["pool"] ?? "10") ?? 0
        guard (1...200).contains(poolSize) else {
            throw ConnectorError.invalidConfiguration("MLC_STORE_URL pool must be between 1 and 200")
        }
        guard let timeout = Int(query["timeout"] ?? "10"), (1...600).contains(timeout) else {
            throw ConnectorError.invalidConfiguration("MLC_STORE_URL timeout must be whole seconds between 1 and 600")
        }
        operationTimeout = .seconds(timeout)
        let known: Set<String> = ["sslmode", "schema", "pool", "timeout"]
        if let unknown = query.keys.sorted().first(where: { !known.contains($0) }) {
            throw ConnectorError.invalidConfiguration("MLC_STORE_URL has an unknown parameter '\(unknown)'", fix: "use sslmode, schema, pool or timeout")
        }
    }

    var clientConfiguration: PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "prefer": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-full", "verify-ca": tls = .require(.makeClientConfiguration())
        default: tls = .disable
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: tls)
        configuration.options.maximumConnections = poolSize
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }
}

/// The production backend: PostgreSQL through postgres-nio's pooled client, shared by every
/// instance of every function.
///
/// Every operation is one statement (`INSERT … ON CONFLICT … RETURNING`, `UPDATE … WHERE version
/// = $n RETURNING`), which PostgreSQL executes atomically against concurrent statements from any
/// process; a group insert is one transaction. A statement returns only after its commit, and
/// PostgreSQL's default `synchronous_commit=on` makes that commit durable. Like the SQLite
/// backend, a delete leaves a tombstone keeping the version. Time comes from the injected
/// clock and is passed in, so every backend reads expiry the same way.
public final class PostgresStore: KeyValueStore {
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let clock: any WallClock
    private let table: String
    private let logger: Logger
    private let operationTimeout: Duration

    private init(client: PostgresClient, runner: Task<Void, Never>, clock: any WallClock, settings: PostgresStoreURL, logger: Logger) {
        self.client = client
        self.runner = runner
        self.clock = clock
        self.table = "\"\(settings.schema)\".mlc_kv"
        self.operationTimeout = settings.operationTimeout
        self.logger = logger
    }

    /// Connects (the pool retries on its own when the server goes away) and applies the schema
    /// migrations under an advisory lock, so several instances starting at once are safe.
    /// Gives up when the server cannot be reached within `timeout` (the pool would otherwise
    /// keep retrying): a function that cannot reach its store should fail its start-up clearly.
    public static func open(url: String, clock: any WallClock = SystemWallClock(), timeout: Duration = .seconds(15),
                            logger: Logger = Logger(label: "mlc.store.postgres", factory: { _ in SwiftLogNoOpLogHandler() })) async throws -> PostgresStore {
        let settings = try PostgresStoreURL(url)
        let client = PostgresClient(configuration: settings.clientConfiguration, backgroundLogger: logger)
        let runner = Task { await client.run() }
        let store = PostgresStore(client: client, runner: runner, clock: clock, settings: settings, logger: logger)
        do {
            try await withThrowingTaskGroup(of: Bool.self) { group in
                group.addTask {
                    try await PostgresMigrations.apply(client: client, schema: settings.schema, logger: logger)
                    return true
                }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return false
                }
                let migrated = try await group.next() ?? false
                group.cancelAll()
                guard migrated else {
                    throw ConnectorError.storeUnavailable("cannot reach PostgreSQL at \(settings.host):\(settings.port) within \(timeout.components.seconds) s", fix: "check that it is up and that MLC_STORE_URL is right")
                }
            }
        } catch {
            runner.cancel()
            throw Self.storeError(error, what: "cannot prepare the PostgreSQL store at \(settings.host):\(settings.port)")
        }
        return store
    }

    static func storeError(_ error: any Error, what: String) -> ConnectorError {
        if let connectorError = error as? ConnectorError { return connectorError }
        if let psql = error as? PSQLError {
            let detail = psql.serverInfo?[.message] ?? "\(psql.code)"
            return .storeUnavailable("\(what): \(detail)", fix: "retry; if it persists check that PostgreSQL is up and MLC_STORE_URL is right")
        }
        return .storeUnavailable("\(what): \(error)", fix: "retry; if it persists check that PostgreSQL is up and MLC_STORE_URL is right")
    }

    private func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let client = self.client, logger = self.logger
        return try await bounded { try await client.query(query, logger: logger).collect() }
    }

    /// Runs `body` for at most the operation timeout. A timed-out write may still have
    /// committed (its answer was lost): like every transient error, callers treat it as
    /// "unknown" and rely on their idempotence, never on its absence.
    private func bounded<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = operationTimeout
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    try await Task.sleep(for: timeout)
                    return nil
                }
                defer { group.cancelAll() }
                guard let first = try await group.next(), let value = first else {
                    throw ConnectorError.storeUnavailable("PostgreSQL did not answer within \(timeout.components.seconds) s", fix: "retry; check that the server is up")
                }
                return value
            }
        } catch {
            throw Self.storeError(error, what: "PostgreSQL store")
        }
    }

    private var now: Int64 { clock.now().unixMilliseconds }
    private static func expiry(_ ttl: Duration?, now: Int64) -> Int64? { ttl.map { now + $0.milliseconds } }

    private static func stored(_ row: PostgresRow, key: String?) throws -> StoredValue {
        if let key {
            var (value, version, expires) = try row.decode((ByteBuffer, Int64, Int64?).self)
            return StoredValue(key: key, value: value.readBytes(length: value.readableBytes) ?? [], version: version, expiresAt: expires.map(Date.init(unixMilliseconds:)))
        }
        var (rowKey, value, version, expires) = try row.decode((String, ByteBuffer, Int64, Int64?).self)
        return StoredValue(key: rowKey, value: value.readBytes(length: value.readableBytes) ?? [], version: version, expiresAt: expires.map(Date.init(unixMilliseconds:)))
    }

    public func get(_ key: String) async throws -> StoredValue? {
        try StoreKey.validate(key)
        let result = try await rows("SELECT value, version, expires_at FROM \(unescaped: table) WHERE key = \(key) AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > \(now))")
        return try result.first.map { try Self.stored($0, key: key) }
    }

    public func set(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> Int64 {
        try StoreKey.validate(key)
        let result = try await rows("""
            INSERT INTO \(unescaped: table) AS kv (key, value, version, expires_at) VALUES (\(key), \(ByteBuffer(bytes: value)), 1, \(Self.expiry(ttl, now: now)))
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = kv.version + 1, expires_at = EXCLUDED.expires_at
            RETURNING version
            """)
        guard let version = try result.first?.decode(Int64.self) else { throw ConnectorError.storeUnavailable("PostgreSQL store: write returned no version") }
        return version
    }

    private func insertQuery(_ key: String, _ value: [UInt8], ttl: Duration?, now: Int64) -> PostgresQuery {
        """
        INSERT INTO \(unescaped: table) AS kv (key, value, version, expires_at) VALUES (\(key), \(ByteBuffer(bytes: value)), 1, \(Self.expiry(ttl, now: now)))
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value, version = kv.version + 1, expires_at = EXCLUDED.expires_at
        WHERE kv.value IS NULL OR (kv.expires_at IS NOT NULL AND kv.expires_at <= \(now))
        RETURNING version
        """
    }

    public func insertIfAbsent(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> InsertOutcome {
        try StoreKey.validate(key)
        let result = try await rows(insertQuery(key, value, ttl: ttl, now: now))
        if let version = try result.first?.decode(Int64.self) { return .inserted(version: version) }
        return .exists(try await get(key))
    }

    public func insertIfAbsent(_ entries: [StoreEntry]) async throws -> [Int64?] {
        for entry in entries { try StoreKey.validate(entry.key) }
        guard !entries.isEmpty else { return [] }
        let now = self.now
        let queries = entries.map { insertQuery($0.key, $0.value, ttl: $0.ttl, now: now) }
        let client = self.client, logger = self.logger
        return try await bounded {
            try await client.withTransaction(logger: logger) { connection in
                var versions: [Int64?] = []
                for query in queries {
                    let rows = try await connection.query(query, logger: logger).collect()
                    versions.append(try rows.first?.decode(Int64.self))
                }
                return versions
            }
        }
    }

    public func compareAndSwap(_ key: String, expectedVersion: Int64, _ value: [UInt8], ttl: Duration?) async throws -> SwapOutcome {
        try StoreKey.validate(key)
        let now = self.now
        let result = try await rows("""
            UPDATE \(unescaped: table) SET value = \(ByteBuffer(bytes: value)), version = version + 1, expires_at = \(Self.expiry(ttl, now: now))
            WHERE key = \(key) AND version = \(expectedVersion) AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > \(now))
            RETURNING version
            """)
        guard let version = try result.first?.decode(Int64.self) else { return .conflict }
        return .swapped(version: version)
    }

    public func delete(_ key: String, expectedVersion: Int64?) async throws -> Bool {
        try StoreKey.validate(key)
        let now = self.now
        let result: [PostgresRow]
        if let expectedVersion {
            result = try await rows("""
                UPDATE \(unescaped: table) SET value = NULL, version = version + 1, expires_at = \(now)
                WHERE key = \(key) AND version = \(expectedVersion) AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > \(now))
                RETURNING version
                """)
        } else {
            result = try await rows("""
                UPDATE \(unescaped: table) SET value = NULL, version = version + 1, expires_at = \(now)
                WHERE key = \(key) AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > \(now))
                RETURNING version
                """)
        }
        return !result.isEmpty
    }

    public func list(prefix: String, after: String?, limit: Int) async throws -> StorePage {
        precondition(limit > 0, "limit must be positive")
        let lower = max(prefix, after ?? "")
        // COLLATE "C": byte order, the same order every backend lists in.
        let result = try await rows("""
            SELECT key, value, version, expires_at FROM \(unescaped: table)
            WHERE key COLLATE "C" >= \(lower) AND key COLLATE "C" < \(StoreKey.upperBound(forPrefix: prefix)) AND key COLLATE "C" > \(after ?? "")
              AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > \(now))
            ORDER BY key COLLATE "C" LIMIT \(limit + 1)
            """)
        let items = try result.prefix(limit).map { try Self.stored($0, key: nil) }
        return StorePage(items: items, nextCursor: result.count > limit ? items.last?.key : nil)
    }

    public func purgeExpired(before cutoff: Date, limit: Int) async throws -> Int {
        let result = try await rows("""
            DELETE FROM \(unescaped: table) WHERE key IN (
              SELECT key FROM \(unescaped: table) WHERE expires_at IS NOT NULL AND expires_at <= \(cutoff.unixMilliseconds) LIMIT \(limit)
              FOR UPDATE SKIP LOCKED)
            RETURNING key
            """)
        return result.count
    }

    public func close() async throws {
        runner.cancel()
        _ = await runner.value
    }
}
