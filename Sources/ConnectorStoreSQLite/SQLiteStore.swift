import ConnectorCore
import ConnectorStore
import Foundation
import SQLiteNIO

/// The embedded default backend: one SQLite file in WAL mode, shared safely by every process
/// on one machine.
///
/// Every operation is a single SQL statement in autocommit mode, so SQLite's own write lock
/// makes it atomic across processes; `synchronous=FULL` makes the commit durable before the
/// call returns (WAL with `NORMAL` could lose the last commits on power loss, which the
/// protocol forbids). A deleted key leaves a tombstone that keeps its version until purged, so
/// versions never repeat for a key while anyone could still hold an old one.
public final class SQLiteStore: KeyValueStore {
    /// The schema version this code writes; `PRAGMA user_version` records the applied one.
    static let schemaVersion = 1

    private let connection: SQLiteConnection
    private let clock: any WallClock
    public let path: String

    private init(connection: SQLiteConnection, clock: any WallClock, path: String) {
        self.connection = connection
        self.clock = clock
        self.path = path
    }

    /// Opens (creating if needed) the store at `path`, creating its directory and schema.
    public static func open(path: String, clock: any WallClock = SystemWallClock()) async throws -> SQLiteStore {
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let connection: SQLiteConnection
        do {
            connection = try await SQLiteConnection.open(storage: .file(path: path))
        } catch {
            throw ConnectorError.storeUnavailable("cannot open the SQLite store at \(path): \(error)", fix: "check the path in MLC_STORE_URL and that the directory is writable")
        }
        let store = SQLiteStore(connection: connection, clock: clock, path: path)
        do {
            try await store.migrate()
        } catch {
            try? await connection.close()
            throw error
        }
        return store
    }

    private func migrate() async throws {
        // busy_timeout first: every later statement may meet another process's write lock.
        _ = try await run("PRAGMA busy_timeout = 15000")
        _ = try await run("PRAGMA journal_mode = WAL")
        _ = try await run("PRAGMA synchronous = FULL")
        let current = try await run("PRAGMA user_version").first?.column("user_version")?.integer ?? 0
        if current > Self.schemaVersion {
            throw ConnectorError.storeUnavailable("the SQLite store at \(path) has schema version \(current), newer than this build understands (\(Self.schemaVersion))", fix: "run a newer ml-connector against it")
        }
        if current < 1 {
            // IF NOT EXISTS: two processes may migrate the same new file at once.
            _ = try await run("""
                CREATE TABLE IF NOT EXISTS kv (
                    key TEXT PRIMARY KEY NOT NULL,
                    value BLOB,
                    version INTEGER NOT NULL,
                    expires_at INTEGER
                ) WITHOUT ROWID
                """)
            _ = try await run("CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL")
            _ = try await run("PRAGMA user_version = 1")
        }
    }

    @discardableResult
    private func run(_ sql: String, _ binds: [SQLiteData] = []) async throws -> [SQLiteRow] {
        do {
            return try await connection.query(sql, binds)
        } catch let error as SQLiteError {
            throw ConnectorError.storeUnavailable("SQLite store \(path): \(error.message)", fix: "retry; if it persists check disk space and file permissions")
        } catch {
            throw ConnectorError.storeUnavailable("SQLite store \(path): \(error)")
        }
    }

    private var now: Int64 { clock.now().unixMilliseconds }

    private static func blob(_ bytes: [UInt8]) -> SQLiteData { .blob(ByteBuffer(bytes: bytes)) }
    private static func expiry(_ ttl: Duration?, now: Int64) -> SQLiteData { ttl.map { .integer(Int(now + $0.milliseconds)) } ?? .null }

    private static func stored(_ row: SQLiteRow, key: String? = nil) -> StoredValue? {
        guard let version = row.column("version")?.integer, case .blob(var buffer)? = row.column("value") else { return nil }
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        let expiry = row.column("expires_at")?.integer.map { Date(unixMilliseconds: Int64($0)) }
        return StoredValue(key: key ?? row.column("key")?.string ?? "", value: bytes, version: Int64(version), expiresAt: expiry)
    }

