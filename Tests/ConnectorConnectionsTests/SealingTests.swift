import ConnectorConnections
import ConnectorCore
import ConnectorStore
import ConnectorStoreSQLite
import ConnectorTestSupport
import Foundation
import Testing

@Suite("Sealed connections")
struct SealingTests {
    let key = MasterKey.generate()

    @Test func secretsRoundTripAndShowMasksThem() async throws {
        let store = MemoryStore()
        let repo = ConnectionRepository(store: store)
        let c = try TestConnections.make(id: "acme", webhookSecret: "whsec-acme-1234")
        try await repo.add(c, key: key)
        let loaded = try await repo.load("acme", key: key)
        #expect(loaded.woocommerce.webhookSecret.reveal() == "whsec-acme-1234")
        #expect(loaded.dynamics.clientSecret.reveal() == "test-client-secret-value")
        #expect(loaded.dynamics.businessEventCode.reveal().count >= 43, "a code of 32 random bytes is generated")
        let (masked, kids) = try await repo.loadMasked("acme")
        let text = String(decoding: try JSONEncoder().encode(masked), as: UTF8.self)
        for secret in ["whsec-acme-1234", "test-client-secret-value", "cs_test_consumer_secret", "ck_test_acme", loaded.dynamics.businessEventCode.reveal()] {
            #expect(!text.contains(secret))
        }
        #expect(kids == [key.id])
        #expect("\(loaded.woocommerce.webhookSecret)" == "••••••")
    }

    @Test("a sealed secret moved to another connection's record, or another field, fails to open")
    func sealedSecretIsBoundToConnectionAndField() async throws {
        let store = MemoryStore()
        let repo = ConnectionRepository(store: store)
        try await repo.add(try TestConnections.make(id: "alpha", webhookSecret: "alpha-secret", prefix: "AA"), key: key)
        try await repo.add(try TestConnections.make(id: "beta", webhookSecret: "beta-secret", prefix: "BB"), key: key)
        func record(_ id: String) async throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: Data(try #require(try await store.get(Keyspace.connection(id))).value)) as! [String: Any]
        }
        var beta = try await record("beta")
        let alpha = try await record("alpha")
        var sealed = beta["sealed"] as! [String: Any]
        sealed["woocommerce.webhookSecret"] = (alpha["sealed"] as! [String: Any])["woocommerce.webhookSecret"]
        beta["sealed"] = sealed
        try await store.set(Keyspace.connection("beta"), Array(try JSONSerialization.data(withJSONObject: beta)))
        await #expect(throws: ConnectorError.sealing) { _ = try await repo.load("beta", key: key) }

        var alphaRecord = try await record("alpha")
        var alphaSealed = alphaRecord["sealed"] as! [String: Any]
        alphaSealed["dynamics.clientSecret"] = alphaSealed["woocommerce.webhookSecret"]
        alphaRecord["sealed"] = alphaSealed
        try await store.set(Keyspace.connection("alpha"), Array(try JSONSerialization.data(withJSONObject: alphaRecord)))
        do {
            _ = try await repo.load("alpha", key: key)
            Issue.record("a secret moved to another field opened")
        } catch let error as ConnectorError {
            #expect(error == .sealing)
            #expect(error.description.contains("dynamics.clientSecret"))
        }
    }

    @Test("a wrong master key is one clear error naming both key ids")
    func wrongMasterKey() async throws {
        let store = MemoryStore()
        let repo = ConnectionRepository(store: store)
        try await repo.add(try TestConnections.make(id: "acme", webhookSecret: "w"), key: key)
        let other = MasterKey.generate()
        do {
            _ = try await repo.load("acme", key: other)
            Issue.record("opened with the wrong key")
        } catch let error as ConnectorError {
            #expect(error == .masterKey)
            #expect(error.description.contains(key.id) && error.description.contains(other.id))
            #expect(error.description.contains("MLC_MASTER_KEY"))
        }
    }

    @Test("update and add refuse a master key other than the store's")
    func keyMismatchIsRefused() async throws {
        let repo = ConnectionRepository(store: MemoryStore())
        try await repo.add(try TestConnections.make(id: "acme", webhookSecret: "w", prefix: "AA"), key: key)
        let other = MasterKey.generate()
        await #expect(throws: ConnectorError.masterKey) { try await repo.update(try TestConnections.make(id: "acme", webhookSecret: "w2", prefix: "AA"), key: other) }
        await #expect(throws: ConnectorError.masterKey) { try await repo.add(try TestConnections.make(id: "beta", webhookSecret: "w", prefix: "BB"), key: other) }
        #expect(try await repo.load("acme", key: key).woocommerce.webhookSecret.reveal() == "w", "nothing was re-sealed")
    }

