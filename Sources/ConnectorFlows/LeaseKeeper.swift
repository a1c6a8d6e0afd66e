import ConnectorCore
import ConnectorStore
import Foundation
import Synchronization

/// The leases one unit of work holds (its order's, and F&O's single-writer leases while inside
/// them). Renewed right before every write to F&O: a worker that waited out 429s or a slow
/// answer longer than a lease lasts learns it lost the lease before writing, never after —
/// whoever took the lease over re-runs every existence check.
final class LeaseKeeper: Sendable {
    private let store: any KeyValueStore
    private let held = Mutex<[String: (lease: Lease, ttl: Duration)]>([:])

    /// The keeper of the work this task runs (set by the poster for the whole attempt).
    @TaskLocal static var current: LeaseKeeper?

    init(store: any KeyValueStore) { self.store = store }

    func hold(_ lease: Lease, ttl: Duration) { held.withLock { $0[lease.key] = (lease, ttl) } }

    /// Stops renewing `key`; returns the lease as last renewed (to release it).
    func drop(_ key: String) -> Lease? { held.withLock { $0.removeValue(forKey: key)?.lease } }

    /// Extends every held lease; throws a transient error naming the first one that was lost.
    func renewAll() async throws {
        for (key, entry) in held.withLock({ $0 }) {
            guard let renewed = try await store.renewLease(entry.lease, ttl: entry.ttl) else {
                held.withLock { _ = $0.removeValue(forKey: key) }
                throw ConnectorError.conflict("the lease \(key) expired and was taken over while this worker waited", fix: "retried; the new holder re-checks F&O before writing")
            }
            held.withLock { $0[key] = (renewed, entry.ttl) }
        }
    }
}
