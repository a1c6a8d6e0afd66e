import ConnectorConnections
import ConnectorCore
import ConnectorTestSupport
import Foundation
import Testing

@Suite("Connection files")
struct ConnectionFileTests {
    static var minimal: [String: Any] { [
        "schemaVersion": 1, "id": "acme",
        "woocommerce": ["baseURL": "https://shop.example.com", "consumerKey": "ck_1", "consumerSecret": "cs_1", "webhookSecret": "whsec"],
        "dynamics": ["environmentURL": "https://acme.operations.dynamics.com", "tenantId": "t", "clientId": "c", "clientSecret": "s", "legalEntity": "USMF"],
    ] }

    func parse(_ object: [String: Any]) throws -> Connection {
        try ConnectionFile.parse(try JSONSerialization.data(withJSONObject: object), source: "acme.json")
    }

    func message(_ body: () throws -> Void) -> String {
        do { try body(); return "" } catch { return "\(error)" }
    }

    @Test func minimalFileGetsEveryDefault() throws {
        let c = try parse(Self.minimal)
        #expect(c.woocommerce.authMode == .basic)
        #expect(c.woocommerce.topics == ["order.created", "order.updated", "order.deleted", "customer.updated"])
        #expect(c.woocommerce.reenableDisabledWebhooks)
        #expect(c.dynamics.authorityHost == "https://login.microsoftonline.com")
        #expect(c.dynamics.legalEntity == "usmf")
        #expect(c.dynamics.supplySalesOrderNumber)
        #expect(c.orders.paidStatuses == ["processing", "completed"])
        #expect(c.orders.referencePrefix == "WC")
        #expect(c.orders.pollOverlapMinutes == 10)
        #expect(c.mapping.guestPolicy == .sharedAccount)
        #expect(c.mapping.refundModel == .journal)
        #expect(c.mapping.taxTolerance == Decimal(string: "0.01"))
        #expect(c.catalog.publishNew == false)
        #expect(c.catalog.safetyValveShare == 0.02)
        #expect(c.schedules.backfill == "*/5 * * * *")
        #expect(c.alerts.webhookURL.isEmpty)
    }

    @Test func theDocumentedLocalTestConnectionParses() throws {
        let c = try ConnectionFile.load(path: PackagePaths.root.appendingPathComponent("functions/webhook-receiver/events/local-test-connection.json").path)
        #expect(c.id == "local")
        #expect(c.woocommerce.webhookSecret.reveal() == "wcpeer-webhook-secret-1")
    }

    @Test("every required key, when missing, is named with the file", arguments: [
        ("schemaVersion", nil), ("id", nil), ("woocommerce", nil), ("dynamics", nil),
        ("woocommerce", "baseURL"), ("woocommerce", "consumerKey"), ("woocommerce", "consumerSecret"), ("woocommerce", "webhookSecret"),
        ("dynamics", "environmentURL"), ("dynamics", "tenantId"), ("dynamics", "clientId"), ("dynamics", "clientSecret"), ("dynamics", "legalEntity"),
    ] as [(String, String?)])
    func missingRequiredKey(section: String, key: String?) {
        var object = Self.minimal
        if let key {
            var inner = object[section] as! [String: Any]
            inner[key] = nil
            object[section] = inner
        } else {
            object[section] = nil
        }
        let text = message { _ = try parse(object) }
        let path = key.map { "\(section).\($0)" } ?? section
        #expect(text.contains("'\(path)'"), "\(text)")
        #expect(text.contains("acme.json"))
        #expect(text.contains("missing"))
    }

    @Test("an unknown key anywhere is an error naming it", arguments: ["", "woocommerce", "dynamics", "orders", "mapping", "catalog", "schedules", "alerts"])
    func unknownKey(section: String) {
        var object = Self.minimal
        if section.isEmpty {
            object["webhookSecrett"] = "typo"
        } else {
            var inner = (object[section] as? [String: Any]) ?? [:]
            inner["webhookSecrett"] = "typo"
            object[section] = inner
        }
        let text = message { _ = try parse(object) }
        let path = section.isEmpty ? "webhookSecrett" : "\(section).webhookSecrett"
        #expect(text.contains("unknown key '\(path)'"), "\(text)")
        #expect(text.contains("acme.json"))
    }

