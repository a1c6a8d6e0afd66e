@testable import ConnectorFuzz
import ConnectorCore
import ConnectorConnections
import DynamicsClient
import ConnectorSamples
import Foundation
import Testing
import WooCommerceAPI

/// The fuzz entries over every seed: the committed ones under fuzz/seeds/ (hand-made seeds and
/// every crasher saved there) and those taken from the real fixtures, so a crash the fuzzer
/// once found stays a regression test in the normal suite.
@Suite("Fuzz seeds replay")
struct FuzzSeedReplayTests {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static var fixtures: URL? {
        let url = repository.deletingLastPathComponent().appendingPathComponent("shared/fixtures")
        return FileManager.default.fileExists(atPath: url.path) ? url : nil
    }

    @Test("every seed of every target keeps every invariant", arguments: FuzzTarget.allCases)
    func seedsKeepInvariants(target: FuzzTarget) throws {
        let seeds = try #require(try FuzzSeeds.all(repository: Self.repository, fixtures: Self.fixtures)[target])
        #expect(seeds.count >= 4, "too few \(target) seeds")
        for seed in seeds {
            #expect(target.run(seed.bytes) == nil, "\(seed.name)")
        }
    }

    @Test("the delivery seeds are the real captures and classify as WooCommerce sent them")
    func deliverySeedsAreReal() throws {
        let seeds = try #require(try FuzzSeeds.all(repository: Self.repository, fixtures: Self.fixtures)[.delivery])
        for delivery in try Samples.realDeliveries() {
            #expect(seeds.contains { $0.bytes == delivery.body }, "\(delivery.name) is not a seed")
        }
        let resources = seeds.filter { if case .resource = DeliveryBody.classify($0.bytes) { true } else { false } }
        #expect(resources.count >= 20)
        #expect(seeds.contains { WebhookPing.webhookID(in: $0.bytes) != nil })
    }

    @Test("the CloudEvent seeds decode: every function's event files, structured and binary")
    func cloudEventSeedsDecode() throws {
        let seeds = try #require(try FuzzSeeds.all(repository: Self.repository, fixtures: Self.fixtures)[.cloudevent])
        var decoded = 0
        for seed in seeds {
            let (headers, body) = CloudEventFuzz.request(seed.bytes)
            if (try? CloudEventCodec.decode(headers: headers, body: body)) != nil { decoded += 1 }
        }
        // 6 event files × (structured + binary) + the committed ones.
        #expect(decoded >= 14, "only \(decoded) of \(seeds.count) CloudEvent seeds decode")
        #expect(seeds.contains { $0.name.hasPrefix("receiver-http-") }, "the receiver's plain HTTP requests are missing")
    }

    @Test("the connection seeds parse, and their fully written forms too")
    func connectionSeedsParse() throws {
        let seeds = try #require(try FuzzSeeds.all(repository: Self.repository, fixtures: Self.fixtures)[.connection])
        let parsed = seeds.filter { (try? ConnectionFile.parse(Data($0.bytes), source: $0.name)) != nil }
        #expect(parsed.count == seeds.count, "\(seeds.map(\.name)) vs \(parsed.map(\.name))")
        #expect(seeds.contains { $0.name.hasPrefix("written-") && String(decoding: $0.bytes, as: UTF8.self).contains("pollOverlapMinutes") })
    }

    @Test("the batch seeds parse into their parts")
    func batchSeedsParse() throws {
        let seeds = try #require(try FuzzSeeds.all(repository: Self.repository, fixtures: Self.fixtures)[.batch])
        var statuses: [Int] = []
        for seed in seeds {
            let (type, body) = BatchFuzz.answer(seed.bytes)
            statuses += try ODataBatch.parseResponse(contentType: type, body: Data(body)).map(\.status)
        }
        #expect(Set(statuses) == [200, 201, 204, 404, 429, 500])
    }

    @Test("replay reads directories and reports every input")
    func replayWalksDirectories() throws {
        let result = try FuzzReplay.replay(paths: [Self.repository.appendingPathComponent("fuzz/seeds/batch").path], target: .batch)
        #expect(result.inputs == 4)
        #expect(result.findings.isEmpty)
        #expect(throws: FuzzUsageError.self) { try FuzzReplay.replay(paths: ["/nonexistent/corpus"], target: .batch) }
    }
}
