import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation
import Logging
import WooCommerceClient

/// What `handOnWindow` did.
public struct BackfillWindowReport: Sendable, Equatable {
    public var connection: String
    public var since: Date
    public var until: Date?
    /// Orders WooCommerce listed in the window (each id once).
    public var listed = 0
    /// Orders whose state was new and were written as pending work.
    public var handedOn = 0
    /// The listing stopped at its request bound (more orders than it reads at once).
    public var truncated = false
}

extension BackfillPoll {
    /// `mlc backfill`'s listing: orders modified in (`since`, `until`] in ALL statuses, each
    /// handed on (pending work, then the wake-up) unless its current state was handed on
    /// already — exactly as a poll does, but over an explicit window and without touching the
    /// poll cursor (a window in the past must not move the schedule's cursor back, and a
    /// window reaching now must not let the schedule skip what changes meanwhile).
    /// `progress` is called after each page with the orders listed so far.
    public func handOnWindow(connectionID: String, since: Date, until: Date?, maxRequests maxPages: Int = 1_000, logger baseLogger: Logger,
                             progress: @Sendable (Int) -> Void = { _ in }) async throws -> BackfillWindowReport {
        var logger = baseLogger
        logger[metadataKey: "connection"] = "\(connectionID)"
        guard let connection = try await connections.connection(connectionID) else {
            throw ConnectorError.notFound("no connection \(connectionID)", fix: "list them with: mlc connection list")
        }
        let client = try remotes.woocommerce(connection)
        var report = BackfillWindowReport(connection: connectionID, since: since, until: until)
        var seen = Set<Int>()
        // Keyset paging on the modification time, oldest first, as the poll pages: each request
        // asks for what changed after the newest change read so far (minus a second:
        // `modified_after` is strict and second-grained), so an order modified while we page
        // moves to the end instead of shifting an unread one onto a page already read. Page
        // numbers only advance when a whole page held nothing newer.
        var after = since
        var page = 1
        var requests = 0
        var newest: Date?
        while true {
            guard requests < maxPages else { report.truncated = true; break }
            requests += 1
            let current: WooPage<WooOrder>
            do {
                current = try await client.orders(WooOrderQuery(modifiedAfter: after, modifiedBefore: until, orderBy: "modified", ascending: true,
                                                                page: page, perPage: settings.perPage))
            } catch {
                throw Self.remoteError(error)
            }
            var fresh = 0
            for order in current.items {
                if let modified = order.dateModifiedGMT, newest.map({ modified > $0 }) ?? true { newest = modified }
                guard seen.insert(order.id).inserted else { continue }
                fresh += 1
                if try await handOn(order, connection: connectionID, logger: logger) { report.handedOn += 1 }
            }
            report.listed = seen.count
            progress(report.listed)
            guard !current.items.isEmpty, current.hasMore || current.items.count == settings.perPage else { break }
            if fresh > 0, let newest, newest.addingTimeInterval(-1) > after {
                after = newest.addingTimeInterval(-1)
                page = 1
            } else {
                page += 1
            }
        }
        logger.info("backfill.window", metadata: [
            "since": "\(Formatting.timestamp(since))", "until": "\(until.map(Formatting.timestamp) ?? "now")",
            "listed": "\(report.listed)", "handed_on": "\(report.handedOn)", "truncated": "\(report.truncated)",
        ])
        return report
    }
}

/// `mlc backfill --connection C --since T [--until T]`: the window's orders handed on, then every
/// pending order of the connection posted through order-poster in this process (retry delays
/// not waited: a person asked for it now), with progress and a summary.
public struct ManualBackfill: Sendable {
    public struct Summary: Sendable, Equatable {
        public var window: BackfillWindowReport
        /// Pending orders worked after the listing (the window's and any left from before).
        public var worked = 0
        /// In F&O to the cent (now, or already before).
        public var posted = 0
        /// Nothing for F&O to do (not paid, deleted before posting).
        public var skipped = 0
        /// Waiting for a person (alerted); `mlc audit list --state parked`.
        public var parked = 0
        /// Still pending after a transient failure (the schedule retries them).
        public var failed = 0
        /// The connection is paused: nothing was posted, the work stays pending.
        public var paused = false
        /// Why each failed or parked order is where it is (order id → reason).
        public var problems: [Int: String] = [:]
    }

    /// Progress while it runs.
    public enum Step: Sendable {
        case listing(listed: Int)
        case posting(done: Int, of: Int)
    }

    let functions: LocalFunctions
    let poll: BackfillPoll

    /// Uses `functions`' order-poster; the listing hands on without wake-ups (everything
    /// pending is posted right after).
    public init(functions: LocalFunctions, remotes: any RemoteSystems, clock: any WallClock) {
        self.functions = functions
        self.poll = BackfillPoll(store: functions.store, connections: functions.connections, remotes: remotes, clock: clock, wakeUp: nil)
    }

    public func run(connectionID: String, since: Date, until: Date?, concurrency: Int = 4, logger: Logger,
                    progress: @escaping @Sendable (Step) -> Void = { _ in }) async throws -> Summary {
        if let until, until <= since {
            throw ConnectorError.invalidInput("--until \(Formatting.timestamp(until)) is not after --since \(Formatting.timestamp(since))",
                                              fix: "give a window whose end is later than its start")
        }
        let window = try await poll.handOnWindow(connectionID: connectionID, since: since, until: until, logger: logger) { progress(.listing(listed: $0)) }
        var summary = Summary(window: window)
        let store = functions.store
        if (try? await ConnectionControl(store: store).isPaused(connectionID)) == true {
            summary.paused = true
            return summary
        }
        let prefix = Keyspace.pending(connectionID, kind: "order")
        let orderIDs: [Int]
        do {
            orderIDs = try await store.listAll(prefix: prefix).compactMap { Int($0.key.dropFirst(prefix.count)) }.sorted()
        } catch {
            throw ConnectorError.storeUnavailable("listing pending orders failed: \(error)")
        }
        summary.worked = orderIDs.count
        progress(.posting(done: 0, of: orderIDs.count))
        let poster = functions.orderPoster.poster
        var done = 0
        await withTaskGroup(of: (Int, PostResult).self) { group in
            var next = 0
            func addNext() {
                guard next < orderIDs.count else { return }
                let id = orderIDs[next]
                next += 1
                group.addTask { (id, await poster.post(connectionID: connectionID, orderID: id, logger: logger)) }
            }
            for _ in 0..<max(1, concurrency) { addNext() }
            for await (id, result) in group {
                switch result {
                case .posted: summary.posted += 1
                case .skipped: summary.skipped += 1
                case .parked(let reason):
                    summary.parked += 1
                    summary.problems[id] = reason
                case .retryLater(let reason, _):
                    summary.failed += 1
                    summary.problems[id] = reason
                }
                done += 1
                progress(.posting(done: done, of: orderIDs.count))
                addNext()
            }
        }
        return summary
    }
}
