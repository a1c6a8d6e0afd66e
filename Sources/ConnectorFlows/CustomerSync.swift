import ConnectorConnections
import ConnectorCore
import ConnectorMapping
import ConnectorStore
import DynamicsClient
import Foundation
import Logging
import WooCommerceClient

/// `customer.updated` deliveries (SPEC §7): the F&O customer of a registered WooCommerce
/// customer takes the new name, address and email. A customer F&O does not have yet is left
/// alone — it is created with all of this on the customer's first paid order.
public struct CustomerSync: Sendable {
    let store: any KeyValueStore
    let connections: any ConnectionSource
    let remotes: any RemoteSystems
    let clock: any WallClock
    let records: AuditRecords
    let alerts: AlertCenter
    /// The order poster whose legal-entity leases customer writes share.
    let poster: OrderPoster?

    public init(store: any KeyValueStore, connections: any ConnectionSource, remotes: any RemoteSystems, clock: any WallClock, retention: Duration,
                sharingLeasesWith poster: OrderPoster? = nil) {
        self.poster = poster
        self.store = store
        self.connections = connections
        self.remotes = remotes
        self.clock = clock
        self.records = AuditRecords(store: store, clock: clock, retention: retention)
        self.alerts = AlertCenter(store: store, clock: clock)
    }

    /// A transient failure waits like an order's: attempts + 1 and a growing `retryAt`.
    func deferPending(connectionID: String, customerID: Int, after: Double?) async {
        let key = Keyspace.pending(connectionID, kind: "customer", resourceID: String(customerID))
        guard let current = try? await store.getJSON(PendingWork.self, key) else { return }
        var work = current.value
        let attempts = (work.attempts ?? 0) + 1
        work.attempts = attempts
        work.retryAt = clock.now().addingTimeInterval(max(after ?? 0, min(3600, 30 * pow(2, Double(min(attempts, 12) - 1)))))
        _ = try? await store.compareAndSwap(key, expectedVersion: current.version, work.encoded(), ttl: nil)
    }

    struct Current: Decodable {
        var CustomerAccount: String
        var PartyType: String
    }

    /// Applies WooCommerce customer `customerID` to F&O and clears its pending work when done.
    public func sync(connectionID: String, customerID: Int, logger: Logger) async -> PostResult {
        let timeline = Timeline(clock: clock)
        var record = (try? await records.load(connection: connectionID, kind: "customer", id: String(customerID)))
            ?? .first(connection: connectionID, kind: "customer", id: String(customerID), at: clock.now())
        record.attempts += 1
        let result: PostResult
        do {
            result = try await work(connectionID: connectionID, customerID: customerID, timeline: timeline)
        } catch {
            timeline.add("error", "\(error)")
            result = .failure(error)
        }
        record.apply(result, events: timeline.events, key: "customerAccount")
        if case .parked(let reason) = result {
            let window = (try? await connections.connection(connectionID))?.alerts.windowMinutes ?? 60
            await alerts.raise(connection: connectionID, reason: "record-parked", detail: "customer \(customerID): \(reason)", window: .seconds(window * 60), logger: logger)
        }
        try? await records.save(record)
        if case .retryLater(_, let after) = result {
            await deferPending(connectionID: connectionID, customerID: customerID, after: after)
            return result
        }
        _ = try? await store.delete(Keyspace.pending(connectionID, kind: "customer", resourceID: String(customerID)))
        return result
    }

    private func work(connectionID: String, customerID: Int, timeline: Timeline) async throws -> PostResult {
        guard let connection = try await connections.connection(connectionID) else { return .parked("no connection \(connectionID)") }
        if try await ConnectionControl(store: store).isPaused(connectionID) { return .retryLater("connection \(connectionID) is paused", after: nil) }
        let woo = try remotes.woocommerce(connection)
        let fo = try remotes.dynamics(connection).observing { call in
            timeline.add("call", "F&O", call: "\(call.method) \(call.path) → \(call.status) in \(call.milliseconds) ms")
        }
        let customer: WooCustomer
        do { customer = try await woo.customer(customerID) } catch where RemoteError.isNotFound(error) {
            return .skipped("customer \(customerID) no longer exists in WooCommerce")
        }
        let mapper = OrderMapper(connection: connection)
        let account = mapper.customerAccount(customerID: customerID)
        let key = ODataKey(FOEntity.customers, ["dataAreaId": .string(fo.legalEntity), "CustomerAccount": .string(account)])
        guard let current = try await fo.read(key, select: ["CustomerAccount", "PartyType"], as: Current.self) else {
            return .skipped("customer \(account) is not in F&O yet; it is created with the customer's first paid order")
        }
        var billing = customer.billing
        if billing.email.isEmpty { billing.email = customer.email }
        if billing.firstName.isEmpty && billing.lastName.isEmpty { billing.firstName = customer.firstName; billing.lastName = customer.lastName }
        var changes = mapper.customerRecord(account: account, currency: nil, billing: billing)
        // The key, the group and the party type are not the shop's to change.
        for field in ["dataAreaId", "CustomerAccount", "CustomerGroupId", "PartyType"] { changes[field] = nil }
        if current.PartyType == "Organization" {
            changes["PersonFirstName"] = nil
            changes["PersonLastName"] = nil
            let name = [billing.firstName, billing.lastName].filter { !$0.isEmpty }.joined(separator: " ")
            changes["OrganizationName"] = .string(billing.company.isEmpty ? (name.isEmpty ? account : name) : billing.company)
        } else {
            changes["OrganizationName"] = nil
        }
        // CustomersV3 is "single thread only": the same legal-entity lease as customer creation.
        if let poster {
            try await poster.withEntityLease(fo: fo, entity: "customers") { try await fo.update(key, changes) }
        } else {
            try await fo.update(key, changes)
        }
        timeline.add("customer", "updated \(account): \(changes.names.joined(separator: ", "))")
        return .posted(salesOrderNumber: account)
    }
}
