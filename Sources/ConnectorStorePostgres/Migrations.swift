import ConnectorCore
import Foundation
import Logging
import PostgresNIO

/// Versioned schema migrations. The same statements ship as plain SQL in `infra/postgres/`
/// for DBAs (a test keeps the two identical).
public enum PostgresMigrations {
    /// (version, SQL) in order; `SCHEMA` stands for the configured schema.
    public static let all: [(version: Int, sql: String)] = [
        (1, """
            CREATE TABLE IF NOT EXISTS SCHEMA.mlc_kv (
                key        text PRIMARY KEY COLLATE "C",
                value      bytea,
                version    bigint NOT NULL,
                expires_at bigint
            );
            CREATE INDEX IF NOT EXISTS mlc_kv_expires_at ON SCHEMA.mlc_kv (expires_at) WHERE expires_at IS NOT NULL;
            """),
    ]

    /// Any fixed number: every instance takes the same advisory lock while it migrates.
    static let advisoryLock: Int64 = 0x6D6C_635F_6B76

    static func apply(client: PostgresClient, schema: String, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(advisoryLock))", logger: logger)
            try await connection.query("CREATE SCHEMA IF NOT EXISTS \(unescaped: "\"\(schema)\"")", logger: logger)
            try await connection.query("""
                CREATE TABLE IF NOT EXISTS \(unescaped: "\"\(schema)\"").mlc_schema_migrations (
                    version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                """, logger: logger)
            var applied = Set<Int>()
            for try await version in try await connection.query("SELECT version FROM \(unescaped: "\"\(schema)\"").mlc_schema_migrations", logger: logger).decode(Int.self) {
                applied.insert(version)
            }
            if let newest = applied.max(), newest > (all.last?.version ?? 0) {
                throw ConnectorError.storeUnavailable("the PostgreSQL schema \(schema) is at version \(newest), newer than this build understands", fix: "run a newer ml-connector against it")
            }
            for migration in all where !applied.contains(migration.version) {
                for statement in migration.sql.replacingOccurrences(of: "SCHEMA.", with: "\"\(schema)\".").split(separator: ";") where !statement.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
                    try await connection.query(PostgresQuery(unsafeSQL: String(statement)), logger: logger)
                }
                try await connection.query("INSERT INTO \(unescaped: "\"\(schema)\"").mlc_schema_migrations (version) VALUES (\(migration.version))", logger: logger)
            }
        }
    }
}
