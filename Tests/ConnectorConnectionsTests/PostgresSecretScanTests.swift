import ConnectorConnections
import ConnectorCore
import ConnectorStore
import ConnectorStorePostgres
import ConnectorTestSupport
import Foundation
import Logging
import PostgresNIO
import Testing

/// SPEC §14: a store dump holds no secret in clear — the PostgreSQL side of the SQLite file scan
/// in SealingTests: every row of every table in the store's schema, read as text.
@Suite("PostgreSQL dump holds no secret")
struct PostgresSecretScanTests {
    @Test("every row of every table in the store's schema, as text, holds no secret (clear, base64 or hex), before and after a key rotation")
    func noSecretInAnyTable() async throws {
        guard StoreBackend.postgresURL != nil else {
            // Skipped on a machine without PostgreSQL; in CI that is a failure (as PostgresTests does).
            #expect(ProcessInfo.processInfo.environment["CI"] != "true", "CI=true but MLC_TEST_POSTGRES_URL is not set: run the suite through scripts/test, which starts PostgreSQL")
            return
        }
        let url = try StoreBackend.postgres.freshURL()
        let settings = try PostgresStoreURL(url)
        let store = try await StoreFactoryForTests.open(url)
        let repo = ConnectionRepository(store: store)
        let old = MasterKey.generate(), new = MasterKey.generate()
        try await repo.add(try TestConnections.make(id: "acme", webhookSecret: "webhook-secret-in-clear-PG1", prefix: "AA",
                                                    consumerSecret: "cs_consumer-secret-in-clear-PG", clientSecret: "client-secret-in-clear-PG"), key: old)
        try await repo.add(try TestConnections.make(id: "beta", webhookSecret: "webhook-secret-in-clear-PG2", prefix: "BB"), key: old)
        try await repo.setSecret("beta", field: "dynamics.clientSecret", value: SecretValue("replaced-client-secret-PG"), key: old)
        var secrets = ["webhook-secret-in-clear-PG1", "cs_consumer-secret-in-clear-PG", "client-secret-in-clear-PG",
                       "webhook-secret-in-clear-PG2", "replaced-client-secret-PG", "ck_test_acme", "cs_test_consumer_secret"]
        for id in ["acme", "beta"] { secrets.append(try await repo.load(id, key: old).dynamics.businessEventCode.reveal()) }

        // A canary written in clear into a value proves the scan reads the value bytes too.
        try await store.set("scan-canary", Array("canary-in-clear-PG".utf8))
        let before = try await Self.dump(settings)
        #expect(before.joined().contains(Data("canary-in-clear-PG".utf8).map { String(format: "%02x", $0) }.joined()), "the scan does not see stored values")
        Self.expectNoSecret(secrets, in: before, when: "after add and set-secret")

        // Key rotation re-seals every connection; nothing may be left in clear on the way.
        for id in ["acme", "beta"] { #expect(try await repo.reseal(id, from: old, to: new)) }
        #expect(try await repo.load("beta", key: new).dynamics.clientSecret.reveal() == "replaced-client-secret-PG")
        let after = try await Self.dump(settings)
        Self.expectNoSecret(secrets, in: after, when: "after key rotation")
        try await store.close()
    }

    static func expectNoSecret(_ secrets: [String], in dump: [String], when: String) {
        let text = dump.joined(separator: "\n")
        // A bytea column reads as `\x` + hex in row_to_json, so the hex form is searched too.
        for secret in secrets {
            let forms = [secret, Data(secret.utf8).base64EncodedString(), Data(secret.utf8).map { String(format: "%02x", $0) }.joined()]
            for form in forms { #expect(!text.contains(form), "\(when): a secret (\(secret.prefix(6))…) is readable in the dump as \(form == secret ? "clear text" : "an encoding")") }
        }
        // The scan reads the real rows: the connection records are there (their ids are keys in clear).
        #expect(text.contains("acme") && text.contains("beta"), "\(when): the dump does not show the connections: \(text.prefix(300))")
        #expect(dump.count >= 2, "\(when): \(dump.count) rows")
    }

    /// Every row of every base table in the schema as JSON text (information_schema finds the
    /// tables, so a table added later is scanned too).
    static func dump(_ settings: PostgresStoreURL) async throws -> [String] {
        var configuration = PostgresClient.Configuration(host: settings.host, port: settings.port, username: settings.username,
                                                         password: settings.password, database: settings.database, tls: .disable)
        configuration.options.minimumConnections = 0
        let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "scan") { _ in SwiftLogNoOpLogHandler() })
        return try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask { await client.run(); return nil }
            defer { group.cancelAll() }
            let schema = settings.schema
            var tables: [String] = []
            for try await name in try await client.query("SELECT table_name::text FROM information_schema.tables WHERE table_schema = \(schema) AND table_type = 'BASE TABLE'").decode(String.self) {
                tables.append(name)
            }
            #expect(!tables.isEmpty, "no table in schema \(schema)")
            var rows: [String] = []
            for table in tables {
                let quoted = "\"\(schema.replacingOccurrences(of: "\"", with: "\"\""))\".\"\(table.replacingOccurrences(of: "\"", with: "\"\""))\""
                let query = PostgresQuery(unsafeSQL: "SELECT row_to_json(t)::text FROM \(quoted) t")
                for try await row in try await client.query(query).decode(String.self) { rows.append("\(table): \(row)") }
            }
            return rows
        }
    }
}
