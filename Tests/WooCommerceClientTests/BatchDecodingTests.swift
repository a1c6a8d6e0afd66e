import Foundation
import NIOCore
import Testing
@testable import WooCommerceClient

/// Batch answers are decoded one item at a time (so one product's `related_ids` is mapped at a
/// time, not a hundred products' at once); the result must be what decoding the whole answer gives.
@Suite struct BatchDecodingTests {
    let decoder = WooCommerceClient.makeDecoder()

    func itemByItem<Item: Decodable>(_ json: Data, as: Item.Type) throws -> WooBatchResult<Item> {
        try WooBatchResult<Item>.decodeItemByItem(ByteBuffer(data: json), decoder: decoder)
    }

    /// Ids and error codes per group, to compare two results.
    func shape<Item: Identifiable>(_ result: WooBatchResult<Item>) -> [[String]] where Item.ID == Int {
        [result.create, result.update, result.delete].map { group in
            group.map { $0.item.map { "id \($0.id)" } ?? "error \($0.error?.code ?? "?") \($0.error?.status ?? 0)" }
        }
    }

    @Test(arguments: ["products-batch-mixed-errors", "products-batch-invalid-enum-and-number-price"])
    func capturedProductBatchesDecodeAsAWhole(name: String) throws {
        let body = try Capture.load(name).body
        let whole = try decoder.decode(WooBatchResult<WooProduct>.self, from: body)
        let split = try itemByItem(body, as: WooProduct.self)
        #expect(shape(split) == shape(whole))
        #expect(split.create.map(\.item) == whole.create.map(\.item) && split.update.map(\.item) == whole.update.map(\.item))
        #expect(!whole.create.isEmpty || !whole.update.isEmpty, "the capture holds items")
    }

    @Test func capturedVariationBatchDecodesAsAWhole() throws {
        let body = try Capture.load("product-variations-batch-create").body
        let whole = try decoder.decode(WooBatchResult<WooVariation>.self, from: body)
        let split = try itemByItem(body, as: WooVariation.self)
        #expect(shape(split) == shape(whole) && !whole.create.isEmpty)
        #expect(split.create.map(\.item) == whole.create.map(\.item))
    }

    /// Brackets, commas, quotes and backslashes inside strings, nested lists, whitespace and
    /// members the result does not use.
    @Test func stringsAndNestedListsDoNotSplitItems() throws {
        let json = #"""
         { "note": "[not, a list]", "create" : [ {"id": 7, "sku": "A,]}[{", "name": "quote \" and \\", "related_ids": [1, [2, 3], {"x": "]"}], "type": "simple", "status": "draft"} ,
           {"id": 0, "error": {"code": "product_invalid_sku", "message": "Invalid or duplicated SKU.", "data": {"status": 400}}} ],
           "update": [], "delete": [ {"id": 9, "sku": "", "name": "gone", "type": "simple", "status": "trash"} ] }
        """#
        let ranges = try #require(Data(json.utf8).withUnsafeBytes { JSONArrayMembers.split($0) })
        #expect(ranges["create"]?.count == 2 && ranges["update"]?.count == 0 && ranges["delete"]?.count == 1)
        #expect(ranges["note"] == nil, "a string value is not an array member")

        struct Slim: Decodable, Sendable, Identifiable, Equatable { var id: Int; var sku: String; var name: String }
        let whole = try decoder.decode(WooBatchResult<Slim>.self, from: Data(json.utf8))
        let split = try itemByItem(Data(json.utf8), as: Slim.self)
        #expect(split.create.first?.item == Slim(id: 7, sku: "A,]}[{", name: #"quote " and \"#))
        #expect(split.create.last?.error?.code == "product_invalid_sku" && split.delete.first?.item?.id == 9)
        #expect(shape(split) == shape(whole))
    }

    /// What cannot be split, or an item that does not decode, fails exactly as the whole answer does.
    @Test func unreadableAnswersFailWithTheWholeAnswersError() throws {
        for json in [#"{"create":[{"id":1,"sku":"a","name":"b"}"#, #"{"create":[{"id":"one","sku":"a","name":"b"}]}"#, #"[{"id":1}]"#, #"{"create":[]} trailing"#] {
            struct Slim: Decodable, Sendable, Identifiable { var id: Int; var sku: String; var name: String }
            let wholeError = try #require(throws: (any Error).self) { try decoder.decode(WooBatchResult<Slim>.self, from: Data(json.utf8)) }
            let splitError = try #require(throws: (any Error).self) { try itemByItem(Data(json.utf8), as: Slim.self) }
            #expect(WooCommerceClient.describe(splitError) == WooCommerceClient.describe(wholeError), "\(json)")
        }
        #expect(Data(#"{"create":[{"id":1}"#.utf8).withUnsafeBytes { JSONArrayMembers.split($0) } == nil)
        #expect(Data(#"{"create":"[\"#.utf8).withUnsafeBytes { JSONArrayMembers.split($0) } == nil, "an unterminated string")
    }
}
