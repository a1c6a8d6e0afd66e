import ConnectorCore
import ConnectorStore
import Foundation
import Logging
import WooCommerceClient

/// Sends a ``CatalogPlan`` to WooCommerce: products first (so new variable parents have ids),
/// then each parent's variations, in batches of ≤ 100, `concurrency` at a time, paced. Each
/// item's answer is checked (batches are not atomic): successes save their state and an audit
/// record, failures only the audit record — so the next run retries exactly them.
struct CatalogExecutor: Sendable {
    let connectionID: String
    let woo: WooCommerceClient
    let calls: CatalogWooCalls
    let concurrency: Int
    let store: any KeyValueStore
    let records: AuditRecords
    let clock: any WallClock
    let requests: Counter
    let logger: Logger

    struct Outcome: Sendable {
        var created = 0
        var updated = 0
        var retired = 0
        var writes = 0
        var failed: [String: String] = [:]
    }

    /// One item's result.
    enum ItemResult: Sendable {
        case saved(CatalogSKUState, created: Bool)
        /// `gone`: WooCommerce no longer has the id (deleted by hand): the state is dropped so
        /// the next run finds the SKU again — adopted if re-made, else created.
        case failed(sku: String, why: String, gone: Bool = false)

        static func updateFailed(_ sku: String, _ error: WooCommerceError) -> ItemResult {
            .failed(sku: sku, why: error.description, gone: error.code.hasSuffix("_invalid_id"))
        }
    }

    /// One product batch: a range of the plan's creates followed by the updates (creates come
    /// first across the whole plan, so a batch holds the last creates and the first updates).
    struct ProductChunk: Sendable { var creates: Range<Int>; var updates: Range<Int> }

    /// The plan's products cut into batches of ≤ `size` (creates then updates), as index
    /// ranges: the items are read from the plan when their batch is sent, never copied.
    static func productChunks(creates: Int, updates: Int, size: Int) -> [ProductChunk] {
        stride(from: 0, to: creates + updates, by: size).map { start in
            let end = min(start + size, creates + updates)
            return ProductChunk(creates: min(start, creates)..<min(end, creates), updates: max(start - creates, 0)..<max(end - creates, 0))
        }
    }

    func execute(_ plan: CatalogPlan) async throws -> Outcome {
        var outcome = Outcome()
        var parentIDs: [String: Int] = [:]
        for state in plan.adoptedUnchanged { try await save(state) }

        // Products: creates then updates, ≤ 100 per batch; each batch's results are recorded as
        // it answers, so at most `concurrency` batches' results are held at once.
        let chunks = Self.productChunks(creates: plan.productCreates.count, updates: plan.productUpdates.count, size: WooBatch<WooProductInput>.maxItems)
        let woo = self.woo, calls = self.calls, now = clock.now()
        try await runLimited(chunks, { chunk -> [ItemResult] in
            let creates = plan.productCreates[chunk.creates]
            let updates = plan.productUpdates[chunk.updates]
            let batch = WooBatch(create: creates.map(\.input), update: updates.map { WooBatchUpdate(id: $0.id, changes: $0.input) })
            do {
                let result = try await calls.run { try await woo.batchProducts(batch) }
                CrashPoint.hit("catalog.after-batch")
                var out: [ItemResult] = []
                for (i, create) in creates.enumerated() {
                    switch i < result.create.count ? result.create[i] : .failure(id: 0, error: WooCommerceError(status: nil, code: "missing", message: "no answer for this item", request: "batch")) {
                    case .success(let product):
                        out.append(.saved(CatalogSKUState(sku: create.sku, wooID: product.id, parentID: nil, kind: create.kind, pushed: create.pushed,
                                                          hash: CatalogSKUState.hash(create.pushed), retired: false, pushedAt: now), created: true))
                    case .failure(_, let error): out.append(.failed(sku: create.sku, why: error.description))
                    }
                }
                for (i, update) in updates.enumerated() {
                    switch i < result.update.count ? result.update[i] : .failure(id: update.id, error: WooCommerceError(status: nil, code: "missing", message: "no answer for this item", request: "batch")) {
                    case .success:
                        out.append(.saved(CatalogSKUState(sku: update.sku, wooID: update.id, parentID: nil, kind: update.kind, pushed: update.pushed,
                                                          hash: CatalogSKUState.hash(update.pushed), retired: update.retired, pushedAt: now), created: false))
                    case .failure(_, let error): out.append(.updateFailed(update.sku, error))
                    }
                }
                return out
            } catch {
                return creates.map { .failed(sku: $0.sku, why: "\(error)") } + updates.map { .failed(sku: $0.sku, why: "\(error)") }
            }
        }, record: { try await record($0, into: &outcome, parentIDs: &parentIDs) })
        outcome.writes += chunks.count

        // Variations per parent.
        struct VariationChunk: Sendable { var parentSKU: String; var parentID: Int; var creates: [CatalogPlan.VariationCreate]; var updates: [CatalogPlan.VariationUpdate] }
        var variationChunks: [VariationChunk] = []
        for work in plan.variations {
            guard let parentID = work.parentID ?? parentIDs[work.parentSKU] else {
                for item in work.creates { outcome.failed[item.sku] = "its variable product \(work.parentSKU) was not created" }
                try await recordFailures(work.creates.map { ($0.sku, "its variable product \(work.parentSKU) was not created") })
                continue
            }
            let limit = WooBatch<WooVariationInput>.maxItems
            let creates = work.creates, updates = work.updates
            var c = 0, u = 0
            while c < creates.count || u < updates.count {
                let takeCreates = Array(creates[c..<min(c + limit, creates.count)])
                c += takeCreates.count
                let takeUpdates = Array(updates[u..<min(u + limit - takeCreates.count, updates.count)])
                u += takeUpdates.count
                variationChunks.append(VariationChunk(parentSKU: work.parentSKU, parentID: parentID, creates: takeCreates, updates: takeUpdates))
            }
        }
        try await runLimited(variationChunks, { chunk -> [ItemResult] in
            let batch = WooBatch(create: chunk.creates.map(\.input), update: chunk.updates.map { WooBatchUpdate(id: $0.id, changes: $0.input) })
            do {
                let result = try await calls.run { try await woo.batchVariations(productID: chunk.parentID, batch) }
                var out: [ItemResult] = []
                for (i, create) in chunk.creates.enumerated() {
                    switch i < result.create.count ? result.create[i] : .failure(id: 0, error: WooCommerceError(status: nil, code: "missing", message: "no answer for this item", request: "batch")) {
                    case .success(let variation):
                        out.append(.saved(CatalogSKUState(sku: create.sku, wooID: variation.id, parentID: chunk.parentID, kind: "variation", pushed: create.pushed,
                                                          hash: CatalogSKUState.hash(create.pushed), retired: false, pushedAt: now), created: true))
                    case .failure(_, let error): out.append(.failed(sku: create.sku, why: error.description))
                    }
                }
                for (i, update) in chunk.updates.enumerated() {
                    switch i < result.update.count ? result.update[i] : .failure(id: update.id, error: WooCommerceError(status: nil, code: "missing", message: "no answer for this item", request: "batch")) {
                    case .success:
                        out.append(.saved(CatalogSKUState(sku: update.sku, wooID: update.id, parentID: chunk.parentID, kind: "variation", pushed: update.pushed,
                                                          hash: CatalogSKUState.hash(update.pushed), retired: update.retired, pushedAt: now), created: false))
                    case .failure(_, let error): out.append(.updateFailed(update.sku, error))
                    }
                }
                return out
            } catch {
                return chunk.creates.map { .failed(sku: $0.sku, why: "\(error)") } + chunk.updates.map { .failed(sku: $0.sku, why: "\(error)") }
            }
        }, record: { try await record($0, into: &outcome, parentIDs: &parentIDs) })
        outcome.writes += variationChunks.count
        try await recordFailures(plan.failures.map { ($0.sku, $0.why) })
        for failure in plan.failures { outcome.failed[failure.sku] = failure.why }
        return outcome
    }

