import ConnectorCore
import Foundation

/// Physically removes what has expired (SPEC §5: deliveries, pending work and audit lines carry
/// the retention as their TTL; order links and cursors carry none and are never touched).
public enum Retention {
    /// Removed values are those that expired more than `grace` ago, so no caller can still hold
    /// a version read from them (see `KeyValueStore.purgeExpired`).
    public static let grace: Duration = .seconds(3600)

    /// Purges in bounded batches, yielding between them so the functions sharing the store are
    /// never held up; stops after `maxBatches`. Returns how many values were removed.
    @discardableResult
    public static func purge(_ store: any KeyValueStore, now: Date, batchSize: Int = 500, maxBatches: Int = 1000) async throws -> Int {
        let cutoff = now.addingTimeInterval(-Double(grace.components.seconds))
        var removed = 0
        for _ in 0..<maxBatches {
            let n = try await store.purgeExpired(before: cutoff, limit: batchSize)
            removed += n
            if n < batchSize { break }
            await Task.yield()
        }
        return removed
    }
}
