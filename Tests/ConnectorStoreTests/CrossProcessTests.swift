import ConnectorCore
import ConnectorStore
import ConnectorStoreSQLite
import ConnectorTestSupport
import Foundation
import Testing

/// The store's promises across OS processes: what keeps an order from being posted twice when
/// two instances share one store file.
@Suite("Store across processes", .serialized)
struct CrossProcessTests {
    struct Round: Decodable { var round: Int; var won: Bool }

    func race(store url: String, operation: String, rounds: Int, processes: Int = 2) throws -> [[Round]] {
        let mlc = try PackagePaths.executable("mlc")
        let start = Date().addingTimeInterval(1.5).unixMilliseconds
        let running = try (0..<processes).map { i in
            try ProcessRunner.start(mlc, ["store-probe", "--store", url, "--operation", operation, "--owner", "p\(i)",
                                          "--prefix", "\(operation)/", "--rounds", "\(rounds)", "--start-at-ms", "\(start)"])
        }
        return try running.map { process in
            let result = try process.wait(timeout: 120)
            #expect(result.status == 0, "probe failed: \(result.stderr)")
            return result.stdout.split(separator: "\n").compactMap { try? JSONDecoder().decode(Round.self, from: Data($0.utf8)) }
        }
    }

    @Test("two processes racing insertIfAbsent on one SQLite file: exactly one winner in each of 200 rounds")
    func insertRace() throws {
        let url = "sqlite:" + TemporaryDirectory.make().appendingPathComponent("race.sqlite").path
        let results = try race(store: url, operation: "insert", rounds: 200)
        #expect(results.allSatisfy { $0.count == 200 })
        for round in 0..<200 {
            let winners = results.filter { $0.first { $0.round == round }?.won == true }.count
            #expect(winners == 1, "round \(round) had \(winners) winners")
        }
    }

    @Test("two processes racing for a lease on one SQLite file: exactly one holder in each of 200 rounds")
    func leaseRace() throws {
        let url = "sqlite:" + TemporaryDirectory.make().appendingPathComponent("lease.sqlite").path
        let results = try race(store: url, operation: "lease", rounds: 200)
        #expect(results.allSatisfy { $0.count == 200 })
        for round in 0..<200 {
            let winners = results.filter { $0.first { $0.round == round }?.won == true }.count
            #expect(winners == 1, "round \(round) had \(winners) winners")
        }
    }

    @Test("a lease held by one process is taken by another only after it expires")
    func leaseTakeoverAfterExpiry() throws {
        let mlc = try PackagePaths.executable("mlc")
        let url = "sqlite:" + TemporaryDirectory.make().appendingPathComponent("takeover.sqlite").path
        let t0 = Date().unixMilliseconds
        func attempt(_ owner: String, at now: Int64) throws -> Bool {
            let r = try ProcessRunner.run(mlc, ["store-probe", "--store", url, "--operation", "lease", "--owner", owner, "--prefix", "order-lease/", "--now-ms", "\(now)", "--ttl-ms", "30000"])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.contains("\"won\":true")
        }
        #expect(try attempt("first", at: t0))
        #expect(try attempt("second", at: t0 + 29_000) == false)
        #expect(try attempt("second", at: t0 + 30_001))
        #expect(try attempt("first", at: t0 + 31_000) == false)
    }

    @Test("values written by one process survive its exit and are read by the next")
    func valuesSurviveRestart() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let path = TemporaryDirectory.make().appendingPathComponent("restart.sqlite").path
        let r = try ProcessRunner.run(mlc, ["store-probe", "--store", "sqlite:" + path, "--operation", "insert", "--owner", "writer", "--prefix", "durable/", "--rounds", "5"])
        #expect(r.status == 0)
        let store = try await SQLiteStore.open(path: path)
        for i in 0..<5 {
            #expect(try await store.get("durable/\(i)")?.value == Array("writer".utf8))
        }
        try await store.close()
        // And a reopened store in this process sees its own earlier writes.
        let again = try await SQLiteStore.open(path: path)
        try await again.set("durable/x", Array("y".utf8))
        try await again.close()
        let third = try await SQLiteStore.open(path: path)
        #expect(try await third.get("durable/x")?.value == Array("y".utf8))
        try await third.close()
    }
}
