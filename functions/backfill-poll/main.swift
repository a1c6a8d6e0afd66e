// backfill-poll: the polling backbone (SPEC §2, §4) — WooCommerce orders modified since the cursor, in all statuses,
// handed on as pending work; stale pending work re-woken; then order completion (linked sales orders F&O has fully
// invoiced → WooCommerce order completed), also woken per sales order by the receiver's business events. Wiring only.
import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorRuntime
import Foundation

FunctionMain.main(name: "backfill-poll", gauges: StatusMetrics.gauges) { env in
    let key = try MasterKey.fromEnvironment(env.environment)
    let connections = StoredConnections(repository: ConnectionRepository(store: env.store, clock: env.clock), key: key, clock: env.clock)
    let remotes = LiveRemoteSystems(httpClient: .shared, store: env.store, clock: env.clock, sleeper: SystemSleeper(),
                                    tokenCache: SealedTokenCache(store: env.store, key: key, clock: env.clock), logger: env.logger)
    var settings = BackfillPoll.Settings()
    settings.retention = env.settings.retention
    let poll = BackfillPoll(store: env.store, connections: connections, remotes: remotes, clock: env.clock, wakeUp: env.wakeUp, settings: settings,
                            alertTransport: LiveAlertTransport())
    var completionSettings = OrderCompletion.Settings()
    completionSettings.retention = env.settings.retention
    let completion = OrderCompletion(store: env.store, connections: connections, remotes: remotes, clock: env.clock, settings: completionSettings)
    return BackfillPollFunction(poll: poll, completion: completion)
}
