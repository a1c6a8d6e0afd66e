import ConnectorConnections
import ConnectorCore
import ConnectorStore
import DynamicsClient
import Foundation
import WooCommerceClient

/// Builds the clients for a connection. The runtime implements it over one shared HTTP client
/// and one token provider per F&O app; the flows never see the HTTP layer.
public protocol RemoteSystems: Sendable {
    func woocommerce(_ connection: Connection) throws -> WooCommerceClient
    func dynamics(_ connection: Connection) throws -> DynamicsClient
}

/// `throttledUntil` per F&O environment in the store (SPEC §5): written once per 429, read
/// before calls (from a one-second memory cache), so every instance holds back together.
public final class StoreThrottleGate: ThrottleGate {
    private let store: any KeyValueStore
    private let clock: any WallClock
    private let cache = Cache()

    private struct Entry: Codable { var until: Date }
    private actor Cache {
        var values: [String: (until: Date?, readAt: Date)] = [:]
        func get(_ key: String, now: Date) -> Date?? {
            guard let hit = values[key], now.timeIntervalSince(hit.readAt) < 1 else { return nil }
            return .some(hit.until)
        }
        func put(_ key: String, _ until: Date?, now: Date) { values[key] = (until, now) }
    }

    public init(store: any KeyValueStore, clock: any WallClock) {
        self.store = store
        self.clock = clock
    }

    static func key(_ environment: String) -> String {
        Keyspace.throttle(environment: URLComponents(string: environment)?.host ?? environment)
    }

    public func heldUntil(environment: String) async -> Date? {
        let key = Self.key(environment)
        let now = clock.now()
        if let cached = await cache.get(key, now: now) { return cached }
        // A store that cannot be read does not stop the call: F&O itself will answer 429 again.
        let until = (try? await store.getJSON(Entry.self, key))?.value.until
        await cache.put(key, until, now: now)
        return until
    }

    public func hold(environment: String, until: Date) async {
        let key = Self.key(environment)
        await cache.put(key, until, now: clock.now())
        if let current = (try? await store.getJSON(Entry.self, key))?.value.until, current >= until { return }
        _ = try? await store.setJSON(key, Entry(until: until), ttl: .seconds(max(60, Int(until.timeIntervalSince(clock.now())) + 60)))
    }
}
