// catalog-push: the F&O catalog (released products, prices, on hand) into WooCommerce (SPEC §12). Wiring only.
import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorRuntime
import Foundation

FunctionMain.main(name: "catalog-push", gauges: StatusMetrics.gauges) { env in
    let key = try MasterKey.fromEnvironment(env.environment)
    let connections = StoredConnections(repository: ConnectionRepository(store: env.store, clock: env.clock), key: key, clock: env.clock)
    let remotes = LiveRemoteSystems(httpClient: .shared, store: env.store, clock: env.clock, sleeper: SystemSleeper(),
                                    tokenCache: SealedTokenCache(store: env.store, key: key, clock: env.clock), logger: env.logger)
    var settings = CatalogPush.Settings()
    settings.retention = env.settings.retention
    let push = CatalogPush(store: env.store, connections: connections, remotes: remotes, clock: env.clock, sleeper: SystemSleeper(), settings: settings)
    return CatalogPushFunction(push: push)
}
