import ConnectorCore
import Foundation
import Hummingbird
import Logging
import ServiceLifecycle
import NIOCore
import Synchronization
import Testing
@testable import WooCommerceEmulator

/// One REST capture from `fixtures/woocommerce-real/rest` (copied into this target's resources).
struct RESTCapture {
    var name: String
    var method: String
    /// Path and query as sent.
    var target: String
    var body: WooJSON?
    var authorizationHeader: String?
    var status: Int
    var headers: [(name: String, value: String)]?
    var rawBody: String

    var json: WooJSON { (try? WooJSON.parse(Array(rawBody.utf8))) ?? .null }

    func header(_ name: String) -> String? { headers?.first { $0.name.lowercased() == name.lowercased() }?.value }

    static func load(_ name: String) throws -> RESTCapture {
        let url = try #require(Bundle.module.url(forResource: "Captures/rest/\(name)", withExtension: "json"))
        let file = try WooJSON.parse(Array(Data(contentsOf: url)))
        let request = try #require(file["request"]), response = try #require(file["response"])
        let fullURL = try #require(request["url"]?.stringValue)
        let afterScheme = fullURL.range(of: "://").map { String(fullURL[$0.upperBound...]) } ?? fullURL
        let target = afterScheme.firstIndex(of: "/").map { String(afterScheme[$0...]) } ?? "/"
        var status = response["status"]?.intValue
        if status == nil, let line = response["status_line"]?.stringValue { status = Int(line.split(separator: " ")[1]) }
        let headers = response["headers"]?.arrayValue?.compactMap { pair -> (name: String, value: String)? in
            guard let a = pair.arrayValue, a.count == 2, let n = a[0].stringValue, let v = a[1].stringValue else { return nil }
            return (n, v)
        }
        let body = request["json_body"].flatMap { $0 == .null ? nil : $0 }
        return RESTCapture(
            name: name, method: try #require(request["method"]?.stringValue), target: target, body: body,
            authorizationHeader: request["authorization_header"]?.stringValue, status: try #require(status), headers: headers,
            rawBody: response["raw_body"]?.stringValue ?? "")
    }

    static func allNames() throws -> [String] {
        let directory = try #require(Bundle.module.url(forResource: "Captures/rest", withExtension: nil))
        return try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".json") }.map { String($0.dropLast(5)) }.sorted()
    }
}

/// The type tree of a JSON value: objects by key set, arrays by their elements' shapes.
func shape(_ value: WooJSON) -> String {
    switch value {
    case .null: return "null"
    case .bool: return "bool"
    case .int, .double: return "number"
    case .string: return "string"
    case .array(let elements):
        let shapes = Set(elements.map(shape))
        return "[" + shapes.sorted().joined(separator: "|") + "]"
    case .object(let o):
        return "{" + o.members.map { "\($0.key):\(shape($0.value))" }.joined(separator: ",") + "}"
    }
}

/// Keys present in `a` but not `b` and vice versa, recursively, for readable failures.
func shapeDifferences(_ a: WooJSON, _ b: WooJSON, path: String = "$") -> [String] {
    switch (a, b) {
    case (.object(let x), .object(let y)):
        var out: [String] = []
        for k in x.keys where y[k] == nil { out.append("\(path).\(k) only in emulator") }
        for k in y.keys where x[k] == nil { out.append("\(path).\(k) only in capture") }
        for k in x.keys { if let xv = x[k], let yv = y[k] { out += shapeDifferences(xv, yv, path: "\(path).\(k)") } }
        return out
    case (.array(let x), .array(let y)):
        guard let xf = x.first, let yf = y.first else { return [] }
        return shapeDifferences(xf, yf, path: path + "[0]")
    // A nullable field is null in one state and set in another (date_paid, date_modified).
    case (.null, _), (_, .null): return []
    case (.int, .double), (.double, .int), (.int, .int), (.double, .double), (.string, .string), (.bool, .bool): return []
    default: return ["\(path): \(shape(a)) vs \(shape(b))"]
    }
}

/// Sends a captured request (its method, path and query, JSON body) to the emulator.
func replay(_ capture: RESTCapture, on emulator: WooCommerceEmulator, basic: Bool = true, body override: WooJSON? = nil, target: String? = nil) async -> EmulatorResponse {
    var headers: [(name: String, value: String)] = [("Content-Type", "application/json")]
    if let auth = capture.authorizationHeader {
        headers.append(("Authorization", auth))
    } else if basic {
        let (key, secret) = emulator.credentials
        headers.append(("Authorization", "Basic " + Data("\(key):\(secret)".utf8).base64EncodedString()))
    }
    let body = (override ?? capture.body).map { $0.phpEncoded() } ?? []
    return await emulator.handle(EmulatorRequest(method: capture.method, target: target ?? capture.target, headers: headers, body: body))
}

