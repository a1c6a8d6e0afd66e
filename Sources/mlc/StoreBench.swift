import ArgumentParser
import ConnectorCore
import ConnectorRuntime
import ConnectorStore
import Foundation

/// Hidden: store round trips per second from N concurrent clients in this process, for
/// `bench/run store`. Every operation is durable, as in production.
struct StoreBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "store-bench", abstract: "Measure store operations per second (used by bench/run store).", shouldDisplay: false)

    enum Operation: String, ExpressibleByArgument, CaseIterable { case insert, lease, get }

    @Option(name: .customLong("store")) var storeURL: String
    @Option var operation: Operation
    @Option var clients: Int = 8
    @Option var seconds: Double = 5

    func run() async throws {
        let store = try await StoreFactory.open(storeURL)
        let run = UUID().uuidString.prefix(8)
        if operation == .get {
            for i in 0..<1000 { try await store.set("bench/\(run)/get/\(i)", Array(repeating: 0x61, count: 512)) }
        }
        let deadline = Date().addingTimeInterval(seconds)
        let started = Date()
        let counts = try await withThrowingTaskGroup(of: (Int, [Double]).self) { group in
            for client in 0..<clients {
                group.addTask {
                    var n = 0
                    var latencies: [Double] = []
                    while Date() < deadline {
                        let t0 = DispatchTime.now().uptimeNanoseconds
                        switch operation {
                        case .insert:
                            _ = try await store.insertIfAbsent("bench/\(run)/ins/\(client)/\(n)", Array(repeating: 0x61, count: 512))
                        case .lease:
                            let lease = try await store.acquireLease("bench/\(run)/lease/\(client)/\(n % 16)", owner: "c\(client)", ttl: .seconds(30))
                            if let held = lease.lease { _ = try await store.releaseLease(held) }
                        case .get:
                            _ = try await store.get("bench/\(run)/get/\(n % 1000)")
                        }
                        latencies.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1_000_000)
                        n += 1
                    }
                    return (n, latencies)
                }
            }
            return try await group.reduce(into: [(Int, [Double])]()) { $0.append($1) }
        }
        let elapsed = Date().timeIntervalSince(started)
        let total = counts.reduce(0) { $0 + $1.0 }
        let latencies = counts.flatMap(\.1).sorted()
        func percentile(_ p: Double) -> Double { latencies.isEmpty ? 0 : latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        try await store.close()
        print("{\"operation\":\"\(operation.rawValue)\",\"clients\":\(clients),\"operations\":\(total),\"seconds\":\(String(format: "%.3f", elapsed)),\"per_second\":\(String(format: "%.1f", Double(total) / elapsed)),\"p50_ms\":\(String(format: "%.3f", percentile(0.5))),\"p99_ms\":\(String(format: "%.3f", percentile(0.99)))}")
    }
}
