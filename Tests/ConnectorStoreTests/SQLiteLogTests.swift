import ConnectorStore
import ConnectorStoreSQLite
import ConnectorTestSupport
import Foundation
import Testing

/// The SQLite write-ahead log a process leaves behind is read and checksummed in full by the next
/// process that opens the file — short-lived (once-mode) processes therefore keep it short.
@Suite struct SQLiteLogTests {
    @Test func aShortLivedProcessFoldsTheLogInEveryCheckpointPages() async throws {
        let directory = TemporaryDirectory.make()
        let value = Array(repeating: UInt8(ascii: "x"), count: 3000)
        var logBytes: [Int?: Int] = [:]
        for pages in [16, nil] as [Int?] {
            let path = directory.appendingPathComponent("log-\(pages.map(String.init) ?? "default").sqlite").path
            let store = try await SQLiteStore.open(path: path, checkpointPages: pages)
            for i in 0..<150 { _ = try await store.set("k/\(i)", value) }
            try await store.close()
            let attributes = try FileManager.default.attributesOfItem(atPath: path + "-wal")
            logBytes[pages] = (attributes[.size] as? NSNumber)?.intValue ?? -1
            // Folded in or not, every value is there for the next process.
            let reopened = try await SQLiteStore.open(path: path)
            #expect(try await reopened.get("k/149")?.value == value)
            try await reopened.close()
        }
        // 150 commits of a 3 KB value are ≥ 150 pages of log (~600 KB) when nothing folds them in.
        #expect(try #require(logBytes[nil]) > 600_000, "\(logBytes)")
        #expect(try #require(logBytes[16]) < 200_000, "\(logBytes)")
    }
}
