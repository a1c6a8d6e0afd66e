import AsyncHTTPClient
import ConnectorCore
import ConnectorFlows
import DynamicsClient
import Foundation
import Logging
import NIOCore

/// `mlc connection ping`'s direct line to F&O over an HTTP client: a token fetched past every
/// cache, and one plain GET (the client proper always adds `cross-company=true`).
public struct LiveConnectionProbe: ConnectionProbe {
    let http: HTTPClient
    let logger: Logger

    public init(httpClient: HTTPClient = .shared, logger: Logger) {
        self.http = httpClient
        self.logger = logger
    }

    public func freshToken(_ credentials: DynamicsCredentials) async throws -> AccessToken {
        try await TokenProvider(credentials: credentials, httpClient: http, clock: SystemWallClock(), cache: nil, logger: logger).token()
    }

    public func get(_ url: String, bearer: String) async throws -> (status: Int, body: Data) {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Authorization", value: "Bearer \(bearer)")
        request.headers.add(name: "Accept", value: "application/json")
        let response = try await http.execute(request, timeout: .seconds(30))
        var body = Data()
        for try await chunk in response.body {
            body.append(contentsOf: chunk.readableBytesView)
            if body.count > 1 << 20 { break }
        }
        return (Int(response.status.code), body)
    }
}
