import ArgumentParser
import ConnectorCore
import ConnectorFlows
import Foundation
import Logging

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
