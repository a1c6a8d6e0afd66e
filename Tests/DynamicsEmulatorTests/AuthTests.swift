import ConnectorCore
import DynamicsEmulator
import Foundation
import Testing

@Suite struct AuthTests {
    let c = DynamicsEmulator.Configuration.standard

    @Test func v2AndV1TokenShapes() async throws {
        try await withEmulator { wire, _, clock, _ in
            let v2 = try await wire.form("/\(c.tenantId)/oauth2/v2.0/token", [
                ("client_id", c.clientId), ("client_secret", c.clientSecret), ("grant_type", "client_credentials"), ("scope", wire.base.absoluteString + "/.default"),
            ])
            #expect(v2.status == 200)
            #expect(v2.json["token_type"] == "Bearer")
            #expect(v2.json["expires_in"] == .number(3599))
            #expect(v2.json["ext_expires_in"] == .number(3599))
            #expect(v2.json["access_token"]?.stringValue?.isEmpty == false)

            let v1 = try await wire.form("/\(c.tenantId)/oauth2/token", [
                ("client_id", c.clientId), ("client_secret", c.clientSecret), ("grant_type", "client_credentials"), ("resource", wire.base.absoluteString),
            ])
            #expect(v1.status == 200)
            let now = Int(clock.now().timeIntervalSince1970)
            #expect(v1.json["expires_in"] == "3599")
            #expect(v1.json["ext_expires_in"] == "3599")
            #expect(v1.json["expires_on"] == .string(String(now + 3599)))
            #expect(v1.json["not_before"] == .string(String(now)))
            #expect(v1.json["resource"] == .string(wire.base.absoluteString))
            // Both tokens open /data.
            for token in [v1.json["access_token"]!.stringValue!, v2.json["access_token"]!.stringValue!] {
                #expect(try await wire.send("GET", "/data/Currencies", token: token).status == 200)
            }
        }
    }

    @Test func entraErrorCodes() async throws {
        try await withEmulator { wire, _, _, _ in
            let env = wire.base.absoluteString
            let good: [(String, String)] = [("client_id", c.clientId), ("client_secret", c.clientSecret), ("grant_type", "client_credentials"), ("scope", env + "/.default")]
            func replacing(_ name: String, _ value: String?) -> [(String, String)] {
                var f = good.filter { $0.0 != name }
                if let value { f.append((name, value)) }
                return f
            }
            let cases: [(path: String, fields: [(String, String)], status: Int, error: String, code: Int)] = [
                ("/\(c.tenantId)/oauth2/v2.0/token", replacing("client_secret", "wrong"), 401, "invalid_client", 7000215),
                ("/\(c.tenantId)/oauth2/v2.0/token", replacing("client_id", "99999999-0000-0000-0000-000000000000"), 400, "unauthorized_client", 700016),
                ("/not-a-tenant/oauth2/v2.0/token", good, 400, "invalid_request", 90002),
                ("/\(c.tenantId)/oauth2/v2.0/token", replacing("scope", "https://other.operations.dynamics.com/.default"), 400, "invalid_resource", 500011),
                ("/\(c.tenantId)/oauth2/v2.0/token", good + [("resource", env)], 400, "invalid_request", 901002),
                ("/\(c.tenantId)/oauth2/v2.0/token", replacing("scope", nil), 400, "invalid_request", 900144),
                ("/\(c.tenantId)/oauth2/v2.0/token", replacing("grant_type", "password"), 400, "unsupported_grant_type", 70003),
                ("/\(c.tenantId)/oauth2/token", [("client_id", c.clientId), ("client_secret", c.clientSecret), ("grant_type", "client_credentials")], 400, "invalid_request", 900144),
                ("/\(c.tenantId)/oauth2/token", [("client_id", c.clientId), ("client_secret", "x"), ("grant_type", "client_credentials"), ("resource", env)], 401, "invalid_client", 7000215),
            ]
            for t in cases {
                let reply = try await wire.form(t.path, t.fields)
                #expect(reply.status == t.status, "\(t.code)")
                #expect(reply.json["error"] == .string(t.error), "\(t.code)")
                #expect(reply.json["error_codes"] == .array([.number(Decimal(t.code))]))
                let description = reply.json["error_description"]?.stringValue ?? ""
                #expect(description.hasPrefix("AADSTS\(t.code): "))
                #expect(description.contains("\r\nTrace ID: "))
                for key in ["timestamp", "trace_id", "correlation_id", "error_uri"] { #expect(reply.json[key]?.stringValue?.isEmpty == false, "\(key)") }
            }
        }
        // The status of invalid_client is configurable (the reference has both).
        try await withEmulator({ $0.tokenErrorStatus = 400 }) { wire, _, _, _ in
            let reply = try await wire.form("/\(c.tenantId)/oauth2/v2.0/token", [("client_id", c.clientId), ("client_secret", "bad"), ("grant_type", "client_credentials"), ("scope", wire.base.absoluteString + "/.default")])
            #expect(reply.status == 400 && reply.json["error"] == "invalid_client")
        }
    }

    @Test func dataRejectsMissingExpiredAndWrongAudienceTokens() async throws {
        try await withEmulator({ $0.tokenLifetime = 600 }) { wire, emulator, clock, _ in
            let missing = try await wire.send("GET", "/data/CustomersV3", token: nil)
            #expect(missing.status == 401 && missing.body.isEmpty)
            let unknown = try await wire.send("GET", "/data/CustomersV3", token: "not-a-token")
            #expect(unknown.status == 401 && unknown.body.isEmpty)

            let token = try await wire.token()
            #expect(try await wire.send("GET", "/data/CustomersV3", token: token).status == 200)
            clock.advance(by: 601)
            let expired = try await wire.send("GET", "/data/CustomersV3", token: token)
            #expect(expired.status == 401 && expired.body.isEmpty)

            // A token for another resource of the tenant is issued by Entra but refused by F&O.
            let graph = try await wire.form("/\(c.tenantId)/oauth2/v2.0/token", [("client_id", c.clientId), ("client_secret", c.clientSecret), ("grant_type", "client_credentials"), ("scope", "https://graph.microsoft.com/.default")])
            let wrongAudience = try await wire.send("GET", "/data/CustomersV3", token: graph.json["access_token"]!.stringValue!)
            #expect(wrongAudience.status == 401 && wrongAudience.body.isEmpty)

            // A trailing slash on the resource is tolerated.
            let slash = try await wire.form("/\(c.tenantId)/oauth2/token", [("client_id", c.clientId), ("client_secret", c.clientSecret), ("grant_type", "client_credentials"), ("resource", wire.base.absoluteString + "/")])
            #expect(try await wire.send("GET", "/data/Currencies", token: slash.json["access_token"]!.stringValue!).status == 200)

            // Expiring every token at once (mid-run expiry).
            let fresh = try await wire.token()
            emulator.expireTokens()
            #expect(try await wire.send("GET", "/data/Currencies", token: fresh).status == 401)

            let log = emulator.requestLog.filter { $0.target.hasPrefix("/data") }
            #expect(log.filter { $0.tokenValid == false }.count == 5)
            #expect(log.filter { $0.tokenValid == true }.count == 2)
        }
    }
}
