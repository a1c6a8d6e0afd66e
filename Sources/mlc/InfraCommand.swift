import ArgumentParser
import ConnectorConnections
import ConnectorCore
import ConnectorStore
import ConnectorStorePostgres
import Foundation

/// `mlc infra`: deployment manifests that depend on what is in the store (a connection's
/// schedules), and the PostgreSQL schema as plain SQL.
struct InfraCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "infra",
        abstract: "Deployment manifests from the store: a connection's schedules as Knative PingSources and Kubernetes CronJobs.",
        subcommands: [Render.self, Schema.self]
    )

    enum Target: String, ExpressibleByArgument, CaseIterable {
        case knative, cronjob, all
    }

    struct Render: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the PingSources (knative/) and CronJobs with their event ConfigMap (cronjob/) for one connection's schedules.backfill and schedules.catalog.",
            discussion: """
                One Kubernetes document per file, under OUT/knative/ and OUT/cronjob/. Only the connection's id and \
                schedules are read (no master key is needed, no secret is opened or written); the functions read \
                MLC_STORE_URL and MLC_MASTER_KEY from the Secret named by --secret. Re-run after `mlc connection update` \
                changes a schedule or switches the catalog on or off, then kubectl apply the folder again.
                """)
        @Option(help: "Connection id.") var connection: String
        @Option(help: "Output folder (default infra/connections/CONNECTION).") var out: String?
        @Option(help: "What to write: \(Target.allCases.map(\.rawValue).joined(separator: ", ")).") var target: Target = .all
        @Option(help: "Kubernetes namespace the functions run in.") var namespace = "ml-connector"
        @Option(help: "Container image of a function; {function} is replaced by its name (CronJobs only).") var image = "registry.example.com/ml-connector/{function}:latest"
        @Option(help: "Secret holding store-url and master-key (CronJobs only).") var secret = "ml-connector"
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let connection = try await withStore(store) { try await ConnectionRepository(store: $0).loadMasked(self.connection).connection }
                let manifests = try InfraManifests(connection: connection, namespace: namespace, image: image, secret: secret)
                let folder = URL(fileURLWithPath: out ?? "infra/connections/\(connection.id)")
                var written: [String] = []
                for (subfolder, files) in manifests.files(target) {
                    let directory = folder.appendingPathComponent(subfolder)
                    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                    for (name, text) in files {
                        let file = directory.appendingPathComponent(name)
                        try Data(text.utf8).write(to: file, options: .atomic)
                        written.append(file.path)
                    }
                }
                for path in written { print(path) }
                if !connection.catalog.enabled {
                    printError("note: the catalog of '\(connection.id)' is off: its PingSource answers \"skipped\" and its CronJob is rendered suspended; re-render after switching it on")
                }
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    struct Schema: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the PostgreSQL store's migrations as one SQL script (infra/postgres/schema.sql is its output for schema public).",
            shouldDisplay: false)
        @Option(help: "PostgreSQL schema the tables live in (the ?schema= of MLC_STORE_URL).") var schema = "public"

        func run() async throws {
            guard (try? /^[a-z_][a-z0-9_]{0,62}$/.wholeMatch(in: schema)) != nil else {
                Self.exitCleanly(CLIError(message: "--schema '\(schema)' is not a plain lower-case identifier (the same rule as MLC_STORE_URL's ?schema=)"))
            }
            print(PostgresMigrations.script(schema: schema), terminator: "")
        }
    }
}

/// The per-connection schedule manifests. Every value written comes from the connection's id and
/// schedules or from the options, each checked and quoted; a secret can never reach them because
/// the connection is read masked and no secret field is referenced.
struct InfraManifests {
    let connection: String
    let backfill: String
    let catalog: String
    let catalogEnabled: Bool
    let namespace: String
    let image: String
    let secret: String

