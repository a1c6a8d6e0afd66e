import ConnectorCore
import ConnectorTestSupport
import Foundation
import Testing

/// `mlc infra render` and `mlc infra schema` as an operator runs them: from a store holding a
/// connection to manifest files, and from the migrations to infra/postgres/schema.sql.
@Suite struct InfraRenderTests {
    static let secrets = ["ck_render_test_key_91af", "cs_render_test_secret_27bd", "render-webhook-secret-5e0c",
                          "render-client-secret-44d1", "render-business-event-code-000111222333444555666777"]

    /// A connection file with every secret set to a value the output can be searched for.
    static func connectionFile(id: String, backfill: String, catalog: String, catalogEnabled: Bool, in directory: URL) throws -> String {
        let text = """
            {"schemaVersion": 1, "id": "\(id)",
             "woocommerce": {"baseURL": "https://shop.render.example", "consumerKey": "\(secrets[0])", "consumerSecret": "\(secrets[1])", "webhookSecret": "\(secrets[2])"},
             "dynamics": {"environmentURL": "https://render.operations.dynamics.com", "tenantId": "00000000-0000-0000-0000-000000000001",
                          "clientId": "00000000-0000-0000-0000-000000000002", "clientSecret": "\(secrets[3])", "legalEntity": "usmf",
                          "businessEventCode": "\(secrets[4])"},
             "catalog": {"enabled": \(catalogEnabled)},
             "schedules": {"backfill": "\(backfill)", "catalog": "\(catalog)"}}
            """
        let path = directory.appendingPathComponent("\(id).json").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    static func files(under directory: URL) -> [String: String] {
        var found: [String: String] = [:]
        let enumerator = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            if let text = try? String(contentsOf: url, encoding: .utf8) {
                found[String(url.path.dropFirst(directory.path.count + 1))] = text
            }
        }
        return found
    }

    @Test func rendersTheConnectionsSchedulesWithoutSecrets() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let directory = TemporaryDirectory.make("mlc-infra")
        let environment = ["MLC_MASTER_KEY": MasterKeyText.random(), "MLC_STORE_URL": "sqlite:\(directory.appendingPathComponent("state.sqlite").path)"]
        let file = try Self.connectionFile(id: "shop-7", backfill: "*/10 * * * *", catalog: "15 2 * * 1-5", catalogEnabled: true, in: directory)
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", file], environment: environment)
        #expect(add.status == 0, "\(add.stderr)")

