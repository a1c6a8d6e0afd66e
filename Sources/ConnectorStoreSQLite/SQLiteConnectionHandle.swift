import ConnectorCore
import ConnectorSQLiteShim
import Foundation
import VaporCSQLite

/// A value bound to, or read from, an SQLite statement.
enum SQLiteValue: Sendable {
    case integer(Int64)
    case text(String)
    case blob([UInt8])
    case null

    var integer: Int64? { if case .integer(let i) = self { i } else { nil } }
    var text: String? { if case .text(let s) = self { s } else { nil } }
}

/// One connection to the SQLite library bundled by sqlite-nio, driven through its C API.
///
/// Not thread-safe by itself: a connection is used by one thread at a time (the writer thread,
/// or a reader checked out of the pool). Statements are prepared once and kept.
final class SQLiteConnectionHandle: @unchecked Sendable {
    private var db: OpaquePointer?
    private var statements: [String: OpaquePointer] = [:]
    let path: String

    /// `SQLITE_TRANSIENT`: SQLite copies bound bytes before the call returns.
    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    init(path: String) throws {
        self.path = path
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE
        let status = sqlite_nio_sqlite3_open_v2(path, &handle, flags, nil)
        guard status == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "status \(status)"
            if let handle { sqlite_nio_sqlite3_close_v2(handle) }
            throw ConnectorError.storeUnavailable("cannot open the SQLite store at \(path): \(message)", fix: "check the path in MLC_STORE_URL and that the directory is writable")
        }
        db = handle
        // Another process may hold the write lock: wait for it (bounded) instead of failing.
        sqlite_nio_sqlite3_busy_timeout(handle, 15_000)
        // A short-lived process (once mode) must not pay a full WAL checkpoint, with its fsyncs,
        // every time it exits; SQLite's automatic checkpoints (every ~1000 pages) still run.
        _ = mlc_sqlite_disable_checkpoint_on_close(UnsafeMutableRawPointer(handle))
    }

    deinit { close() }

    func close() {
        for statement in statements.values { sqlite_nio_sqlite3_finalize(statement) }
        statements = [:]
        if let db { sqlite_nio_sqlite3_close_v2(db) }
        db = nil
    }

    private func failure(_ what: String) -> ConnectorError {
        let message = db.map { String(cString: sqlite_nio_sqlite3_errmsg($0)) } ?? "closed"
        return .storeUnavailable("SQLite store \(path): \(what): \(message)", fix: "retry; if it persists check disk space and file permissions")
    }

    /// False while a transaction is open; true again after SQLite rolled one back by itself.
    var isAutocommit: Bool {
        guard let db else { return true }
        return sqlite_nio_sqlite3_get_autocommit(db) != 0
    }

    /// Runs `sql` (which may hold several statements, no results) — set-up only.
    func exec(_ sql: String) throws {
        guard let db else { throw ConnectorError.storeUnavailable("the store is closed") }
        guard sqlite_nio_sqlite3_exec(db, sql, nil, nil, nil) == SQLITE_OK else { throw failure("statement failed") }
    }

    /// Runs one statement and returns its rows.
    func query(_ sql: String, _ binds: [SQLiteValue] = []) throws -> [[SQLiteValue]] {
        guard let db else { throw ConnectorError.storeUnavailable("the store is closed") }
        let statement: OpaquePointer
        if let cached = statements[sql] {
            statement = cached
        } else {
            var prepared: OpaquePointer?
            guard sqlite_nio_sqlite3_prepare_v3(db, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &prepared, nil) == SQLITE_OK, let prepared else {
                throw failure("cannot prepare a statement")
            }
            statements[sql] = prepared
            statement = prepared
        }
        defer {
            sqlite_nio_sqlite3_reset(statement)
            sqlite_nio_sqlite3_clear_bindings(statement)
        }
        for (offset, value) in binds.enumerated() {
            let index = Int32(offset + 1)
            let status: Int32
            switch value {
            case .integer(let i): status = sqlite_nio_sqlite3_bind_int64(statement, index, i)
            case .null: status = sqlite_nio_sqlite3_bind_null(statement, index)
            case .text(let s): status = sqlite_nio_sqlite3_bind_text(statement, index, s, -1, Self.transient)
            case .blob(let bytes):
                status = bytes.withUnsafeBytes { raw in
                    // A zero-length blob still binds as a blob (not NULL), so give SQLite a valid pointer.
                    var empty: UInt8 = 0
                    return sqlite_nio_sqlite3_bind_blob(statement, index, raw.baseAddress ?? UnsafeRawPointer(&empty), Int32(raw.count), Self.transient)
                }
            }
            guard status == SQLITE_OK else { throw failure("cannot bind a value") }
        }
        var rows: [[SQLiteValue]] = []
        while true {
            let status = sqlite_nio_sqlite3_step(statement)
            if status == SQLITE_DONE { break }
            guard status == SQLITE_ROW else { throw failure("statement failed") }
            let count = sqlite_nio_sqlite3_column_count(statement)
            var row: [SQLiteValue] = []
            row.reserveCapacity(Int(count))
            for column in 0..<count {
                switch sqlite_nio_sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER: row.append(.integer(sqlite_nio_sqlite3_column_int64(statement, column)))
                case SQLITE_TEXT:
                    let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                    let pointer = sqlite_nio_sqlite3_column_text(statement, column)
                    row.append(.text(pointer.map { String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self) } ?? ""))
                case SQLITE_BLOB:
                    let length = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
                    let pointer = sqlite_nio_sqlite3_column_blob(statement, column)
                    row.append(.blob(pointer.map { Array(UnsafeRawBufferPointer(start: $0, count: length)) } ?? []))
                case SQLITE_NULL: row.append(.null)
                default: row.append(.integer(Int64(sqlite_nio_sqlite3_column_double(statement, column))))
                }
            }
            rows.append(row)
        }
        return rows
    }
}