    @Test func aSettingThisBuildDoesNotApplyIsRefusedNotIgnored() {
        var object = Self.minimal
        object["mapping"] = ["defaultDimensions": ["Channel": "WEB"]]
        let text = message { _ = try parse(object) }
        #expect(text.contains("mapping.defaultDimensions") && text.contains("not applied"))
    }

    @Test func wrongTypesAndBadValuesAreNamed() {
        var object = Self.minimal
        object["sandbox"] = "yes"
        #expect(message { _ = try parse(object) }.contains("'sandbox' has the wrong type"))
        object = Self.minimal
        object["orders"] = ["referencePrefix": "WC-TOO-LONG*"]
        #expect(message { _ = try parse(object) }.contains("orders.referencePrefix"))
        object = Self.minimal
        object["id"] = "../etc"
        #expect(message { _ = try parse(object) }.contains("'id'"))
        #expect(message { _ = try ConnectionFile.parse(Data("{not json".utf8), source: "x.json") }.contains("not valid JSON"))
    }

    /// Found by the fuzz harness's hostile inputs: Foundation's decoder reports these as invalid
    /// JSON without a key, which sent the user to a JSON linter that finds nothing wrong.
    @Test("a number its key cannot hold is not called invalid JSON", arguments: [
        ("schemaVersion", "99999999999999999999999"), ("schemaVersion", "1.5"),
        ("orders", #"{"pollOverlapMinutes":-99999999999999999999}"#), ("catalog", #"{"wooConcurrency":2.5}"#),
    ])
    func numbersThatDoNotFit(key: String, value: String) throws {
        var text = String(decoding: try JSONSerialization.data(withJSONObject: Self.minimal.filter { $0.key != key }, options: [.sortedKeys]), as: UTF8.self)
        text.removeLast()
        text += ",\"\(key)\":\(value)}"
        let said = message { _ = try ConnectionFile.parse(Data(text.utf8), source: "x.json") }
        #expect(said.hasPrefix("x.json: a number does not fit its key"), "\(said)")
        #expect(!said.contains("not valid JSON"))
    }

    @Test("environmentURL must be https on a Dynamics domain unless the connection is a loopback sandbox", arguments: [
        ("https://acme.operations.dynamics.com", false, true),
        ("https://acme.sandbox.operations.dynamics.com/", false, true),
        ("HTTPS://Acme.Cloudax.Dynamics.com", false, true),
        ("http://acme.operations.dynamics.com", false, false),
        ("https://acme.operations.dynamics.com.evil.example", false, false),
        ("https://acme.operations.dynamics.com/data", false, false),
        ("https://example.com", false, false),
        ("http://127.0.0.1:9000", false, false),
        ("http://127.0.0.1:9000", true, true),
    ])
    func environmentURL(url: String, sandbox: Bool, valid: Bool) {
        var object = Self.minimal
        var dynamics = object["dynamics"] as! [String: Any]
        dynamics["environmentURL"] = url
        if sandbox { dynamics["authorityHost"] = "http://127.0.0.1:9001" }
        object["dynamics"] = dynamics
        object["sandbox"] = sandbox
        if sandbox { object["woocommerce"] = ["baseURL": "http://127.0.0.1:9002", "consumerKey": "ck", "consumerSecret": "cs", "webhookSecret": "w", "authMode": "oauth1"] }
        let result = Result { try parse(object) }
        #expect(((try? result.get()) != nil) == valid, "\(url): \(result)")
        if valid, let c = try? result.get() {
            #expect(c.dynamics.environmentURL == c.dynamics.environmentURL.lowercased())
            #expect(!c.dynamics.environmentURL.hasSuffix("/"))
        }
    }

    @Test("a sandbox may use loopback only — not a host whose name starts with 127.")
    func sandboxLoopbackIsReallyLoopback() {
        var object = Self.minimal
        object["sandbox"] = true
        object["dynamics"] = ["environmentURL": "http://127.attacker.example", "authorityHost": "http://127.0.0.1:9", "tenantId": "t", "clientId": "c", "clientSecret": "s", "legalEntity": "usmf"]
        #expect(message { _ = try parse(object) }.contains("dynamics.environmentURL"))
        object["dynamics"] = ["environmentURL": "http://127.0.0.1:9000", "authorityHost": "http://127.0.0.1.evil.example", "tenantId": "t", "clientId": "c", "clientSecret": "s", "legalEntity": "usmf"]
        #expect(message { _ = try parse(object) }.contains("dynamics.authorityHost"))
        object["dynamics"] = ["environmentURL": "http://localhost:9000", "authorityHost": "http://127.0.0.1:9001", "tenantId": "t", "clientId": "c", "clientSecret": "s", "legalEntity": "usmf"]
        #expect((try? parse(object)) != nil)
    }

    @Test("a store URL the receiver could never match is refused", arguments: ["https://user@shop.example.com", "https://shop.example.com/#frag", "https://shop.example.com/?p=1", "ftp://shop.example.com"])
    func unmatchableStoreURL(url: String) {
        var object = Self.minimal
        object["woocommerce"] = ["baseURL": url, "consumerKey": "ck", "consumerSecret": "cs", "webhookSecret": "w"]
        #expect(message { _ = try parse(object) }.contains("woocommerce.baseURL"))
    }

    @Test("an encoded connection never carries a secret unless asked to")
    func encodingMasksSecrets() throws {
        let c = try parse(Self.minimal)
        let masked = String(decoding: try JSONEncoder().encode(c), as: UTF8.self)
        #expect(!masked.contains("whsec") && !masked.contains("\"cs_1\""))
        let encoder = JSONEncoder()
        encoder.userInfo[.revealSecrets] = true
        #expect(String(decoding: try encoder.encode(c), as: UTF8.self).contains("whsec"))
    }

    @Test func authorityHostMustBeMicrosofts() {
        var object = Self.minimal
        var dynamics = object["dynamics"] as! [String: Any]
        dynamics["authorityHost"] = "https://login.example.com"
        object["dynamics"] = dynamics
        #expect(message { _ = try parse(object) }.contains("dynamics.authorityHost"))
        dynamics["authorityHost"] = "https://login.microsoftonline.us/"
        object["dynamics"] = dynamics
        #expect((try? parse(object))?.dynamics.authorityHost == "https://login.microsoftonline.us")
    }

    @Test func wooAuthModesFollowTheStoresRules() {
        var object = Self.minimal
        object["woocommerce"] = ["baseURL": "http://shop.example.com", "consumerKey": "ck", "consumerSecret": "cs", "webhookSecret": "w"]
        #expect(message { _ = try parse(object) }.contains("plain HTTP"))
        object["woocommerce"] = ["baseURL": "http://shop.example.com", "consumerKey": "ck", "consumerSecret": "cs", "webhookSecret": "w", "authMode": "oauth1"]
        #expect(message { _ = try parse(object) }.contains("allowInsecureHTTP"))
        object["woocommerce"] = ["baseURL": "http://shop.example.com", "consumerKey": "ck", "consumerSecret": "cs", "webhookSecret": "w", "authMode": "oauth1", "allowInsecureHTTP": true]
        #expect((try? parse(object)) != nil)
        object["woocommerce"] = ["baseURL": "https://shop.example.com", "consumerKey": "ck", "consumerSecret": "cs", "webhookSecret": "w", "caCertificatePEM": "/etc/ssl/ca.pem"]
        #expect(message { _ = try parse(object) }.contains("not a path"))
    }
}
