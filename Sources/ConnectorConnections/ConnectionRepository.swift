import ConnectorCore
import ConnectorStore
import Crypto
import Foundation

/// How a connection is kept in the store: the settings with every secret blanked, and the
/// secrets sealed beside them.
struct ConnectionRecord: Codable {
    var schemaVersion: Int
    var connection: Connection
    var sealed: [String: SealedSecret]
    var createdAt: Date
    var updatedAt: Date
}

/// What `mlc connection list` shows: nothing sealed is opened for it.
public struct ConnectionSummary: Sendable {
    public var id: String
    public var storeURL: String
    public var environmentURL: String
    public var legalEntity: String
    public var referencePrefix: String
    public var sandbox: Bool
    public var keyIDs: Set<String>
}

/// Connections in the store. Secrets are sealed on the way in and opened on the way out; a
/// connection whose secrets cannot be opened is an error that names the key, never a crash.
public struct ConnectionRepository: Sendable {
    private let store: any KeyValueStore
    private let clock: any WallClock

    public init(store: any KeyValueStore, clock: any WallClock = SystemWallClock()) {
        self.store = store
        self.clock = clock
    }

    /// Adds a new connection. Refuses an existing id, and a reference prefix already used by
    /// another connection on the same F&O environment and legal entity (SPEC §8: the keys
    /// written to F&O would collide). Generates the business-event code when none is given.
    public func add(_ connection: Connection, key: MasterKey) async throws {
        var connection = connection
        if connection.dynamics.businessEventCode.isEmpty {
            connection.dynamics.businessEventCode = Self.generateCode()
        }
        try await checkPrefixIsUnique(connection)
        try await checkKeyMatchesStore(key)
        let now = clock.now()
        let record = try seal(connection, key: key, createdAt: now, updatedAt: now)
        if case .exists = try await store.insertJSONIfAbsent(Keyspace.connection(connection.id), record) {
            throw ConnectorError.alreadyExists("connection '\(connection.id)' already exists", fix: "use: mlc connection update --file F")
        }
    }

    /// Replaces an existing connection's settings and secrets. A business-event code left out of
    /// the file keeps the stored one.
    public func update(_ connection: Connection, key: MasterKey) async throws {
        guard let (stored, version) = try await store.getJSON(ConnectionRecord.self, Keyspace.connection(connection.id)) else {
            throw ConnectorError.notFound("connection '\(connection.id)' does not exist", fix: "use: mlc connection add --file F")
        }
        // Opening the stored record proves the key is the one it was sealed with: an update must
        // never silently re-seal a connection under another key (only `key rotate` does that).
        let current = try open(stored, key: key)
        var connection = connection
        if connection.dynamics.businessEventCode.isEmpty {
            connection.dynamics.businessEventCode = current.dynamics.businessEventCode
        }
        try await checkPrefixIsUnique(connection)
        let record = try seal(connection, key: key, createdAt: stored.createdAt, updatedAt: clock.now())
        guard case .swapped = try await store.compareAndSwapJSON(Keyspace.connection(connection.id), expectedVersion: version, record) else {
            throw ConnectorError.conflict("connection '\(connection.id)' changed while it was being updated", fix: "run the update again")
        }
    }

    /// Replaces one secret (`woocommerce.webhookSecret`, `dynamics.clientSecret`, …).
    public func setSecret(_ id: String, field: String, value: SecretValue, key: MasterKey) async throws {
        guard Connection.secretFields.contains(where: { $0.name == field }) else {
            throw ConnectorError.invalidInput("'\(field)' is not a secret field", fix: "use one of: \(Connection.secretFields.map(\.name).joined(separator: ", "))")
        }
        guard !value.isEmpty else { throw ConnectorError.invalidInput("the new value of \(field) is empty") }
        guard let (stored, version) = try await store.getJSON(ConnectionRecord.self, Keyspace.connection(id)) else {
            throw ConnectorError.notFound("connection '\(id)' does not exist")
        }
        var record = stored
        // Every other secret must still open under this key: a record never mixes keys.
        _ = try open(stored, key: key)
        record.sealed[field] = try SealedSecret.seal(value, connection: id, field: field, key: key)
        record.updatedAt = clock.now()
        guard case .swapped = try await store.compareAndSwapJSON(Keyspace.connection(id), expectedVersion: version, record) else {
            throw ConnectorError.conflict("connection '\(id)' changed while its secret was being set", fix: "run the command again")
        }
    }

    /// Re-seals `id`'s secrets from `old` to `new` in one compare-and-swap (all of the
    /// connection's secrets move together, or none). Returns false when they were already under
    /// `new`, so an interrupted rotation can simply be run again.
    public func reseal(_ id: String, from old: MasterKey, to new: MasterKey) async throws -> Bool {
        guard let (stored, version) = try await store.getJSON(ConnectionRecord.self, Keyspace.connection(id)) else {
            throw ConnectorError.notFound("connection '\(id)' does not exist")
        }
        let kids = Set(stored.sealed.values.map(\.kid))
        if kids == [new.id] { return false }
        let opened = try open(stored, key: old)
        let record = try seal(opened, key: new, createdAt: stored.createdAt, updatedAt: clock.now())
        guard case .swapped = try await store.compareAndSwapJSON(Keyspace.connection(id), expectedVersion: version, record) else {
            throw ConnectorError.conflict("connection '\(id)' changed during the rotation", fix: "run mlc key rotate again")
        }
        return true
    }

