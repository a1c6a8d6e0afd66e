import ArgumentParser
import ConnectorDemo
import Foundation

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the main job end to end on a temporary store and check the result (exit 1 if anything is off)."
    )
    @Option(name: .customLong("store"), help: "Use this store instead of a temporary one (e.g. sqlite:demo.sqlite).") var storeURL: String?

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlc-demo-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = storeURL ?? "sqlite:\(directory.path)/state.sqlite"
        print("ml-connector demo — store \(url)")
        print("")
        let report: WebhookDemo.Report
        do {
            report = try await WebhookDemo(storeURL: url) { print($0) }.run()
        } catch {
            Self.exitCleanly(CLIError(error))
        }
        print("")
        print("| delivery | topic | HTTP | expected | result |")
        print("|---|---|---|---|---|")
        for row in report.rows {
            print("| \(row.delivery) | \(row.topic) | \(row.status) | \(row.expected) | \(row.result)\(row.ok ? "" : " ✗") |")
        }
        print("")
        print("Store after the run:")
        print("  orders handed to order-poster (pending): \(report.pendingOrders.joined(separator: ", "))")
        print("  customers handed on (pending):           \(report.pendingCustomers.joined(separator: ", "))")
        print("  delivery records: \(report.deliveryRecords) (\(report.unusableRecords) unusable), audit lines for rejected requests: \(report.auditLines), alerts: \(report.alerts)")
        print("  the audit trail is in the store: \(report.storeURL)")
        print("")
        print("Not in this build yet, so not shown: the WooCommerce and F&O sandboxes, posting orders into F&O and the")
        print("reconciliation table (issues 3 and 4), catalog push (5), backfill and webhook health (6). Nothing was sent to F&O.")
        if report.problems.isEmpty {
            print("")
            print("demo: OK — every delivery answered as SPEC §9 says, duplicates deduplicated, forged and foreign ones refused.")
        } else {
            print("")
            for problem in report.problems { print("demo: PROBLEM — \(problem)") }
            Foundation.exit(1)
        }
    }
}
