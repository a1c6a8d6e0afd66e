import ConnectorCore
import ConnectorStore
import Foundation

/// Operational switches of a connection kept beside it in the store (`state/{id}`): paused for
/// F&O maintenance (deliveries are still recorded; nothing is posted).
public struct ConnectionControl: Sendable {
    struct State: Codable {
        var paused: Bool
        var changedAt: Date
    }

    let store: any KeyValueStore

    public init(store: any KeyValueStore) { self.store = store }

    public func isPaused(_ connection: String) async throws -> Bool {
        try await store.getJSON(State.self, Keyspace.connectionState(connection))?.value.paused ?? false
    }

    public func setPaused(_ connection: String, _ paused: Bool, at: Date) async throws {
        _ = try await store.setJSON(Keyspace.connectionState(connection), State(paused: paused, changedAt: at))
    }
}
