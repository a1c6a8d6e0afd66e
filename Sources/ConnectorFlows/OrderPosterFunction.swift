import ConnectorCore
import ConnectorStore
import Foundation
import Logging

/// The `order-poster` function: `com.mlconnector.order.changed` posts one order,
/// `com.mlconnector.orders.drain` (or a PingSource's `dev.knative.sources.ping`) posts all
/// pending orders and customer updates of one connection (or of all).
public struct OrderPosterFunction: FunctionHandler {
    public static let orderChanged = "com.mlconnector.order.changed"
    public static let ordersDrain = "com.mlconnector.orders.drain"
    public static let ping = "dev.knative.sources.ping"

    public let poster: OrderPoster
    /// `customer.updated` work handed on by the receiver; taken by the drain.
    let customers: CustomerSync?
    let store: any KeyValueStore
    /// Orders one drain works before handing the rest to the next drain.
    let drainLimit: Int
    /// Orders worked at once. Each order is still worked by one worker under its lease, and
    /// F&O's single-writer entities are serialised by their own leases.
    let concurrency: Int

    public init(poster: OrderPoster, store: any KeyValueStore, customers: CustomerSync? = nil, drainLimit: Int = 500, concurrency: Int = 4) {
        self.poster = poster
        self.customers = customers
        self.store = store
        self.drainLimit = drainLimit
        self.concurrency = max(1, concurrency)
    }

    struct ChangedData: Decodable { var connection: String; var orderId: Int }
    struct DrainData: Decodable { var connection: String? }

