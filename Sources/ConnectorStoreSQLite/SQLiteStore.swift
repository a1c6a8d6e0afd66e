import ConnectorCore
import ConnectorStore
import Foundation
import Synchronization

/// The embedded default backend: one SQLite file in WAL mode, shared safely by every process
/// on one machine.
///
/// Every operation is a single SQL statement, so SQLite's write lock makes it atomic across
/// processes; `synchronous=FULL` makes the commit durable before the call returns (WAL with
/// `NORMAL` could lose the last commits on power loss, which the protocol forbids). Writes run on
/// one writer thread; those that arrive while a commit is being synced go together into the next
/// transaction (group commit) — each still its own statement, in arrival order, none
/// acknowledged before the commit that holds it is durable. Reads run inline on separate
/// connections, so they only ever see committed data. A deleted key leaves a tombstone that
/// keeps its version until purged, so versions never repeat for a key while anyone could still
/// hold an old one.
///
/// It drives the SQLite library that sqlite-nio bundles through its C API rather than through
/// `SQLiteConnection`, whose every statement is a hop to a thread pool: on the receiver's hot
/// path those hops cost more CPU than the work (see docs/store-design.md).
public final class SQLiteStore: KeyValueStore {
    /// The schema version this code writes; `PRAGMA user_version` records the applied one.
    static let schemaVersion: Int64 = 1

    private let writer: GroupCommitWriter
    private let readers: ReaderPool
    private let clock: any WallClock
    public let path: String

    private init(writer: GroupCommitWriter, readers: ReaderPool, clock: any WallClock, path: String) {
        self.writer = writer
        self.readers = readers
        self.clock = clock
        self.path = path
    }

    /// Opens (creating if needed) the store at `path`, creating its directory and schema.
    ///
    /// `checkpointPages` is how many pages the write-ahead log may hold before this process folds
    /// it into the database (SQLite's `wal_autocheckpoint`; nil keeps SQLite's 1000). Every process
    /// that opens the file first reads and checksums the whole log, so short-lived processes
    /// (once mode) keep it small: a cold start then reads ~1 MiB of log at most, not ~4 MiB.
    public static func open(path: String, clock: any WallClock = SystemWallClock(), checkpointPages: Int? = nil) async throws -> SQLiteStore {
        // The directory part without NSString (bridging costs a cold start runtime lookups).
        let directory = path.lastIndex(of: "/").map { String(path[..<$0]) } ?? ""
        if !directory.isEmpty {
            try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        }
        let connection = try SQLiteConnectionHandle(path: path)
        // Several processes opening a new file at once can meet SQLite's locks while one of them
        // switches the journal mode or creates the schema; that wait is bounded here.
        var attempt = 0
        while true {
            do {
                try migrate(connection)
                break
            } catch let error as ConnectorError where error.description.contains("locked") && attempt < 100 {
                attempt += 1
                try await Task.sleep(for: .milliseconds(10 + attempt % 7 * 5))
            } catch {
                connection.close()
                throw error
            }
        }
        if let checkpointPages {
            do {
                try connection.exec("PRAGMA wal_autocheckpoint = \(max(1, checkpointPages))")
            } catch {
                connection.close()
                throw error
            }
        }
        return SQLiteStore(writer: GroupCommitWriter(connection: connection), readers: ReaderPool(path: path), clock: clock, path: path)
    }

    private static func migrate(_ db: SQLiteConnectionHandle) throws {
        _ = try db.query("PRAGMA journal_mode = WAL")
        try db.exec("PRAGMA synchronous = FULL")
        let current = try db.query("PRAGMA user_version").first?.first?.integer ?? 0
        if current > schemaVersion {
            throw ConnectorError.storeUnavailable("the SQLite store at \(db.path) has schema version \(current), newer than this build understands (\(schemaVersion))", fix: "run a newer ml-connector against it")
        }
        if current < 1 {
            // IF NOT EXISTS: two processes may migrate the same new file at once.
            try db.exec("""
                BEGIN IMMEDIATE;
                CREATE TABLE IF NOT EXISTS kv (
                    key TEXT PRIMARY KEY NOT NULL,
                    value BLOB,
                    version INTEGER NOT NULL,
                    expires_at INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX IF NOT EXISTS kv_expires_at ON kv (expires_at) WHERE expires_at IS NOT NULL;
                PRAGMA user_version = 1;
                COMMIT;
                """)
        }
    }

