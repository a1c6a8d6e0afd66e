import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation
import Logging

/// SPEC §4: the dead-letter sink is the connector's own receiver. A CloudEvent reaching
/// webhook-receiver is one of the connector's own hand-offs that the platform (a Knative
/// Broker's delivery spec, after its retries) gave up on. It raises a `dead-letter` alert naming
/// the event, where it was going and the last answer; the work itself stays pending in the store,
/// where the drains and backfill-poll's stale re-hand keep trying it (SPEC §8: only permanent
/// errors park — a consumer that was paused, throttled or down for the platform's retry window
/// has not failed permanently). The receiver's door is public, so a dead letter changes no state:
/// a forged one costs at most one alert per window for a connection that exists. The answer is
/// 200, so the platform does not dead-letter the dead letter.
public struct DeadLetterIntake: Sendable {
    let store: any KeyValueStore
    let clock: any WallClock
    let alerts: AlertCenter
    let alertWindow: Duration

    public init(store: any KeyValueStore, clock: any WallClock, alertWindow: Duration = .seconds(3600)) {
        self.store = store
        self.clock = clock
        self.alerts = AlertCenter(store: store, clock: clock)
        self.alertWindow = alertWindow
    }

    struct Named: Decodable {
        var connection: String?
        var orderId: Int?
    }

    public func receive(_ event: CloudEvent, logger: Logger) async -> Outcome {
        let type = Formatting.bounded(event.type)
        guard type.hasPrefix("com.mlconnector.") || type == "dev.knative.sources.ping" else {
            logger.notice("event.unhandled", metadata: ["event.type": "\(type)"])
            return .reject(400, "webhook-receiver takes HTTP deliveries and dead letters of the connector's own events, not \(type) events")
        }
        // Knative names where and why delivery failed in extension attributes.
        let destination = event.extensions["knativeerrordest"].map { Formatting.bounded($0, limit: 200) }
        let code = event.extensions["knativeerrorcode"].map { Formatting.bounded($0, limit: 10) }
        let named = (try? JSONDecoder().decode(Named.self, from: Data(event.data ?? []))) ?? Named()
        var logger = logger
        logger[metadataKey: "event.type"] = "\(type)"
        logger[metadataKey: "event.id"] = "\(Formatting.bounded(event.id))"
        guard let connection = named.connection, ConnectionID.isValid(connection),
              (try? await store.get(Keyspace.connection(connection))) != nil else {
            logger.warning("dead_letter.unknown_connection")
            return .done(200, json: "{\"status\":\"dead-letter\",\"alerted\":false}", reason: "dead letter for no known connection")
        }
        var what = "\(type) (\(Formatting.bounded(event.id)))"
        if let orderID = named.orderId { what += " for order \(orderID)" }
        let detail = "the platform gave up delivering \(what)" + (destination.map { " to \($0)" } ?? "") + (code.map { ", last answer \($0)" } ?? "")
            + "; the work stays pending in the store and the drains and backfill-poll keep trying it — if this repeats, check the consumer (mlc status --connection \(connection))"
        await alerts.raise(connection: connection, reason: "dead-letter", detail: detail, window: alertWindow, logger: logger)
        return .done(200, json: "{\"status\":\"dead-letter\",\"alerted\":true}", reason: "dead letter")
    }
}
