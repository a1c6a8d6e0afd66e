import ConnectorCore
import ConnectorTestSupport
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing

/// `mlc backfill` as an operator runs it against `mlc sandbox`: orders placed in the
/// WooCommerce sandbox without any webhook are listed, handed on, posted (or skipped, or
/// parked) through order-poster in the same process; the summary's numbers match what F&O
/// then holds, the exit code says whether anything needs a person, and a second run changes
/// nothing.
@Suite struct BackfillCLITests {
    @Test func backfillPostsAWindowOfOrdersAndSummarises() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let directory = TemporaryDirectory.make("mlc-backfill")
        let file = directory.appendingPathComponent("sandbox.json").path
        let sandbox = try ProcessRunner.start(mlc, ["sandbox", "--write-connection", file, "--connection-id", "sbx"])
        defer { sandbox.signal(SIGTERM) }
        #expect(await sandbox.waitForOutput(timeout: 60) { $0.contains("Serving until Ctrl-C") }, "sandbox did not start: \(sandbox.stderrSoFar)")
        let connection = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        let woo = try #require(connection["woocommerce"] as? [String: Any])
        let fo = try #require(connection["dynamics"] as? [String: Any])
        let shop = SignedShop(baseURL: try #require(woo["baseURL"] as? String), key: try #require(woo["consumerKey"] as? String),
                              secret: try #require(woo["consumerSecret"] as? String))

        // The shop: California tax as F&O charges it, a mug F&O knows and a gadget it does not.
        _ = try await shop.send("POST", "/taxes", #"{"country":"US","state":"CA","rate":"7.2500","name":"CA State Tax","priority":1,"shipping":true}"#)
        let mug = try #require(try await shop.send("POST", "/products", #"{"name":"Coffee mug","type":"simple","sku":"MUG-01","regular_price":"12.50","status":"publish"}"#)["id"] as? Int)
        let gadget = try #require(try await shop.send("POST", "/products", #"{"name":"Gadget","type":"simple","sku":"NOT-IN-FO-1","regular_price":"9.00","status":"publish"}"#)["id"] as? Int)
        let billing = #""billing":{"first_name":"Alan","last_name":"Turing","address_1":"1 Infinite Loop","city":"Cupertino","state":"CA","postcode":"95014","country":"US","email":"alan@example.com"}"#
        func order(product: Int, paid: Bool) async throws -> Int {
            try #require(try await shop.send("POST", "/orders", #"{"payment_method":"stripe","payment_method_title":"Card","set_paid":\#(paid),\#(billing),"line_items":[{"product_id":\#(product),"quantity":2}]}"#)["id"] as? Int)
        }
        var paid: [Int] = []
        for _ in 0..<3 { paid.append(try await order(product: mug, paid: true)) }
        let unpaid = try await order(product: mug, paid: false)
        let unmapped = try await order(product: gadget, paid: true)

        let environment = ["MLC_MASTER_KEY": MasterKeyText.random(), "MLC_STORE_URL": "sqlite:\(directory.appendingPathComponent("state.sqlite").path)"]
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", file], environment: environment)
        #expect(add.status == 0, "\(add.stderr)")

        // A window that ends before the orders were placed lists nothing and posts nothing.
        let empty = try await ProcessRunner.run(mlc, ["backfill", "--connection", "sbx", "--since", "2026-01-01", "--until", "2026-01-02T00:00:00Z"], environment: environment)
        #expect(empty.status == 0, "\(empty.stdout)\(empty.stderr)")
        #expect(empty.stdout.contains("listed 0  handed on 0  posted 0  skipped 0  parked 0  failed 0"), "\(empty.stdout)")

        // The window with the five orders: three posted, the unpaid one skipped, the unmapped one parked → exit 1.
        let run = try await ProcessRunner.run(mlc, ["backfill", "--connection", "sbx", "--since", "1d"], environment: environment, timeout: 180)
        #expect(run.status == 1, "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("listed 5  handed on 5  posted 3  skipped 1  parked 1  failed 0"), "\(run.stdout)\(run.stderr)")
        #expect(run.stdout.contains("order \(unmapped):"))
        #expect(run.stdout.contains("mlc audit list --state parked"))
        // Not a terminal: progress comes as plain lines, ending at the whole count.
        #expect(run.stderr.contains("posted 5/5"), "\(run.stderr)")
        #expect(!run.stderr.contains("\r"))

        // F&O holds exactly the three paid, mapped orders — once each.
        let headers = try await FOReader(dynamics: fo).salesOrderReferences()
        for id in paid { #expect(headers.filter { $0 == "WC\(id)" }.count == 1, "WC\(id) in \(headers)") }
        #expect(!headers.contains("WC\(unpaid)"))
        #expect(!headers.contains("WC\(unmapped)"))
        #expect(headers.count == 3)

        // Again: every state was handed on already and nothing is pending — nothing to do, exit 0.
        let again = try await ProcessRunner.run(mlc, ["backfill", "--connection", "sbx", "--since", "1d"], environment: environment, timeout: 180)
        #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
        #expect(again.stdout.contains("listed 5  handed on 0  posted 0  skipped 0  parked 0  failed 0"), "\(again.stdout)")
        #expect(try await FOReader(dynamics: fo).salesOrderReferences().count == 3)

        // Bad input names the option and the fix.
        let bad = try await ProcessRunner.run(mlc, ["backfill", "--connection", "sbx", "--since", "yesterday"], environment: environment)
        #expect(bad.status == 1)
        #expect(bad.stderr.contains("--since 'yesterday' is not a time") && bad.stderr.contains("like 90m, 6h, 3d"), "\(bad.stderr)")
        let unknown = try await ProcessRunner.run(mlc, ["backfill", "--connection", "nope", "--since", "1d"], environment: environment)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("no connection 'nope'"), "\(unknown.stderr)")

        sandbox.signal(SIGTERM)
        _ = try await sandbox.wait(timeout: 30)
    }
}

/// `mlc run` as a process: it listens (port 0 here), takes a signed WooCommerce delivery, hands
/// the order to order-poster inside the same process (no drain, no schedule), and stops
/// cleanly on SIGTERM.
@Suite struct RunCLITests {
    @Test func runTakesASignedDeliveryIntoFOAndStopsOnSIGTERM() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let directory = TemporaryDirectory.make("mlc-run")
        let file = directory.appendingPathComponent("sandbox.json").path
        let sandbox = try ProcessRunner.start(mlc, ["sandbox", "--write-connection", file, "--connection-id", "sbx"])
        defer { sandbox.signal(SIGTERM) }
        #expect(await sandbox.waitForOutput(timeout: 60) { $0.contains("Serving until Ctrl-C") }, "sandbox did not start: \(sandbox.stderrSoFar)")
        let connection = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: file))) as? [String: Any])
        let woo = try #require(connection["woocommerce"] as? [String: Any])
        let fo = try #require(connection["dynamics"] as? [String: Any])
        let storeURL = try #require(woo["baseURL"] as? String)
        let webhookSecret = try #require(woo["webhookSecret"] as? String)
        let shop = SignedShop(baseURL: storeURL, key: try #require(woo["consumerKey"] as? String), secret: try #require(woo["consumerSecret"] as? String))
        _ = try await shop.send("POST", "/taxes", #"{"country":"US","state":"CA","rate":"7.2500","name":"CA State Tax","priority":1,"shipping":true}"#)
        let mug = try #require(try await shop.send("POST", "/products", #"{"name":"Coffee mug","type":"simple","sku":"MUG-01","regular_price":"12.50","status":"publish"}"#)["id"] as? Int)
        let order = try #require(try await shop.send("POST", "/orders", #"{"payment_method":"stripe","payment_method_title":"Card","set_paid":true,"billing":{"first_name":"Alan","last_name":"Turing","address_1":"1 Infinite Loop","city":"Cupertino","state":"CA","postcode":"95014","country":"US","email":"alan@example.com"},"line_items":[{"product_id":\#(mug),"quantity":1}]}"#)["id"] as? Int)

        let environment = ["MLC_MASTER_KEY": MasterKeyText.random(), "MLC_STORE_URL": "sqlite:\(directory.appendingPathComponent("state.sqlite").path)"]
        #expect(try await ProcessRunner.run(mlc, ["connection", "add", "--file", file], environment: environment).status == 0)
        let run = try ProcessRunner.start(mlc, ["run", "--port", "0"], environment: environment)
        defer { run.signal(SIGKILL) }
        #expect(await run.waitForOutput(timeout: 60) { $0.contains("Ctrl-C stops") }, "mlc run did not start: \(run.stdoutSoFar)\(run.stderrSoFar)")
        let port = try #require(run.stdoutSoFar.split(separator: "\n").first { $0.hasPrefix("mlc run: listening on http://127.0.0.1:") }
            .flatMap { Int($0.dropFirst("mlc run: listening on http://127.0.0.1:".count).prefix { $0.isNumber }) })
        #expect(run.stdoutSoFar.contains("schedule sbx/backfill: next"))
        let base = "http://127.0.0.1:\(port)"
        let (_, live) = try await URLSession.shared.data(from: URL(string: base + "/health/live")!)
        #expect((live as? HTTPURLResponse)?.statusCode == 200)

        // A delivery signed with the connection's webhook secret, as WooCommerce sends it.
        let body = Data(#"{"id":\#(order),"status":"processing"}"#.utf8)
        var delivery = URLRequest(url: URL(string: base + "/webhooks/woocommerce/sbx")!)
        delivery.httpMethod = "POST"
        delivery.httpBody = body
        for (name, value) in ["Content-Type": "application/json", "X-WC-Webhook-Source": storeURL + "/", "X-WC-Webhook-Topic": "order.created",
                              "X-WC-Webhook-Resource": "order", "X-WC-Webhook-Event": "created", "X-WC-Webhook-ID": "1",
                              "X-WC-Webhook-Delivery-ID": "abc", "X-WC-Webhook-Signature": Data(HMAC.sha256(key: Array(webhookSecret.utf8), message: Array(body))).base64EncodedString()] {
            delivery.setValue(value, forHTTPHeaderField: name)
        }
        let (_, accepted) = try await URLSession.shared.data(for: delivery)
        #expect((accepted as? HTTPURLResponse)?.statusCode == 200)
        var forged = delivery
        forged.setValue("AAAA", forHTTPHeaderField: "X-WC-Webhook-Signature")
        let (_, refused) = try await URLSession.shared.data(for: forged)
        #expect((refused as? HTTPURLResponse)?.statusCode == 401)

        // The other process posts on its own time: look at F&O a bounded number of times (a
        // process cannot share an injected clock, so this is the one wait that must be real).
        var references: [String] = []
        for _ in 0..<100 {
            references = try await FOReader(dynamics: fo).salesOrderReferences()
            if references.contains("WC\(order)") { break }
            try await Task.sleep(for: .milliseconds(100))  // another OS process: no shared clock (see above)
        }
        #expect(references == ["WC\(order)"])

        run.signal(SIGTERM)
        let ended = try await run.wait(timeout: 30)
        #expect(ended.status == 0, "\(ended.stdout)\(ended.stderr)")
        #expect(ended.stdout.contains("stopping (signal 15)"))
        #expect(ended.stdout.contains("mlc run: stopped."))
        #expect(ended.stdout.contains(#""handoff.outcomes":"[\"#) && ended.stdout.contains("posted"))
        sandbox.signal(SIGTERM)
        _ = try await sandbox.wait(timeout: 30)
    }
}

