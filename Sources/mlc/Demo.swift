import ArgumentParser
import ConnectorDemo
import ConnectorFlows
import Foundation

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the main job end to end against both sandboxes on a temporary store, reconcile, and exit 1 if any order is missing, duplicated or off."
    )
    @Option(name: .customLong("store"), help: "Use this store instead of a temporary one (e.g. sqlite:demo.sqlite).") var storeURL: String?

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("mlc-demo-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let url = storeURL ?? "sqlite:\(directory.path)/state.sqlite"
        print("ml-connector demo — store \(url)")
        print("")
        let report: OrderDemo.Report
        do {
            report = try await OrderDemo(storeURL: url) { print($0) }.run()
        } catch {
            Self.exitCleanly(CLIError(error))
        }
        print("")
        print("Reconciliation (read back from both sandboxes):")
        print("")
        print(Reconciler.table(report.rows))
        print("")
        for note in report.notes { print(note) }
        print("")
        if report.problems.isEmpty {
            print("")
            print("demo: OK — every paid order is in F&O exactly once, to the cent, with its payment and refunds.")
        } else {
            print("")
            for problem in report.problems { print("demo: PROBLEM — \(problem)") }
            Foundation.exit(1)
        }
    }
}
