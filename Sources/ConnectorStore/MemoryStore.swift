import ConnectorCore
import Foundation
import Synchronization

/// An in-process store for unit tests and `memory:` URLs. Held to the same conformance suite
/// as every other backend; a mutex makes each operation atomic.
public final class MemoryStore: KeyValueStore {
    private struct Entry {
        var value: [UInt8]?  // nil = tombstone, keeps the version so it is never reused
        var version: Int64
        var expiresAt: Int64?
    }

    private let state = Mutex<(entries: [String: Entry], closed: Bool)>(([:], false))
    private let clock: any WallClock

    public init(clock: any WallClock = SystemWallClock()) {
        self.clock = clock
    }

    private func live(_ entry: Entry?, now: Int64) -> Entry? {
        guard let entry, entry.value != nil else { return nil }
        if let expiry = entry.expiresAt, expiry <= now { return nil }
        return entry
    }

    private func withState<T>(_ body: (inout [String: Entry], Int64) throws -> T) throws -> T {
        let now = clock.now().unixMilliseconds
        return try state.withLock { s in
            guard !s.closed else { throw ConnectorError.storeUnavailable("the store is closed") }
            return try body(&s.entries, now)
        }
    }

    private static func expiry(_ ttl: Duration?, now: Int64) -> Int64? { ttl.map { now + $0.milliseconds } }

    public func get(_ key: String) async throws -> StoredValue? {
        try StoreKey.validate(key)
        return try withState { entries, now in
            live(entries[key], now: now).map { StoredValue(key: key, value: $0.value!, version: $0.version, expiresAt: $0.expiresAt.map(Date.init(unixMilliseconds:))) }
        }
    }

    public func set(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> Int64 {
        try StoreKey.validate(key)
        return try withState { entries, now in
            let version = (entries[key]?.version ?? 0) + 1
            entries[key] = Entry(value: value, version: version, expiresAt: Self.expiry(ttl, now: now))
            return version
        }
    }

    public func insertIfAbsent(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> InsertOutcome {
        try StoreKey.validate(key)
        return try withState { entries, now in
            if let existing = live(entries[key], now: now) {
                return .exists(StoredValue(key: key, value: existing.value!, version: existing.version, expiresAt: existing.expiresAt.map(Date.init(unixMilliseconds:))))
            }
            let version = (entries[key]?.version ?? 0) + 1
            entries[key] = Entry(value: value, version: version, expiresAt: Self.expiry(ttl, now: now))
            return .inserted(version: version)
        }
    }

    public func insertIfAbsent(_ group: [StoreEntry]) async throws -> [Int64?] {
        for entry in group { try StoreKey.validate(entry.key) }
        return try withState { entries, now in
            group.map { entry in
                if live(entries[entry.key], now: now) != nil { return nil }
                let version = (entries[entry.key]?.version ?? 0) + 1
                entries[entry.key] = Entry(value: entry.value, version: version, expiresAt: Self.expiry(entry.ttl, now: now))
                return version
            }
        }
    }

    public func compareAndSwap(_ key: String, expectedVersion: Int64, _ value: [UInt8], ttl: Duration?) async throws -> SwapOutcome {
        try StoreKey.validate(key)
        return try withState { entries, now in
            guard let existing = live(entries[key], now: now), existing.version == expectedVersion else { return .conflict }
            let version = existing.version + 1
            entries[key] = Entry(value: value, version: version, expiresAt: Self.expiry(ttl, now: now))
            return .swapped(version: version)
        }
    }

    public func delete(_ key: String, expectedVersion: Int64?) async throws -> Bool {
        try StoreKey.validate(key)
        return try withState { entries, now in
            guard let existing = live(entries[key], now: now) else { return false }
            if let expectedVersion, existing.version != expectedVersion { return false }
            entries[key] = Entry(value: nil, version: existing.version + 1, expiresAt: now)
            return true
        }
    }

    public func list(prefix: String, after: String?, limit: Int) async throws -> StorePage {
        precondition(limit > 0, "limit must be positive")
        return try withState { entries, now in
            let keys = entries.keys.filter { key in key.hasPrefix(prefix) && (after.map { key > $0 } ?? true) && live(entries[key], now: now) != nil }.sorted()
            let page = keys.prefix(limit).map { key in
                let e = entries[key]!
                return StoredValue(key: key, value: e.value!, version: e.version, expiresAt: e.expiresAt.map(Date.init(unixMilliseconds:)))
            }
            return StorePage(items: page, nextCursor: keys.count > limit ? page.last?.key : nil)
        }
    }

    public func purgeExpired(before cutoff: Date, limit: Int) async throws -> Int {
        try withState { entries, _ in
            let cut = cutoff.unixMilliseconds
            let doomed = entries.filter { ($0.value.expiresAt ?? Int64.max) <= cut }.keys.prefix(limit)
            for key in doomed { entries[key] = nil }
            return doomed.count
        }
    }

    public func close() async throws {
        state.withLock { $0.closed = true }
    }
}