    private var now: Int64 { clock.now().unixMilliseconds }

    private static func expiry(_ ttl: Duration?, now: Int64) -> SQLiteValue { ttl.map { .integer(now + $0.milliseconds) } ?? .null }

    /// Decodes `key?, value, version, expires_at` rows.
    private static func stored(_ row: [SQLiteValue], key: String?) -> StoredValue? {
        let offset = key == nil ? 1 : 0
        guard row.count >= 3 + offset, case .blob(let bytes) = row[offset], let version = row[offset + 1].integer else { return nil }
        let expiry = row[offset + 2].integer.map { Date(unixMilliseconds: $0) }
        return StoredValue(key: key ?? row[0].text ?? "", value: bytes, version: version, expiresAt: expiry)
    }

    private static let live = "value IS NOT NULL AND (expires_at IS NULL OR expires_at > ?)"

    public func get(_ key: String) async throws -> StoredValue? {
        try StoreKey.validate(key)
        let rows = try readers.read("SELECT value, version, expires_at FROM kv WHERE key = ? AND \(Self.live)", [.text(key), .integer(now)])
        return rows.first.flatMap { Self.stored($0, key: key) }
    }

    public func set(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> Int64 {
        try StoreKey.validate(key)
        let rows = try await writer.write("""
            INSERT INTO kv (key, value, version, expires_at) VALUES (?1, ?2, 1, ?3)
            ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = kv.version + 1, expires_at = excluded.expires_at
            RETURNING version
            """, [.text(key), .blob(value), Self.expiry(ttl, now: now)])
        guard let version = rows.first?.first?.integer else { throw ConnectorError.storeUnavailable("SQLite store \(path): write returned no version") }
        return version
    }

    private static let insertIfAbsentSQL = """
        INSERT INTO kv (key, value, version, expires_at) VALUES (?1, ?2, 1, ?3)
        ON CONFLICT (key) DO UPDATE SET value = excluded.value, version = kv.version + 1, expires_at = excluded.expires_at
        WHERE kv.value IS NULL OR (kv.expires_at IS NOT NULL AND kv.expires_at <= ?4)
        RETURNING version
        """

    public func insertIfAbsent(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> InsertOutcome {
        try StoreKey.validate(key)
        let now = self.now
        let rows = try await writer.write(Self.insertIfAbsentSQL, [.text(key), .blob(value), Self.expiry(ttl, now: now), .integer(now)])
        if let version = rows.first?.first?.integer { return .inserted(version: version) }
        return .exists(try await get(key))
    }

    public func insertIfAbsent(_ entries: [StoreEntry]) async throws -> [Int64?] {
        for entry in entries { try StoreKey.validate(entry.key) }
        guard !entries.isEmpty else { return [] }
        let now = self.now
        let results = try await writer.write(entries.map { entry in
            SQLStatement(sql: Self.insertIfAbsentSQL, binds: [.text(entry.key), .blob(entry.value), Self.expiry(entry.ttl, now: now), .integer(now)])
        })
        return results.map { $0.first?.first?.integer }
    }

    public func compareAndSwap(_ key: String, expectedVersion: Int64, _ value: [UInt8], ttl: Duration?) async throws -> SwapOutcome {
        try StoreKey.validate(key)
        let now = self.now
        let rows = try await writer.write("""
            UPDATE kv SET value = ?1, version = version + 1, expires_at = ?2
            WHERE key = ?3 AND version = ?4 AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > ?5)
            RETURNING version
            """, [.blob(value), Self.expiry(ttl, now: now), .text(key), .integer(expectedVersion), .integer(now)])
        guard let version = rows.first?.first?.integer else { return .conflict }
        return .swapped(version: version)
    }

    public func delete(_ key: String, expectedVersion: Int64?) async throws -> Bool {
        try StoreKey.validate(key)
        let base = "UPDATE kv SET value = NULL, version = version + 1, expires_at = ?1 WHERE key = ?2 AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > ?1)"
        let rows: [[SQLiteValue]]
        if let expectedVersion {
            rows = try await writer.write(base + " AND version = ?3 RETURNING version", [.integer(now), .text(key), .integer(expectedVersion)])
        } else {
            rows = try await writer.write(base + " RETURNING version", [.integer(now), .text(key)])
        }
        return !rows.isEmpty
    }

    public func list(prefix: String, after: String?, limit: Int) async throws -> StorePage {
        precondition(limit > 0, "limit must be positive")
        let lower = max(prefix, after ?? "")
        let rows = try readers.read("""
            SELECT key, value, version, expires_at FROM kv
            WHERE key >= ?1 AND key < ?2 AND key > ?3 AND value IS NOT NULL AND (expires_at IS NULL OR expires_at > ?4)
            ORDER BY key LIMIT ?5
            """, [.text(lower), .text(StoreKey.upperBound(forPrefix: prefix)), .text(after ?? ""), .integer(now), .integer(Int64(limit + 1))])
        let items = rows.prefix(limit).compactMap { Self.stored($0, key: nil) }
        return StorePage(items: items, nextCursor: rows.count > limit ? items.last?.key : nil)
    }

    public func purgeExpired(before cutoff: Date, limit: Int) async throws -> Int {
        let rows = try await writer.write("""
            DELETE FROM kv WHERE key IN (SELECT key FROM kv WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2)
            RETURNING key
            """, [.integer(cutoff.unixMilliseconds), .integer(Int64(limit))])
        return rows.count
    }

    public func close() async throws {
        await writer.close()
        readers.close()
    }
}

/// One statement and its bound values.
struct SQLStatement: Sendable {
    var sql: String
    var binds: [SQLiteValue]
}

/// Reader connections, checked out one per read. Reads run inline on the caller's thread:
/// a point lookup on a warm page cache takes microseconds, far less than a thread hop.
final class ReaderPool: Sendable {
    private let path: String
    private let idle = Mutex<(connections: [SQLiteConnectionHandle], closed: Bool)>(([], false))
    private static let maxIdle = 4

    init(path: String) { self.path = path }

    func read(_ sql: String, _ binds: [SQLiteValue]) throws -> [[SQLiteValue]] {
        let checkedOut = try idle.withLock { state -> SQLiteConnectionHandle? in
            guard !state.closed else { throw ConnectorError.storeUnavailable("the store is closed") }
            return state.connections.popLast()
        }
        let connection = try checkedOut ?? SQLiteConnectionHandle(path: path)
        do {
            let rows = try connection.query(sql, binds)
            giveBack(connection)
            return rows
        } catch {
            giveBack(connection)
            throw error
        }
    }

    private func giveBack(_ connection: SQLiteConnectionHandle) {
        let keep = idle.withLock { state -> Bool in
            guard !state.closed, state.connections.count < Self.maxIdle else { return false }
            state.connections.append(connection)
            return true
        }
        if !keep { connection.close() }
    }

    func close() {
        let connections = idle.withLock { state -> [SQLiteConnectionHandle] in
            state.closed = true
            defer { state.connections = [] }
            return state.connections
        }
        for c in connections { c.close() }
    }
}

/// The one writer: a dedicated thread that takes every write queued since its last commit and
/// runs them in one transaction (group commit). Each caller is resumed after that commit.
final class GroupCommitWriter: @unchecked Sendable {
    private struct Pending {
        var statements: [SQLStatement]
        var continuation: CheckedContinuation<[[[SQLiteValue]]], any Error>
    }

    private let connection: SQLiteConnectionHandle
    private let condition = NSCondition()
    // Guarded by `condition`.
    private var queue: [Pending] = []
    private var closed = false
    private var finished = false
    private var closeWaiters: [CheckedContinuation<Void, Never>] = []
    /// Bounds one transaction (and so the latency one batch adds to the next).
    static let maxBatch = 256

    init(connection: SQLiteConnectionHandle) {
        self.connection = connection
        let thread = Thread { [self] in self.loop() }
        thread.name = "mlc-sqlite-writer"
        thread.start()
    }

    /// One statement, committed durably before this returns.
    func write(_ sql: String, _ binds: [SQLiteValue]) async throws -> [[SQLiteValue]] {
        try await write([SQLStatement(sql: sql, binds: binds)])[0]
    }

    /// Several statements in the same transaction (all committed, or none), in order.
    func write(_ statements: [SQLStatement]) async throws -> [[[SQLiteValue]]] {
        try await withCheckedThrowingContinuation { continuation in
            condition.lock()
            if closed {
                condition.unlock()
                continuation.resume(throwing: ConnectorError.storeUnavailable("the store is closed"))
                return
            }
            queue.append(Pending(statements: statements, continuation: continuation))
            condition.signal()
            condition.unlock()
        }
    }

    /// Finishes the writes already queued, then stops the thread and closes the connection.
    func close() async {
        await withCheckedContinuation { continuation in requestClose(continuation) }
    }

    private func requestClose(_ waiter: CheckedContinuation<Void, Never>) {
        condition.lock()
        if finished {
            condition.unlock()
            waiter.resume()
            return
        }
        closed = true
        closeWaiters.append(waiter)
        condition.broadcast()
        condition.unlock()
    }

    private func loop() {
        while true {
            condition.lock()
            while queue.isEmpty && !closed { condition.wait() }
            if queue.isEmpty && closed {
                connection.close()
                finished = true
                let waiters = closeWaiters
                closeWaiters = []
                condition.unlock()
                for waiter in waiters { waiter.resume() }
                return
            }
            let take = min(queue.count, Self.maxBatch)
            let batch = Array(queue.prefix(take))
            queue.removeFirst(take)
            condition.unlock()
            run(batch)
        }
    }

    private func run(_ batch: [Pending]) {
        if batch.count == 1 && batch[0].statements.count == 1 {
            // Autocommit: one statement, one durable commit.
            let p = batch[0]
            p.continuation.resume(with: Result { [try connection.query(p.statements[0].sql, p.statements[0].binds)] })
            return
        }
        do {
            try control("BEGIN IMMEDIATE")
        } catch {
            for p in batch { p.continuation.resume(throwing: error) }
            return
        }
        // A failing statement fails its own caller; a group (one caller's statements) is rolled
        // back to its savepoint so it stays all-or-nothing while the rest of the batch commits.
        var results: [Result<[[[SQLiteValue]]], any Error>] = []
        for p in batch {
            let result: Result<[[[SQLiteValue]]], any Error>
            if p.statements.count == 1 {
                result = Result { [try connection.query(p.statements[0].sql, p.statements[0].binds)] }
            } else {
                do {
                    try control("SAVEPOINT grp")
                    let rows = try p.statements.map { try connection.query($0.sql, $0.binds) }
                    try control("RELEASE grp")
                    result = .success(rows)
                } catch {
                    try? control("ROLLBACK TO grp")
                    try? control("RELEASE grp")
                    result = .failure(error)
                }
            }
            if case .failure(let error) = result, connection.isAutocommit {
                // SQLite rolled the whole transaction back (disk full, I/O error): every write of
                // this batch is gone, so every caller is told so — none may think it succeeded.
                for p in batch { p.continuation.resume(throwing: error) }
                return
            }
            results.append(result)
        }
        do {
            try control("COMMIT")
        } catch {
            try? control("ROLLBACK")
            for p in batch { p.continuation.resume(throwing: error) }
            return
        }
        for (p, result) in zip(batch, results) { p.continuation.resume(with: result) }
    }

    /// A transaction-control statement, prepared once and kept like every other statement
    /// (`exec` would parse it again on every commit of every batch).
    private func control(_ sql: String) throws {
        _ = try connection.query(sql)
    }
}
