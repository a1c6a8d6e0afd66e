import ConnectorCore
import ConnectorStore
import ConnectorStorePostgres
import ConnectorStoreSQLite
import ConnectorTestSupport
import Foundation
import Testing

/// The store's promises across OS processes: what keeps an order from being posted twice when
/// two instances share one store file.
@Suite("Store across processes", .serialized)
struct CrossProcessTests {
    struct Round: Decodable { var round: Int; var won: Bool }

    func race(store url: String, operation: String, rounds: Int, processes: Int = 2) async throws -> [[Round]] {
        let mlc = try PackagePaths.executable("mlc")
        // Every round has its own start instant, shared by all processes: they race on each one.
        let start = Date().addingTimeInterval(1.5).unixMilliseconds
        let running = try (0..<processes).map { i in
            try ProcessRunner.start(mlc, ["store-probe", "--store", url, "--operation", operation, "--owner", "p\(i)",
                                          "--prefix", "\(operation)/", "--rounds", "\(rounds)", "--start-at-ms", "\(start)", "--round-ms", "12"])
        }
        var all: [[Round]] = []
        for process in running {
            let result = try await process.wait(timeout: 120)
            #expect(result.status == 0, "probe failed: \(result.stderr)")
            all.append(result.stdout.split(separator: "\n").compactMap { try? JSONDecoder().decode(Round.self, from: Data($0.utf8)) })
        }
        return all
    }

    /// `insert` races insertIfAbsent, `lease` races acquireLease, on the same keys each round.
    @Test("processes racing on one shared store: exactly one winner in each of 200 rounds",
          arguments: StoreBackend.shared, ["insert", "lease"])
    func race(backend: StoreBackend, operation: String) async throws {
        let url = try backend.freshURL()
        let results = try await race(store: url, operation: operation, rounds: 200, processes: backend == .postgres ? 4 : 2)
        #expect(results.allSatisfy { $0.count == 200 })
        for round in 0..<200 {
            let winners = results.filter { $0.first { $0.round == round }?.won == true }.count
            #expect(winners == 1, "round \(round) had \(winners) winners")
        }
        // The processes really raced: more than one of them won rounds. (Not "each lost one":
        // on a loaded machine one process can start late and lose every round it races.)
        #expect(results.filter { $0.contains(where: \.won) }.count >= 2, "one process won every round: \(results.map { $0.filter(\.won).count })")
    }

    @Test("a lease held by one process is taken by another only after it expires", arguments: StoreBackend.shared)
    func leaseTakeoverAfterExpiry(backend: StoreBackend) async throws {
        let mlc = try PackagePaths.executable("mlc")
        let url = try backend.freshURL()
        let t0 = Date().unixMilliseconds
        func attempt(_ owner: String, at now: Int64) async throws -> Bool {
            let r = try await ProcessRunner.run(mlc, ["store-probe", "--store", url, "--operation", "lease", "--owner", owner, "--prefix", "order-lease/", "--now-ms", "\(now)", "--ttl-ms", "30000"])
            #expect(r.status == 0, "\(r.stderr)")
            return r.stdout.contains("\"won\":true")
        }
        let first = try await attempt("first", at: t0)
        let tooEarly = try await attempt("second", at: t0 + 29_000)
        let afterExpiry = try await attempt("second", at: t0 + 30_001)
        let backTooLate = try await attempt("first", at: t0 + 31_000)
        #expect(first)
        #expect(!tooEarly)
        #expect(afterExpiry)
        #expect(!backTooLate)
    }

    @Test("values written by one process survive its exit and are read by another", arguments: [StoreBackend.postgres].filter { StoreBackend.available.contains($0) })
    func valuesSurviveAcrossProcessesPostgres(backend: StoreBackend) async throws {
        let mlc = try PackagePaths.executable("mlc")
        let url = try backend.freshURL()
        let r = try await ProcessRunner.run(mlc, ["store-probe", "--store", url, "--operation", "insert", "--owner", "writer", "--prefix", "durable/", "--rounds", "5"])
        #expect(r.status == 0, "\(r.stderr)")
        let store = try await PostgresStore.open(url: url)
        for i in 0..<5 {
            #expect(try await store.get("durable/\(i)")?.value == Array("writer".utf8))
        }
        try await store.close()
    }

    @Test("every write a killed process had been told was durable is there after SIGKILL", arguments: StoreBackend.shared)
    func acknowledgedWritesSurviveSIGKILL(backend: StoreBackend) async throws {
        let mlc = try PackagePaths.executable("mlc")
        let url = try backend.freshURL()
        let writer = try ProcessRunner.start(mlc, ["store-probe", "--store", url, "--operation", "insert", "--owner", "killed", "--prefix", "kill/", "--rounds", "1000000"])
        #expect(await writer.waitForOutput { $0.split(separator: "\n").count >= 60 })
        writer.signal(SIGKILL)
        let result = try await writer.wait(timeout: 30)
        #expect(result.status != 0, "it was killed, not finished")
        let acknowledged = result.stdout.split(separator: "\n").compactMap { try? JSONDecoder().decode(Round.self, from: Data($0.utf8)) }
        #expect(acknowledged.count >= 60)
        let store = try await StoreFactoryForTests.open(url)
        for round in acknowledged {
            #expect(try await store.get("kill/\(round.round)")?.value == Array("killed".utf8), "round \(round.round) was acknowledged but is gone")
        }
        try await store.close()
    }

    @Test("values written by one process survive its exit and are read by the next")
    func valuesSurviveRestart() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let path = TemporaryDirectory.make().appendingPathComponent("restart.sqlite").path
        let r = try await ProcessRunner.run(mlc, ["store-probe", "--store", "sqlite:" + path, "--operation", "insert", "--owner", "writer", "--prefix", "durable/", "--rounds", "5"])
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