    @Test func masterKeyFromEnvironment() throws {
        #expect(throws: ConnectorError.masterKey) { try MasterKey.fromEnvironment([:]) }
        #expect(throws: ConnectorError.masterKey) { try MasterKey.fromEnvironment(["MLC_MASTER_KEY": "not base64!"]) }
        #expect(throws: ConnectorError.masterKey) { try MasterKey.fromEnvironment(["MLC_MASTER_KEY": Data(repeating: 1, count: 16).base64EncodedString()]) }
        #expect(throws: ConnectorError.masterKey) { try MasterKey.fromEnvironment(["MLC_MASTER_KEY_FILE": "/nonexistent/key"]) }
        let bytes = Data(repeating: 7, count: 32)
        let fromEnv = try MasterKey.fromEnvironment(["MLC_MASTER_KEY": bytes.base64EncodedString()])
        let file = TemporaryDirectory.make().appendingPathComponent("key")
        try (bytes.base64EncodedString() + "\n").write(to: file, atomically: true, encoding: .utf8)
        #expect(try MasterKey.fromEnvironment(["MLC_MASTER_KEY_FILE": file.path]).id == fromEnv.id)
        try bytes.write(to: file)
        #expect(try MasterKey.fromEnvironment(["MLC_MASTER_KEY_FILE": file.path]).id == fromEnv.id)
    }

    @Test("a reference prefix is unique per legal entity across connections")
    func prefixUniqueness() async throws {
        let repo = ConnectionRepository(store: MemoryStore())
        try await repo.add(try TestConnections.make(id: "one", webhookSecret: "w", prefix: "WC"), key: key)
        await #expect(throws: ConnectorError.invalidConfiguration) {
            try await repo.add(try TestConnections.make(id: "two", webhookSecret: "w", prefix: "wc"), key: key)
        }
        try await repo.add(try TestConnections.make(id: "three", webhookSecret: "w", prefix: "WC", legalEntity: "demf"), key: key)
        try await repo.add(try TestConnections.make(id: "four", webhookSecret: "w", prefix: "W2"), key: key)
        await #expect(throws: ConnectorError.alreadyExists) {
            try await repo.add(try TestConnections.make(id: "four", webhookSecret: "w", prefix: "W3"), key: key)
        }
    }

    @Test func updateSetSecretAndRemove() async throws {
        let store = MemoryStore()
        let repo = ConnectionRepository(store: store)
        try await repo.add(try TestConnections.make(id: "acme", webhookSecret: "old"), key: key)
        let code = try await repo.load("acme", key: key).dynamics.businessEventCode
        try await repo.update(try TestConnections.make(id: "acme", webhookSecret: "newer"), key: key)
        let updated = try await repo.load("acme", key: key)
        #expect(updated.woocommerce.webhookSecret.reveal() == "newer")
        #expect(updated.dynamics.businessEventCode == code, "a code left out of the file is kept")
        try await repo.setSecret("acme", field: "woocommerce.webhookSecret", value: SecretValue("rotated"), key: key)
        #expect(try await repo.load("acme", key: key).woocommerce.webhookSecret.reveal() == "rotated")
        await #expect(throws: ConnectorError.invalidInput) { try await repo.setSecret("acme", field: "woocommerce.baseURL", value: SecretValue("x"), key: key) }
        await #expect(throws: ConnectorError.notFound) { try await repo.update(try TestConnections.make(id: "ghost", webhookSecret: "w"), key: key) }

        try await store.set(Keyspace.orderLinks("acme") + "1", Array("SO-1".utf8))
        try await store.set(Keyspace.cursors("acme") + "orders", Array("t".utf8))
        try await store.set(Keyspace.pending("acme", kind: "order", resourceID: "1"), Array("p".utf8))
        try await repo.remove("acme", purge: false)
        #expect(try await repo.exists("acme") == false)
        #expect(try await store.listAll(prefix: Keyspace.orderLinks("acme")).count == 1)
        #expect(try await store.listAll(prefix: Keyspace.cursors("acme")).count == 1)
        #expect(try await store.listAll(prefix: Keyspace.pending("acme")).isEmpty)
        try await repo.add(try TestConnections.make(id: "acme", webhookSecret: "again"), key: key)
        try await repo.remove("acme", purge: true)
        #expect(try await store.listAll(prefix: Keyspace.orderLinks("acme")).isEmpty)
        #expect(try await store.listAll(prefix: Keyspace.cursors("acme")).isEmpty)
    }

    @Test("the SQLite file holds no secret in clear")
    func noSecretInTheStoreFile() async throws {
        let path = TemporaryDirectory.make().appendingPathComponent("state.sqlite").path
        let store = try await SQLiteStore.open(path: path)
        let repo = ConnectionRepository(store: store)
        let c = try TestConnections.make(id: "acme", webhookSecret: "webhook-secret-in-clear-XYZ", consumerSecret: "cs_consumer-secret-in-clear", clientSecret: "client-secret-in-clear")
        try await repo.add(c, key: key)
        let code = try await repo.load("acme", key: key).dynamics.businessEventCode.reveal()
        try await store.close()
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        if let wal = try? Data(contentsOf: URL(fileURLWithPath: path + "-wal")) { bytes.append(wal) }
        for secret in ["webhook-secret-in-clear-XYZ", "cs_consumer-secret-in-clear", "client-secret-in-clear", "ck_test_acme", code] {
            #expect(bytes.range(of: Data(secret.utf8)) == nil, "found a secret in clear")
        }
        #expect(bytes.range(of: Data("acme".utf8)) != nil, "the scan reads the real file")
    }
}

