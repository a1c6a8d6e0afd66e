// order-poster: pending orders into F&O exactly once (SPEC §8). Wiring only.
import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorRuntime
import Foundation

FunctionMain.main(name: "order-poster", gauges: StatusMetrics.gauges) { env in
    let key = try MasterKey.fromEnvironment(env.environment)
    let connections = StoredConnections(repository: ConnectionRepository(store: env.store, clock: env.clock), key: key, clock: env.clock)
    let remotes = LiveRemoteSystems(httpClient: .shared, store: env.store, clock: env.clock, sleeper: SystemSleeper(),
                                    tokenCache: SealedTokenCache(store: env.store, key: key, clock: env.clock), logger: env.logger)
    var settings = OrderPoster.Settings()
    settings.retention = env.settings.retention
    let poster = OrderPoster(store: env.store, connections: connections, remotes: remotes, clock: env.clock, sleeper: SystemSleeper(), settings: settings)
    let customers = CustomerSync(store: env.store, connections: connections, remotes: remotes, clock: env.clock, retention: env.settings.retention, sharingLeasesWith: poster)
    return OrderPosterFunction(poster: poster, store: env.store, customers: customers)
}
