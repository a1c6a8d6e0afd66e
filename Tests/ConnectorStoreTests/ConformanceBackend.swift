import ConnectorCore
import ConnectorStore
import ConnectorTestSupport
import Foundation
import Testing

/// What the conformance suite runs on: every backend fresh, and a SQLite file whose writer
/// process was killed (SIGKILL) in the middle of its stream of commits — the file must open,
/// keep every write it acknowledged, and then behave exactly as a fresh store (issue 9 item 2).
enum ConformanceBackend: Sendable, CustomStringConvertible {
    case fresh(StoreBackend)
    case sqliteAfterKill

    static var all: [ConformanceBackend] { StoreBackend.available.map { .fresh($0) } + [.sqliteAfterKill] }

    var description: String {
        switch self {
        case .fresh(let backend): backend.description
        case .sqliteAfterKill: "sqlite after SIGKILL"
        }
    }

    func make(clock: any WallClock = SystemWallClock()) async throws -> any KeyValueStore {
        switch self {
        case .fresh(let backend):
            return try await backend.make(clock: clock)
        case .sqliteAfterKill:
            let url = try StoreBackend.sqlite.freshURL()
            let writer = try ProcessRunner.start(try PackagePaths.executable("mlc"),
                                                 ["store-probe", "--store", url, "--operation", "insert", "--owner", "killed", "--prefix", "kill/", "--rounds", "1000000"])
            let wrote = await writer.waitForOutput { $0.split(separator: "\n").count >= 20 }
            writer.signal(SIGKILL)
            let result = try await writer.wait(timeout: 30)
            guard wrote, result.status != 0 else { throw CrashSetupError("the writer did not run, or was not killed: \(result.status) \(result.stderr)") }
            let store = try await StoreFactoryForTests.open(url, clock: clock)
            let acknowledged = result.stdout.split(separator: "\n").count
            for round in 0..<acknowledged where try await store.get("kill/\(round)")?.value != Array("killed".utf8) {
                throw CrashSetupError("round \(round) was acknowledged before the kill but is not in the file")
            }
            // The writer's own keys go; what remains must pass every conformance test.
            for item in try await store.listAll(prefix: "kill/") { _ = try await store.delete(item.key) }
            // …and so do the traces of their deletion, which retention would otherwise count.
            _ = try await store.purgeExpired(before: .distantFuture, limit: 1_000_000)
            return store
        }
    }
}

struct CrashSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
