import AsyncHTTPClient
import ConnectorCore
import DynamicsEmulator
import Foundation
import NIOCore

/// A tiny HTTP client over the live emulator (real sockets, AsyncHTTPClient).
struct Wire: Sendable {
    let base: URL
    let emulator: DynamicsEmulator

    struct Reply: Sendable {
        var status: Int
        var headers: [(String, String)]
        var body: [UInt8]
        var text: String { String(decoding: body, as: UTF8.self) }
        var json: ODataValue { (try? ODataValue.parse(json: body)) ?? .null }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
        /// `error.innererror.message` of an F&O error.
        var inner: String { json["error"]?["innererror"]?["message"]?.stringValue ?? "" }
        var values: [ODataValue] { json["value"]?.arrayValue ?? [] }
    }

    func send(_ method: String, _ target: String, body: String? = nil, contentType: String = "application/json", token: String?) async throws -> Reply {
        var request = HTTPClientRequest(url: base.absoluteString + target)
        request.method = .init(rawValue: method)
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let buffer = try await response.body.collect(upTo: 32 << 20)
        return Reply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }, body: Array(buffer.readableBytesView))
    }

    func form(_ path: String, _ fields: [(String, String)]) async throws -> Reply {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = fields.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed)!)" }.joined(separator: "&")
        return try await send("POST", path, body: body, contentType: "application/x-www-form-urlencoded", token: nil)
    }

    /// A v2 token for the environment with the standard credentials.
    func token() async throws -> String {
        let c = DynamicsEmulator.Configuration.standard
        let reply = try await form("/\(c.tenantId)/oauth2/v2.0/token", [
            ("client_id", c.clientId), ("client_secret", c.clientSecret), ("grant_type", "client_credentials"), ("scope", base.absoluteString + "/.default"),
        ])
        guard let token = reply.json["access_token"]?.stringValue else { throw TestFailure("no token: \(reply.text)") }
        return token
    }
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// Runs `body` against a live emulator with a manual clock and a recording sleeper.
func withEmulator<T: Sendable>(
    _ configure: (inout DynamicsEmulator.Configuration) -> Void = { _ in },
    _ body: @Sendable (Wire, DynamicsEmulator, ManualWallClock, RecordingSleeper) async throws -> T
) async throws -> T {
    var configuration = DynamicsEmulator.Configuration.standard
    configure(&configuration)
    let clock = ManualWallClock(Date(timeIntervalSince1970: 1_740_650_400))
    let sleeper = RecordingSleeper(advancing: clock)
    let emulator = DynamicsEmulator(configuration: configuration, clock: clock, sleeper: sleeper)
    return try await emulator.withRunningServer { url in
        try await body(Wire(base: url, emulator: emulator), emulator, clock, sleeper)
    }
}

extension String {
    /// Percent-encodes an OData query value for a URL.
    var q: String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~$',()*:")
        return addingPercentEncoding(withAllowedCharacters: allowed)!
    }
}