    /// Runs `work` over `chunks`, at most `concurrency` at once, and hands each chunk's results
    /// to `record` as soon as they are in (in the order chunks answer). A failing `record` (the
    /// store) stops sending further chunks.
    func runLimited<Chunk: Sendable>(_ chunks: [Chunk], _ work: @escaping @Sendable (Chunk) async -> [ItemResult],
                                     record: ([ItemResult]) async throws -> Void) async throws {
        guard !chunks.isEmpty else { return }
        requests.add(chunks.count)
        try await withThrowingTaskGroup(of: [ItemResult].self) { group in
            var next = 0
            func addNext() {
                guard next < chunks.count else { return }
                let chunk = chunks[next]
                next += 1
                group.addTask { await work(chunk) }
            }
            for _ in 0..<concurrency { addNext() }
            while let results = try await group.next() {
                try await record(results)
                addNext()
            }
        }
    }

    func record(_ results: [ItemResult], into outcome: inout Outcome, parentIDs: inout [String: Int]) async throws {
        for result in results {
            switch result {
            case .saved(let state, let created):
                try await save(state)
                if state.kind == "variable" { parentIDs[state.sku] = state.wooID }
                if created { outcome.created += 1 } else if state.retired { outcome.retired += 1 } else { outcome.updated += 1 }
                var record = (try? await records.load(connection: connectionID, kind: "product", id: state.sku))
                    ?? .first(connection: connectionID, kind: "product", id: state.sku, at: clock.now())
                record.attempts += 1
                record.state = .posted
                record.reason = nil
                record.keys["wooID"] = String(state.wooID)
                if let parent = state.parentID { record.keys["wooParentID"] = String(parent) }
                record.keys["hash"] = state.hash
                record.timeline.append(.init(at: clock.now(), step: created ? "created" : (state.retired ? "retired" : "updated"),
                                             detail: state.pushed.sorted { $0.key < $1.key }.map { "\($0.key)=\(Formatting.bounded($0.value, limit: 40))" }.joined(separator: ", "), call: nil))
                try await records.save(record)
            case .failed(let sku, let why, let gone):
                outcome.failed[sku] = why
                if gone {
                    _ = try await store.delete(Keyspace.catalogSKU(connectionID, sku: sku))
                    try await recordFailures([(sku, why + " — WooCommerce no longer has it; the next run looks the SKU up again")])
                } else {
                    try await recordFailures([(sku, why)])
                }
            }
        }
    }

    /// A failed item: audit record `failed` with the reason; its state is not saved, so the
    /// next run sends it again.
    func recordFailures(_ failures: [(String, String)]) async throws {
        for (sku, why) in failures {
            var record = (try? await records.load(connection: connectionID, kind: "product", id: sku))
                ?? .first(connection: connectionID, kind: "product", id: sku, at: clock.now())
            record.attempts += 1
            record.state = .failed
            record.reason = why
            record.timeline.append(.init(at: clock.now(), step: "failed", detail: Formatting.bounded(why, limit: 500), call: nil))
            try await records.save(record)
            logger.warning("catalog item failed", metadata: ["connection": "\(connectionID)", "sku": "\(sku)", "error": "\(Formatting.bounded(why, limit: 200))"])
        }
    }

    func save(_ state: CatalogSKUState) async throws {
        _ = try await store.setJSON(Keyspace.catalogSKU(connectionID, sku: state.sku), state)
    }
}
