import ConnectorCore
import ConnectorStore
import Foundation
import WooCommerceClient

extension Keyspace {
    /// What was last pushed for one SKU (product or variation) of a connection: its WooCommerce
    /// id and the owned values written. Kept with the connection (`connection remove` clears
    /// `catalog/{connection}/`).
    public static func catalogSKU(_ connection: String, sku: String) -> String {
        "catalog/\(StoreKey.segment(connection))/sku/\(StoreKey.segment(sku))"
    }
    public static func catalogSKUs(_ connection: String) -> String { "catalog/\(StoreKey.segment(connection))/sku/" }
    /// One catalog run per connection at a time.
    public static func catalogLease(_ connection: String) -> String { "catalog/\(StoreKey.segment(connection))/lease" }
}

/// The push state of one SKU: where it is in WooCommerce and the owned values last written
/// there (so the next run sends only what differs, and a failed item — never saved — is retried).
public struct CatalogSKUState: Codable, Sendable, Equatable {
    public var sku: String
    public var wooID: Int
    /// The variable parent's id, for a variation.
    public var parentID: Int?
    /// `simple`, `variable` or `variation`.
    public var kind: String
    /// Owned field → value as written (`price` "12.50", `stock` "14", `name`, `description`, `attributes`).
    public var pushed: [String: String]
    /// SHA-256 of `pushed` (what the audit shows).
    public var hash: String
    /// No longer released / web-sellable: drafted or zeroed, never deleted.
    public var retired: Bool
    public var pushedAt: Date

    static func hash(_ values: [String: String]) -> String {
        Digests.sha256Hex(Array(values.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\n").utf8))
    }
}

/// Paces calls toward WooCommerce: at most `perSecond` request starts per second, waited out
/// through the injected sleeper (so tests record the waits instead of sleeping).
actor CatalogPacer {
    private let interval: Double
    private let clock: any WallClock
    private let sleeper: any Sleeper
    private var nextFree: Date?

    init(perSecond: Double, clock: any WallClock, sleeper: any Sleeper) {
        self.interval = perSecond > 0 ? 1 / perSecond : 0
        self.clock = clock
        self.sleeper = sleeper
    }

    /// Reserves the next slot and returns how long to wait for it.
    private func reserve() -> Double {
        guard interval > 0 else { return 0 }
        let now = clock.now()
        let slot = max(now, nextFree ?? now)
        nextFree = slot.addingTimeInterval(interval)
        return slot.timeIntervalSince(now)
    }

    func wait() async throws {
        let delay = reserve()
        if delay > 0 { try await sleeper.sleep(seconds: delay) }
    }

    /// After a 429/503 every caller holds back until `until`.
    func hold(seconds: Double) {
        let until = clock.now().addingTimeInterval(seconds)
        if let nextFree, nextFree >= until { return }
        nextFree = until
    }
}

/// Runs WooCommerce calls paced, backing off on 429 and 503 (`Retry-After`, else doubling).
struct CatalogWooCalls: Sendable {
    let pacer: CatalogPacer
    let sleeper: any Sleeper
    var maxAttempts = 5
    var initialBackoff: Double = 1
    var maxBackoff: Double = 60

    func run<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        var backoff = initialBackoff
        for attempt in 1... {
            try await pacer.wait()
            do {
                return try await body()
            } catch let error as WooCommerceError {
                let mapped = error.connectorError
                guard ["throttled", "remoteUnavailable"].contains(mapped.label), attempt < maxAttempts else { throw mapped }
                let wait = min(maxBackoff, error.retryAfter ?? mapped.retryAfter ?? backoff)
                backoff = min(maxBackoff, backoff * 2)
                await pacer.hold(seconds: wait)
            }
        }
        fatalError("unreachable")
    }
}
