import ArgumentParser
import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorStore
import Foundation
import Logging

/// The store, the master key and the live clients, for commands that talk to WooCommerce or F&O.
struct Services {
    let store: any KeyValueStore
    let connections: StoredConnections
    let remotes: LiveRemoteSystems
    let poster: OrderPoster

    static func with<T>(_ options: StoreOptions, _ body: (Services) async throws -> T) async throws -> T {
        let key = try masterKey()
        return try await withStore(options) { store in
            let clock = SystemWallClock()
            let logger = Logger(label: "mlc") { label in JSONLogHandler(label: label, sink: FileDescriptorLogSink.standardError, level: cliLogLevel()) }
            let connections = StoredConnections(repository: ConnectionRepository(store: store, clock: clock), key: key, clock: clock)
            let remotes = LiveRemoteSystems(httpClient: .shared, store: store, clock: clock, sleeper: SystemSleeper(),
                                            tokenCache: SealedTokenCache(store: store, key: key, clock: clock), logger: logger)
            let poster = OrderPoster(store: store, connections: connections, remotes: remotes, clock: clock, sleeper: SystemSleeper())
            defer { Task { await remotes.shutdown() } }
            return try await body(Services(store: store, connections: connections, remotes: remotes, poster: poster))
        }
    }

    func connection(_ id: String) async throws -> Connection {
        guard let found = try await connections.connection(id) else {
            throw CLIError(message: "no connection '\(id)' — list them with: mlc connection list")
        }
        return found
    }
}

func cliLogLevel() -> Logger.Level {
    ProcessInfo.processInfo.environment["MLC_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) ?? .warning
}

/// `acme:order:1042` ⇄ an audit record.
struct RecordID: CustomStringConvertible {
    var connection: String
    var kind: String
    var id: String
    var description: String { "\(connection):\(kind):\(id)" }

    init(_ record: AuditRecord) { connection = record.connection; kind = record.kind; id = record.id }

    init(parsing text: String) throws {
        let parts = text.split(separator: ":").map(String.init)
        guard parts.count == 3, !parts.contains(where: \.isEmpty) else {
            throw CLIError(message: "'\(text)' is not a record id — use CONNECTION:KIND:ID as printed by mlc audit list (e.g. acme:order:1042)")
        }
        connection = parts[0]; kind = parts[1]; id = parts[2]
    }
}

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Read the audit trail: every record's state and timeline.",
        subcommands: [List.self, Show.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List records, newest first.")
        @Option(help: "Only this connection (default: all).") var connection: String?
        @Option(help: "Only records in this state: \(AuditRecord.State.allCases.map(\.rawValue).joined(separator: "|")).") var state: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let wanted: AuditRecord.State?
                if let state {
                    guard let parsed = AuditRecord.State(rawValue: state) else {
                        throw CLIError(message: "unknown state '\(state)' — use one of \(AuditRecord.State.allCases.map(\.rawValue).joined(separator: ", "))")
                    }
                    wanted = parsed
                } else { wanted = nil }
                let rows = try await withStore(store) { store in
                    let records = AuditRecords(store: store, clock: SystemWallClock(), retention: .seconds(1))
                    let ids = try await connectionIDs(store, only: connection)
                    var all: [AuditRecord] = []
                    for id in ids { all += try await records.list(connection: id, state: wanted) }
                    return all.sorted { $0.updatedAt > $1.updatedAt }
                }
                if rows.isEmpty { print("no records\(state.map { " in state \($0)" } ?? "")"); return }
                print("ID\tSTATE\tUPDATED\tATTEMPTS\tF&O\tREASON")
                for record in rows {
                    print("\(RecordID(record))\t\(record.state.rawValue)\t\(Formatting.timestamp(record.updatedAt))\t\(record.attempts)\t\(record.keys["salesOrderNumber"] ?? "-")\t\(record.reason.map { String($0.prefix(160)) } ?? "")")
                }
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print one record's timeline: each step and remote call.")
        @Argument(help: "Record id, e.g. acme:order:1042.") var id: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let recordID = try RecordID(parsing: id)
                guard let record = try await withStore(store, { store in
                    try await AuditRecords(store: store, clock: SystemWallClock(), retention: .seconds(1)).load(connection: recordID.connection, kind: recordID.kind, id: recordID.id)
                }) else { throw CLIError(message: "no record \(id) (records expire after the retention)") }
                print("\(recordID): \(record.state.rawValue) after \(record.attempts) attempt(s)\(record.reason.map { " — \($0)" } ?? "")")
                for (key, value) in record.keys.sorted(by: { $0.key < $1.key }) { print("  \(key): \(value)") }
                for event in record.timeline {
                    print("\(Formatting.timestamp(event.at))  \(event.step)  \(event.call ?? event.detail)")
                }
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }
}

func connectionIDs(_ store: any KeyValueStore, only: String?) async throws -> [String] {
    if let only { return [only] }
    return try await ConnectionRepository(store: store).list().map(\.id).sorted()
}

