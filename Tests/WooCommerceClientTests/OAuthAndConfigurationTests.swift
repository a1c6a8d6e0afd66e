import AsyncHTTPClient
import ConnectorCore
import Foundation
import Testing
@testable import WooCommerceClient

/// The OAuth 1.0a signer reproduces the real store's accepted signatures byte for byte.
@Suite struct OAuthSigningTests {
    static let key = "ck_48b2a2f651478cb677a0274a18b1ce9fd314aa73"
    static let secret = "cs_b2fac95758610e3a9a3d90ece817b077e06f934f"

    /// The signed parameters of a captured request, and the rest of its query.
    func split(_ items: [(name: String, value: String)]) -> (oauth: [String: String], rest: [(name: String, value: String)]) {
        var oauth: [String: String] = [:]
        var rest: [(name: String, value: String)] = []
        for item in items { if item.name.hasPrefix("oauth_") { oauth[item.name] = item.value } else { rest.append(item) } }
        return (oauth, rest)
    }

    @Test func reproducesTheCapturedQueryStringSignature() throws {
        let capture = try Capture.load("oauth1-plain-http-signed-get-ok")
        #expect(capture.status == 200)
        let (oauth, rest) = split(capture.queryItems)
        let signer = OAuth1Signer(consumerKey: Self.key, consumerSecret: Self.secret, method: .hmacSHA256)
        // The store's home is https://127.0.0.1:8443; the request went to port 8081 over http:
        // the base string uses the request's scheme with the home's host and port.
        let params = signer.parameters(httpMethod: "GET", signingURL: "http://127.0.0.1:8443/wp-json/wc/v3/products", query: rest,
                                       nonce: try #require(oauth["oauth_nonce"]), timestamp: try #require(Int(oauth["oauth_timestamp"] ?? "")))
        let produced = Dictionary(uniqueKeysWithValues: params.map { ($0.name, $0.value) })
        #expect(produced == oauth)
        #expect(produced["oauth_signature"] == "MtA5sQuPVL0d61d+VX0KIzkbndvxNbEYx4wdbqav+Yg=")
        // The note in the capture spells out the string to sign.
        let base = OAuth1Signer.baseString(httpMethod: "GET", signingURL: "http://127.0.0.1:8443/wp-json/wc/v3/products",
                                           parameters: rest + params.filter { $0.name != "oauth_signature" })
        #expect(capture.note?.contains(base) == true)
    }

    @Test func reproducesTheCapturedAuthorizationHeaderSignature() throws {
        let capture = try Capture.load("oauth1-plain-http-authorization-header-ok")
        let header = try #require(capture.authorizationHeader)
        var fields: [String: String] = [:]
        for part in header.dropFirst("OAuth ".count).split(separator: ",") {
            let kv = part.trimmingCharacters(in: .whitespaces).split(separator: "=", maxSplits: 1)
            fields[String(kv[0])] = String(kv[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\"")).removingPercentEncoding
        }
        let signer = OAuth1Signer(consumerKey: Self.key, consumerSecret: Self.secret, method: .hmacSHA256)
        let params = signer.parameters(httpMethod: "GET", signingURL: "http://127.0.0.1:8443/wp-json/wc/v3/products", query: capture.queryItems,
                                       nonce: try #require(fields["oauth_nonce"]), timestamp: try #require(Int(fields["oauth_timestamp"] ?? "")))
        #expect(params.last?.value == fields["oauth_signature"])
        #expect(params.last?.value == "11tGJ0S6Q7Q+0jzp6iFwTKLIt4aSghxHwhuVrC4fkOI=")
    }

    @Test func signingOverTheCalledURLGivesTheRejectedSignature() throws {
        // The client that signed over port 8081 produced this signature and got 401; ours,
        // given the same wrong URL, produces the same bytes — so the difference is the URL.
        let capture = try Capture.load("oauth1-plain-http-signed-actual-url-rejected")
        #expect(capture.status == 401)
        let (oauth, rest) = split(capture.queryItems)
        let signer = OAuth1Signer(consumerKey: Self.key, consumerSecret: Self.secret, method: .hmacSHA256)
        let params = signer.parameters(httpMethod: "GET", signingURL: "http://127.0.0.1:8081/wp-json/wc/v3/products", query: rest,
                                       nonce: try #require(oauth["oauth_nonce"]), timestamp: try #require(Int(oauth["oauth_timestamp"] ?? "")))
        #expect(params.last?.value == oauth["oauth_signature"])
    }

    @Test func percentEncodingIsRFC3986() {
        #expect(OAuth1Signer.percentEncode("a b+c/d~e.f_g-h*") == "a%20b%2Bc%2Fd~e.f_g-h%2A")
        #expect(OAuth1Signer.percentEncode("é") == "%C3%A9")
        // Sorted by encoded key, then value.
        let base = OAuth1Signer.baseString(httpMethod: "get", signingURL: "http://h/p", parameters: [("b", "2"), ("a", "z"), ("a", "y")])
        #expect(base == "GET&http%3A%2F%2Fh%2Fp&a%3Dy%26a%3Dz%26b%3D2")
    }

    @Test func countingNoncesAreDeterministic() {
        let nonces = CountingNonceSource(prefix: "x")
        #expect([nonces.nextNonce(), nonces.nextNonce()] == ["x0", "x1"])
        let random = RandomNonceSource().nextNonce()
        #expect(random.count == 32 && random.allSatisfy(\.isHexDigit))
    }
}

@Suite struct ConfigurationTests {
    func configuration(_ url: String, _ mode: WooCommerceClient.Configuration.AuthMode, sandbox: Bool = false, insecure: Bool = false) -> WooCommerceClient.Configuration {
        .init(baseURL: url, consumerKey: "ck_x", consumerSecret: "cs_x", authMode: mode, allowInsecureHTTP: insecure, sandbox: sandbox)
    }

    func refusal(_ configuration: WooCommerceClient.Configuration) -> ConnectorError? {
        do {
            _ = try configuration.validated()
            return nil
        } catch let error as ConnectorError {
            return error
        } catch {
            return nil
        }
    }

    @Test func basicAndQueryAreRefusedOverPlainHTTPUnlessSandboxOrAllowed() throws {
        for mode in [WooCommerceClient.Configuration.AuthMode.basic, .query] {
            let error = try #require(refusal(configuration("http://shop.example.com", mode)))
            #expect(error == .invalidConfiguration && error.disposition == .permanent)
            #expect(error.message.contains("authMode \(mode.rawValue)") && error.message.contains("http://"))
            #expect(error.fix.contains("https://") && error.fix.contains("oauth1"))
            #expect(refusal(configuration("http://127.0.0.1:8080", mode, sandbox: true)) == nil)
            #expect(refusal(configuration("http://shop.example.com", mode, insecure: true)) == nil)
            #expect(refusal(configuration("https://shop.example.com", mode)) == nil)
        }
    }

    @Test func oauth1NeedsSandboxOrAllowInsecureHTTP() throws {
        let error = try #require(refusal(configuration("http://shop.example.com", .oauth1)))
        #expect(error.message.contains("oauth1") && error.fix.contains("allowInsecureHTTP"))
        #expect(refusal(configuration("http://shop.example.com", .oauth1, insecure: true)) == nil)
        #expect(refusal(configuration("http://127.0.0.1:1", .oauth1, sandbox: true)) == nil)
    }

    @Test func badURLsEmptyKeysAndNonPEMCertificatesAreNamed() throws {
        #expect(refusal(configuration("shop.example.com", .basic))?.message.contains("baseURL") == true)
        #expect(refusal(configuration("ftp://shop.example.com", .basic))?.message.contains("baseURL") == true)
        #expect(refusal(configuration("https://shop.example.com?x=1", .basic)) != nil)
        var empty = configuration("https://shop.example.com", .basic)
        empty.consumerSecret = ""
        #expect(refusal(empty)?.fix.contains("consumerSecret") == true)
        var pem = configuration("https://shop.example.com", .basic)
        pem.caCertificatePEM = "/etc/ssl/store.pem"
        #expect(refusal(pem)?.message.contains("caCertificatePEM") == true)
    }

    @Test func anUnparsablePEMGivesAClearError() throws {
        let garbage = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n"
        do {
            let client = try WooCommerceClient.makeHTTPClient(trusting: garbage)
            try client.syncShutdown()
            Issue.record("a garbage certificate was accepted")
        } catch let error as ConnectorError {
            #expect(error == .invalidConfiguration && error.message.contains("caCertificatePEM") && error.fix.contains("BEGIN CERTIFICATE"))
        }
    }

    @Test func subdirectoryInstallsKeepTheirPath() throws {
        let resolved = try configuration("https://example.com/shop/", .basic).resolve()
        #expect(resolved.authority == "example.com" && resolved.basePath == "/shop" && resolved.scheme == "https")
        var tunnelled = configuration("http://127.0.0.1:8081", .oauth1, sandbox: true)
        tunnelled.homeURL = "https://127.0.0.1:8443"
        #expect(try tunnelled.resolve().signingAuthority == "127.0.0.1:8443")
    }
}
