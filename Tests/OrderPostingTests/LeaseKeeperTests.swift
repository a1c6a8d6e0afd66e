@testable import ConnectorFlows
import ConnectorCore
import ConnectorStore
import Foundation
import Testing

/// A worker proves it still holds its leases right before each F&O write (review finding: a
/// wait that outlives a lease must never end in a write someone else is also making).
@Suite struct LeaseKeeperTests {
    @Test func renewalExtendsAHeldLeaseAndFailsOnceTakenOver() async throws {
        let clock = ManualWallClock()
        let store = MemoryStore(clock: clock)
        let lease = try #require(try await store.acquireLease("lease/order/acme/1", owner: "a", ttl: .seconds(10)).lease)
        let keeper = LeaseKeeper(store: store)
        keeper.hold(lease, ttl: .seconds(10))

        clock.advance(by: 8)
        try await keeper.renewAll()                    // still ours: extended to t+18
        clock.advance(by: 8)
        #expect(try await store.acquireLease("lease/order/acme/1", owner: "b", ttl: .seconds(10)).lease == nil)

        clock.advance(by: 11)                          // expired; another worker takes over
        #expect(try await store.acquireLease("lease/order/acme/1", owner: "b", ttl: .seconds(10)).lease != nil)
        await #expect(throws: ConnectorError.conflict) { try await keeper.renewAll() }
        #expect(keeper.drop("lease/order/acme/1") == nil)
    }
}
