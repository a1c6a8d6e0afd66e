import ConnectorConnections
import ConnectorCore
import ConnectorMapping
import ConnectorStore
import DynamicsClient
import Foundation

/// Customer payment journals (SPEC §8): lines are written under the legal entity's journal
/// lease, numbered from a compare-and-swap counter in the store, into a journal reused only
/// while F&O has not posted it.
extension OrderPoster {
    /// The open payment journal of a journal name and its next line number, kept in the store.
    struct JournalState: Codable {
        var journalBatchNumber: String
        var nextLine: Int
    }

    /// Submits `operations` plus the journal lines of `journal` as one changeset. Journal lines
    /// are written under the legal entity's journal lease with line numbers from the store's
    /// compare-and-swap counter; the stored journal is trusted until F&O refuses it, then its
    /// `IsPosted` is read and a new journal is opened once.
    func submitWithJournal(_ operations: [BatchOperation], journal: [JournalLinePlan], link: inout OrderLink, fo: DynamicsClient,
                           connection: Connection, timeline: Timeline, thenRead query: ODataQuery? = nil) async throws -> (parts: [BatchPartResponse], read: DynamicsClient.BatchRead?) {
        guard !journal.isEmpty else {
            guard !operations.isEmpty else { return ([], nil) }
            return try await fo.submit(changeset: operations, thenRead: query)
        }
        let names = Set(journal.map(\.journalName))
        guard names.count == 1, let journalName = names.first else {
            throw ConnectorError.invalidConfiguration("one order's payment and refunds map to several journals: \(names.sorted())", fix: "use one journal name per gateway")
        }
        let result: ((parts: [BatchPartResponse], read: DynamicsClient.BatchRead?), [OrderLink.JournalPosition]) = try await withEntityLease(fo: fo, entity: "journal") {
            var verify = false
            for attempt in 1...2 {
                let (batch, first) = try await reserveJournalLines(journalName, count: journal.count, verifyOpen: verify, fo: fo, connection: connection, timeline: timeline)
                var all = operations
                var positions: [OrderLink.JournalPosition] = []
                for (offset, plan) in journal.enumerated() {
                    var record = plan.record
                    record["JournalBatchNumber"] = .string(batch)
                    record["LineNumber"] = .int(Int64(first + offset))
                    all.append(.create(FOEntity.paymentJournalLines, record))
                    positions.append(.init(reference: plan.reference, journalBatchNumber: batch, lineNumber: first + offset, amount: plan.amount))
                }
                do {
                    return (try await fo.submit(changeset: all, thenRead: query), positions)
                } catch let failure as ChangesetFailure where failure.error == .remoteRejected && attempt == 1 && (failure.part ?? 0) > operations.count {
                    // A journal line was refused. Posted in F&O meanwhile, or a line number taken
                    // by hand? Check, then try once more.
                    let error = failure.error
                    if try await journalIsOpen(batch, fo: fo) && !error.message.contains("already exists") { throw failure }
                    timeline.add("journal", "journal \(batch) refused the lines (\(Formatting.bounded(error.message, limit: 120))); checking and retrying once")
                    verify = true
                }
            }
            throw ConnectorError.remoteRejected("the payment journal kept refusing the lines", fix: "check the journal in F&O (posted? line numbers taken?), then replay")
        }
        for (plan, position) in zip(journal, result.1) {
            link.record(plan, position)
            timeline.add("journal", "\(plan.kind.rawValue) \(plan.reference) \(plan.amount) written to \(position.journalBatchNumber) line \(position.lineNumber)")
        }
        return (Array(result.0.parts.prefix(operations.count)), result.0.read)
    }

    /// Takes `count` consecutive line numbers in the open journal of `journalName` (opening a
    /// journal when none is stored, or when `verifyOpen` finds the stored one posted).
    func reserveJournalLines(_ journalName: String, count: Int, verifyOpen: Bool, fo: DynamicsClient, connection: Connection, timeline: Timeline) async throws -> (String, Int) {
        let stateKey = Keyspace.paymentJournal(environment: Self.host(fo), legalEntity: fo.legalEntity, journalName: journalName)
        for _ in 0..<5 {
            let current = try await store.getJSON(JournalState.self, stateKey)
            var open: (state: JournalState, version: Int64)?
            if let current {
                let usable = verifyOpen ? try await journalIsOpen(current.value.journalBatchNumber, fo: fo) : true
                if usable { open = (current.value, current.version) }
            }
            if open == nil {
                var header = ODataRecord()
                header["dataAreaId"] = .string(fo.legalEntity)
                header["JournalName"] = .string(journalName)
                header["Description"] = .string("WooCommerce \(connection.id) payments")
                let created: FOPaymentJournalHeader = try await fo.create(FOEntity.paymentJournalHeaders, header)
                timeline.add("journal", "opened \(created.JournalBatchNumber) (\(journalName))")
                CrashPoint.hit("order.after-journal-header")
                let fresh = JournalState(journalBatchNumber: created.JournalBatchNumber, nextLine: 1)
                if let current {
                    guard case .swapped(let version) = try await store.compareAndSwapJSON(stateKey, expectedVersion: current.version, fresh) else { continue }
                    open = (fresh, version)
                } else {
                    guard case .inserted(let version) = try await store.insertJSONIfAbsent(stateKey, fresh) else { continue }
                    open = (fresh, version)
                }
            }
            guard let (state, version) = open else { continue }
            let next = JournalState(journalBatchNumber: state.journalBatchNumber, nextLine: state.nextLine + count)
            guard case .swapped = try await store.compareAndSwapJSON(stateKey, expectedVersion: version, next) else { continue }
            CrashPoint.hit("order.after-journal-counter")
            return (state.journalBatchNumber, state.nextLine)
        }
        throw ConnectorError.conflict("the payment journal's line counter kept changing", fix: "retried")
    }

    func journalIsOpen(_ batch: String, fo: DynamicsClient) async throws -> Bool {
        let header = try await fo.read(ODataKey(FOEntity.paymentJournalHeaders, ["dataAreaId": .string(fo.legalEntity), "JournalBatchNumber": .string(batch)]),
                                       select: FOPaymentJournalHeader.select, as: FOPaymentJournalHeader.self)
        return header?.isOpen == true
    }
}
