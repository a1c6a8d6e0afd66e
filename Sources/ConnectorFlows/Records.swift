import ConnectorCore
import ConnectorStore
import DynamicsClient
import Foundation
import WooCommerceClient

/// The audit record of one thing the connector handles (an order today; customers and product
/// pushes use the same shape): its state and a timeline of every step and remote call, so an
/// on-call engineer can read from the store alone what happened and why (SPEC §10).
public struct AuditRecord: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// Handed on, not yet worked (or retrying after a transient failure).
        case pending
        /// In F&O, to the cent.
        case posted
        /// Not for F&O (not paid, a delete stub): nothing to do.
        case skipped
        /// Stopped by a permanent problem a person must fix; replay after fixing.
        case parked
        /// The last attempt failed transiently; the next drain retries it.
        case failed
    }

    public struct Event: Codable, Sendable, Equatable {
        public var at: Date
        /// `received`, `mapped`, `call`, `posted`, `parked`, …
        public var step: String
        public var detail: String
        /// For remote calls: method, path, status, latency.
        public var call: String?
    }

    public var connection: String
    public var kind: String
    public var id: String
    public var state: State
    /// The last reason (a park's problem, a failure's error, F&O's `innererror.message`).
    public var reason: String?
    /// F&O keys this record became (sales order number, journal batch and line).
    public var keys: [String: String]
    public var attempts: Int
    public var updatedAt: Date
    public var timeline: [Event]

    /// The newest events kept per record; older ones are dropped first.
    public static let timelineLimit = 300
}

/// Reads and writes audit records with the configured retention.
public struct AuditRecords: Sendable {
    let store: any KeyValueStore
    let clock: any WallClock
    let retention: Duration

    public init(store: any KeyValueStore, clock: any WallClock, retention: Duration) {
        self.store = store
        self.clock = clock
        self.retention = retention
    }

    public func load(connection: String, kind: String, id: String) async throws -> AuditRecord? {
        try await store.getJSON(AuditRecord.self, Keyspace.record(connection, kind: kind, id: id))?.value
    }

    /// Saves `record` (last writer wins: one order is worked under its lease).
    public func save(_ record: AuditRecord) async throws {
        var record = record
        if record.timeline.count > AuditRecord.timelineLimit { record.timeline.removeFirst(record.timeline.count - AuditRecord.timelineLimit) }
        record.updatedAt = clock.now()
        _ = try await store.setJSON(Keyspace.record(record.connection, kind: record.kind, id: record.id), record, ttl: retention)
    }

    /// Every record of a connection (optionally in one state), newest first.
    public func list(connection: String, state: AuditRecord.State? = nil) async throws -> [AuditRecord] {
        try await store.listAll(prefix: Keyspace.records(connection))
            .compactMap { try? StoreJSON.decoder.decode(AuditRecord.self, from: Data($0.value)) }
            .filter { state == nil || $0.state == state }
            .sorted { $0.updatedAt > $1.updatedAt }
    }
}

extension PostResult {
    /// How a failed attempt ends: transient errors stay pending; rejected credentials stay
    /// pending too (every record would fail alike until a person fixes the secret — parking
    /// them all would bury the one alert that matters); anything else permanent parks.
    static func failure(_ error: any Error) -> PostResult {
        guard let error = RemoteError.connectorError(error) else { return .retryLater(String(describing: error), after: nil) }
        if error == .credentialsRejected { return .retryLater(error.description, after: 300) }
        return error.disposition == .transient ? .retryLater(error.description, after: error.retryAfter) : .parked(error.description)
    }

    /// True for a failure caused by rejected credentials (alerted as such).
    static func isCredentialFailure(_ error: any Error) -> Bool { RemoteError.connectorError(error) == .credentialsRejected }
}

extension AuditRecord {
    /// The record after an attempt ended with `result`; `key` names what `.posted` carries.
    mutating func apply(_ result: PostResult, events: [Event], key: String) {
        timeline += events
        switch result {
        case .posted(let value): state = .posted; reason = nil; keys[key] = value
        case .skipped(let text): state = .skipped; reason = text
        case .parked(let text): state = .parked; reason = text
        case .retryLater(let text, _): state = .failed; reason = text
        }
    }

    /// A new record for a first attempt.
    static func first(connection: String, kind: String, id: String, at: Date) -> AuditRecord {
        AuditRecord(connection: connection, kind: kind, id: id, state: .pending, reason: nil, keys: [:], attempts: 0, updatedAt: at, timeline: [])
    }
}

/// Both clients' errors as the connector's: the WooCommerce client keeps WooCommerce's own
/// error type (its code and message), which carries its `ConnectorError` classification.
enum RemoteError {
    static func connectorError(_ error: any Error) -> ConnectorError? {
        if let error = error as? ConnectorError { return error }
        if let error = error as? WooCommerceError { return error.connectorError }
        if let failure = error as? ChangesetFailure { return failure.error }
        return nil
    }

    static func isNotFound(_ error: any Error) -> Bool { connectorError(error) == .notFound }
}
