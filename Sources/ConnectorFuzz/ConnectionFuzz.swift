import ConnectorConnections
import ConnectorCore
import Foundation

/// A connection file as `mlc connection add --file` reads it.
enum ConnectionFuzz {
    static let source = "fuzz-connection.json"

    static func run(_ input: [UInt8]) -> FuzzFinding? {
        func finding(_ what: String) -> FuzzFinding { FuzzFinding(.connection, what + " (input \(excerpt(input)))") }

        let connection: Connection
        do {
            connection = try ConnectionFile.parse(Data(input), source: source)
        } catch let error as ConnectorError {
            guard error == .invalidConfiguration else { return finding("a \(error.label) error, not invalid configuration: \(error)") }
            guard error.message.hasPrefix(source + ": ") else { return finding("an error that does not name the file: \(error)") }
            return nil
        } catch {
            return finding("parse threw \(type(of: error)), not ConnectorError: \(error)")
        }
        guard ConnectionID.isValid(connection.id) else { return finding("accepted the invalid id \(connection.id)") }
        guard connection.dynamics.legalEntity == connection.dynamics.legalEntity.lowercased(),
              !connection.dynamics.environmentURL.hasSuffix("/"), !connection.dynamics.authorityHost.hasSuffix("/") else {
            return finding("a parsed connection is not normalised")
        }
        // What parse accepted is a valid connection: written out (secrets in clear, as a sandbox
        // file is written) it reads back as itself.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.userInfo[.revealSecrets] = true
        do {
            let written = try encoder.encode(connection)
            let again = try ConnectionFile.parse(written, source: source)
            guard again == connection else { return finding("the written connection reads back different: \(excerpt(written, limit: 300))") }
        } catch {
            return finding("the parsed connection does not write and read back: \(error)")
        }
        return nil
    }
}
