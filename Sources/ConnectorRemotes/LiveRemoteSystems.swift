import AsyncHTTPClient
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorStore
import DynamicsClient
import Foundation
import Logging
import Synchronization
import WooCommerceClient

/// The real clients for a connection, over one shared HTTP client: one token provider per F&O
/// app and environment (so concurrent orders share one token), the store's throttle gate, and
/// a WooCommerce client per connection (with its own TLS trust when the connection pins a CA).
public final class LiveRemoteSystems: RemoteSystems {
    private let http: HTTPClient
    private let clock: any WallClock
    private let sleeper: any Sleeper
    private let gate: StoreThrottleGate
    private let tokenCache: (any TokenCache)?
    private let logger: Logger
    private let providers = Mutex<[DynamicsCredentials: TokenProvider]>([:])
    private let pinnedClients = Mutex<[String: HTTPClient]>([:])
    private let retry: RetryPolicy
    private let signingClock: any WallClock

    /// `httpClient` is owned by the caller; clients made here for pinned CA certificates are
    /// shut down by `shutdown()`.
    /// `signingClock` stamps OAuth 1.0a requests; it is `clock` unless a test moves `clock`
    /// ahead of the store's real time (WooCommerce refuses timestamps 15 minutes off).
    public init(httpClient: HTTPClient, store: any KeyValueStore, clock: any WallClock, sleeper: any Sleeper,
                tokenCache: (any TokenCache)? = nil, retry: RetryPolicy = RetryPolicy(), signingClock: (any WallClock)? = nil, logger: Logger) {
        self.http = httpClient
        self.clock = clock
        self.signingClock = signingClock ?? clock
        self.sleeper = sleeper
        self.gate = StoreThrottleGate(store: store, clock: clock)
        self.tokenCache = tokenCache
        self.retry = retry
        self.logger = logger
    }

    public func woocommerce(_ connection: Connection) throws -> WooCommerceClient {
        let settings = connection.woocommerce
        let configuration = WooCommerceClient.Configuration(
            baseURL: settings.baseURL, consumerKey: settings.consumerKey.reveal(), consumerSecret: settings.consumerSecret.reveal(),
            authMode: WooCommerceClient.Configuration.AuthMode(rawValue: settings.authMode.rawValue) ?? .basic,
            caCertificatePEM: settings.caCertificatePEM, allowInsecureHTTP: settings.allowInsecureHTTP, sandbox: connection.sandbox)
        var client = http
        if let pem = settings.caCertificatePEM {
            client = try pinnedClients.withLock { clients in
                if let existing = clients[pem] { return existing }
                let made = try WooCommerceClient.makeHTTPClient(trusting: pem)
                clients[pem] = made
                return made
            }
        }
        var logger = logger
        logger[metadataKey: "connection"] = "\(connection.id)"
        return try WooCommerceClient(configuration: configuration, httpClient: client, clock: signingClock, logger: logger)
    }

    public func dynamics(_ connection: Connection) throws -> DynamicsClient {
        let settings = connection.dynamics
        let credentials = DynamicsCredentials(environmentURL: settings.environmentURL, tenantId: settings.tenantId, clientId: settings.clientId,
                                              clientSecret: settings.clientSecret.reveal(), authorityHost: settings.authorityHost)
        let baseLogger = self.logger
        let tokens = providers.withLock { providers in
            if let existing = providers[credentials] { return existing }
            let made = TokenProvider(credentials: credentials, httpClient: http, clock: clock, cache: tokenCache, logger: baseLogger)
            providers[credentials] = made
            return made
        }
        var configuration = DynamicsClient.Configuration(credentials: credentials, legalEntity: settings.legalEntity)
        configuration.retry = retry
        var logger = logger
        logger[metadataKey: "connection"] = "\(connection.id)"
        return DynamicsClient(configuration: configuration, httpClient: http, tokens: tokens, clock: clock, sleeper: sleeper, throttleGate: gate, logger: logger)
    }

    /// Shuts down the HTTP clients made for pinned certificates.
    public func shutdown() async {
        let clients = pinnedClients.withLock { clients in defer { clients = [:] }; return Array(clients.values) }
        for client in clients { try? await client.shutdown() }
    }
}
