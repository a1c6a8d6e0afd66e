import ConnectorRuntime
import ConnectorStore
import ConnectorTestSupport
import Foundation
import Testing

/// The SQLite log a short-lived process leaves is read in full by the next one (see
/// `SQLiteStore.open(checkpointPages:)` and SQLiteLogTests).
@Suite struct ShortLivedStoreTests {
    /// Once mode and the `mlc` one-shot commands open the store as short-lived processes.
    @Test func theStoreFactoryKeepsAShortLivedProcessesLogAtItsLimit() async throws {
        let directory = TemporaryDirectory.make()
        let value = Array(repeating: UInt8(ascii: "x"), count: 3000)
        var logBytes: [Bool: Int] = [:]
        for shortLived in [true, false] {
            let path = directory.appendingPathComponent("factory-\(shortLived).sqlite").path
            let store = try await StoreFactory.open("sqlite:" + path, shortLived: shortLived)
            for i in 0..<600 { _ = try await store.set("k/\(i)", value) }
            try await store.close()
            logBytes[shortLived] = (try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? NSNumber)?.intValue ?? -1
        }
        // 600 commits: ≥ 600 pages of log at SQLite's default of 1000; at most ~256 (+ one commit) short-lived.
        #expect(try #require(logBytes[false]) > 2_400_000, "\(logBytes)")
        #expect(try #require(logBytes[true]) < (StoreFactory.shortLivedCheckpointPages + 16) * 4_200, "\(logBytes)")
    }
}