/// The WooCommerce sandbox's REST API over plain HTTP, signed with OAuth 1.0a (HMAC-SHA256) as
/// WooCommerce checks it — written here from the protocol, not from the connector's client.
struct SignedShop {
    let baseURL: String
    let key: String
    let secret: String

    func send(_ method: String, _ path: String, _ json: String) async throws -> [String: Any] {
        let url = baseURL + "/wp-json/wc/v3" + path
        var params = [
            "oauth_consumer_key": key, "oauth_timestamp": String(Int(Date().timeIntervalSince1970)),
            "oauth_nonce": UUID().uuidString.replacingOccurrences(of: "-", with: ""), "oauth_signature_method": "HMAC-SHA256",
        ]
        let pairs = params.keys.sorted().map { Self.encode(Self.encode($0) + "=" + Self.encode(params[$0]!)) }
        let base = method + "&" + Self.encode(url) + "&" + pairs.joined(separator: "%26")
        params["oauth_signature"] = Data(HMAC.sha256(key: Array((secret + "&").utf8), message: Array(base.utf8))).base64EncodedString()
        let query = params.keys.sorted().map { "\($0)=\(Self.encode(params[$0]!))" }.joined(separator: "&")
        var request = URLRequest(url: URL(string: url + "?" + query)!)
        request.httpMethod = method
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = Data(json.utf8)
        let (data, response) = try await URLSession.shared.data(for: request)
        let status = (response as? HTTPURLResponse)?.statusCode ?? 0
        guard (200..<300).contains(status) else {
            throw SandboxRefused(description: "\(method) \(path) → \(status): \(String(decoding: data, as: UTF8.self))")
        }
        return (try JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:]
    }

