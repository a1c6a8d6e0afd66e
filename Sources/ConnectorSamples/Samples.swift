import Foundation

/// One HTTP request WooCommerce 10.0.2 really sent (fixtures/woocommerce-real/deliveries),
/// with its headers in order and its exact body bytes.
public struct CapturedDelivery: Sendable {
    /// The file name without `.json`, e.g. `05-order-updated-set-paid`.
    public var name: String
    public var description: String
    public var method: String
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// The secret the store's webhook was created with.
    public var webhookSecret: String
    /// Whether WooCommerce signed it (the ping is unsigned).
    public var signed: Bool

    /// Header value by case-insensitive name.
    public func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// Headers as a dictionary with lower-cased names.
    public var lowercasedHeaders: [String: String] {
        Dictionary(headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { a, b in a + ", " + b })
    }
}

/// Real captures shipped with the binary: the demo replays them and the tests check against
/// them. Loaded through SwiftPM resources, never from the working directory.
public enum Samples {
    /// The store URL of the captures (`X-WC-Webhook-Source` without its trailing slash).
    public static let captureStoreURL = "https://127.0.0.1:8443"
    /// The webhook secret of every captured delivery.
    public static let captureWebhookSecret = "wcpeer-webhook-secret-1"

    private struct File: Decodable {
        struct Request: Decodable {
            var method: String
            var headers: [[String]]
            var raw_body_base64: String
        }
        var description: String
        var webhook_secret: String
        var signature_present: Bool
        var request: Request
    }

    /// Every captured delivery, in file-name order (read once per process).
    public static func realDeliveries() throws -> [CapturedDelivery] {
        try loaded.get()
    }

    private static let loaded = Result { try load() }

    private static func load() throws -> [CapturedDelivery] {
        guard let directory = Bundle.module.url(forResource: "Captures/woocommerce-real/deliveries", withExtension: nil)
            ?? Bundle.module.resourceURL?.appendingPathComponent("Captures/woocommerce-real/deliveries") else {
            throw CocoaError(.fileNoSuchFile)
        }
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.sorted()
        return try names.map { name in
            let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: directory.appendingPathComponent(name)))
            guard let body = Data(base64Encoded: file.request.raw_body_base64) else { throw CocoaError(.fileReadCorruptFile) }
            return CapturedDelivery(
                name: String(name.dropLast(5)), description: file.description, method: file.request.method,
                headers: file.request.headers.compactMap { $0.count == 2 ? ($0[0], $0[1]) : nil },
                body: Array(body), webhookSecret: file.webhook_secret, signed: file.signature_present)
        }
    }

    /// One captured delivery by name prefix (`05`, `12a`, `19-order-updated…`).
    public static func realDelivery(_ prefix: String) throws -> CapturedDelivery {
        guard let found = try realDeliveries().first(where: { $0.name.hasPrefix(prefix) }) else { throw CocoaError(.fileNoSuchFile) }
        return found
    }

    /// One captured REST exchange (`order-get-after-two-refunds`): its status and the exact
    /// response body WooCommerce 10.0.2 sent.
    public static func restResponse(_ name: String) throws -> (status: Int, body: [UInt8]) {
        struct File: Decodable {
            struct Response: Decodable { var status_line: String; var raw_body: String }
            var response: Response
        }
        guard let url = Bundle.module.url(forResource: "Captures/woocommerce-real/rest/\(name)", withExtension: "json")
            ?? Bundle.module.resourceURL?.appendingPathComponent("Captures/woocommerce-real/rest/\(name).json") else {
            throw CocoaError(.fileNoSuchFile)
        }
        let file = try JSONDecoder().decode(File.self, from: Data(contentsOf: url))
        let status = file.response.status_line.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        return (status, Array(file.response.raw_body.utf8))
    }
}