    private static let liveClause = "value IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)"

    public func get(_ key: String) async throws -> StoredValue? {
        try StoreKey.validate(key)
        let rows = try await run("SELECT value, version, expires_at FROM kv WHERE key = ? AND \(Self.liveClause)", [.text(key), .integer(Int(now))])
        return rows.first.flatMap { Self.stored($0, key: key) }
    }

    public func set(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> Int64 {
        try StoreKey.validate(key)
        let now = self.now
        let rows = try await run("""
            INSERT INTO kv (key, value, version, expires_at) VALUES (?1, ?2, 1, ?3)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = kv.version + 1, expires_at = excluded.expires_at
            RETURNING version
            """, [.text(key), Self.blob(value), Self.expiry(ttl, now: now)])
        guard let version = rows.first?.column("version")?.integer else { throw ConnectorError.storeUnavailable("SQLite store \(path): write returned no version") }
        return Int64(version)
    }

    public func insertIfAbsent(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> InsertOutcome {
        try StoreKey.validate(key)
        let now = self.now
        let rows = try await run("""
            INSERT INTO kv (key, value, version, expires_at) VALUES (?1, ?2, 1, ?3)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = kv.version + 1, expires_at = excluded.expires_at
            WHERE kv.value IS NULL OR (kv.expires_at IS NOT NULL AND kv.expires_at <= ?4)
            RETURNING version
            """, [.text(key), Self.blob(value), Self.expiry(ttl, now: now), .integer(Int(now))])
        if let version = rows.first?.column("version")?.integer { return .inserted(version: Int64(version)) }
        return .exists(try await get(key))
    }

    public func compareAndSwap(_ key: String, expectedVersion: Int64, _ value: [UInt8], ttl: Duration?) async throws -> SwapOutcome {
        try StoreKey.validate(key)
        let now = self.now
        let rows = try await run("""
            UPDATE kv SET value = ?1, version = version + 1, expires_at = ?2
            WHERE key = ?3 AND version = ?4 AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > ?5)
            RETURNING version
            """, [Self.blob(value), Self.expiry(ttl, now: now), .text(key), .integer(Int(expectedVersion)), .integer(Int(now))])
        guard let version = rows.first?.column("version")?.integer else { return .conflict }
        return .swapped(version: Int64(version))
    }

    public func delete(_ key: String, expectedVersion: Int64?) async throws -> Bool {
        try StoreKey.validate(key)
        let now = self.now
        var sql = "UPDATE kv SET value = NULL, version = version + 1, expires_at = ?1 WHERE key = ?2 AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > ?1)"
        var binds: [SQLiteData] = [.integer(Int(now)), .text(key)]
        if let expectedVersion {
            sql += " AND version = ?3"
            binds.append(.integer(Int(expectedVersion)))
        }
        return try await !run(sql + " RETURNING version", binds).isEmpty
    }

    public func list(prefix: String, after: String?, limit: Int) async throws -> StorePage {
        precondition(limit > 0, "limit must be positive")
        let lower = max(prefix, after ?? "")
        let rows = try await run("""
            SELECT key, value, version, expires_at FROM kv
            WHERE key >= ?1 AND key < ?2 AND key > ?3 AND \(Self.liveClause.replacingOccurrences(of: "?", with: "?4"))
            ORDER BY key LIMIT ?5
            """, [.text(lower), .text(StoreKey.upperBound(forPrefix: prefix)), .text(after ?? ""), .integer(Int(now)), .integer(limit + 1)])
        let items = rows.prefix(limit).compactMap { Self.stored($0) }
        return StorePage(items: items, nextCursor: rows.count > limit ? items.last?.key : nil)
    }

    public func purgeExpired(before cutoff: Date, limit: Int) async throws -> Int {
        let rows = try await run("""
            DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)
            RETURNING key
            """, [.integer(Int(cutoff.unixMilliseconds)), .integer(limit)])
        return rows.count
    }

    public func close() async throws {
        try await connection.close()
    }
}
