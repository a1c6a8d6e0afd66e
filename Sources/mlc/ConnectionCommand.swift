import ArgumentParser
import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorStore
import DynamicsClient
import Foundation
import Logging
import WooCommerceClient

struct ConnectionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "connection",
        abstract: "Add, change, inspect and remove connections (secrets are sealed with the master key).",
        subcommands: [Add.self, Update.self, List.self, Show.self, Ping.self, Pause.self, Resume.self, Remove.self, SetSecret.self]
    )

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a connection file, seal its secrets and store it.")
        @Option(name: .long, help: "The connection file (JSON, SPEC §6).") var file: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let connection = try ConnectionFile.load(path: file)
                let key = try masterKey()
                try await withStore(store) { try await ConnectionRepository(store: $0).add(connection, key: key) }
                print("connection '\(connection.id)' added (secrets sealed under master key \(key.id))")
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Replace an existing connection's settings from a file.")
        @Option(name: .long, help: "The connection file (JSON, SPEC §6).") var file: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let connection = try ConnectionFile.load(path: file)
                let key = try masterKey()
                try await withStore(store) { try await ConnectionRepository(store: $0).update(connection, key: key) }
                print("connection '\(connection.id)' updated")
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List connections (no secret is opened).")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let all = try await withStore(store) { try await ConnectionRepository(store: $0).list() }
                if all.isEmpty {
                    print("no connections; add one with: mlc connection add --file F")
                    return
                }
                print("ID\tSTORE\tF&O ENVIRONMENT\tLEGAL ENTITY\tPREFIX\tKEY")
                for c in all.sorted(by: { $0.id < $1.id }) {
                    print("\(c.id)\t\(c.storeURL)\t\(c.environmentURL)\t\(c.legalEntity)\t\(c.referencePrefix)\t\(c.keyIDs.sorted().joined(separator: ","))\(c.sandbox ? "\t(sandbox)" : "")")
                }
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a connection with every secret masked.")
        @Argument(help: "Connection id.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let (connection, keys) = try await withStore(store) { try await ConnectionRepository(store: $0).loadMasked(name) }
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(connection), as: UTF8.self))
                print("secrets sealed under master key \(keys.sorted().joined(separator: ", "))")
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    struct Ping: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Prove the connection step by step: F&O token, an F&O read in the legal entity, a WooCommerce product read, the webhook list (exit 1 if any step fails).",
            discussion: "One line per step: STEP: ok|WARNING|FAILED|SKIPPED (ms) — what was seen — the fix. Warnings do not fail the ping.")
        @Argument(help: "Connection id.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let results = try await Services.with(store) { services in
                    await ConnectionCheck(remotes: services.remotes, probe: LiveConnectionProbe(logger: Logger(label: "mlc.ping") { label in JSONLogHandler(label: label, sink: FileDescriptorLogSink.standardError, level: cliLogLevel()) })).ping(try await services.connection(name))
                }
                for result in results { print(result.line) }
                if !ConnectionCheck.passed(results) { Foundation.exit(1) }
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    struct Pause: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop posting to F&O (deliveries are still recorded), e.g. during F&O maintenance.")
        @Argument(help: "Connection id.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                try await ConnectionCommand.setPaused(name, true, store)
                print("connection '\(name)' paused: deliveries are recorded, nothing is posted until: mlc connection resume \(name)")
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    struct Resume: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Post again after a pause (pending orders are taken by the next drain).")
        @Argument(help: "Connection id.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                try await ConnectionCommand.setPaused(name, false, store)
                print("connection '\(name)' resumed")
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    /// Pause or resume a connection that exists (an unknown id is an error, not a new record).
    static func setPaused(_ name: String, _ paused: Bool, _ options: StoreOptions) async throws {
        try await withStore(options) { store in
            _ = try await ConnectionRepository(store: store).loadMasked(name)
            try await ConnectionControl(store: store).setPaused(name, paused, at: Date())
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove a connection; order links and cursors stay unless --purge.")
        @Argument(help: "Connection id.") var name: String
        @Flag(help: "Also delete order links and cursors (re-adding the connection could then post orders again).") var purge = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let removed = try await withStore(store) { try await ConnectionRepository(store: $0).remove(name, purge: purge) }
                print("connection '\(name)' removed (\(removed) records)\(purge ? ", order links and cursors purged" : "; order links and cursors kept")")
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }

    struct SetSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-secret",
            abstract: "Replace one secret, read from standard input (never from the command line).",
            discussion: "FIELD is one of: \(Connection.secretFields.map(\.name).joined(separator: ", ")). Example: printf %s \"$NEW\" | mlc connection set-secret acme woocommerce.webhookSecret"
        )
        @Argument(help: "Connection id.") var name: String
        @Argument(help: "Secret field, e.g. dynamics.clientSecret.") var field: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            do {
                let input = FileHandle.standardInput.readDataToEndOfFile()
                let value = String(decoding: input, as: UTF8.self).trimmingCharacters(in: .newlines)
                let key = try masterKey()
                try await withStore(store) { try await ConnectionRepository(store: $0).setSecret(name, field: field, value: SecretValue(value), key: key) }
                print("\(field) of connection '\(name)' replaced")
                guard field == "woocommerce.webhookSecret" else { return }
                // The store's webhooks must sign with the new secret too, or every delivery fails verification.
                do {
                    let outcome = try await Services.with(store) { services in
                        let connection = try await services.connection(name)
                        do { return try await WebhookSecrets.propagate(connection, using: try services.remotes.woocommerce(connection)) }
                        catch let error as WooCommerceError { throw error.connectorError }
                    }
                    print("the new secret was set on \(outcome.updated.count) of the store's \(outcome.total) webhooks (those delivering to the connection's deliveryURL)\(outcome.updated.isEmpty ? "" : ": #" + outcome.updated.map(String.init).joined(separator: ", #"))")
                } catch {
                    let cause = CLIError(error)
                    FileHandle.standardError.write(Data("""
                        error: the secret is stored, but the store's webhooks could not be updated: \(cause)
                        Deliveries signed with the old secret will be refused until they are. Re-running set-secret with the same value is safe.

                        """.utf8))
                    Foundation.exit(1)
                }
            } catch { Self.exitCleanly(CLIError(error)) }
        }
    }
}

/// `mlc connection ping`'s own F&O calls over the shared HTTP client: a token straight from
/// Entra ID (no token cache, so the stored secret is really proven) and one plain GET.
