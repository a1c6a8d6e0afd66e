import ArgumentParser
import ConnectorConnections
import ConnectorCore
import ConnectorDemo
import ConnectorRuntime
import ConnectorStore
import Foundation

@main
struct MLC: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mlc",
        abstract: "ml-connector: WooCommerce ⇄ Dynamics 365 Finance & Operations.",
        subcommands: [Demo.self, SandboxCommand.self, RunCommand.self, StatusCommand.self, ConnectionCommand.self, MappingCommand.self, AuditCommand.self, ReplayCommand.self, ReportCommand.self, CatalogCommand.self, BackfillCommand.self, InfraCommand.self, BenchCatalog.self, StoreCommand.self, KeyCommand.self, StoreProbe.self, StoreBench.self, BenchOrders.self]
    )
}

/// Options every store-reading command shares.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("store"), help: "State store URL (default: $MLC_STORE_URL, else sqlite:.mlc/state.sqlite).")
    var storeURL: String?

    var resolved: String {
        storeURL ?? ProcessInfo.processInfo.environment["MLC_STORE_URL"].flatMap { $0.isEmpty ? nil : $0 } ?? RuntimeSettings.defaultStoreURL
    }

    /// For the one-shot commands: a short-lived process (see `StoreFactory.open(shortLived:)`).
    func open() async throws -> any KeyValueStore {
        try await StoreFactory.open(resolved, shortLived: true)
    }
}

/// Runs `body` with an open store and turns every connector error into one clear line.
func withStore<T>(_ options: StoreOptions, _ body: (any KeyValueStore) async throws -> T) async throws -> T {
    let store: any KeyValueStore
    do {
        store = try await options.open()
    } catch {
        throw CLIError(error)
    }
    do {
        let result = try await body(store)
        try? await store.close()
        return result
    } catch {
        try? await store.close()
        throw CLIError(error)
    }
}

/// An error printed as one line, `error: what — fix`, exit 1.
struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ error: any Error) {
        if let cli = error as? CLIError { description = cli.description }
        else { description = "\(error)" }
    }
    init(message: String) { description = message }
}

func masterKey() throws -> MasterKey {
    do {
        return try MasterKey.fromEnvironment(ProcessInfo.processInfo.environment)
    } catch {
        throw CLIError(error)
    }
}

func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

extension AsyncParsableCommand {
    /// ArgumentParser prints errors with its own prefix; ours are already one clear line.
    static func exitCleanly(_ error: any Error) -> Never {
        printError("error: \(error)")
        Foundation.exit(1)
    }
}
