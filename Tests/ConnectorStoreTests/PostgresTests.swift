import ConnectorCore
import ConnectorStore
import ConnectorStorePostgres
import ConnectorTestSupport
import Foundation
import Testing

@Suite("PostgreSQL backend")
struct PostgresTests {
    @Test("in CI the PostgreSQL backend is exercised, never silently skipped")
    func availableInCI() {
        if ProcessInfo.processInfo.environment["CI"] == "true" {
            #expect(StoreBackend.postgresURL != nil, "CI=true but MLC_TEST_POSTGRES_URL is not set: run the suite through scripts/test, which starts PostgreSQL")
        }
    }

    @Test func urlsAreReadStrictly() throws {
        let url = try PostgresStoreURL("postgres://mlc:s%40cret@db.internal:6543/connector?sslmode=verify-full&schema=acme&pool=4")
        #expect(url.host == "db.internal" && url.port == 6543 && url.username == "mlc" && url.password == "s@cret")
        #expect(url.database == "connector" && url.sslMode == "verify-full" && url.schema == "acme" && url.poolSize == 4)
        #expect(try PostgresStoreURL("postgresql://u@h/d").schema == "public")
        for bad in ["postgres://h/d", "postgres://u@h/d?sslmode=maybe", "postgres://u@h/d?schema=Robert');DROP", "postgres://u@h/d?pool=0", "postgres://u@h/d?connect_timeout=1", "postgres://u@h/d?timeout=0", "mysql://u@h/d"] {
            #expect(throws: ConnectorError.invalidConfiguration) { try PostgresStoreURL(bad) }
        }
    }

    @Test("the SQL shipped for DBAs in infra/postgres is the migration the code applies")
    func shippedSchemaMatchesMigrations() throws {
        let shipped = try String(contentsOf: PackagePaths.root.appendingPathComponent("infra/postgres/001_kv.sql"), encoding: .utf8)
        let normalize = { (s: String) in s.replacingOccurrences(of: "\\s+", with: " ", options: .regularExpression) }
        for migration in PostgresMigrations.all {
            let code = migration.sql.replacingOccurrences(of: "SCHEMA.", with: "public.")
            #expect(normalize(shipped).contains(normalize(code).trimmingCharacters(in: .whitespaces)), "migration \(migration.version) differs from infra/postgres")
        }
    }

    @Test("several instances migrating one new schema at once all succeed", .enabled(if: StoreBackend.postgresURL != nil))
    func concurrentMigrations() async throws {
        let url = try StoreBackend.postgres.freshURL()
        let stores = try await withThrowingTaskGroup(of: PostgresStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresStore.open(url: url) } }
            return try await group.reduce(into: [PostgresStore]()) { $0.append($1) }
        }
        #expect(stores.count == 4)
        try await stores[0].set("m/1", [1])
        #expect(try await stores[3].get("m/1")?.value == [1])
        for store in stores { try await store.close() }
    }

    @Test("an unreachable server is one clear, retryable error")
    func unreachable() async throws {
        do {
            _ = try await PostgresStore.open(url: "postgres://mlc@127.0.0.1:9/none", timeout: .seconds(2))
            Issue.record("connected to a closed port")
        } catch let error as ConnectorError {
            #expect(error == .storeUnavailable)
            #expect(error.disposition == .transient)
            #expect(error.description.contains("127.0.0.1:9"))
        }
    }
}

@Suite("PostgreSQL restarts", .serialized)
struct PostgresRestartTests {
    @Test("a PostgreSQL restart mid-run loses nothing: writes fail as retryable, then the same store works again",
          .enabled(if: ThrowawayPostgres.isAvailable))
    func restartMidRun() async throws {
        let cluster = try await ThrowawayPostgres.start()
        do {
            try await restart(cluster)
        } catch {
            await cluster.destroy()
            throw error
        }
        await cluster.destroy()
    }

    func restart(_ cluster: ThrowawayPostgres) async throws {
        let store = try await PostgresStore.open(url: cluster.url + "?schema=restart&timeout=2")
        for i in 0..<20 { try await store.set("before/\(i)", [UInt8(i)]) }
        try await cluster.stopServer()
        do {
            try await store.set("during", [1])
            Issue.record("a write succeeded with the server down")
        } catch let error as ConnectorError {
            #expect(error.disposition == .transient, "an outage is retryable, not a permanent error")
        }
        try await cluster.startServer()
        // The pool reconnects by itself; a caller retries a transient error (bounded here).
        var recovered = false
        for _ in 0..<100 where !recovered {
            if (try? await store.set("after", [2])) != nil { recovered = true } else { try await Task.sleep(for: .milliseconds(100)) }  // waiting for the pool to reconnect
        }
        #expect(recovered)
        for i in 0..<20 { #expect(try await store.get("before/\(i)")?.value == [UInt8(i)]) }
        #expect(try await store.get("after")?.value == [2])
        try await store.close()
    }
}
