import AsyncHTTPClient
import ConnectorFlows
import Foundation
import NIOCore

/// Posts alert messages to an incoming-webhook URL (Slack, Teams, or anything that takes JSON).
public struct LiveAlertTransport: AlertTransport {
    let http: HTTPClient
    let timeout: TimeAmount

    public init(httpClient: HTTPClient = .shared, timeout: TimeAmount = .seconds(10)) {
        self.http = httpClient
        self.timeout = timeout
    }

    public func post(url: String, json: [UInt8]) async throws -> Int {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(ByteBuffer(bytes: json))
        let response = try await http.execute(request, timeout: timeout)
        // The answer's body is not needed; read a little so the connection can be reused.
        _ = try? await response.body.collect(upTo: 64 * 1024)
        return Int(response.status.code)
    }
}
