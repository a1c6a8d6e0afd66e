import AsyncHTTPClient
import ConnectorCore
import ConnectorTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Testing
import WooCommerceClient

/// `caCertificatePEM` for real: a self-signed certificate made at test time with the openssl
/// CLI, served by a small TLS server on 127.0.0.1:0 that answers like an order list.
@Suite struct TLSTests {
    static let openssl = ["/usr/bin/openssl", "/usr/local/bin/openssl", "/opt/homebrew/bin/openssl"].first { FileManager.default.isExecutableFile(atPath: $0) }

    /// A certificate for IP 127.0.0.1 and its key, as PEM.
    static func selfSigned() throws -> (certificate: String, key: String) {
        let directory = TemporaryDirectory.make("woo-tls")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: try #require(openssl))
        process.arguments = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1",
                             "-addext", "subjectAltName=IP:127.0.0.1", "-addext", "basicConstraints=critical,CA:TRUE",
                             "-keyout", directory.appendingPathComponent("key.pem").path, "-out", directory.appendingPathComponent("cert.pem").path]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        try #require(process.terminationStatus == 0, "openssl req failed")
        return (try String(contentsOf: directory.appendingPathComponent("cert.pem"), encoding: .utf8),
                try String(contentsOf: directory.appendingPathComponent("key.pem"), encoding: .utf8))
    }

    /// Answers every request with `[]` and `X-WP-Total: 7`, as `GET /orders?per_page=1` would.
    final class OrderListResponder: ChannelInboundHandler {
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            guard case .end = unwrapInboundIn(data) else { return }
            let body = ByteBuffer(string: "[]")
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json; charset=UTF-8")
            headers.add(name: "X-WP-Total", value: "7")
            headers.add(name: "X-WP-TotalPages", value: "7")
            headers.add(name: "Content-Length", value: String(body.readableBytes))
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
            context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: nil)
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        }
    }

    static func withTLSServer<T>(certificate: String, key: String, _ body: (Int) async throws -> T) async throws -> T {
        let context = try NIOSSLContext(configuration: .makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMBytes(Array(certificate.utf8)).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(bytes: Array(key.utf8), format: .pem))))
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(OrderListResponder())
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = try #require(channel.localAddress?.port)
        let result: Result<T, any Error>
        do { result = .success(try await body(port)) } catch { result = .failure(error) }
        try await channel.close()
        return try result.get()
    }

    @Test(.enabled(if: openssl != nil, "needs the openssl CLI to make a certificate"))
    func aStoreWithAPrivateCertificateIsTrustedOnlyThroughCaCertificatePEM() async throws {
        let (certificate, key) = try Self.selfSigned()
        try await Self.withTLSServer(certificate: certificate, key: key) { port in
            let configuration = WooCommerceClient.Configuration(
                baseURL: "https://127.0.0.1:\(port)", consumerKey: "ck_tls", consumerSecret: "cs_tls", authMode: .basic,
                caCertificatePEM: certificate, requestTimeout: 5)
            // Trusting the certificate: the call goes through.
            let shared = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup)
            let ping = try await WooCommerceClient.withHTTPClient(for: configuration, shared: shared) { http in
                try await WooCommerceClient(configuration: configuration, httpClient: http, nonces: CountingNonceSource()).ping()
            }
            #expect(ping.orderCount == 7)

            // Without it (the shared client, system roots only): a permanent TLS error that
            // names caCertificatePEM.
            var untrusted = configuration
            untrusted.caCertificatePEM = nil
            // AsyncHTTPClient retries a failed handshake until the deadline, then reports it.
            untrusted.requestTimeout = 1
            let client = try WooCommerceClient(configuration: untrusted, httpClient: shared, nonces: CountingNonceSource())
            let error = await wooError { _ = try await client.ping() }
            try await shared.shutdown()
            #expect(error?.code == "tls_failed", "\(String(describing: error))")
            #expect(error?.connectorError.disposition == .permanent && error?.connectorError.fix.contains("caCertificatePEM") == true)
        }
    }
}