    public func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        switch event.type {
        case Self.orderChanged:
            guard let data = try? JSONDecoder().decode(ChangedData.self, from: Data(event.data ?? [])) else {
                return .reject(400, "\(Self.orderChanged) needs data {\"connection\": \"…\", \"orderId\": N}")
            }
            // A paused connection's wake-up is answered, not failed: the work stays pending for the
            // drain after `resume`, and a retried wake-up would only end as a dead letter and an alert.
            if await isPaused(data.connection) {
                return .done(200, json: "{\"status\":\"paused\",\"orderId\":\(data.orderId)}", reason: "paused")
            }
            let result = await poster.post(connectionID: data.connection, orderID: data.orderId, logger: context.logger)
            return Self.outcome(result, orderID: data.orderId)
        case Self.ordersDrain, Self.ping:
            // A PingSource's tick drains too (the safety net that also takes customer work,
            // which has no wake-up of its own).
            let data = (try? JSONDecoder().decode(DrainData.self, from: Data(event.data ?? []))) ?? DrainData(connection: nil)
            return await drain(connection: data.connection, context: context)
        default:
            return .reject(400, "order-poster takes \(Self.orderChanged), \(Self.ordersDrain) and \(Self.ping) events, not \(Formatting.bounded(event.type))")
        }
    }

    public func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        .reject(400, "order-poster takes CloudEvents (\(Self.orderChanged), \(Self.ordersDrain)); send one in binary or structured mode")
    }

    /// Posts every pending order, oldest key first; answers retry if any stays pending.
    /// `honourRetryDelays` false takes work still waiting out its delay too (`mlc demo`).
    public func drain(connection: String?, context: InvocationContext, honourRetryDelays: Bool = true) async -> Outcome {
        let connections: [String]
        do {
            if let connection {
                connections = [connection]
            } else {
                connections = try await store.listAll(prefix: Keyspace.connections).map { String($0.key.dropFirst(Keyspace.connections.count)).removingPercentEncoding ?? "" }
            }
        } catch {
            return .retry("the store is unavailable: \(error)")
        }
        var work: [(connection: String, orderID: Int)] = []
        var deferred = 0
        var paused: Set<String> = []
        for id in connections {
            // Paused connections are left as they are (their work stays pending): not a failure
            // of the drain, which would otherwise be retried and dead-lettered every tick.
            if await isPaused(id) {
                paused.insert(id)
                continue
            }
            let prefix = Keyspace.pending(id, kind: "order")
            let items: [StoredValue]
            do { items = try await store.listAll(prefix: prefix) } catch { return .retry("the store is unavailable: \(error)") }
            let now = poster.clock.now()
            for item in items {
                guard let orderID = Int(item.key.dropFirst(prefix.count)) else { continue }
                // Work that failed transiently waits out its delay (a person can still replay it).
                if honourRetryDelays, let retryAt = (try? StoreJSON.decoder.decode(PendingWork.self, from: Data(item.value)))?.retryAt, retryAt > now {
                    deferred += 1
                    continue
                }
                work.append((id, orderID))
            }
        }
        let worked = min(work.count, drainLimit)
        let poster = self.poster
        let logger = context.logger
        var counts: [String: Int] = [:]
        await withTaskGroup(of: String.self) { group in
            var next = 0
            func addNext() {
                guard next < worked else { return }
                let item = work[next]
                next += 1
                group.addTask { OrderPoster.label(await poster.post(connectionID: item.connection, orderID: item.orderID, logger: logger)) }
            }
            for _ in 0..<concurrency { addNext() }
            for await label in group {
                counts[label, default: 0] += 1
                addNext()
            }
        }
        // Customer changes after the orders (an order may create the customer first).
        if let customers {
            for id in connections where !paused.contains(id) {
                let prefix = Keyspace.pending(id, kind: "customer")
                let now = poster.clock.now()
                for item in (try? await store.listAll(prefix: prefix)) ?? [] {
                    guard let customerID = Int(item.key.dropFirst(prefix.count)) else { continue }
                    if honourRetryDelays, let retryAt = (try? StoreJSON.decoder.decode(PendingWork.self, from: Data(item.value)))?.retryAt, retryAt > now { continue }
                    let result = await customers.sync(connectionID: id, customerID: customerID, logger: logger)
                    counts["customer." + OrderPoster.label(result), default: 0] += 1
                }
            }
        }
        let summary = counts.sorted { $0.key < $1.key }.map { "\"\($0.key)\":\($0.value)" }.joined(separator: ",")
        // Work waiting out its retry delay is not a failure of this drain: answering 503 would make
        // the platform retry (and finally dead-letter) the drain event itself.
        if counts["retry", default: 0] > 0 || counts["customer.retry", default: 0] > 0 || work.count > drainLimit {
            return .retry("\(counts["retry", default: 0] + counts["customer.retry", default: 0] + max(0, work.count - drainLimit)) order(s) stay pending", status: 503)
        }
        let waiting = (deferred > 0 ? ",\"deferred\":\(deferred)" : "") + (paused.isEmpty ? "" : ",\"pausedConnections\":\(paused.count)")
        return .done(200, json: "{\"status\":\"drained\",\(summary.isEmpty ? "\"orders\":0" : summary)\(waiting)}", reason: "drained")
    }

    /// Whether `connection` is paused; a store that cannot tell counts as not paused (the
    /// poster checks again under the order's lease and answers retry then).
    func isPaused(_ connection: String) async -> Bool {
        (try? await ConnectionControl(store: store).isPaused(connection)) == true
    }

    static func outcome(_ result: PostResult, orderID: Int) -> Outcome {
        switch result {
        case .posted(let number):
            .done(200, json: "{\"status\":\"posted\",\"orderId\":\(orderID),\"salesOrderNumber\":\(JSONText.quoted(number))}", reason: "posted")
        case .skipped(let reason):
            .done(200, json: "{\"status\":\"skipped\",\"orderId\":\(orderID),\"reason\":\(JSONText.quoted(reason))}", reason: "skipped")
        case .parked(let reason):
            // Parked is an answer, not a failure of the invocation: the record waits for a person.
            .done(200, json: "{\"status\":\"parked\",\"orderId\":\(orderID),\"reason\":\(JSONText.quoted(reason))}", reason: "parked")
        case .retryLater(let reason, let after):
            .retry(reason, status: after == nil ? 503 : 429, after: after.map { Int($0.rounded(.up)) })
        }
    }
}
