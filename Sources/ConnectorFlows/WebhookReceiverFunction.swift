import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation

/// The `webhook-receiver` function: WooCommerce deliveries at `/webhooks/woocommerce/{connection}`
/// go to the WooCommerce intake, F&O business events at `/events/dynamics/{connection}?code=…`
/// to the business-event intake.
public struct WebhookReceiverFunction: FunctionHandler {
    let intake: WebhookIntake
    let events: BusinessEventIntake?

    public init(intake: WebhookIntake, events: BusinessEventIntake? = nil) {
        self.intake = intake
        self.events = events
    }

    public func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        let parts = request.path.split(separator: "/", omittingEmptySubsequences: false)
        // "", "webhooks", "woocommerce", "{connection}"
        if parts.count == 4, parts[1] == "webhooks", parts[2] == "woocommerce" {
            guard request.method == "POST" else { return .reject(405, "use POST") }
            let connection = Self.connectionID(parts[3])
            return await intake.receive(connectionID: connection, request: request, logger: context.logger)
        }
        // "", "events", "dynamics", "{connection}" — the query (with the code) is never logged.
        if parts.count == 4, parts[1] == "events", parts[2] == "dynamics", let events {
            let connection = Self.connectionID(parts[3])
            return await events.receive(connectionID: connection, request: request, logger: context.logger)
        }
        return .reject(404, "no such endpoint; WooCommerce deliveries go to POST /webhooks/woocommerce/{connection}, F&O business events to POST /events/dynamics/{connection}?code=…")
    }

    /// The connection id from its path segment, percent-decoded (NSString's decoding only when
    /// there is a `%`: it bridges on every call).
    public static func connectionID(_ segment: Substring) -> String {
        segment.utf8.contains(UInt8(ascii: "%")) ? (String(segment).removingPercentEncoding ?? String(segment)) : String(segment)
    }

    /// CloudEvents reach the receiver only as dead letters of the connector's own hand-offs.
    public func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        await DeadLetterIntake(store: intake.store, clock: intake.clock, alertWindow: intake.settings.alertWindow)
            .receive(event, logger: context.logger)
    }
}

/// The function for a flow that a later issue builds: it answers every input with a clear
/// rejection instead of pretending to work.
public struct NotYetAvailableFunction: FunctionHandler {
    let name: String
    let issue: String

    public init(name: String, issue: String) {
        self.name = name
        self.issue = issue
    }

    public func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        context.logger.warning("function.not_available")
        return .reject(501, "\(name) is not in this build yet (\(issue)); pending work stays in the store until it is")
    }

    public func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        await handle(request: HTTPRequestEnvelope(method: "POST", path: "/", headers: [:], body: []), context: context)
    }
}

extension WebhookReceiverFunction {
    /// The receiver over `store`, opening connections with `masterKey`.
    public init(store: any KeyValueStore, masterKey: MasterKey, settings: IntakeSettings, clock: any WallClock = SystemWallClock(), wakeUp: (any WakeUpSender)? = nil) {
        let connections = StoredConnections(repository: ConnectionRepository(store: store, clock: clock), key: masterKey, clock: clock)
        self.init(intake: WebhookIntake(store: store, connections: connections, clock: clock, settings: settings, wakeUp: wakeUp),
                  events: BusinessEventIntake(store: store, connections: connections, clock: clock, settings: settings, wakeUp: wakeUp))
    }
}
