import ArgumentParser
import ConnectorCore
import ConnectorSandbox
import DynamicsEmulator
import Foundation
import Logging
import WooCommerceEmulator

struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sandbox",
        abstract: "Serve a WooCommerce emulator and an F&O + Entra ID emulator on loopback ports until Ctrl-C.",
        discussion: "Prints their URLs and credentials; --write-connection writes a ready connection file, so `mlc connection add --file FILE` and `mlc connection ping ID` work at once.")
    @Option(name: .customLong("woocommerce-port"), help: "Port of the WooCommerce emulator (0 = any free port).") var wooPort = 0
    @Option(name: .customLong("dynamics-port"), help: "Port of the F&O + Entra ID emulator (0 = any free port).") var dynamicsPort = 0
    @Option(name: .customLong("write-connection"), help: "Write a connection file for the two sandboxes here.") var connectionFile: String?
    @Option(name: .customLong("connection-id"), help: "Id of the connection in that file.") var connectionID = "sandbox"
    @Option(name: .customLong("delivery-url"), help: "Where the store's webhooks should go (your webhook-receiver).") var deliveryURL: String?
    @Option(name: .customLong("seed-catalog"), help: "Seed F&O with this many generated simple items (BENCH-00000, …), for benchmarks (bench/run catalog).") var seedItems = 0
    @Option(name: .customLong("seed-masters"), help: "… and this many generated product masters (BENCHM-0000, …).") var seedMasters = 0
    @Option(name: .customLong("seed-variants"), help: "… with this many variants each.") var seedVariants = 0

    func run() async throws {
        let logger = Logger(label: "sandbox") { label in JSONLogHandler(label: label, sink: FileDescriptorLogSink.standardError, level: cliLogLevel()) }
        let woo = Sandbox.wooCommerce(logger: logger)
        let dynamics: DynamicsEmulator
        do { dynamics = try Sandbox.dynamics(logger: logger) } catch { Self.exitCleanly(CLIError(error)) }
        guard seedItems >= 0, seedMasters >= 0, seedVariants >= 0 else {
            Self.exitCleanly(CLIError(message: "--seed-catalog, --seed-masters and --seed-variants take a count ≥ 0"))
        }
        if seedItems > 0 || seedMasters > 0 {
            do { try Sandbox.seedCatalog(dynamics, items: seedItems, masters: seedMasters, variants: seedVariants) } catch { Self.exitCleanly(CLIError(error)) }
        }
        let (wooURLs, wooReady) = AsyncStream<URL>.makeStream()
        let (foURLs, foReady) = AsyncStream<URL>.makeStream()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await woo.run(port: wooPort) { wooReady.yield($0) } }
            group.addTask { try await dynamics.run(port: dynamicsPort) { foReady.yield($0) } }
            var wooIterator = wooURLs.makeAsyncIterator()
            var foIterator = foURLs.makeAsyncIterator()
            guard let wooURL = await wooIterator.next(), let foURL = await foIterator.next() else { return }
            let secret = (0..<24).map { _ in String("abcdefghijklmnopqrstuvwxyz0123456789".randomElement()!) }.joined()
            let delivery = deliveryURL ?? "http://127.0.0.1:8080/webhooks/woocommerce/\(connectionID)"
            let standard = DynamicsEmulator.Configuration.standard
            say("WooCommerce sandbox: \(wooURL.absoluteString)  (REST under /wp-json/wc/v3, plain HTTP: OAuth 1.0a)")
            say("  consumer key    \(woo.credentials.consumerKey)")
            say("  consumer secret \(woo.credentials.consumerSecret)")
            say("F&O + Entra ID sandbox: \(foURL.absoluteString)  (OData under /data, token at /{tenant}/oauth2/v2.0/token)")
            say("  environmentURL = authorityHost = \(foURL.absoluteString)")
            say("  tenant \(standard.tenantId), client \(standard.clientId), secret \(standard.clientSecret), legal entity usmf")
            if let connectionFile {
                let json = Sandbox.connectionJSON(id: connectionID, wooURL: wooURL.absoluteString, woo: woo, dynamicsURL: foURL.absoluteString,
                                                  webhookSecret: secret, deliveryURL: delivery)
                do {
                    try Data(json.utf8).write(to: URL(fileURLWithPath: connectionFile))
                } catch {
                    Self.exitCleanly(CLIError(message: "cannot write \(connectionFile): \(error.localizedDescription)"))
                }
                say("")
                say("Connection file written: \(connectionFile) (id \(connectionID), sandbox: true). Point the connector at it:")
                say("  mlc connection add --file \(connectionFile)")
                say("  mlc connection ping \(connectionID)")
            } else {
                say("")
                say("To get a ready connection file, run again with --write-connection FILE.")
            }
            say("")
            say("Serving until Ctrl-C. The data lives in memory and is gone when this stops.")
            try await group.waitForAll()
        }
    }
}

/// A line on standard output, written at once (print buffers when stdout is a pipe, and the
/// sandbox keeps running, so its instructions would never appear).
private func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
