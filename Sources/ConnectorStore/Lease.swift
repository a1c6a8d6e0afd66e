import ConnectorCore
import Foundation

/// A lease held in the store: one owner at a time, until it expires or is released.
public struct Lease: Sendable, Equatable {
    public var key: String
    public var owner: String
    /// The store version of the lease record; doubles as a fencing token (it only grows).
    public var version: Int64
    public var expiresAt: Date
}

/// What happened when a lease was asked for.
public enum LeaseOutcome: Sendable, Equatable {
    case acquired(Lease)
    /// Someone else holds it until `until`.
    case held(by: String, until: Date?)

    public var lease: Lease? { if case .acquired(let l) = self { l } else { nil } }
}

private struct LeaseRecord: Codable {
    var owner: String
}

extension KeyValueStore {
    /// Takes the lease at `key` for `owner` for `ttl`, or renews it when `owner` already holds it.
    ///
    /// Built only from `insertIfAbsent` and `compareAndSwap`, so it is exactly as atomic as the
    /// backend: of several callers racing for a free or expired lease, one wins; a live lease held
    /// by another owner is never taken before it expires.
    public func acquireLease(_ key: String, owner: String, ttl: Duration) async throws -> LeaseOutcome {
        let record = try JSONEncoder().encode(LeaseRecord(owner: owner))
        // Bounded: the only way round is a lease that vanished between two of our calls.
        for _ in 0..<4 {
            switch try await insertIfAbsent(key, Array(record), ttl: ttl) {
            case .inserted(let version):
                return .acquired(try await leaseAfterWrite(key: key, owner: owner, version: version))
            case .exists(let current?):
                let holder = (try? JSONDecoder().decode(LeaseRecord.self, from: Data(current.value)))?.owner ?? "?"
                guard holder == owner else { return .held(by: holder, until: current.expiresAt) }
                if case .swapped(let version) = try await compareAndSwap(key, expectedVersion: current.version, Array(record), ttl: ttl) {
                    return .acquired(try await leaseAfterWrite(key: key, owner: owner, version: version))
                }
            case .exists(nil):
                continue
            }
        }
        return .held(by: "?", until: nil)
    }

    /// Extends `lease` by `ttl`; nil when it was lost (expired and taken, or released).
    public func renewLease(_ lease: Lease, ttl: Duration) async throws -> Lease? {
        let record = try JSONEncoder().encode(LeaseRecord(owner: lease.owner))
        guard case .swapped(let version) = try await compareAndSwap(lease.key, expectedVersion: lease.version, Array(record), ttl: ttl) else { return nil }
        return try await leaseAfterWrite(key: lease.key, owner: lease.owner, version: version)
    }

    /// Gives `lease` up; false when it had already been lost.
    @discardableResult
    public func releaseLease(_ lease: Lease) async throws -> Bool {
        try await delete(lease.key, expectedVersion: lease.version)
    }

    private func leaseAfterWrite(key: String, owner: String, version: Int64) async throws -> Lease {
        let stored = try await get(key)
        return Lease(key: key, owner: owner, version: version, expiresAt: stored?.expiresAt ?? .distantPast)
    }
}

extension KeyValueStore {
    /// Decodes the JSON value at `key`.
    public func getJSON<T: Decodable>(_ type: T.Type, _ key: String) async throws -> (value: T, version: Int64)? {
        guard let stored = try await get(key) else { return nil }
        return (try StoreJSON.decoder.decode(T.self, from: Data(stored.value)), stored.version)
    }

    @discardableResult
    public func setJSON<T: Encodable>(_ key: String, _ value: T, ttl: Duration? = nil) async throws -> Int64 {
        try await set(key, try StoreJSON.encode(value), ttl: ttl)
    }

    public func insertJSONIfAbsent<T: Encodable>(_ key: String, _ value: T, ttl: Duration? = nil) async throws -> InsertOutcome {
        try await insertIfAbsent(key, try StoreJSON.encode(value), ttl: ttl)
    }

    public func compareAndSwapJSON<T: Encodable>(_ key: String, expectedVersion: Int64, _ value: T, ttl: Duration? = nil) async throws -> SwapOutcome {
        try await compareAndSwap(key, expectedVersion: expectedVersion, try StoreJSON.encode(value), ttl: ttl)
    }
}

/// The one JSON encoding of records in the store: sorted keys, ISO 8601 dates.
public enum StoreJSON {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, encoder in
            var c = encoder.singleValueContainer()
            try c.encode(Formatting.timestamp(date))
        }
        return e
    }()

    public static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { decoder in
            let c = try decoder.singleValueContainer()
            let s = try c.decode(String.self)
            if let date = Formatting.parseTimestamp(s) { return date }
            if let date = try? Date(s, strategy: .iso8601) { return date }
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "not an ISO 8601 date: \(s)")
        }
        return d
    }()

    public static func encode<T: Encodable>(_ value: T) throws -> [UInt8] { Array(try encoder.encode(value)) }
}
