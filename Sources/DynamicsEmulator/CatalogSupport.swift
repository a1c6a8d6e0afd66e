import Foundation

// Two behaviours the catalog push is tested against: on-hand reservation by new sales-order
// lines (F&O's automatic reservation), and the partial-read fault.

extension DataStore {
    /// A new sales-order line reserves physical stock, as F&O's automatic reservation does:
    /// `AvailableOnHandQuantity` of the item's `WarehousesOnHandV2` row (same product dimensions;
    /// the line's `ShippingWarehouseId`, else the first row with stock, else the first row) drops
    /// by the ordered quantity — at most what is available — and `ReservedOnHandQuantity` rises
    /// by as much. No row, nothing reserved (a non-stock item such as freight).
    mutating func reserveOnHand(for line: [String: ODataValue], company: String) {
        let quantity = line["OrderedSalesQuantity"]?.decimalValue ?? 0
        guard quantity > 0, let item = line["ItemNumber"]?.stringValue else { return }
        let dimensions = ["ProductColorId", "ProductSizeId", "ProductStyleId", "ProductConfigurationId"]
        let rows = tables["WarehousesOnHandV2", default: []]
        let candidates = rows.indices.filter { i in
            string(rows[i], "dataAreaId") == company && string(rows[i], "ItemNumber").caseInsensitiveCompare(item) == .orderedSame
                && dimensions.allSatisfy { string(rows[i], $0).caseInsensitiveCompare(line[$0]?.stringValue ?? "") == .orderedSame }
        }
        let warehouse = line["ShippingWarehouseId"]?.stringValue ?? ""
        let chosen = (warehouse.isEmpty ? nil : candidates.first { string(rows[$0], "InventoryWarehouseId").caseInsensitiveCompare(warehouse) == .orderedSame })
            ?? candidates.first { decimal(rows[$0], "AvailableOnHandQuantity") > 0 } ?? candidates.first
        guard let index = chosen else { return }
        let available = decimal(rows[index], "AvailableOnHandQuantity")
        let reserved = min(quantity, max(0, available))
        guard reserved > 0 else { return }
        tables["WarehousesOnHandV2"]![index].values["AvailableOnHandQuantity"] = .number(available - reserved)
        tables["WarehousesOnHandV2"]![index].values["ReservedOnHandQuantity"] = .number(decimal(rows[index], "ReservedOnHandQuantity") + reserved)
        tables["WarehousesOnHandV2"]![index].recVersion += 1
    }
}

extension DynamicsEmulator {
    /// The rows a collection read returns under ``Faults/truncateReads``: the first share of
    /// them (0 = none), as a read cut short or a half-refreshed aggregate would.
    func truncatedForFault(_ rows: [StoredRow], entitySet: String) -> [StoredRow] {
        guard let share = readTruncation.withLock({ $0[entitySet] }) else { return rows }
        let kept = Int((Double(rows.count) * min(1, max(0, share))).rounded(.down))
        return Array(rows.prefix(kept))
    }
}
