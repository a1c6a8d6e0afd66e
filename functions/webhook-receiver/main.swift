// webhook-receiver: WooCommerce deliveries in, durable pending work out (SPEC §9). Wiring only.
import ConnectorConnections
import ConnectorFlows
import ConnectorRuntime
import Foundation

FunctionMain.main(name: "webhook-receiver", gauges: StatusMetrics.gauges) { env in
    WebhookReceiverFunction(
        store: env.store,
        masterKey: try MasterKey.fromEnvironment(env.environment),
        settings: IntakeSettings(maxBodyBytes: env.settings.maxBodyBytes, retention: env.settings.retention),
        clock: env.clock,
        wakeUp: env.wakeUp)
}