    /// The connection with its secrets opened.
    public func load(_ id: String, key: MasterKey) async throws -> Connection {
        guard let (record, _) = try await store.getJSON(ConnectionRecord.self, Keyspace.connection(id)) else {
            throw ConnectorError.notFound("connection '\(id)' does not exist", fix: "list them with: mlc connection list")
        }
        return try open(record, key: key)
    }

    /// The connection with every secret replaced by a mask; needs no master key.
    public func loadMasked(_ id: String) async throws -> (connection: Connection, keyIDs: Set<String>) {
        guard let (record, _) = try await store.getJSON(ConnectionRecord.self, Keyspace.connection(id)) else {
            throw ConnectorError.notFound("connection '\(id)' does not exist", fix: "list them with: mlc connection list")
        }
        var connection = record.connection
        for field in Connection.secretFields {
            connection[keyPath: field.keyPath] = SecretValue(record.sealed[field.name] == nil ? "" : "•••••• (sealed)")
        }
        return (connection, Set(record.sealed.values.map(\.kid)))
    }

    public func exists(_ id: String) async throws -> Bool {
        try await store.get(Keyspace.connection(id)) != nil
    }

    public func list() async throws -> [ConnectionSummary] {
        try await store.listAll(prefix: Keyspace.connections).compactMap { stored in
            guard let record = try? StoreJSON.decoder.decode(ConnectionRecord.self, from: Data(stored.value)) else { return nil }
            let c = record.connection
            return ConnectionSummary(id: c.id, storeURL: c.woocommerce.baseURL, environmentURL: c.dynamics.environmentURL,
                                     legalEntity: c.dynamics.legalEntity, referencePrefix: c.orders.referencePrefix,
                                     sandbox: c.sandbox, keyIDs: Set(record.sealed.values.map(\.kid)))
        }
    }

    /// Removes the connection and its transient records. Order links and cursors stay unless
    /// `purge`, so re-adding the connection can never post an order twice.
    /// Returns how many records were removed.
    @discardableResult
    public func remove(_ id: String, purge: Bool) async throws -> Int {
        guard try await store.delete(Keyspace.connection(id)) else {
            throw ConnectorError.notFound("connection '\(id)' does not exist")
        }
        var removed = 1
        if try await store.delete(Keyspace.connectionState(id)) { removed += 1 }
        var prefixes = Keyspace.removablePrefixes(id)
        if purge { prefixes += Keyspace.durablePrefixes(id) }
        for prefix in prefixes {
            while true {
                let page = try await store.list(prefix: prefix, after: nil, limit: 500)
                for item in page.items where try await store.delete(item.key) { removed += 1 }
                if page.items.isEmpty || page.nextCursor == nil { break }
            }
        }
        return removed
    }

    /// One store, one master key: a connection sealed under another key than the others would
    /// leave every function able to open only some of them.
    private func checkKeyMatchesStore(_ key: MasterKey) async throws {
        for other in try await list() where !other.keyIDs.isEmpty && other.keyIDs != [key.id] {
            throw ConnectorError.masterKey(
                "connection '\(other.id)' in this store is sealed with master key \(other.keyIDs.sorted().joined(separator: ", ")), but the key given is \(key.id)",
                fix: "set MLC_MASTER_KEY (or MLC_MASTER_KEY_FILE) to this store's key")
        }
    }

    private func checkPrefixIsUnique(_ connection: Connection) async throws {
        for other in try await list() where other.id != connection.id {
            if other.environmentURL == connection.dynamics.environmentURL && other.legalEntity == connection.dynamics.legalEntity
                && other.referencePrefix.uppercased() == connection.orders.referencePrefix.uppercased() {
                throw ConnectorError.invalidConfiguration(
                    "orders.referencePrefix '\(connection.orders.referencePrefix)' is already used by connection '\(other.id)' in legal entity \(other.legalEntity) of \(other.environmentURL)",
                    fix: "give each connection in one legal entity its own prefix, or the keys they write to F&O collide")
            }
        }
    }

    private func seal(_ connection: Connection, key: MasterKey, createdAt: Date, updatedAt: Date) throws -> ConnectionRecord {
        var blanked = connection
        var sealed: [String: SealedSecret] = [:]
        for field in Connection.secretFields {
            sealed[field.name] = try SealedSecret.seal(connection[keyPath: field.keyPath], connection: connection.id, field: field.name, key: key)
            blanked[keyPath: field.keyPath] = SecretValue("")
        }
        return ConnectionRecord(schemaVersion: Connection.currentSchemaVersion, connection: blanked, sealed: sealed, createdAt: createdAt, updatedAt: updatedAt)
    }

    private func open(_ record: ConnectionRecord, key: MasterKey) throws -> Connection {
        var connection = record.connection
        for field in Connection.secretFields {
            guard let sealed = record.sealed[field.name] else {
                if Connection.optionalSecretFields.contains(field.name) {
                    connection[keyPath: field.keyPath] = SecretValue("")
                    continue
                }
                throw ConnectorError.sealing("connection \(connection.id) has no sealed \(field.name)", fix: "set it with: mlc connection set-secret \(connection.id) \(field.name)")
            }
            connection[keyPath: field.keyPath] = try sealed.open(connection: connection.id, field: field.name, key: key)
        }
        return connection
    }

    /// 32 random bytes, base64url without padding (43 characters, safe in a query string).
    static func generateCode() -> SecretValue {
        let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        let text = bytes.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
        return SecretValue(text)
    }
}
