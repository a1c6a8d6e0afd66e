import ConnectorFlows
import DynamicsClient
import Foundation

// Changes made the way F&O users make them, through the OData API (this file imports only the
// client module: the emulator has an `ODataValue` of its own).
extension CatalogHarness {
    /// PATCHes a released product's base sales price.
    func setSalesPrice(_ item: String, _ price: Decimal) async throws {
        let client = try remotes.dynamics(connection)
        try await client.update(ODataKey(FOEntity.releasedProducts, ["dataAreaId": .string("usmf"), "ItemNumber": .string(item)]),
                                ODataRecord(["SalesPrice": .decimal(price)]))
    }
}

extension CatalogHarness {
    /// PATCHes a released product's item group (out of "Web" = no longer web-sellable).
    func setItemGroup(_ item: String, _ group: String) async throws {
        let client = try remotes.dynamics(connection)
        try await client.update(ODataKey(FOEntity.releasedProducts, ["dataAreaId": .string("usmf"), "ItemNumber": .string(item)]),
                                ODataRecord(["ProductGroupId": .string(group)]))
    }
}