    /// RFC 3986 (PHP's rawurlencode).
    static func encode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF")
                out += "%" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0x0F)])
            }
        }
        return out
    }
}

struct SandboxRefused: Error, CustomStringConvertible { let description: String }

/// HMAC (RFC 2104) over the SHA-256 the connector's core exposes.
enum HMAC {
    static func sha256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        var block = key.count > 64 ? digest(key) : key
        block += [UInt8](repeating: 0, count: 64 - block.count)
        let inner = digest(block.map { $0 ^ 0x36 } + message)
        return digest(block.map { $0 ^ 0x5C } + inner)
    }

    static func digest(_ bytes: [UInt8]) -> [UInt8] {
        let hex = Array(Digests.sha256Hex(bytes).utf8)
        func nibble(_ c: UInt8) -> UInt8 { c <= UInt8(ascii: "9") ? c - UInt8(ascii: "0") : c - UInt8(ascii: "a") + 10 }
        return stride(from: 0, to: hex.count, by: 2).map { nibble(hex[$0]) << 4 | nibble(hex[$0 + 1]) }
    }
}

/// Reads F&O's sales order headers from the sandbox with a client-credentials token.
struct FOReader {
    let dynamics: [String: Any]

    func salesOrderReferences() async throws -> [String] {
        let environment = (dynamics["environmentURL"] as? String) ?? ""
        let authority = (dynamics["authorityHost"] as? String) ?? environment
        let tenant = (dynamics["tenantId"] as? String) ?? ""
        var tokenRequest = URLRequest(url: URL(string: "\(authority)/\(tenant)/oauth2/v2.0/token")!)
        tokenRequest.httpMethod = "POST"
        tokenRequest.setValue("application/x-www-form-urlencoded", forHTTPHeaderField: "Content-Type")
        let form = [("grant_type", "client_credentials"), ("client_id", dynamics["clientId"] as? String ?? ""),
                    ("client_secret", dynamics["clientSecret"] as? String ?? ""), ("scope", "\(environment)/.default")]
        tokenRequest.httpBody = Data(form.map { "\($0.0)=\(SignedShop.encode($0.1))" }.joined(separator: "&").utf8)
        let (tokenData, _) = try await URLSession.shared.data(for: tokenRequest)
        guard let token = (try JSONSerialization.jsonObject(with: tokenData) as? [String: Any])?["access_token"] as? String else {
            throw SandboxRefused(description: "no token: \(String(decoding: tokenData, as: UTF8.self))")
        }
        var request = URLRequest(url: URL(string: "\(environment)/data/SalesOrderHeadersV2?cross-company=true&$select=CustomersOrderReference")!)
        request.setValue("Bearer \(token)", forHTTPHeaderField: "Authorization")
        let (data, response) = try await URLSession.shared.data(for: request)
        guard (response as? HTTPURLResponse)?.statusCode == 200,
              let rows = (try JSONSerialization.jsonObject(with: data) as? [String: Any])?["value"] as? [[String: Any]] else {
            throw SandboxRefused(description: "F&O read failed: \(String(decoding: data, as: UTF8.self))")
        }
        return rows.compactMap { $0["CustomersOrderReference"] as? String }
    }
}
