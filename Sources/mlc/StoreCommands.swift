import ArgumentParser
import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation

struct StoreCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store",
        abstract: "Maintain the state store.",
        subcommands: [Purge.self]
    )

    struct Purge: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove records past their retention now (long-running functions also do it every MLC_PURGE_INTERVAL_MINUTES).")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let removed = try await withStore(store) { try await Retention.purge($0, now: Date()) }
                print("purged \(removed) expired records (order links and cursors never expire)")
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }
}

struct KeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "key",
        abstract: "Master key operations.",
        subcommands: [Rotate.self]
    )

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal every stored secret under the new master key (MLC_MASTER_KEY / MLC_MASTER_KEY_FILE).",
            discussion: "The old key is read once from --old-key-file. Each connection moves atomically; if the run is interrupted, run it again: connections already under the new key are skipped.")
        @Option(help: "File holding the old master key (base64 text or the 32 raw bytes).") var oldKeyFile: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let new = try masterKey()
                let old = try MasterKey.fromEnvironment(["MLC_MASTER_KEY_FILE": oldKeyFile])
                guard old.id != new.id else {
                    throw CLIError(message: "the old and the new master key are the same (\(new.id)); set MLC_MASTER_KEY to the new key")
                }
                let (moved, skipped) = try await withStore(store) { store -> (Int, Int) in
                    let repository = ConnectionRepository(store: store)
                    var moved = 0, skipped = 0
                    for connection in try await repository.list().sorted(by: { $0.id < $1.id }) {
                        if try await repository.reseal(connection.id, from: old, to: new) { moved += 1 } else { skipped += 1 }
                    }
                    return (moved, skipped)
                }
                print("re-sealed \(moved) connection(s) from \(old.id) to \(new.id)\(skipped > 0 ? "; \(skipped) already under \(new.id)" : "")")
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }
}
