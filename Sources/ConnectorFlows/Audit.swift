import ConnectorCore
import ConnectorStore
import Foundation

/// One line of the audit trail for something that is not itself a stored record — a rejected
/// (unsigned, forged, wrong-source) request, say. Holds identifiers and the verdict, never a
/// body or a header value that could be a secret.
public struct AuditEntry: Codable, Sendable, Equatable {
    public var at: Date
    public var connection: String
    /// What kind of thing: `webhook`, `order`, `customer`, …
    public var subject: String
    /// The step or verdict: `rejected.unsigned`, `rejected.signature`, `rejected.source`, …
    public var event: String
    public var detail: [String: String]
}

/// Appends audit lines with the configured retention.
public struct AuditTrail: Sendable {
    let store: any KeyValueStore
    let clock: any WallClock
    let retention: Duration

    public init(store: any KeyValueStore, clock: any WallClock, retention: Duration) {
        self.store = store
        self.clock = clock
        self.retention = retention
    }

    public func append(connection: String, subject: String, event: String, detail: [String: String]) async throws {
        let now = clock.now()
        let entry = AuditEntry(at: now, connection: connection, subject: subject, event: event, detail: detail)
        let sortable = Formatting.pad(Int(now.unixMilliseconds), 15)
        let key = Keyspace.audit(connection, sortableTime: sortable, id: UUID.random().uuidString.lowercased())
        try await store.setJSON(key, entry, ttl: retention)
    }

    public func list(connection: String) async throws -> [AuditEntry] {
        try await store.listAll(prefix: Keyspace.audits(connection)).compactMap {
            try? StoreJSON.decoder.decode(AuditEntry.self, from: Data($0.value))
        }
    }
}
