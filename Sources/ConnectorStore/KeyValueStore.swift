import ConnectorCore
import Foundation

/// A value read from the store with the version that identifies this exact write.
public struct StoredValue: Sendable, Equatable {
    public var key: String
    public var value: [UInt8]
    /// Changes on every write of the key. A key that is deleted (or expires) and is written
    /// again never gets back a version it had before, so a compare-and-swap holding an old
    /// version cannot succeed against a newer incarnation of the key.
    public var version: Int64
    /// When the value stops being visible; nil = never.
    public var expiresAt: Date?

    public init(key: String, value: [UInt8], version: Int64, expiresAt: Date?) {
        self.key = key
        self.value = value
        self.version = version
        self.expiresAt = expiresAt
    }
}

/// What an `insertIfAbsent` did.
public enum InsertOutcome: Sendable, Equatable {
    /// This call created the key; the version of the new value.
    case inserted(version: Int64)
    /// A live value was already there (nil if it vanished before it could be read back).
    case exists(StoredValue?)

    public var inserted: Bool { if case .inserted = self { true } else { false } }
}

/// One value to write, for the group operations.
public struct StoreEntry: Sendable {
    public var key: String
    public var value: [UInt8]
    public var ttl: Duration?
    public init(key: String, value: [UInt8], ttl: Duration? = nil) {
        self.key = key
        self.value = value
        self.ttl = ttl
    }
}

/// What a `compareAndSwap` did.
public enum SwapOutcome: Sendable, Equatable {
    /// The value was replaced; the new version.
    case swapped(version: Int64)
    /// The key was absent, expired, or at another version; nothing was written.
    case conflict

    public var swapped: Bool { if case .swapped = self { true } else { false } }
}

/// One page of a prefix listing. Pass `nextCursor` back as `after` for the next page.
public struct StorePage: Sendable {
    public var items: [StoredValue]
    public var nextCursor: String?
    public init(items: [StoredValue], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

/// The connector's only state: a key-value store with atomic conditional writes.
///
/// **Atomicity guarantee.** Every operation is linearizable across all processes that share the
/// backend (threads, OS processes, machines): of any number of concurrent `insertIfAbsent` calls
/// on one absent key exactly one returns `.inserted`; of any number of concurrent
/// `compareAndSwap` calls expecting the same version at most one returns `.swapped`. An expired
/// value is indistinguishable from an absent one for every operation. A call returns only after
/// its write is durable (committed and synced), never before.
///
/// Keys are printable ASCII (0x20–0x7E), at most 512 bytes; values are opaque bytes. Time
/// (TTL, expiry) is read from the backend's injected `WallClock`.
///
/// The one conformance suite (`Tests/ConnectorStoreTests`) holds every backend to exactly this.
public protocol KeyValueStore: Sendable {
    /// The live value at `key`, or nil when absent or expired.
    func get(_ key: String) async throws -> StoredValue?

    /// Writes `value` unconditionally; returns the new version. `ttl` nil = never expires.
    @discardableResult
    func set(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> Int64

    /// Writes `value` only if no live value is at `key` (an expired one counts as absent).
    func insertIfAbsent(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> InsertOutcome

    /// Inserts each entry whose key holds no live value, all in one atomic, durable commit: after
    /// a crash either every insert this call made is there or none is. Returns, per entry, the
    /// new version, or nil where a live value was already there (it is not read back).
    func insertIfAbsent(_ entries: [StoreEntry]) async throws -> [Int64?]

    /// Replaces the live value at `key` only if its version is still `expectedVersion`.
    func compareAndSwap(_ key: String, expectedVersion: Int64, _ value: [UInt8], ttl: Duration?) async throws -> SwapOutcome

    /// Removes the live value at `key` (only at `expectedVersion` when given); true if removed.
    @discardableResult
    func delete(_ key: String, expectedVersion: Int64?) async throws -> Bool

    /// Live values whose keys start with `prefix`, in ascending key order, strictly after `after`.
    func list(prefix: String, after: String?, limit: Int) async throws -> StorePage

    /// Physically removes values (and deletion tombstones) that expired before `cutoff`, at most
    /// `limit` of them; returns how many. Expired values are already invisible; this only
    /// reclaims space, in bounded batches. A purged key starts its versions afresh, so callers
    /// pass a cutoff far enough in the past that nobody can still hold a version read from it
    /// (the retention job uses the retention period; a lease is never held that long).
    func purgeExpired(before cutoff: Date, limit: Int) async throws -> Int

    /// Releases connections and files. Further calls fail.
    func close() async throws
}

extension KeyValueStore {
    @discardableResult
    public func set(_ key: String, _ value: [UInt8]) async throws -> Int64 {
        try await set(key, value, ttl: nil)
    }

    public func insertIfAbsent(_ key: String, _ value: [UInt8]) async throws -> InsertOutcome {
        try await insertIfAbsent(key, value, ttl: nil)
    }

    @discardableResult
    public func delete(_ key: String) async throws -> Bool {
        try await delete(key, expectedVersion: nil)
    }

    /// Every live value under `prefix`, following pages to the end (at most `max` values).
    public func listAll(prefix: String, pageSize: Int = 500, max: Int = 100_000) async throws -> [StoredValue] {
        var all: [StoredValue] = []
        var cursor: String?
        repeat {
            let page = try await list(prefix: prefix, after: cursor, limit: pageSize)
            all += page.items
            cursor = page.nextCursor
        } while cursor != nil && all.count < max
        return all
    }
}

/// Key rules shared by every backend.
public enum StoreKey {
    public static let maxLength = 512

    /// Throws unless `key` is 1–512 bytes of printable ASCII.
    public static func validate(_ key: String) throws {
        let utf8 = key.utf8
        guard !utf8.isEmpty, utf8.count <= maxLength, utf8.allSatisfy({ $0 >= 0x20 && $0 <= 0x7E }) else {
            throw ConnectorError.invalidInput("store key must be 1–\(maxLength) printable ASCII characters")
        }
    }

    /// The smallest string greater than every key starting with `prefix` (keys are ASCII ≤ 0x7E).
    public static func upperBound(forPrefix prefix: String) -> String { prefix + "\u{7F}" }

    /// Escapes one path segment taken from outside (a connection id, a topic) so it can never
    /// contain the `/` separator or leave printable ASCII.
    public static func segment(_ raw: String) -> String {
        func isSafe(_ byte: UInt8) -> Bool {
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
        }
        if !raw.isEmpty && raw.utf8.allSatisfy(isSafe) { return raw }
        var out = ""
        for byte in raw.utf8 {
            let isSafe = (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "-") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: ".")
            if isSafe { out.unicodeScalars.append(Unicode.Scalar(byte)) } else { out += Formatting.percentEscape(byte) }
        }
        return out.isEmpty ? "%" : out
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so a TTL is never shortened.
    public var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1000 + (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
    }
}