    init(connection: Connection, namespace: String, image: String, secret: String) throws {
        let id = connection.id
        // Kubernetes names end in a letter or digit; CronJob names stay ≤ 52 characters.
        guard ConnectionID.isValid(id), id.last?.isLetter == true || id.last?.isNumber == true, id.count <= 40 else {
            throw CLIError(message: "connection id '\(id)' cannot name Kubernetes objects (it must end in a letter or digit)")
        }
        for (field, value) in [("backfill", connection.schedules.backfill), ("catalog", connection.schedules.catalog)] {
            let fields = value.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count == 5, value.allSatisfy({ $0 == " " || $0.isASCII && ($0.isLetter || $0.isNumber || "*/,-?".contains($0)) }) else {
                throw CLIError(message: "schedules.\(field) of '\(id)' is '\(value)', not a five-field cron expression — fix it with: mlc connection update --file F")
            }
        }
        guard Self.isDNSLabel(namespace) else {
            throw CLIError(message: "--namespace '\(namespace)' is not a Kubernetes namespace name (lower-case letters, digits and '-', at most 63)")
        }
        guard Self.isDNSLabel(secret) || secret.count <= 253 && secret.split(separator: ".").allSatisfy({ Self.isDNSLabel(String($0)) }) else {
            throw CLIError(message: "--secret '\(secret)' is not a Kubernetes Secret name")
        }
        guard !image.isEmpty, image.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "'" && $0 != "\"" }) else {
            throw CLIError(message: "--image '\(image)' is not an image reference (no spaces or quotes)")
        }
        self.connection = id
        backfill = connection.schedules.backfill.split(separator: " ").joined(separator: " ")
        catalog = connection.schedules.catalog.split(separator: " ").joined(separator: " ")
        catalogEnabled = connection.catalog.enabled
        self.namespace = namespace
        self.image = image
        self.secret = secret
    }

    static func isDNSLabel(_ text: String) -> Bool {
        (try? /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.wholeMatch(in: text)) != nil
    }

    /// (folder, [(file name, YAML)]) in a stable order.
    func files(_ target: InfraCommand.Target) -> [(String, [(String, String)])] {
        var result: [(String, [(String, String)])] = []
        if target != .cronjob {
            result.append(("knative", [
                ("pingsource-backfill-\(connection).yaml", pingSource(schedule: "backfill", cron: backfill, function: "backfill-poll")),
                ("pingsource-catalog-\(connection).yaml", pingSource(schedule: "catalog", cron: catalog, function: "catalog-push")),
            ]))
        }
        if target != .knative {
            result.append(("cronjob", [
                ("configmap-events-\(connection).yaml", eventConfigMap()),
                ("cronjob-backfill-\(connection).yaml", cronJob(schedule: "backfill", cron: backfill, function: "backfill-poll", suspended: false, deadline: 1800)),
                ("cronjob-catalog-\(connection).yaml", cronJob(schedule: "catalog", cron: catalog, function: "catalog-push", suspended: !catalogEnabled, deadline: 3600)),
            ]))
        }
        return result
    }

    /// `{"connection":"acme"}` — the data both schedules carry.
    var data: String {
        var text = "{\"connection\":"
        JSONText.appendString(connection, to: &text)
        return text + "}"
    }

    /// A YAML single-quoted scalar (the only escape is a doubled quote).
    static func quoted(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "''") + "'"
    }

    func labels(_ function: String, indent: String) -> String {
        """
        \(indent)app.kubernetes.io/part-of: ml-connector
        \(indent)app.kubernetes.io/component: \(function)
        \(indent)mlconnector.com/connection: \(Self.quoted(connection))
        """
    }

    func header(_ what: String) -> String {
        """
        # \(what) for connection '\(connection)', rendered by `mlc infra render --connection \(connection)`.
        # Re-render after the connection's schedules change; do not edit by hand.
        """
    }

    func pingSource(schedule: String, cron: String, function: String) -> String {
        """
        \(header("The \(schedule) schedule (PingSource → \(function))"))
        apiVersion: sources.knative.dev/v1
        kind: PingSource
        metadata:
          name: \(schedule)-\(connection)
          namespace: \(namespace)
          labels:
        \(labels(function, indent: "    "))
        spec:
          schedule: \(Self.quoted(cron))
          timezone: Etc/UTC
          contentType: application/json
          data: \(Self.quoted(data))
          sink:
            ref:
              apiVersion: serving.knative.dev/v1
              kind: Service
              name: \(function)

        """
    }

    /// The scheduled events as structured CloudEvents, one file each, mounted into the CronJobs.
    func eventConfigMap() -> String {
        func event(_ type: String, _ schedule: String) -> String {
            "{\"specversion\":\"1.0\",\"id\":\"\(schedule)-\(connection)-cronjob\",\"source\":\"/apis/v1/namespaces/\(namespace)/cronjobs/\(schedule)-\(connection)\",\"type\":\"\(type)\",\"datacontenttype\":\"application/json\",\"data\":\(data)}"
        }
        return """
        \(header("The events the CronJobs hand their function (once mode, --event-file)"))
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: mlc-events-\(connection)
          namespace: \(namespace)
          labels:
        \(labels("schedules", indent: "    "))
        data:
          backfill.json: \(Self.quoted(event("com.mlconnector.backfill.tick", "backfill")))
          catalog.json: \(Self.quoted(event("com.mlconnector.catalog.sync", "catalog")))

        """
    }

    func cronJob(schedule: String, cron: String, function: String, suspended: Bool, deadline: Int) -> String {
        let image = self.image.replacingOccurrences(of: "{function}", with: function)
        let note = suspended ? "\n# Suspended: the connection's catalog is off (catalog.enabled false). Re-render after switching it on." : ""
        return """
        \(header("The \(schedule) schedule (CronJob → \(function), once mode)"))\(note)
        apiVersion: batch/v1
        kind: CronJob
        metadata:
          name: \(schedule)-\(connection)
          namespace: \(namespace)
          labels:
        \(labels(function, indent: "    "))
        spec:
          schedule: \(Self.quoted(cron))
          timeZone: Etc/UTC
          concurrencyPolicy: Forbid
          startingDeadlineSeconds: 300
          successfulJobsHistoryLimit: 3
          failedJobsHistoryLimit: 3
          suspend: \(suspended)
          jobTemplate:
            spec:
              backoffLimit: 2
              activeDeadlineSeconds: \(deadline)
              ttlSecondsAfterFinished: 86400
              podFailurePolicy:
                rules:
                  # 65: the event was rejected; 78: bad configuration. Retrying cannot help.
                  - action: FailJob
                    onExitCodes:
                      containerName: main
                      operator: In
                      values: [65, 78]
              template:
                metadata:
                  labels:
        \(labels(function, indent: "            "))
                spec:
                  restartPolicy: Never
                  automountServiceAccountToken: false
                  securityContext:
                    runAsNonRoot: true
                    runAsUser: 10001
                    runAsGroup: 10001
                    seccompProfile:
                      type: RuntimeDefault
                  containers:
                    - name: main
                      image: \(Self.quoted(image))
                      args: ["--event-file", "/etc/mlc-event/\(schedule).json"]
                      env:
                        - name: MLC_MODE
                          value: once
                        - name: MLC_STORE_URL
                          valueFrom:
                            secretKeyRef:
                              name: \(secret)
                              key: store-url
                        - name: MLC_MASTER_KEY
                          valueFrom:
                            secretKeyRef:
                              name: \(secret)
                              key: master-key
                        - name: MLC_LOG_LEVEL
                          value: info
                      resources:
                        requests:
                          cpu: 100m
                          memory: 128Mi
                        limits:
                          memory: 256Mi
                      securityContext:
                        allowPrivilegeEscalation: false
                        readOnlyRootFilesystem: true
                        capabilities:
                          drop: ["ALL"]
                      volumeMounts:
                        - name: event
                          mountPath: /etc/mlc-event
                          readOnly: true
                  volumes:
                    - name: event
                      configMap:
                        name: mlc-events-\(connection)

        """
    }
}
