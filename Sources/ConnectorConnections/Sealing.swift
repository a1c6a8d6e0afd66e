import ConnectorCore
import Crypto
import Foundation

/// The 256-bit key every stored secret is sealed under (SPEC §6).
public struct MasterKey: Sendable {
    private let bytes: [UInt8]
    var key: SymmetricKey { SymmetricKey(data: bytes) }
    /// A short public fingerprint stored beside each sealed value, so a wrong key is named as
    /// such instead of failing as "corrupt data", and `mlc key rotate` knows what to re-seal.
    public let id: String

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw ConnectorError.masterKey("the master key must be 32 bytes, got \(bytes.count)", fix: "generate one with: head -c 32 /dev/urandom | base64")
        }
        self.bytes = bytes
        id = "k" + Digests.hex(SHA256.hash(data: Array("ml-connector master key id".utf8) + bytes).prefix(6))
    }

    /// A fresh random key (the demo's ephemeral key).
    public static func generate() -> MasterKey {
        try! MasterKey(bytes: SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) })
    }

    /// The key as base64, for printing a freshly generated key once.
    public var base64: String { Data(bytes).base64EncodedString() }

    /// Loads the key from `MLC_MASTER_KEY` (base64 of 32 bytes) or `MLC_MASTER_KEY_FILE` (a
    /// file holding the same base64 text, or the 32 raw bytes).
    public static func fromEnvironment(_ environment: [String: String]) throws -> MasterKey {
        if let text = environment["MLC_MASTER_KEY"], !text.isEmpty {
            guard let bytes = Data(base64Encoded: String(Formatting.trimmedSpaces(text, andNewlines: true))) else {
                throw ConnectorError.masterKey("MLC_MASTER_KEY is not base64", fix: "set it to the base64 of 32 random bytes (head -c 32 /dev/urandom | base64)")
            }
            return try MasterKey(bytes: Array(bytes))
        }
        if let path = environment["MLC_MASTER_KEY_FILE"], !path.isEmpty {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ConnectorError.masterKey("MLC_MASTER_KEY_FILE names \(path), which cannot be read", fix: "check the path and its permissions")
            }
            if data.count == 32 { return try MasterKey(bytes: Array(data)) }
            let text = String(Formatting.trimmedSpaces(String(decoding: data, as: UTF8.self), andNewlines: true))
            guard let bytes = Data(base64Encoded: text) else {
                throw ConnectorError.masterKey("MLC_MASTER_KEY_FILE \(path) holds neither 32 raw bytes nor their base64")
            }
            return try MasterKey(bytes: Array(bytes))
        }
        throw ConnectorError.masterKey("no master key: set MLC_MASTER_KEY or MLC_MASTER_KEY_FILE", fix: "generate one with: head -c 32 /dev/urandom | base64")
    }
}

/// A secret sealed with AES-256-GCM. The associated data binds it to one connection and one
/// field, so a ciphertext copied into another record or field fails to open.
public struct SealedSecret: Sendable, Codable, Equatable {
    /// The id of the master key that sealed it.
    public var kid: String
    /// base64 of nonce ‖ ciphertext ‖ tag.
    public var box: String

    static func associatedData(connection: String, field: String) -> [UInt8] {
        Array("ml-connector/v1\u{0}\(connection)\u{0}\(field)".utf8)
    }

    public static func seal(_ secret: SecretValue, connection: String, field: String, key: MasterKey) throws -> SealedSecret {
        do {
            let box = try AES.GCM.seal(Array(secret.reveal().utf8), using: key.key, authenticating: associatedData(connection: connection, field: field))
            guard let combined = box.combined else { throw ConnectorError.sealing("AES-GCM produced no combined box") }
            return SealedSecret(kid: key.id, box: combined.base64EncodedString())
        } catch let error as ConnectorError {
            throw error
        } catch {
            throw ConnectorError.sealing("cannot seal \(field) of connection \(connection)")
        }
    }

    public func open(connection: String, field: String, key: MasterKey) throws -> SecretValue {
        guard kid == key.id else {
            throw ConnectorError.masterKey("connection \(connection)'s secrets were sealed with master key \(kid), but the key given is \(key.id)", fix: "set MLC_MASTER_KEY (or MLC_MASTER_KEY_FILE) to the key used when the connection was added")
        }
        guard let data = Data(base64Encoded: box), let sealed = try? AES.GCM.SealedBox(combined: data),
              let plain = try? AES.GCM.open(sealed, using: key.key, authenticating: Self.associatedData(connection: connection, field: field)),
              let text = String(validating: Array(plain), as: UTF8.self) else {
            throw ConnectorError.sealing("the sealed \(field) of connection \(connection) does not open: it was altered or belongs to another connection or field", fix: "set it again with: mlc connection set-secret \(connection) \(field)")
        }
        return SecretValue(text)
    }
}
