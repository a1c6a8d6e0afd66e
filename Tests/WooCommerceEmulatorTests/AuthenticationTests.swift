import AsyncHTTPClient
import ConnectorCore
import Foundation
import Testing
@testable import WooCommerceEmulator

/// The store's authentication rules beyond the captured replays.
@Suite struct AuthenticationTests {
    func plainHTTPStore(_ clock: ManualWallClock) -> WooCommerceEmulator {
        var configuration = WooCommerceEmulator.Configuration()
        configuration.treatRequestsAsHTTPS = false
        configuration.homeURL = "http://shop.test:8080"
        return WooCommerceEmulator(configuration: configuration, clock: clock)
    }

    @Test func oauthWithBothHashesAndTheUsualFailures() async {
        let clock = ManualWallClock(captureStart)
        let emulator = plainHTTPStore(clock)
        #expect(await emulator.send("GET", "/orders?per_page=5", signatureMethod: .hmacSHA1).status == 200)
        #expect(await emulator.send("POST", "/products", json: .obj(["name": "x", "regular_price": "1.00"])).status == 201)

        let request = EmulatorRequest(method: "GET", target: "/wp-json/wc/v3/orders")
        var signed = request
        signed.headers = [("Authorization", emulator.oauthHeader(for: request, nonce: "n1", timestamp: Int(captureStart.timeIntervalSince1970)))]
        #expect(await emulator.handle(signed).status == 200)
        // The same nonce again: refused.
        let replayed = await emulator.handle(signed)
        #expect(replayed.status == 401 && replayed.json["message"] == "Invalid nonce - nonce has already been used.")
        // More than 15 minutes off.
        var stale = request
        stale.headers = [("Authorization", emulator.oauthHeader(for: request, nonce: "n2", timestamp: Int(captureStart.timeIntervalSince1970) - 901))]
        #expect(await emulator.handle(stale).json["message"] == "Invalid timestamp.")
        // Some but not all parameters.
        let partial = await emulator.handle(EmulatorRequest(method: "GET", target: "/wp-json/wc/v3/orders?oauth_consumer_key=\(emulator.credentials.consumerKey)"))
        #expect(partial.status == 401 && partial.json["code"] == "woocommerce_rest_authentication_missing_parameter")
        // An unknown key.
        let unknown = await emulator.handle(EmulatorRequest(method: "GET", target: "/wp-json/wc/v3/orders?oauth_consumer_key=ck_x&oauth_nonce=a&oauth_signature=b&oauth_signature_method=HMAC-SHA1&oauth_timestamp=1"))
        #expect(unknown.status == 401 && unknown.json["message"] == "Consumer key is invalid.")
        // Basic over plain HTTP is ignored: anonymous, so the route's permission error.
        let token = Data("\(emulator.credentials.consumerKey):\(emulator.credentials.consumerSecret)".utf8).base64EncodedString()
        let basic = await emulator.handle(EmulatorRequest(method: "POST", target: "/wp-json/wc/v3/orders", headers: [("Authorization", "Basic \(token)")], body: Array("{}".utf8)))
        #expect(basic.status == 401 && basic.json["code"] == "woocommerce_rest_cannot_create")
        // The signature covers the home URL, not the address the request reached.
        var moved = WooCommerceEmulator.Configuration()
        moved.treatRequestsAsHTTPS = false
        moved.homeURL = "http://elsewhere.test"
        let other = WooCommerceEmulator(configuration: moved, clock: clock)
        var foreign = request
        foreign.headers = [("Authorization", emulator.oauthHeader(for: request, nonce: "n3", timestamp: Int(captureStart.timeIntervalSince1970)))]
        #expect(await other.handle(foreign).json["message"] == "Invalid signature - provided signature does not match.")
    }

    @Test func queryStringKeysOnHTTPS() async {
        let emulator = WooCommerceEmulator(clock: ManualWallClock(captureStart))
        let (key, secret) = emulator.credentials
        #expect(await emulator.handle(EmulatorRequest(method: "GET", target: "/wp-json/wc/v3/orders?consumer_key=\(key)&consumer_secret=\(secret)")).status == 200)
        let wrong = await emulator.handle(EmulatorRequest(method: "GET", target: "/wp-json/wc/v3/orders?consumer_key=\(key)&consumer_secret=nope"))
        #expect(wrong.status == 401 && wrong.json["message"] == "Consumer secret is invalid.")
        let none = await emulator.handle(EmulatorRequest(method: "GET", target: "/wp-json/wc/v3/orders/5"))
        #expect(none.json["message"] == "Sorry, you cannot view this resource.")
    }

    @Test func servesOverRealHTTPOnAnyFreePort() async throws {
        let emulator = WooCommerceEmulator(clock: ManualWallClock(captureStart))
        try await emulator.withRunningServer { url in
            #expect(emulator.homeURL == url.absoluteString)
            var request = HTTPClientRequest(url: url.absoluteString + "/wp-json/wc/v3/products?per_page=1")
            let (key, secret) = emulator.credentials
            request.headers.add(name: "Authorization", value: "Basic " + Data("\(key):\(secret)".utf8).base64EncodedString())
            let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
            #expect(response.status.code == 200)
            #expect(response.headers.first(name: "X-WP-Total") == "0")
            let body = try await response.body.collect(upTo: 1 << 20)
            #expect(String(buffer: body) == "[]")
        }
    }
}
