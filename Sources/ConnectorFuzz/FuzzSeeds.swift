import ConnectorConnections
import ConnectorCore
import Foundation

/// Seed inputs for every target, taken from the real fixtures and the repository's own event
/// files, plus the committed `fuzz/seeds/<target>/` files (hand-made seeds and saved crashers).
public enum FuzzSeeds {
    public struct Seed: Sendable {
        public var name: String
        public var bytes: [UInt8]
    }

    /// Seeds per target. `repository` is the clone's root; `fixtures` is `../shared/fixtures`
    /// (skipped when nil or absent — the repository's own copies still seed every target).
    public static func all(repository: URL, fixtures: URL?) throws -> [FuzzTarget: [Seed]] {
        var seeds: [FuzzTarget: [Seed]] = [:]
        func add(_ target: FuzzTarget, _ name: String, _ bytes: [UInt8]) { seeds[target, default: []].append(Seed(name: name, bytes: bytes)) }

        // Deliveries: the real captures' raw bodies, and the receiver's HTTP-shaped event files.
        if let fixtures {
            for file in try files(fixtures.appendingPathComponent("woocommerce-real/deliveries"), ext: "json") {
                let object = try json(file)
                if let request = object["request"] as? [String: Any], let base64 = request["raw_body_base64"] as? String,
                   let body = Data(base64Encoded: base64) {
                    add(.delivery, "real-" + file.deletingPathExtension().lastPathComponent, Array(body))
                }
            }
            for file in try files(fixtures.appendingPathComponent("woocommerce"), ext: "body") {
                add(.delivery, "woo-" + file.lastPathComponent, Array(try Data(contentsOf: file)))
            }
        }
        for file in try files(repository.appendingPathComponent("functions/webhook-receiver/events"), ext: "json") {
            let object = try json(file)
            guard let base64 = object["bodyBase64"] as? String, let body = Data(base64Encoded: base64) else {
                if object["schemaVersion"] != nil { add(.connection, "receiver-" + file.lastPathComponent, Array(try Data(contentsOf: file))) }
                continue
            }
            add(.delivery, "receiver-" + file.lastPathComponent, Array(body))
            // The same request as the cloudevent target reads it: not a CloudEvent, so decode must say nil.
            var request = ""
            for (name, value) in (object["headers"] as? [String: String] ?? [:]).sorted(by: { $0.key < $1.key }) { request += "\(name): \(value)\r\n" }
            add(.cloudevent, "receiver-http-" + file.lastPathComponent, Array((request + "\r\n").utf8) + Array(body))
        }

        // CloudEvents: every function's event files, as event files (structured) and re-sent in binary mode.
        let functions = repository.appendingPathComponent("functions")
        for function in try FileManager.default.contentsOfDirectory(atPath: functions.path).sorted() {
            for file in try files(functions.appendingPathComponent(function).appendingPathComponent("events"), ext: "json") {
                let bytes = Array(try Data(contentsOf: file))
                guard let event = try? CloudEventCodec.decodeStructured(bytes) else { continue }
                add(.cloudevent, "\(function)-\(file.lastPathComponent)", bytes)
                var request = ""
                for (name, value) in CloudEventCodec.binaryHeaders(event) { request += "\(name): \(value)\r\n" }
                add(.cloudevent, "\(function)-binary-\(file.lastPathComponent)", Array((request + "\r\n").utf8) + (event.data ?? []))
            }
        }

        // Connection files.
        for path in ["bench/fixtures/connection.json"] {
            let file = repository.appendingPathComponent(path)
            if let data = FileManager.default.contents(atPath: file.path) { add(.connection, path.replacingOccurrences(of: "/", with: "-"), Array(data)) }
        }

        // Committed seeds and crashers, every target.
        for target in FuzzTarget.allCases {
            for file in try files(repository.appendingPathComponent("fuzz/seeds/\(target.rawValue)"), ext: nil) {
                add(target, "committed-" + file.lastPathComponent, Array(try Data(contentsOf: file)))
            }
        }

        // Every connection that parses, written out in full: each key the schema has, with its default.
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        encoder.userInfo[.revealSecrets] = true
        for seed in seeds[.connection] ?? [] {
            if let connection = try? ConnectionFile.parse(Data(seed.bytes), source: seed.name) {
                add(.connection, "written-" + seed.name, Array(try encoder.encode(connection)))
            }
        }
        return seeds
    }

    /// Files in `directory` (none when it is absent), sorted, optionally only those ending `.ext`.
    static func files(_ directory: URL, ext: String?) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: directory.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).sorted()
            .filter { !$0.hasPrefix(".") && (ext == nil || $0.hasSuffix("." + ext!)) }
            .map { directory.appendingPathComponent($0) }
    }

    static func json(_ file: URL) throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(contentsOf: file)) as? [String: Any] else {
            throw ConnectorError.invalidInput("\(file.path): not a JSON object", fix: "check the fixture file")
        }
        return object
    }
}
