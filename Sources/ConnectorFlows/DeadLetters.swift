import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation
import Logging

/// SPEC §4: the dead-letter sink is the connector's own receiver. A CloudEvent reaching
/// webhook-receiver is one of the connector's own hand-offs that the platform (a Knative
/// Broker's delivery spec, after its retries) gave up on: the item it names is parked — it
/// leaves the automatic queue and waits for a person and `mlc replay` — and an alert says so.
/// Only work order-poster already tried and failed is parked (the receiver is reachable by
/// anyone); the answer is 200 either way, so the platform does not dead-letter the dead letter.
public struct DeadLetterIntake: Sendable {
    let store: any KeyValueStore
    let clock: any WallClock
    let alerts: AlertCenter
    let records: AuditRecords
    let alertWindow: Duration

    public init(store: any KeyValueStore, clock: any WallClock, retention: Duration, alertWindow: Duration = .seconds(3600)) {
        self.store = store
        self.clock = clock
        self.alerts = AlertCenter(store: store, clock: clock)
        self.records = AuditRecords(store: store, clock: clock, retention: retention)
        self.alertWindow = alertWindow
    }

    struct Named: Decodable {
        var connection: String?
        var orderId: Int?
    }

    public func receive(_ event: CloudEvent, logger: Logger) async -> Outcome {
        let type = Formatting.bounded(event.type)
        // Knative names where and why delivery failed in extension attributes.
        let destination = event.extensions["knativeerrordest"].map { Formatting.bounded($0, limit: 200) }
        let code = event.extensions["knativeerrorcode"].map { Formatting.bounded($0, limit: 10) }
        let named = (try? JSONDecoder().decode(Named.self, from: Data(event.data ?? []))) ?? Named()
        guard type.hasPrefix("com.mlconnector.") || type == "dev.knative.sources.ping" else {
            logger.notice("event.unhandled", metadata: ["event.type": "\(type)"])
            return .reject(400, "webhook-receiver takes HTTP deliveries and dead letters of the connector's own events, not \(type) events")
        }
        guard let connection = named.connection, ConnectionID.isValid(connection) else {
            logger.error("dead_letter.unnamed", metadata: ["alert": .stringConvertible(true), "event.type": "\(type)", "event.id": "\(Formatting.bounded(event.id))"])
            return .done(200, json: "{\"status\":\"dead-letter\",\"parked\":null}", reason: "dead letter without a connection")
        }
        let why = "the platform gave up delivering \(type) (\(event.id))" + (destination.map { " to \($0)" } ?? "") + (code.map { ", last answer \($0)" } ?? "")
        var parked: String?
        if type == OrderPosterFunction.orderChanged, let orderID = named.orderId {
            let id = String(orderID)
            do {
                var record = try await records.load(connection: connection, kind: "order", id: id)
                    ?? AuditRecord.first(connection: connection, kind: "order", id: id, at: clock.now())
                // The receiver's door is public: only work order-poster really tried and failed is
                // parked, so a forged or late dead letter costs an alert, never an order.
                let pendingKey = Keyspace.pending(connection, kind: "order", resourceID: id)
                let work = try await store.get(pendingKey).flatMap { try? StoreJSON.decoder.decode(PendingWork.self, from: Data($0.value)) }
                if record.state != .posted, let work, (work.attempts ?? 0) >= 1 {
                    record.state = .parked
                    record.reason = "\(why); replay it once the cause is fixed: mlc replay \(connection):order:\(id)"
                    record.updatedAt = clock.now()
                    record.timeline.append(.init(at: clock.now(), step: "parked", detail: why, call: nil))
                    try await records.save(record)
                    _ = try await store.delete(pendingKey)
                    parked = "\(connection):order:\(id)"
                }
            } catch {
                logger.error("dead_letter.record_failed", metadata: ["error": "\(error)"])
            }
        }
        await alerts.raise(connection: connection, reason: "dead-letter",
                           detail: why + (parked.map { "; parked \($0)" } ?? "; nothing parked (no failed attempt on record: a late echo, a schedule the next run repeats, or a forged event)"),
                           window: alertWindow, logger: logger)
        return .done(200, json: "{\"status\":\"dead-letter\",\"parked\":" + (parked.map(JSONText.quoted) ?? "null") + "}", reason: "dead letter")
    }
}
