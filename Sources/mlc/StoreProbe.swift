import ArgumentParser
import ConnectorCore
import ConnectorRuntime
import ConnectorStore
import Foundation

/// Hidden: exercises the store from a separate OS process, so the conformance suite can race
/// real processes against one store (exactly one winner per round) and test lease takeover.
struct StoreProbe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store-probe", abstract: "Race store operations from this process (used by the test suite).", shouldDisplay: false)

    enum Operation: String, ExpressibleByArgument { case insert, lease }

    @Option(name: .customLong("store")) var storeURL: String
    @Option var operation: Operation
    @Option var owner: String
    @Option var prefix: String = "probe/"
    @Option var rounds: Int = 1
    @Option(help: "Start the first round at this Unix time in ms, so several processes begin together.") var startAtMs: Int64?
    @Option(help: "Start round r at start-at-ms + r × round-ms, so the processes race on every round.") var roundMs: Int64 = 0
    @Option(help: "Run with the clock fixed at this Unix time in ms.") var nowMs: Int64?
    @Option var ttlMs: Int64 = 60_000

    func run() async throws {
        let clock: any WallClock = nowMs.map { ManualWallClock(Date(unixMilliseconds: $0)) } ?? SystemWallClock()
        let store = try await StoreFactory.open(storeURL, clock: clock)
        if let startAtMs {
            let wait = startAtMs - Date().unixMilliseconds
            // A barrier between OS processes: both wait for the same wall-clock instant.
            if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
        }
        for round in 0..<rounds {
            if let startAtMs, roundMs > 0 {
                let wait = startAtMs + Int64(round) * roundMs - Date().unixMilliseconds
                if wait > 0 { try await Task.sleep(for: .milliseconds(wait)) }
            }
            let key = "\(prefix)\(round)"
            let won: Bool
            switch operation {
            case .insert:
                won = try await store.insertIfAbsent(key, Array(owner.utf8)).inserted
            case .lease:
                won = try await store.acquireLease(key, owner: owner, ttl: .milliseconds(ttlMs)).lease != nil
            }
            // Written unbuffered and only after the store acknowledged: a line on stdout means durable.
            FileHandle.standardOutput.write(Data("{\"round\":\(round),\"won\":\(won)}\n".utf8))
        }
        try await store.close()
    }
}
