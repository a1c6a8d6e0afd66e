import ConnectorCore
import ConnectorStore
import ConnectorTestSupport
import Foundation
import Testing

/// The ONE conformance suite: every backend runs every test here, and each test checks one
/// sentence of `KeyValueStore`'s documented guarantee.
@Suite("KeyValueStore conformance")
struct ConformanceTests {
    let value = Array("v".utf8)

    @Test(arguments: ConformanceBackend.all)
    func absentKeyReadsNil(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        #expect(try await store.get("nothing/here") == nil)
        #expect(try await store.delete("nothing/here") == false)
    }

    @Test(arguments: ConformanceBackend.all)
    func setThenGetReturnsValueAndGrowingVersions(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        let v1 = try await store.set("a/1", Array("one".utf8))
        let v2 = try await store.set("a/1", Array("two".utf8))
        #expect(v2 > v1)
        let read = try #require(try await store.get("a/1"))
        #expect(read.value == Array("two".utf8))
        #expect(read.version == v2)
        #expect(read.expiresAt == nil)
    }

    @Test(arguments: ConformanceBackend.all)
    func binaryValuesRoundTripExactly(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        let bytes: [UInt8] = Array(0...255) + [0, 0, 0xFF]
        try await store.set("bin", bytes)
        #expect(try await store.get("bin")?.value == bytes)
    }

    @Test(arguments: ConformanceBackend.all)
    func insertIfAbsentWritesOnlyOnce(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        let first = try await store.insertIfAbsent("k", Array("first".utf8))
        #expect(first.inserted)
        let second = try await store.insertIfAbsent("k", Array("second".utf8))
        guard case .exists(let current?) = second else { Issue.record("expected .exists, got \(second)"); return }
        #expect(current.value == Array("first".utf8))
        #expect(try await store.get("k")?.value == Array("first".utf8))
    }

