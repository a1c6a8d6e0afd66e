import ConnectorConnections
import ConnectorCore
import ConnectorStore
import DynamicsClient
import Foundation

/// F&O bearer tokens kept in the store between invocations (SPEC §5 "token cache (sealed)"):
/// a function scaled from zero reuses a live token instead of asking Entra again. The token is
/// sealed with the master key like any secret; the associated data binds it to its app and
/// environment, so a box copied to another key opens nowhere.
public struct SealedTokenCache: TokenCache {
    struct Entry: Codable {
        var sealed: SealedSecret
        var refreshAt: Date
    }

    let store: any KeyValueStore
    let key: MasterKey
    let clock: any WallClock

    public init(store: any KeyValueStore, key: MasterKey, clock: any WallClock) {
        self.store = store
        self.key = key
        self.clock = clock
    }

    static func storeKey(_ credentials: DynamicsCredentials) -> String {
        // The secret's digest is part of the identity: a new (or wrong) secret never reuses a
        // token the old one obtained, so `set-secret` and `ping` see Entra's verdict at once.
        let secret = Digests.sha256Hex(Array(credentials.clientSecret.utf8))
        let identity = "\(credentials.authorityHost)|\(credentials.tenantId)|\(credentials.clientId)|\(credentials.audience)|\(secret)"
        return Keyspace.token(identityDigest: String(Digests.sha256Hex(Array(identity.utf8)).prefix(32)))
    }

    static func field(_ credentials: DynamicsCredentials) -> String { "token:\(credentials.clientId)@\(credentials.audience)" }

    public func load(_ credentials: DynamicsCredentials) async -> AccessToken? {
        guard let entry = try? await store.getJSON(Entry.self, Self.storeKey(credentials))?.value, clock.now() < entry.refreshAt,
              let value = try? entry.sealed.open(connection: "token-cache", field: Self.field(credentials), key: key) else { return nil }
        return AccessToken(value: value.reveal(), refreshAt: entry.refreshAt)
    }

    public func save(_ token: AccessToken, for credentials: DynamicsCredentials) async {
        guard let sealed = try? SealedSecret.seal(SecretValue(token.value), connection: "token-cache", field: Self.field(credentials), key: key) else { return }
        let ttl = max(1, Int(token.refreshAt.timeIntervalSince(clock.now())))
        _ = try? await store.setJSON(Self.storeKey(credentials), Entry(sealed: sealed, refreshAt: token.refreshAt), ttl: .seconds(ttl))
    }
}
