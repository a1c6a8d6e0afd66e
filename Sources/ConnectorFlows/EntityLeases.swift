import ConnectorCore
import ConnectorStore
import DynamicsClient
import Foundation

/// F&O's single-writer entities (CustomersV3 "single thread only", journals): one writer per
/// environment and legal entity, through a store lease — and, inside one process, a local lock.
extension OrderPoster {
    /// Runs `body` holding the (environment, legal entity, entity) lease, waiting briefly for it.
    /// Workers in this process queue on a local lock first, so only other processes are ever
    /// waited for through the store.
    func withEntityLease<T: Sendable>(fo: DynamicsClient, entity: String, _ body: () async throws -> T) async throws -> T {
        let key = Keyspace.entityLease(environment: Self.host(fo), legalEntity: fo.legalEntity, entity: entity)
        await localLocks.acquire(key)
        do {
            let value = try await withStoreLease(key, body)
            await localLocks.release(key)
            return value
        } catch {
            await localLocks.release(key)
            throw error
        }
    }

    func withStoreLease<T: Sendable>(_ key: String, _ body: () async throws -> T) async throws -> T {
        let owner = UUID.random().uuidString.lowercased()
        for _ in 0..<settings.entityLeaseAttempts {
            if let lease = try await store.acquireLease(key, owner: owner, ttl: settings.entityLeaseTTL).lease {
                let keeper = LeaseKeeper.current
                keeper?.hold(lease, ttl: settings.entityLeaseTTL)
                do {
                    let value = try await body()
                    _ = try? await store.releaseLease(keeper?.drop(key) ?? lease)
                    return value
                } catch {
                    _ = try? await store.releaseLease(keeper?.drop(key) ?? lease)
                    throw error
                }
            }
            try await sleeper.sleep(seconds: settings.entityLeaseWait)
        }
        throw ConnectorError.conflict("\(key) is held by another worker", fix: "retried later")
    }
}
