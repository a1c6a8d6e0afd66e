import ConnectorConnections
import ConnectorCore
import ConnectorSandbox
import ConnectorStore
import ConnectorTestSupport
import Foundation
import Testing

/// Issue 9 item 2 for the catalog: the catalog-push binary killed (SIGKILL) right after a
/// WooCommerce batch was written and before what it created was recorded, with other batches
/// in flight; the next run adopts what exists by SKU — every SKU exactly once in WooCommerce.
@Suite(.serialized) struct CatalogCrashTests {
    @Test(arguments: StoreBackend.shared)
    func killedMidPushThenRerunLeavesEverySKUOnce(backend: StoreBackend) async throws {
        let url = StoreBackend.smallPool(try backend.freshURL())
        let store = try await StoreFactoryForTests.open(url)
        let key = MasterKey.generate()
        try await CatalogHarness.run(store: store, key: key) { h in
            try Sandbox.seedCatalog(h.dynamics, items: 450, masters: 0, variants: 0)
            let environment = ["MLC_MODE": "once", "MLC_STORE_URL": url, "MLC_MASTER_KEY": key.base64, "MLC_LOG_LEVEL": "error"]
            let event = #"{"specversion":"1.0","id":"crash-catalog","source":"/test","type":"com.mlconnector.catalog.sync","data":{"connection":"acme"}}"#
            let push = try PackagePaths.executable("catalog-push")

            let killed = try await ProcessRunner.run(push, ["--stdin"], environment: environment.merging(["MLC_TEST_CRASH_AT": "catalog.after-batch"]) { $1 }, stdin: event)
            #expect(killed.status == SIGKILL, "\(killed.stdout) \(killed.stderr)")
            let partial = try await h.skus()
            #expect(!partial.isEmpty, "a batch reached WooCommerce before the kill")
            #expect(try await h.store.listAll(prefix: "catalog/").count < partial.count, "what was created was not all recorded")

            // The dead run's lease lapses (its expiry is the store conformance suite's subject).
            _ = try await h.store.delete(Keyspace.catalogLease("acme"), expectedVersion: nil)
            let rerun = try await ProcessRunner.run(push, ["--stdin"], environment: environment, stdin: event)
            #expect(rerun.status == 0, "\(rerun.stdout) \(rerun.stderr)")
            let all = try await h.skus()
            #expect(Set(all).count == all.count, "a SKU twice in WooCommerce: \(Dictionary(grouping: all) { $0 }.filter { $0.value.count > 1 }.keys.sorted().prefix(5))")
            let missing = (0..<450).map(Sandbox.benchItem).filter { !all.contains($0) }
            #expect(missing.isEmpty, "missing in WooCommerce: \(missing.prefix(5))")
            // A third run has nothing left to create.
            let again = try await ProcessRunner.run(push, ["--stdin"], environment: environment, stdin: event)
            #expect(again.status == 0)
            #expect(try await h.skus().count == all.count)
        }
        try await store.close()
    }
}