        let out = directory.appendingPathComponent("out")
        let render = try await ProcessRunner.run(mlc, ["infra", "render", "--connection", "shop-7", "--out", out.path, "--namespace", "conn-prod"], environment: environment)
        #expect(render.status == 0, "\(render.stderr)")
        let files = Self.files(under: out)
        #expect(Set(files.keys) == [
            "knative/pingsource-backfill-shop-7.yaml", "knative/pingsource-catalog-shop-7.yaml",
            "cronjob/configmap-events-shop-7.yaml", "cronjob/cronjob-backfill-shop-7.yaml", "cronjob/cronjob-catalog-shop-7.yaml",
        ])
        for path in files.keys { #expect(render.stdout.contains(path), "stdout does not name \(path)") }

        let backfillPing = try #require(files["knative/pingsource-backfill-shop-7.yaml"])
        #expect(backfillPing.contains("kind: PingSource"))
        #expect(backfillPing.contains("schedule: '*/10 * * * *'"))
        #expect(backfillPing.contains(#"data: '{"connection":"shop-7"}'"#))
        #expect(backfillPing.contains("name: backfill-poll"))
        #expect(backfillPing.contains("namespace: conn-prod"))
        let catalogPing = try #require(files["knative/pingsource-catalog-shop-7.yaml"])
        #expect(catalogPing.contains("schedule: '15 2 * * 1-5'"))
        #expect(catalogPing.contains("name: catalog-push"))

        let backfillJob = try #require(files["cronjob/cronjob-backfill-shop-7.yaml"])
        #expect(backfillJob.contains("kind: CronJob"))
        #expect(backfillJob.contains("schedule: '*/10 * * * *'"))
        #expect(backfillJob.contains("value: once"))
        #expect(backfillJob.contains(#"args: ["--event-file", "/etc/mlc-event/backfill.json"]"#))
        #expect(backfillJob.contains("registry.example.com/ml-connector/backfill-poll:latest"))
        #expect(backfillJob.contains("suspend: false"))
        let catalogJob = try #require(files["cronjob/cronjob-catalog-shop-7.yaml"])
        #expect(catalogJob.contains("schedule: '15 2 * * 1-5'") && catalogJob.contains("suspend: false"))

        // The mounted events are the CloudEvents the handlers take, naming the connection.
        let events = try #require(files["cronjob/configmap-events-shop-7.yaml"])
        for (key, type) in [("backfill.json", "com.mlconnector.backfill.tick"), ("catalog.json", "com.mlconnector.catalog.sync")] {
            let line = try #require(events.split(separator: "\n").first { $0.hasPrefix("  \(key): '") })
            let json = String(line.dropFirst("  \(key): '".count).dropLast())
            let event = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(event["type"] as? String == type)
            #expect(event["specversion"] as? String == "1.0")
            #expect((event["data"] as? [String: Any])?["connection"] as? String == "shop-7")
        }

        // Never a secret: not in a file, not on stdout or stderr.
        let everything = files.values.joined() + render.stdout + render.stderr
        for secret in Self.secrets { #expect(!everything.contains(secret), "a secret leaked into the rendering") }
        #expect(!everything.contains("••••••"), "a masked secret field was written")
    }

    @Test func aConnectionWhoseCatalogIsOffGetsASuspendedCatalogCronJob() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let directory = TemporaryDirectory.make("mlc-infra-off")
        let environment = ["MLC_MASTER_KEY": MasterKeyText.random(), "MLC_STORE_URL": "sqlite:\(directory.appendingPathComponent("state.sqlite").path)"]
        let file = try Self.connectionFile(id: "quiet", backfill: "*/5 * * * *", catalog: "*/15 * * * *", catalogEnabled: false, in: directory)
        #expect(try await ProcessRunner.run(mlc, ["connection", "add", "--file", file], environment: environment).status == 0)
        let out = directory.appendingPathComponent("out")
        let render = try await ProcessRunner.run(mlc, ["infra", "render", "--connection", "quiet", "--out", out.path, "--target", "cronjob"], environment: environment)
        #expect(render.status == 0, "\(render.stderr)")
        #expect(render.stderr.contains("catalog of 'quiet' is off"))
        let files = Self.files(under: out)
        #expect(Set(files.keys) == ["cronjob/configmap-events-quiet.yaml", "cronjob/cronjob-backfill-quiet.yaml", "cronjob/cronjob-catalog-quiet.yaml"])
        #expect(files["cronjob/cronjob-catalog-quiet.yaml"]?.contains("suspend: true") == true)
        #expect(files["cronjob/cronjob-backfill-quiet.yaml"]?.contains("suspend: false") == true)
    }

    @Test func anUnknownConnectionOrABadOptionIsOneClearError() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let directory = TemporaryDirectory.make("mlc-infra-none")
        let environment = ["MLC_STORE_URL": "sqlite:\(directory.appendingPathComponent("state.sqlite").path)"]
        let missing = try await ProcessRunner.run(mlc, ["infra", "render", "--connection", "nope", "--out", directory.appendingPathComponent("out").path], environment: environment)
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("connection 'nope' does not exist") && missing.stderr.contains("mlc connection list"), "\(missing.stderr)")
        #expect(!FileManager.default.fileExists(atPath: directory.appendingPathComponent("out").path))

        let file = try Self.connectionFile(id: "shop", backfill: "*/5 * * * *", catalog: "*/15 * * * *", catalogEnabled: true, in: directory)
        let keyed = environment.merging(["MLC_MASTER_KEY": MasterKeyText.random()]) { $1 }
        #expect(try await ProcessRunner.run(mlc, ["connection", "add", "--file", file], environment: keyed).status == 0)
        let badNamespace = try await ProcessRunner.run(mlc, ["infra", "render", "--connection", "shop", "--namespace", "Prod_NS", "--out", directory.appendingPathComponent("out").path], environment: environment)
        #expect(badNamespace.status == 1)
        #expect(badNamespace.stderr.contains("--namespace 'Prod_NS' is not a Kubernetes namespace name"), "\(badNamespace.stderr)")
    }

    /// The events the rendered CronJobs mount are ones the functions take: each runs once mode
    /// against the sandboxes with the event file as the CronJob would pass it, and is done.
    @Test func theRenderedCronJobEventsDriveTheFunctions() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let directory = TemporaryDirectory.make("mlc-infra-run")
        let file = directory.appendingPathComponent("sandbox.json").path
        let sandbox = try ProcessRunner.start(mlc, ["sandbox", "--write-connection", file, "--connection-id", "sbx"])
        defer { sandbox.signal(SIGTERM) }
        #expect(await sandbox.waitForOutput(timeout: 60) { $0.contains("Serving until Ctrl-C") }, "sandbox did not start: \(sandbox.stderrSoFar)")
        // Switch the catalog on, as an operator would before scheduling it.
        var connection = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        connection["catalog"] = ["enabled": true]
        try JSONSerialization.data(withJSONObject: connection).write(to: URL(fileURLWithPath: file))
        let environment = ["MLC_MASTER_KEY": MasterKeyText.random(), "MLC_STORE_URL": "sqlite:\(directory.appendingPathComponent("state.sqlite").path)"]
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", file], environment: environment)
        #expect(add.status == 0, "\(add.stderr)")
        let out = directory.appendingPathComponent("out")
        let render = try await ProcessRunner.run(mlc, ["infra", "render", "--connection", "sbx", "--out", out.path, "--target", "cronjob"], environment: environment)
        #expect(render.status == 0, "\(render.stderr)")
        let configMap = try String(contentsOf: out.appendingPathComponent("cronjob/configmap-events-sbx.yaml"), encoding: .utf8)
        for (key, function, result) in [("backfill.json", "backfill-poll", "\"status\":\"polled\""), ("catalog.json", "catalog-push", "\"status\":\"pushed\"")] {
            let line = try #require(configMap.split(separator: "\n").first { $0.hasPrefix("  \(key): '") })
            let eventFile = directory.appendingPathComponent(key)
            try Data(line.dropFirst("  \(key): '".count).dropLast().utf8).write(to: eventFile)
            let job = try String(contentsOf: out.appendingPathComponent("cronjob/cronjob-\(key.prefix { $0 != "." })-sbx.yaml"), encoding: .utf8)
            #expect(job.contains("/etc/mlc-event/\(key)"), "the CronJob does not mount \(key)")
            let run = try await ProcessRunner.run(try PackagePaths.executable(function), ["--event-file", eventFile.path], environment: environment.merging(["MLC_MODE": "once"]) { $1 }, timeout: 120)
            #expect(run.status == 0, "\(function): \(run.stdout)\(run.stderr)")
            #expect(run.stdout.contains(result) && run.stdout.contains("\"connection\":\"sbx\""), "\(function): \(run.stdout)")
        }
    }

    @Test("infra/postgres/schema.sql is exactly what the migrations render")
    func schemaFileMatchesTheMigrations() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let rendered = try await ProcessRunner.run(mlc, ["infra", "schema"])
        #expect(rendered.status == 0, "\(rendered.stderr)")
        let shipped = try String(contentsOf: PackagePaths.root.appendingPathComponent("infra/postgres/schema.sql"), encoding: .utf8)
        #expect(rendered.stdout == shipped, "infra/postgres/schema.sql differs from the migrations: regenerate it with `mlc infra schema > infra/postgres/schema.sql`")
        #expect(shipped.contains("CREATE TABLE IF NOT EXISTS \"public\".mlc_kv"))
        let other = try await ProcessRunner.run(mlc, ["infra", "schema", "--schema", "acme_prod"])
        #expect(other.stdout.contains("\"acme_prod\".mlc_kv") && !other.stdout.contains("\"public\""))
        #expect(try await ProcessRunner.run(mlc, ["infra", "schema", "--schema", "x;drop"]).status == 1)
    }

    /// A DBA applies schema.sql by hand (twice: it must be safe to repeat); the store then opens
    /// on that schema without migrating again and works.
    @Test("schema.sql applied by hand is a schema the store accepts", .enabled(if: StoreBackend.postgresURL != nil))
    func schemaAppliedByHandIsAccepted() async throws {
        let base = try #require(StoreBackend.postgresURL)
        let psql = URL(fileURLWithPath: "/usr/lib/postgresql/15/bin/psql")
        try #require(FileManager.default.isExecutableFile(atPath: psql.path), "psql of PostgreSQL 15 is needed beside the server scripts/test started")
        let mlc = try PackagePaths.executable("mlc")
        let url = try StoreBackend.postgres.freshURL()
        let schema = String(try #require(url.split(separator: "schema=").last))
        let script = try await ProcessRunner.run(mlc, ["infra", "schema", "--schema", schema]).stdout
        for _ in 0..<2 {
            let applied = try await ProcessRunner.run(psql, ["--no-psqlrc", "-v", "ON_ERROR_STOP=1", "-q", base], stdin: script)
            #expect(applied.status == 0, "\(applied.stderr)")
        }
        let directory = TemporaryDirectory.make("mlc-infra-pg")
        let file = try Self.connectionFile(id: "pg", backfill: "*/5 * * * *", catalog: "*/15 * * * *", catalogEnabled: true, in: directory)
        let environment = ["MLC_MASTER_KEY": MasterKeyText.random(), "MLC_STORE_URL": url]
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", file], environment: environment)
        #expect(add.status == 0, "\(add.stderr)")
        let list = try await ProcessRunner.run(mlc, ["connection", "list"], environment: environment)
        #expect(list.stdout.contains("pg\thttps://shop.render.example"), "\(list.stdout)\(list.stderr)")
        let versions = try await ProcessRunner.run(psql, ["--no-psqlrc", "-tA", "-c", "SELECT string_agg(version::text, ',' ORDER BY version) FROM \"\(schema)\".mlc_schema_migrations", base])
        // Every version the script knows was recorded (the header says up to which).
        let newest = try #require(script.firstMatch(of: /up to version (\d+)/).flatMap { Int($0.1) })
        #expect(versions.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == (1...newest).map(String.init).joined(separator: ","), "\(versions.stdout)\(versions.stderr)")
    }
}