@Suite("Key rotation")
struct KeyRotationTests {
    @Test("re-sealing moves every secret of a connection to the new key, and can be run again")
    func reseal() async throws {
        let store = MemoryStore()
        let repo = ConnectionRepository(store: store)
        let old = MasterKey.generate(), new = MasterKey.generate()
        try await repo.add(try TestConnections.make(id: "one", webhookSecret: "w1", prefix: "A1"), key: old)
        try await repo.add(try TestConnections.make(id: "two", webhookSecret: "w2", prefix: "A2"), key: old)
        #expect(try await repo.reseal("one", from: old, to: new))
        // Interrupted here: the store is mixed, and adding is refused until rotation finishes.
        await #expect(throws: ConnectorError.masterKey) { try await repo.add(try TestConnections.make(id: "three", webhookSecret: "w3", prefix: "A3"), key: new) }
        #expect(try await repo.reseal("one", from: old, to: new) == false, "already moved: skipped")
        #expect(try await repo.reseal("two", from: old, to: new))
        #expect(try await repo.load("one", key: new).woocommerce.webhookSecret.reveal() == "w1")
        #expect(try await repo.load("two", key: new).dynamics.clientSecret.reveal() == "test-client-secret-value")
        await #expect(throws: ConnectorError.masterKey) { _ = try await repo.load("two", key: old) }
        try await repo.add(try TestConnections.make(id: "three", webhookSecret: "w3", prefix: "A3"), key: new)
    }

    @Test("mlc key rotate re-seals a SQLite store, leaves no secret in clear, and refuses the same key twice")
    func rotateCommand() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let dir = TemporaryDirectory.make()
        let path = dir.appendingPathComponent("state.sqlite").path
        let oldKey = Data((0..<32).map { UInt8($0) }).base64EncodedString()
        let newKey = Data((0..<32).map { UInt8(255 - $0) }).base64EncodedString()
        let oldFile = dir.appendingPathComponent("old.key")
        try oldKey.write(to: oldFile, atomically: true, encoding: .utf8)
        let connectionFile = dir.appendingPathComponent("c.json")
        try Data("""
            {"schemaVersion":1,"id":"acme","woocommerce":{"baseURL":"https://shop.example.com","consumerKey":"ck_rot","consumerSecret":"cs_rotation-secret","webhookSecret":"whsec-rotation"},
             "dynamics":{"environmentURL":"https://acme.operations.dynamics.com","tenantId":"t","clientId":"c","clientSecret":"client-rotation-secret","legalEntity":"usmf"}}
            """.utf8).write(to: connectionFile)
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", connectionFile.path], environment: ["MLC_STORE_URL": "sqlite:" + path, "MLC_MASTER_KEY": oldKey])
        #expect(add.status == 0, "\(add.stderr)")
        let rotate = try await ProcessRunner.run(mlc, ["key", "rotate", "--old-key-file", oldFile.path], environment: ["MLC_STORE_URL": "sqlite:" + path, "MLC_MASTER_KEY": newKey])
        #expect(rotate.status == 0, "\(rotate.stderr)")
        #expect(rotate.stdout.contains("re-sealed 1 connection"))
        let again = try await ProcessRunner.run(mlc, ["key", "rotate", "--old-key-file", oldFile.path], environment: ["MLC_STORE_URL": "sqlite:" + path, "MLC_MASTER_KEY": newKey])
        #expect(again.status == 0)
        #expect(again.stdout.contains("re-sealed 0 connection(s)") && again.stdout.contains("1 already under"))
        let same = try await ProcessRunner.run(mlc, ["key", "rotate", "--old-key-file", oldFile.path], environment: ["MLC_STORE_URL": "sqlite:" + path, "MLC_MASTER_KEY": oldKey])
        #expect(same.status == 1)
        #expect(same.stderr.contains("the same"))
        let show = try await ProcessRunner.run(mlc, ["connection", "show", "acme"], environment: ["MLC_STORE_URL": "sqlite:" + path])
        #expect(show.stdout.contains("sealed under master key \(try MasterKey(bytes: Array(Data(base64Encoded: newKey)!)).id)"))
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        if let wal = try? Data(contentsOf: URL(fileURLWithPath: path + "-wal")) { bytes.append(wal) }
        for secret in ["cs_rotation-secret", "whsec-rotation", "client-rotation-secret"] {
            #expect(bytes.range(of: Data(secret.utf8)) == nil)
        }
    }
}
