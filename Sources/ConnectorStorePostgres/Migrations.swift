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

    /// The schema as one plain SQL script that does what `apply` does — the same advisory lock,
    /// the same refusal of a schema newer than this build, each migration not yet recorded run
    /// statement by statement and recorded — for DBAs who migrate by hand before the functions
    /// start. `infra/postgres/schema.sql` is exactly `script(schema: "public")` (`mlc infra
    /// schema` prints it; a test and `scripts/check-infra` compare the two).
    public static func script(schema: String = "public") -> String {
        let qualified = "\"\(schema)\""
        let newest = all.last?.version ?? 0
        var sql = """
            -- ml-connector state store schema for PostgreSQL ≥ 13, schema \(qualified), up to version \(newest).
            -- Generated from Sources/ConnectorStorePostgres/Migrations.swift by `mlc infra schema`; do not edit.
            -- The functions apply the same migrations themselves at start-up; running this first (psql -f,
            -- as a role that may create the schema) is optional and safe to repeat.
            BEGIN;
            SELECT pg_advisory_xact_lock(\(advisoryLockClass), hashtext('\(schema)'));
            CREATE SCHEMA IF NOT EXISTS \(qualified);
            CREATE TABLE IF NOT EXISTS \(qualified).mlc_schema_migrations (
                version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());
            DO $check$
            BEGIN
                IF (SELECT max(version) FROM \(qualified).mlc_schema_migrations) > \(newest) THEN
                    RAISE EXCEPTION 'the PostgreSQL schema \(schema) is newer than version \(newest): run a newer ml-connector against it';
                END IF;
            END
            $check$;

            """
        for migration in all {
            sql += "DO $migrate$\nBEGIN\n"
            sql += "    IF NOT EXISTS (SELECT 1 FROM \(qualified).mlc_schema_migrations WHERE version = \(migration.version)) THEN\n"
            for statement in statements(migration.sql, schema: schema) {
                let body = statement.split(separator: "\n", omittingEmptySubsequences: false)
                    .map { String($0).trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.joined(separator: "\n            ")
                sql += "        EXECUTE $sql$\(body)$sql$;\n"
            }
            sql += "        INSERT INTO \(qualified).mlc_schema_migrations (version) VALUES (\(migration.version));\n"
            sql += "    END IF;\nEND\n$migrate$;\n"
        }
        return sql + "COMMIT;\n"
    }

    /// One migration's statements for `schema`, exactly as `apply` runs them.
    static func statements(_ sql: String, schema: String) -> [String] {
        sql.replacingOccurrences(of: "SCHEMA.", with: "\"\(schema)\".").split(separator: ";")
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { !$0.isEmpty }
    }

    /// The advisory lock an instance holds while it migrates a schema: a fixed class and the
    /// schema's hash, so instances migrating one schema wait for each other and instances on
    /// different schemas (tenants, tests) do not.
    static let advisoryLockClass: Int32 = 0x6D6C_635F

    static func apply(client: PostgresClient, schema: String, logger: Logger) async throws {
        try await client.withTransaction(logger: logger) { connection in
            try await connection.query("SELECT pg_advisory_xact_lock(\(unescaped: String(advisoryLockClass)), hashtext(\(unescaped: "'\(schema)'")))", logger: logger)
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
                for statement in statements(migration.sql, schema: schema) {
                    try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger)
                }
                try await connection.query("INSERT INTO \(unescaped: "\"\(schema)\"").mlc_schema_migrations (version) VALUES (\(migration.version))", logger: logger)
            }
        }
    }
}