struct ReplayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "replay",
        abstract: "Work records again (after fixing a mapping or F&O setup): one id, all failed/parked ones, or all since a time.",
        discussion: "Replaying is always safe: every step looks F&O up by reference before creating anything.")
    @Argument(help: "Record ids, e.g. acme:order:1042.") var ids: [String] = []
    @Flag(help: "Every record in state failed or parked.") var failed = false
    @Option(help: "Every record updated since this instant (RFC 3339, e.g. 2026-11-26T00:00:00Z).") var since: String?
    @Option(help: "Only this connection (with --failed / --since).") var connection: String?
    @Flag(name: .customLong("dry-run"), help: "Show what would be posted; write nothing.") var dryRun = false
    @Flag(name: .customLong("accept-edits"), help: "For orders parked as edited after posting: F&O was adjusted by hand; take the order as it is now as posted.") var acceptEdits = false
    @OptionGroup var store: StoreOptions

    func run() async throws {
        do {
            guard !ids.isEmpty || failed || since != nil else {
                throw CLIError(message: "name record ids, or --failed, or --since T")
            }
            let sinceDate = try since.map { text in
                guard let date = Formatting.parseTimestamp(text) else { throw CLIError(message: "--since \(text) is not RFC 3339 UTC (e.g. 2026-11-26T00:00:00Z)") }
                return date
            }
            var problems = 0
            try await Services.with(store) { services in
                var targets = try ids.map { try RecordID(parsing: $0) }
                if failed || sinceDate != nil {
                    let records = AuditRecords(store: services.store, clock: SystemWallClock(), retention: .seconds(1))
                    for id in try await connectionIDs(services.store, only: connection) {
                        for record in try await records.list(connection: id) {
                            if failed && ![.failed, .parked].contains(record.state) { continue }
                            if let sinceDate, record.updatedAt < sinceDate { continue }
                            targets.append(RecordID(record))
                        }
                    }
                }
                if targets.isEmpty { print("nothing to replay"); return }
                for target in targets {
                    guard target.kind == "order", let orderID = Int(target.id) else {
                        print("\(target): only order records can be replayed by this version"); problems += 1; continue
                    }
                    if dryRun {
                        print("\(target): " + (try await services.poster.preview(connectionID: target.connection, orderID: orderID)))
                        continue
                    }
                    if acceptEdits, try await services.poster.acceptCurrentState(connectionID: target.connection, orderID: orderID) {
                        print("\(target): its current state is accepted as posted")
                    }
                    let work = PendingWork(connection: target.connection, kind: "order", resourceID: target.id, firstSeenAt: Date(), origin: "replay")
                    _ = try await services.store.insertIfAbsent(Keyspace.pending(target.connection, kind: "order", resourceID: target.id), work.encoded())
                    let logger = Logger(label: "mlc") { label in JSONLogHandler(label: label, sink: FileDescriptorLogSink.standardError, level: cliLogLevel()) }
                    let result = await services.poster.post(connectionID: target.connection, orderID: orderID, logger: logger)
                    switch result {
                    case .posted(let number): print("\(target): posted (F&O sales order \(number))")
                    case .skipped(let reason): print("\(target): skipped — \(reason)")
                    case .parked(let reason): print("\(target): parked — \(reason)"); problems += 1
                    case .retryLater(let reason, _): print("\(target): still pending — \(reason)"); problems += 1
                    }
                }
            }
            if problems > 0 { Foundation.exit(1) }
        } catch { Self.exitCleanly(CLIError(error)) }
    }
}

struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "report", abstract: "Reports for finance.", subcommands: [Reconcile.self])

    struct Reconcile: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "WooCommerce orders, refunds and totals beside F&O's sales orders and journal lines, every difference listed (exit 1 if any).")
        @Option(help: "Connection id.") var connection: String
        @Option(help: "Orders modified since this instant (RFC 3339 UTC).") var since: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                guard let sinceDate = Formatting.parseTimestamp(since) else { throw CLIError(message: "--since \(since) is not RFC 3339 UTC (e.g. 2026-11-01T00:00:00Z)") }
                let rows = try await Services.with(store) { services in
                    try await Reconciler(store: services.store, remotes: services.remotes).report(connection: try await services.connection(connection), since: sinceDate)
                }
                print(Reconciler.table(rows))
                let off = rows.filter { !$0.isOK }
                print("\n\(rows.count) order(s), \(off.count) with differences")
                if !off.isEmpty { Foundation.exit(1) }
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }
}

struct StatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "What is pending, parked, alerted and throttled, per connection — read from the store alone (right even when every function has scaled to zero).")
    @Option(help: "Only this connection (default: all).") var connection: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        do {
            let text = try await withStore(store) { store -> String in
                let all = try await ConnectionRepository(store: store).list().map(\.id).sorted()
                let ids = connection.map { [$0] } ?? all
                if ids.isEmpty { return "no connections; add one with: mlc connection add --file F" }
                var out = ""
                for id in ids {
                    guard all.contains(id) else { throw CLIError(message: "no connection '\(id)' — list them with: mlc connection list") }
                    let (masked, _) = try await ConnectionRepository(store: store).loadMasked(id)
                    let report = try await StatusReport(store: store, clock: SystemWallClock()).connection(masked)
                    out += StatusReport.text(report, now: Date())
                }
                return out
            }
            print(text, terminator: "")
        } catch { Self.exitCleanly(CLIError(error)) }
    }
}
