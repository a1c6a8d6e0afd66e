import ArgumentParser
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorStore
import Foundation
import Logging

/// `mlc mapping check --connection C [--days N] [--json]` (SPEC §7, before go-live).
struct MappingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "mapping", abstract: "Check a connection's mapping against F&O and the store's recent orders.", subcommands: [Check.self])

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List mapped F&O values that do not exist there, and SKUs, tax classes, destinations, currencies, shipping, fees and gateways of recent orders the mapping does not resolve.",
            discussion: """
                Recent orders are those delivered by webhook within --days (the newest \(MappingCheck.Settings().maxOrders) at most); each is mapped exactly as order-poster would map it. F&O is only read.
                Exit status: 0 everything resolves and exists; 1 something is unmapped or missing (each row names the fix); 2 the check could not run (unknown connection, F&O or WooCommerce unreachable, no master key).
                """)
        @Option(help: "Connection id.") var connection: String
        @Option(help: "How many days of deliveries count as recent (1–365).") var days = 30
        @Flag(help: "Print the report as JSON instead of tables.") var json = false
        @OptionGroup var store: StoreOptions

        func validate() throws {
            guard (1...365).contains(days) else { throw ValidationError("--days must be between 1 and 365 (got \(days))") }
        }

        func run() async throws {
            let report: MappingCheckReport
            do {
                report = try await Services.with(store) { services in
                    let logger = Logger(label: "mlc") { label in JSONLogHandler(label: label, sink: FileDescriptorLogSink.standardError, level: cliLogLevel()) }
                    let found = try await services.connection(connection)
                    var settings = MappingCheck.Settings()
                    settings.window = .seconds(days * 86_400)
                    return try await MappingCheck(store: services.store, clock: SystemWallClock(), settings: settings)
                        .run(connection: found, woo: try services.remotes.woocommerce(found), fo: try services.remotes.dynamics(found), logger: logger)
                }
            } catch {
                // Not a verdict on the mapping: 2, so a go-live script can tell "fix the mapping" from "could not check".
                printError("error: \(CLIError(error))")
                Foundation.exit(2)
            }
            do {
                print(json ? try report.json() : report.table, terminator: json ? "\n" : "")
            } catch {
                printError("error: the report could not be written as JSON: \(error)")
                Foundation.exit(2)
            }
            if !report.clean { Foundation.exit(1) }
        }
    }
}
