import ArgumentParser
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorSandbox
import ConnectorStore
import DynamicsEmulator
import Foundation
import Logging
import WooCommerceEmulator

/// `mlc catalog push --connection C [--dry-run] [--item N …]`: the catalog push (SPEC §12) from
/// the command line, with the table of changes and a summary line.
struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "catalog", abstract: "The F&O catalog in WooCommerce.", subcommands: [Push.self])

    struct Push: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Push released products, prices and stock from F&O to WooCommerce; only differences are sent (exit 1 if an item failed or the safety valve held).")
        @Option(help: "Connection id.") var connection: String
        @Option(name: .customLong("item"), help: "Only this item number (repeatable); retired items are not looked at then.") var items: [String] = []
        @Flag(name: .customLong("dry-run"), help: "Read both sides and show what would change; write nothing.") var dryRun = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let report = try await Services.with(store) { services in
                    let logger = Logger(label: "mlc") { label in JSONLogHandler(label: label, sink: FileDescriptorLogSink.standardError, level: cliLogLevel()) }
                    let push = CatalogPush(store: services.store, connections: services.connections, remotes: services.remotes, clock: SystemWallClock(), sleeper: SystemSleeper())
                    return try await push.push(connectionID: connection, itemNumbers: items.isEmpty ? nil : items, dryRun: dryRun, logger: logger)
                }
                print(Self.table(report))
                print(report.summary)
                if report.failed > 0 || report.safetyValve != nil { Foundation.exit(1) }
            } catch { Self.exitCleanly(CLIError(error)) }
        }

        /// SKU, action, what changes — one line per change.
        static func table(_ report: CatalogPush.Report) -> String {
            guard !report.changes.isEmpty else { return report.safetyValve == nil ? "no changes" : "nothing changed" }
            let width = max(3, report.changes.map(\.sku.count).max() ?? 3)
            var lines = ["SKU".padding(toLength: width, withPad: " ", startingAt: 0) + "  ACTION   CHANGE"]
            for change in report.changes {
                lines.append(change.sku.padding(toLength: width, withPad: " ", startingAt: 0) + "  " + change.action.rawValue.padding(toLength: 7, withPad: " ", startingAt: 0) + "  " + change.detail)
            }
            return lines.joined(separator: "\n")
        }
    }
}

/// Hidden: the catalog benchmark (`mlc bench-catalog`). Both sandboxes in this process on
/// loopback port 0, an in-memory store, a catalog of `--items` distinct products and `--masters`
/// masters with `--variants` variants each. Three timed runs: the first push (everything
/// created), an unchanged run (reads only), and a run after on hand changed for `--changed` items.
/// Prints a markdown table: seconds, SKUs created/updated/unchanged, WooCommerce requests and
/// writes, F&O requests (the emulator's log, token requests excluded).
struct BenchCatalog: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench-catalog", abstract: "Benchmark the catalog push against the sandboxes.", shouldDisplay: false)

    @Option(help: "Distinct (simple) products.") var items = 1000
    @Option(help: "Product masters.") var masters = 100
    @Option(help: "Variants per master.") var variants = 5
    @Option(help: "Items whose on hand changes before the third run.") var changed = 10
    @Option(name: .customLong("woo-rps"), help: "catalog.wooRequestsPerSecond (0 = unpaced).") var wooRPS: Double = 0
    @Option(name: .customLong("woo-concurrency"), help: "catalog.wooConcurrency.") var wooConcurrency = 2

    func run() async throws {
        do {
            let logger = Logger(label: "bench") { _ in SwiftLogNoOpLogHandler() }
            let woo = Sandbox.wooCommerce(logger: logger)
            let dynamics = try Sandbox.dynamics(logger: logger)
            try Self.seed(dynamics, items: items, masters: masters, variants: variants)
            let rows = try await woo.withRunningServer { wooURL in
                try await dynamics.withRunningServer { foURL in
                    let store = MemoryStore()
                    let key = MasterKey.generate()
                    let json = Sandbox.connectionJSON(id: "bench", wooURL: wooURL.absoluteString, woo: woo, dynamicsURL: foURL.absoluteString, webhookSecret: "bench", deliveryURL: nil)
                    var connection = try ConnectionFile.parse(Data(json.utf8), source: "bench")
                    connection.catalog.enabled = true
                    connection.catalog.wooRequestsPerSecond = wooRPS
                    connection.catalog.wooConcurrency = wooConcurrency
                    try await ConnectionRepository(store: store).add(connection, key: key)
                    let remotes = LiveRemoteSystems(httpClient: .shared, store: store, clock: SystemWallClock(), sleeper: SystemSleeper(), logger: logger)
                    defer { Task { await remotes.shutdown() } }
                    let push = CatalogPush(store: store, connections: StoredConnections(repository: ConnectionRepository(store: store), key: key, clock: SystemWallClock()),
                                           remotes: remotes, clock: SystemWallClock(), sleeper: SystemSleeper())
                    var rows: [String] = []
                    func measure(_ label: String) async throws {
                        let foBefore = dynamics.requestLog.filter { $0.tokenValid != nil }.count
                        let start = ContinuousClock.now
                        let report = try await push.push(connectionID: "bench", logger: logger)
                        let seconds = (ContinuousClock.now - start).components
                        let elapsed = Double(seconds.seconds) + Double(seconds.attoseconds) / 1e18
                        let fo = dynamics.requestLog.filter { $0.tokenValid != nil }.count - foBefore
                        rows.append("| \(label) | \(String(format: "%.2f", elapsed)) | \(report.created) | \(report.updated) | \(report.unchanged) | \(report.failed) | \(report.wooRequests) | \(report.wooWrites) | \(fo) |")
                    }
                    try await measure("first push")
                    try await measure("unchanged")
                    for n in 0..<min(changed, items) {
                        try dynamics.insert("WarehousesOnHandV2", ["dataAreaId": "usmf", "ItemNumber": .string(Self.item(n)), "ProductColorId": "", "ProductConfigurationId": "",
                                                                   "ProductSizeId": "", "ProductStyleId": "", "ProductVersionId": "", "InventorySiteId": "1",
                                                                   "InventoryWarehouseId": "12", "OnHandQuantity": 3, "AvailableOnHandQuantity": 3])
                    }
                    try await measure("\(min(changed, items)) on-hand changes")
                    return rows
                }
            }
            print("catalog: \(items) simple + \(masters) masters × \(variants) variants (+ the seed), woo rps \(wooRPS == 0 ? "unpaced" : String(wooRPS)), concurrency \(wooConcurrency)\n")
            print("| run | seconds | created | updated | unchanged | failed | Woo requests | Woo writes | F&O requests |")
            print("|---|---|---|---|---|---|---|---|---|")
            rows.forEach { print($0) }
        } catch { Self.exitCleanly(CLIError(error)) }
    }

    static func item(_ n: Int) -> String { Sandbox.benchItem(n) }

    static func seed(_ dynamics: DynamicsEmulator, items: Int, masters: Int, variants: Int) throws {
        try Sandbox.seedCatalog(dynamics, items: items, masters: masters, variants: variants)
    }
}
