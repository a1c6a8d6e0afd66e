import ConnectorConnections
import ConnectorCore
import DynamicsClient
import Foundation
import WooCommerceClient

/// `mlc connection ping`: proves each side's URL and credentials with one cheap authenticated
/// read, and says what to fix when one fails.
public struct ConnectionCheck: Sendable {
    public struct Result: Sendable {
        public var system: String
        public var ok: Bool
        public var detail: String
    }

    let remotes: any RemoteSystems

    public init(remotes: any RemoteSystems) { self.remotes = remotes }

    public func ping(_ connection: Connection) async -> [Result] {
        var results: [Result] = []
        do {
            let ping = try await remotes.woocommerce(connection).ping()
            results.append(Result(system: "WooCommerce", ok: true, detail: "\(connection.woocommerce.baseURL) answered in \(Int(ping.seconds * 1000)) ms (\(ping.orderCount.map { "\($0) orders" } ?? "orders readable"), auth \(connection.woocommerce.authMode.rawValue))"))
        } catch {
            results.append(Result(system: "WooCommerce", ok: false, detail: "\(error)"))
        }
        do {
            let fo = try remotes.dynamics(connection)
            // One customer row of the legal entity: proves the token, the app's F&O user and the company.
            let rows = try await fo.read(ODataQuery(FOEntity.customers, legalEntity: fo.legalEntity, select: ["CustomerAccount"], top: 1), as: FOCustomer.Account.self, maxPages: 1)
            results.append(Result(system: "F&O", ok: true, detail: "\(connection.dynamics.environmentURL) legal entity \(fo.legalEntity): token accepted, customers readable (\(rows.count) read)"))
        } catch {
            results.append(Result(system: "F&O", ok: false, detail: "\(error)"))
        }
        return results
    }
}

extension FOCustomer {
    /// Just the account, for existence reads.
    public struct Account: Decodable, Sendable { public var CustomerAccount: String }
}