    @Test("of concurrent insertIfAbsent calls on one absent key exactly one inserts", arguments: ConformanceBackend.all)
    func concurrentInsertIfAbsentHasOneWinner(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        for round in 0..<20 {
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<16 {
                    group.addTask { try await store.insertIfAbsent("race/\(round)", Array("\(i)".utf8)).inserted }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1, "round \(round): \(wins) winners")
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func compareAndSwapNeedsTheCurrentVersion(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        let v1 = try await store.set("cas", Array("1".utf8))
        let swapped = try await store.compareAndSwap("cas", expectedVersion: v1, Array("2".utf8), ttl: nil)
        guard case .swapped(let v2) = swapped else { Issue.record("expected swap"); return }
        #expect(v2 > v1)
        #expect(try await store.compareAndSwap("cas", expectedVersion: v1, Array("stale".utf8), ttl: nil) == .conflict)
        #expect(try await store.get("cas")?.value == Array("2".utf8))
        #expect(try await store.compareAndSwap("absent", expectedVersion: 1, value, ttl: nil) == .conflict)
    }

    @Test("of concurrent compareAndSwap calls expecting one version at most one swaps", arguments: ConformanceBackend.all)
    func concurrentCompareAndSwapHasOneWinner(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        for round in 0..<10 {
            let version = try await store.set("counter", Array("\(round)".utf8))
            let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<12 {
                    group.addTask { try await store.compareAndSwap("counter", expectedVersion: version, Array("\(i)".utf8), ttl: nil).swapped }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
        }
    }

    @Test("a deleted and re-created key never gets back an old version", arguments: ConformanceBackend.all)
    func versionsAreNeverReusedAfterDelete(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        let old = try await store.set("reborn", Array("a".utf8))
        #expect(try await store.delete("reborn", expectedVersion: old + 100) == false)
        #expect(try await store.delete("reborn", expectedVersion: old))
        #expect(try await store.get("reborn") == nil)
        guard case .inserted(let new) = try await store.insertIfAbsent("reborn", Array("b".utf8)) else { Issue.record("insert failed"); return }
        #expect(new > old)
        #expect(try await store.compareAndSwap("reborn", expectedVersion: old, Array("stale".utf8), ttl: nil) == .conflict)
    }

    @Test("an expired value is indistinguishable from an absent one", arguments: ConformanceBackend.all)
    func expiredValuesAreAbsent(backend: ConformanceBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.make(clock: clock)
        let version = try await store.set("ttl/a", value, ttl: .seconds(10))
        try await store.set("ttl/b", value)
        let read = try #require(try await store.get("ttl/a"))
        #expect(read.expiresAt == clock.now().addingTimeInterval(10))
        clock.advance(by: 9.9)
        #expect(try await store.get("ttl/a") != nil)
        clock.advance(by: 0.2)
        #expect(try await store.get("ttl/a") == nil)
        #expect(try await store.list(prefix: "ttl/", after: nil, limit: 10).items.map(\.key) == ["ttl/b"])
        #expect(try await store.compareAndSwap("ttl/a", expectedVersion: version, value, ttl: nil) == .conflict)
        #expect(try await store.delete("ttl/a") == false)
        #expect(try await store.insertIfAbsent("ttl/a", Array("new".utf8)).inserted)
        #expect(try await store.get("ttl/a")?.value == Array("new".utf8))
    }

    @Test(arguments: ConformanceBackend.all)
    func purgeReclaimsOnlyExpiredValues(backend: ConformanceBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.make(clock: clock)
        for i in 0..<5 { try await store.set("p/short\(i)", value, ttl: .seconds(1)) }
        try await store.set("p/long", value, ttl: .seconds(3600))
        try await store.set("p/forever", value)
        clock.advance(by: 2)
        #expect(try await store.purgeExpired(before: clock.now(), limit: 3) == 3)
        #expect(try await store.purgeExpired(before: clock.now(), limit: 100) == 2)
        #expect(try await store.listAll(prefix: "p/").map(\.key) == ["p/forever", "p/long"])
    }

    @Test("prefix listing is ordered, paged and never leaks a neighbouring prefix", arguments: ConformanceBackend.all)
    func prefixListing(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        for i in [3, 1, 7, 5, 2, 9, 4, 8, 6, 0] { try await store.set("list/\(i)", Array("\(i)".utf8)) }
        try await store.set("list0", value)
        try await store.set("lisu", value)
        try await store.set("lis", value)
        var seen: [String] = []
        var cursor: String?
        var pages = 0
        repeat {
            let page = try await store.list(prefix: "list/", after: cursor, limit: 3)
            seen += page.items.map(\.key)
            cursor = page.nextCursor
            pages += 1
        } while cursor != nil && pages < 10
        #expect(seen == (0...9).map { "list/\($0)" })
        #expect(pages == 4)
        #expect(try await store.listAll(prefix: "list/", pageSize: 100).count == 10)
        #expect(try await store.list(prefix: "nothing/", after: nil, limit: 5).items.isEmpty)
    }

    @Test(arguments: ConformanceBackend.all)
    func keysMustBePrintableASCII(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        for bad in ["", "ü", "tab\tkey", String(repeating: "x", count: 513)] {
            await #expect(throws: ConnectorError.self) { try await store.set(bad, self.value) }
        }
        #expect(StoreKey.segment("../a/b c") == "..%2Fa%2Fb%20c")
    }

    @Test("a live lease is never taken by another owner; it is after expiry", arguments: ConformanceBackend.all)
    func leases(backend: ConformanceBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.make(clock: clock)
        let lease = try #require(try await store.acquireLease("lease/order/1", owner: "a", ttl: .seconds(30)).lease)
        #expect(lease.expiresAt == clock.now().addingTimeInterval(30))
        guard case .held(let holder, _) = try await store.acquireLease("lease/order/1", owner: "b", ttl: .seconds(30)) else {
            Issue.record("b took a live lease"); return
        }
        #expect(holder == "a")
        clock.advance(by: 20)
        let renewed = try #require(try await store.renewLease(lease, ttl: .seconds(30)))
        clock.advance(by: 20)
        #expect(try await store.acquireLease("lease/order/1", owner: "b", ttl: .seconds(30)).lease == nil)
        clock.advance(by: 11)
        let taken = try #require(try await store.acquireLease("lease/order/1", owner: "b", ttl: .seconds(30)).lease)
        #expect(taken.owner == "b")
        #expect(taken.version > renewed.version)
        #expect(try await store.renewLease(renewed, ttl: .seconds(30)) == nil)
        #expect(try await store.releaseLease(renewed) == false)
        #expect(try await store.releaseLease(taken))
        #expect(try await store.acquireLease("lease/order/1", owner: "a", ttl: .seconds(5)).lease != nil)
    }

    @Test("of concurrent lease requests exactly one is granted", arguments: ConformanceBackend.all)
    func concurrentLeaseHasOneHolder(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        for round in 0..<10 {
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<10 {
                    group.addTask { try await store.acquireLease("lease/\(round)", owner: "owner-\(i)", ttl: .seconds(60)).lease != nil }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
        }
    }

    @Test(arguments: ConformanceBackend.all)
    func closedStoreFailsCleanly(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        try await store.set("x", value)
        try await store.close()
        await #expect(throws: (any Error).self) { _ = try await store.get("x") }
    }
}

@Suite("KeyValueStore conformance: group inserts")
struct GroupInsertConformanceTests {
    @Test("a group insert writes every absent key and reports the ones already there", arguments: ConformanceBackend.all)
    func groupInsert(backend: ConformanceBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.make(clock: clock)
        try await store.set("g/b", Array("old".utf8))
        try await store.set("g/c", Array("short".utf8), ttl: .seconds(1))
        clock.advance(by: 2)
        let result = try await store.insertIfAbsent([
            StoreEntry(key: "g/a", value: Array("a".utf8)),
            StoreEntry(key: "g/b", value: Array("b".utf8)),
            StoreEntry(key: "g/c", value: Array("c".utf8), ttl: .seconds(60)),
        ])
        #expect(result.count == 3)
        #expect(result[0] != nil && result[1] == nil && result[2] != nil)
        #expect(try await store.get("g/a")?.value == Array("a".utf8))
        #expect(try await store.get("g/b")?.value == Array("old".utf8))
        #expect(try await store.get("g/c")?.expiresAt == clock.now().addingTimeInterval(60))
        #expect(try await store.insertIfAbsent([]).isEmpty)
        await #expect(throws: ConnectorError.self) { _ = try await store.insertIfAbsent([StoreEntry(key: "g/ok", value: []), StoreEntry(key: "bad\u{1}", value: [])]) }
        #expect(try await store.get("g/ok") == nil, "an invalid group writes nothing")
    }

    @Test("of concurrent groups sharing a key exactly one inserts it", arguments: ConformanceBackend.all)
    func concurrentGroups(backend: ConformanceBackend) async throws {
        let store = try await backend.make()
        for round in 0..<10 {
            let results = try await withThrowingTaskGroup(of: [Int64?].self) { group in
                for i in 0..<8 {
                    group.addTask {
                        try await store.insertIfAbsent([
                            StoreEntry(key: "shared/\(round)", value: Array("\(i)".utf8)),
                            StoreEntry(key: "own/\(round)/\(i)", value: Array("\(i)".utf8)),
                        ])
                    }
                }
                return try await group.reduce(into: [[Int64?]]()) { $0.append($1) }
            }
            #expect(results.filter { $0[0] != nil }.count == 1)
            #expect(results.allSatisfy { $0[1] != nil })
        }
    }
}

@Suite("Retention")
struct RetentionTests {
    @Test("expired deliveries, pending work and audit lines are purged; order links and cursors never", arguments: ConformanceBackend.all)
    func purgeKeepsWhatNeverExpires(backend: ConformanceBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.make(clock: clock)
        let retention: Duration = .seconds(30 * 86_400)
        try await store.set(Keyspace.delivery("acme", topic: "order.updated", resourceID: "1", bodySHA256: "ab"), [1], ttl: retention)
        try await store.set(Keyspace.pending("acme", kind: "order", resourceID: "1"), [1], ttl: retention)
        try await store.set(Keyspace.audit("acme", sortableTime: "000000000000001", id: "x"), [1], ttl: retention)
        try await store.set(Keyspace.orderLinks("acme") + "1", [2])
        try await store.set(Keyspace.cursors("acme") + "orders", [3])
        clock.advance(by: 29 * 86_400)
        #expect(try await Retention.purge(store, now: clock.now()) == 0)
        clock.advance(by: 2 * 86_400)
        #expect(try await Retention.purge(store, now: clock.now()) == 3)
        #expect(try await store.listAll(prefix: "").map(\.key).sorted() == [Keyspace.cursors("acme") + "orders", Keyspace.orderLinks("acme") + "1"])
    }

    @Test("purging runs in bounded batches until done", arguments: ConformanceBackend.all)
    func purgeInBatches(backend: ConformanceBackend) async throws {
        let clock = ManualWallClock()
        let store = try await backend.make(clock: clock)
        for i in 0..<25 { try await store.set("old/\(i)", [1], ttl: .seconds(1)) }
        clock.advance(by: 2 + 3600 + 1)
        #expect(try await Retention.purge(store, now: clock.now(), batchSize: 4) == 25)
        #expect(try await store.purgeExpired(before: clock.now(), limit: 100) == 0)
    }
}