/// A request with Basic auth.
func call(_ emulator: WooCommerceEmulator, _ method: String, _ target: String, _ body: WooJSON? = nil) async -> EmulatorResponse {
    let (key, secret) = emulator.credentials
    return await emulator.handle(EmulatorRequest(
        method: method, target: "/wp-json/wc/v3" + target,
        headers: [("Authorization", "Basic " + Data("\(key):\(secret)".utf8).base64EncodedString()), ("Content-Type", "application/json")],
        body: body?.phpEncoded() ?? []))
}

extension EmulatorResponse {
    var json: WooJSON { (try? WooJSON.parse(body)) ?? .null }
    var text: String { String(decoding: body, as: UTF8.self) }
}

/// `2026-11-26T19:04:50Z`, the moment the captured store created product 10.
let captureStart = Date(timeIntervalSince1970: 1_795_719_890)

/// A request the receiver got.
struct Received: Sendable {
    var path: String
    var headers: [(name: String, value: String)]
    var body: [UInt8]
    func header(_ name: String) -> String? { headers.first { $0.name.lowercased() == name.lowercased() }?.value }
}

/// A webhook receiver on 127.0.0.1, port 0, that records every request and answers `status`.
final class Receiver: Sendable {
    let received = Mutex<[Received]>([])
    let status = Mutex(200)

    var requests: [Received] { received.withLock { $0 } }

    func run<T: Sendable>(_ body: @Sendable (URL) async throws -> T) async throws -> T {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            var buffer = try await request.body.collect(upTo: 1 << 22)
            let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
            let headers = request.headers.map { (name: $0.name.canonicalName, value: $0.value) }
            self.received.withLock { $0.append(Received(path: request.uri.path, headers: headers, body: bytes)) }
            return Response(status: .init(code: self.status.withLock { $0 }), body: .init(byteBuffer: ByteBuffer(string: "ok")))
        }
        let (ports, continuation) = AsyncStream<Int>.makeStream()
        let app = Application(responder: responder, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: { continuation.yield($0.localAddress?.port ?? 0) })
        return try await withThrowingTaskGroup(of: T?.self) { group in
            let service = ServiceGroup(configuration: .init(services: [app], logger: Logger(label: "receiver")))
            group.addTask { try await service.run(); return nil }
            var iterator = ports.makeAsyncIterator()
            let port = try #require(await iterator.next())
            let result: Result<T, any Error>
            do { result = .success(try await body(URL(string: "http://127.0.0.1:\(port)")!)) } catch { result = .failure(error) }
            await service.triggerGracefulShutdown()
            try await group.waitForAll()
            continuation.finish()
            return try result.get()
        }
    }
}

/// A loopback URL nobody listens on: a receiver's port after it has stopped.
func closedPortURL() async throws -> URL {
    try await Receiver().run { $0 }.appendingPathComponent("closed")
}

/// Values that differ, ignoring keys whose values depend on the store's history (ids, dates,
/// keys, links), for comparing emulator bodies with real ones.
func valueDifferences(_ a: WooJSON, _ b: WooJSON, path: String = "$", ignoring: Set<String> = volatileKeys) -> [String] {
    switch (a, b) {
    case (.object(let x), .object(let y)):
        var out: [String] = []
        for k in Set(x.keys).union(y.keys) where !ignoring.contains(k) {
            guard let xv = x[k], let yv = y[k] else { out.append("\(path).\(k) missing on one side"); continue }
            out += valueDifferences(xv, yv, path: "\(path).\(k)", ignoring: ignoring)
        }
        return out
    case (.array(let x), .array(let y)):
        guard x.count == y.count else { return ["\(path): \(x.count) vs \(y.count) elements"] }
        return zip(x, y).enumerated().flatMap { valueDifferences($1.0, $1.1, path: "\(path)[\($0)]", ignoring: ignoring) }
    case (.int(let i), .double(let d)), (.double(let d), .int(let i)):
        return Double(i) == d ? [] : ["\(path): \(i) vs \(d)"]
    default:
        return a == b ? [] : ["\(path): \(a.phpString) vs \(b.phpString)"]
    }
}

let volatileKeys: Set<String> = [
    "id", "product_id", "variation_id", "rate_id", "resource_id", "parent_id", "customer_id", "refunded_by",
    "date_created", "date_created_gmt", "date_modified", "date_modified_gmt", "date_paid", "date_paid_gmt",
    "date_completed", "date_completed_gmt", "order_key", "number", "payment_url", "_links", "related_ids", "variations",
    "permalink", "avatar_url",
]
