import ConnectorConnections
import ConnectorCore
import DynamicsClient
import Foundation
import WooCommerceClient

/// What `mlc connection ping` needs beyond the connector's own clients. It is kept apart because
/// the flows never see the HTTP layer (the runtime implements it over its HTTP client):
/// - a token straight from Entra ID, past every token cache, so the stored credentials are
///   really proven (a cached token would hide a secret revoked since);
/// - one plain GET: `DynamicsClient` always reads with `cross-company=true`, so it cannot show
///   the default-company trap a read without it reveals.
public protocol ConnectionProbe: Sendable {
    /// A new token from Entra ID for these credentials (no cache read or written).
    func freshToken(_ credentials: DynamicsCredentials) async throws -> AccessToken
    /// `GET url` with `Authorization: Bearer`, returning the status and body.
    func get(_ url: String, bearer: String) async throws -> (status: Int, body: Data)
}

/// `mlc connection ping` (SPEC §2): a list of named steps — F&O token, one F&O read in the legal
/// entity (with and without cross-company), one WooCommerce product read, the webhook list —
/// each with its outcome, latency, what was seen and, for every known failure, the fix in plain
/// words. Failures are recognised by their codes (WooCommerce's `code`, Entra's AADSTS number),
/// not by message text.
public struct ConnectionCheck: Sendable {
    public enum Status: String, Sendable {
        case ok
        /// Works, but something deserves a look; does not fail the ping.
        case warning = "WARNING"
        case failed = "FAILED"
        /// Not run: an earlier step it needs failed (that step already fails the ping), or
        /// there was nothing to compare.
        case skipped = "SKIPPED"
    }

    /// One step of the check.
    public struct Result: Sendable {
        /// The step's name; the first step of each side carries the bare system name
        /// ("F&O" is the token, "WooCommerce" the product read), as scripts grep for it.
        public var system: String
        public var status: Status
        public var milliseconds: Int
        /// What was seen (never a secret).
        public var detail: String
        /// What to do about it (empty when nothing).
        public var fix: String

        public var ok: Bool { status != .failed }

        public init(system: String, status: Status, milliseconds: Int, detail: String, fix: String = "") {
            self.system = system
            self.status = status
            self.milliseconds = milliseconds
            self.detail = detail
            self.fix = fix
        }

        /// `STEP: ok|FAILED (123 ms) — detail — fix`
        public var line: String {
            "\(system): \(status.rawValue) (\(milliseconds) ms) — \(detail)" + (fix.isEmpty ? "" : " — \(fix)")
        }
    }

    public typealias Step = Result

    public enum StepName {
        public static let token = "F&O"
        public static let read = "F&O read"
        public static let defaultCompany = "F&O default company"
        public static let products = "WooCommerce"
        public static let webhooks = "WooCommerce webhooks"
    }

    let remotes: any RemoteSystems
    let probe: (any ConnectionProbe)?

    /// Without a probe the token is proven only by the F&O read (through the connector's token
    /// cache) and the default company is not compared.
    public init(remotes: any RemoteSystems, probe: (any ConnectionProbe)? = nil) {
        self.remotes = remotes
        self.probe = probe
    }

    /// Whether every step passed (warnings and skips included): the exit code of `mlc connection ping`.
    public static func passed(_ results: [Result]) -> Bool { !results.contains { $0.status == .failed } }

    public func ping(_ connection: Connection) async -> [Result] {
        var results: [Result] = []
        results += await dynamicsSteps(connection)
        results += await wooCommerceSteps(connection)
        return results
    }

    // MARK: F&O

    private func dynamicsSteps(_ connection: Connection) async -> [Result] {
        let settings = connection.dynamics
        let credentials = DynamicsCredentials(environmentURL: settings.environmentURL, tenantId: settings.tenantId, clientId: settings.clientId,
                                              clientSecret: settings.clientSecret.reveal(), authorityHost: settings.authorityHost)
        var results: [Result] = []
        var token: AccessToken?

        // (a) The token, asked of Entra ID directly.
        if let probe {
            let started = ContinuousClock.now
            do {
                token = try await probe.freshToken(credentials)
                results.append(Result(system: StepName.token, status: .ok, milliseconds: Self.ms(since: started),
                                      detail: "token for \(credentials.audience) issued to client \(settings.clientId) by \(credentials.authorityHost) (tenant \(settings.tenantId))"))
            } catch {
                results.append(Result(system: StepName.token, status: .failed, milliseconds: Self.ms(since: started),
                                      detail: Self.message(error), fix: Self.entraFix(error, connection: connection)))
                results.append(Result(system: StepName.read, status: .skipped, milliseconds: 0, detail: "needs a token"))
                results.append(Result(system: StepName.defaultCompany, status: .skipped, milliseconds: 0, detail: "needs a token"))
                return results
            }
        }

        // (b) One read in the legal entity, the way the connector always reads: cross-company.
        let legalEntity = settings.legalEntity.lowercased()
        let readName = probe == nil ? StepName.token : StepName.read
        let started = ContinuousClock.now
        let crossCompanyRows: Int
        do {
            let fo = try remotes.dynamics(connection)
            crossCompanyRows = try await fo.read(ODataQuery(FOEntity.customers, legalEntity: legalEntity, select: ["CustomerAccount"], top: 1),
                                                 as: FOCustomer.Account.self, maxPages: 1).count
        } catch {
            results.append(Result(system: readName, status: .failed, milliseconds: Self.ms(since: started),
                                  detail: Self.message(error), fix: Self.entraFix(error, connection: connection)))
            return results
        }
        if crossCompanyRows == 0 {
            results.append(Result(system: readName, status: .warning, milliseconds: Self.ms(since: started),
                                  detail: "\(settings.environmentURL): \(FOEntity.customers) of legal entity \(legalEntity) read with cross-company=true, but it has no customer",
                                  fix: "check dynamics.legalEntity is the company's id as F&O shows it (e.g. usmf); a new company may simply have no customer yet"))
        } else {
            results.append(Result(system: readName, status: .ok, milliseconds: Self.ms(since: started),
                                  detail: "\(settings.environmentURL): \(FOEntity.customers) of legal entity \(legalEntity) readable with cross-company=true (1 row read)"))
        }

        // (b') The same read without cross-company: F&O then shows only the app user's default
        // company. A difference is a WARNING, not a failure: the connector reads with
        // cross-company=true and writes every record with its dataAreaId, so it posts into the
        // right company either way — but people and anything else using this app user in F&O
        // (and any record written without a dataAreaId) land in the other company, which is
        // worth fixing and explains "the connector sees rows I cannot see" confusion.
        guard let probe, let token else {
            if probe != nil { results.append(Result(system: StepName.defaultCompany, status: .skipped, milliseconds: 0, detail: "needs a token")) }
            return results
        }
        guard crossCompanyRows > 0 else {
            results.append(Result(system: StepName.defaultCompany, status: .skipped, milliseconds: 0,
                                  detail: "not compared: legal entity \(legalEntity) has no customer to look for"))
            return results
        }
        let plainStarted = ContinuousClock.now
        let filter = "dataAreaId eq '\(legalEntity)'".addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let url = "\(credentials.audience)/data/\(FOEntity.customers)?$filter=\(filter)&$select=CustomerAccount&$top=1"
        do {
            let (status, body) = try await probe.get(url, bearer: token.value)
            guard (200..<300).contains(status) else {
                results.append(Result(system: StepName.defaultCompany, status: .warning, milliseconds: Self.ms(since: plainStarted),
                                      detail: "the read without cross-company answered HTTP \(status)", fix: "not needed by the connector; run the ping again to compare"))
                return results
            }
            let rows = ((try? JSONSerialization.jsonObject(with: body)) as? [String: Any])?["value"] as? [Any]
            if let rows, rows.isEmpty {
                results.append(Result(system: StepName.defaultCompany, status: .warning, milliseconds: Self.ms(since: plainStarted),
                                      detail: "without cross-company F&O shows no customer of \(legalEntity), with it it does",
                                      fix: "the app's F&O user has another default company than \(legalEntity); the connector always reads with cross-company=true, but check the user's company in F&O (System administration > Users)"))
            } else {
                results.append(Result(system: StepName.defaultCompany, status: .ok, milliseconds: Self.ms(since: plainStarted),
                                      detail: "the app's F&O user sees \(legalEntity) without cross-company too"))
            }
        } catch {
            results.append(Result(system: StepName.defaultCompany, status: .warning, milliseconds: Self.ms(since: plainStarted),
                                  detail: "the read without cross-company failed: \(Self.message(error))", fix: "not needed by the connector; run the ping again to compare"))
        }
        return results
    }

    /// The fix for a token or F&O read failure, by Entra's AADSTS number in the message.
    public static func entraFix(_ error: any Error, connection: Connection) -> String {
        let fallback = (error as? ConnectorError)?.fix ?? ""
        guard let code = aadstsCode(in: message(error)) else { return fallback }
        let settings = connection.dynamics
        switch code {
        case 7000215:
            return "wrong client secret: store the secret's Value (not its Secret ID) from Entra ID > App registrations > \(settings.clientId) > Certificates & secrets with: printf %s \"$SECRET\" | mlc connection set-secret \(connection.id) dynamics.clientSecret"
        case 7000222:
            return "the client secret has expired: create a new one for app \(settings.clientId) in Entra ID and store it with mlc connection set-secret \(connection.id) dynamics.clientSecret"
        case 700016:
            return "Entra ID has no app \(settings.clientId) in tenant \(settings.tenantId): check dynamics.clientId and dynamics.tenantId (mlc connection update)"
        case 500011:
            return "wrong environment URL: Entra ID knows no F&O environment \(DynamicsCredentials(environmentURL: settings.environmentURL, tenantId: settings.tenantId, clientId: settings.clientId, clientSecret: "", authorityHost: settings.authorityHost).audience) in tenant \(settings.tenantId) — set dynamics.environmentURL to the exact environment URL (https://NAME.operations.dynamics.com, no path) with mlc connection update"
        case 90002:
            return "wrong tenant: check dynamics.tenantId (the directory id of the tenant that holds the app)"
        default:
            return fallback
        }
    }

    /// `AADSTS7000215` → 7000215.
    static func aadstsCode(in text: String) -> Int? {
        guard let range = text.range(of: "AADSTS[0-9]+", options: .regularExpression) else { return nil }
        return Int(text[range].dropFirst("AADSTS".count))
    }

    // MARK: WooCommerce

    private func wooCommerceSteps(_ connection: Connection) async -> [Result] {
        let settings = connection.woocommerce
        var results: [Result] = []
        // (c) One product read.
        var started = ContinuousClock.now
        let client: WooCommerceClient
        do {
            client = try remotes.woocommerce(connection)
            let page = try await client.products(page: 1, perPage: 1)
            let count = page.total.map { "\($0) products" } ?? "products readable"
            results.append(Result(system: StepName.products, status: .ok, milliseconds: Self.ms(since: started),
                                  detail: "\(settings.baseURL) answered GET /products?per_page=1 (\(count), auth \(settings.authMode.rawValue))"))
        } catch {
            results.append(Result(system: StepName.products, status: .failed, milliseconds: Self.ms(since: started),
                                  detail: Self.message(error), fix: Self.wooFix(error, connection: connection)))
            results.append(Result(system: StepName.webhooks, status: .skipped, milliseconds: 0, detail: "needs the store to answer"))
            return results
        }

        // (d) The webhook list.
        started = ContinuousClock.now
        do {
            let webhooks = try await client.allWebhooks()
            let summary = WebhookSummary(webhooks, deliveryURL: settings.deliveryURL)
            let ms = Self.ms(since: started)
            guard let deliveryURL = settings.deliveryURL else {
                results.append(Result(system: StepName.webhooks, status: .ok, milliseconds: ms,
                                      detail: "\(webhooks.count) webhooks; woocommerce.deliveryURL is not set, so none is checked as the connector's"))
                return results
            }
            let detail = "\(webhooks.count) webhooks, \(summary.ours.count) to \(deliveryURL)" +
                (summary.ours.isEmpty ? "" : summary.oursNotActive.isEmpty ? ", all of them active" : ", not active: " + summary.oursNotActive.map { "#\($0.id) \($0.topic) \($0.status)" }.joined(separator: ", "))
            if summary.ours.isEmpty {
                results.append(Result(system: StepName.webhooks, status: .warning, milliseconds: ms, detail: detail,
                                      fix: "no webhook delivers to woocommerce.deliveryURL: backfill-poll creates the connector's webhooks on its next run (orders still arrive by its polling meanwhile); check deliveryURL if webhooks exist under another URL"))
            } else if !summary.oursNotActive.isEmpty {
                results.append(Result(system: StepName.webhooks, status: .warning, milliseconds: ms, detail: detail,
                                      fix: "WooCommerce disables a webhook after repeated delivery failures: check the receiver answers at deliveryURL; backfill-poll re-enables it and backfills the gap"))
            } else {
                results.append(Result(system: StepName.webhooks, status: .ok, milliseconds: ms, detail: detail))
            }
        } catch {
            results.append(Result(system: StepName.webhooks, status: .failed, milliseconds: Self.ms(since: started),
                                  detail: Self.message(error), fix: Self.wooFix(error, connection: connection)))
        }
        return results
    }

    struct WebhookSummary {
        var ours: [WooWebhook]
        var oursNotActive: [WooWebhook]
        init(_ webhooks: [WooWebhook], deliveryURL: String?) {
            ours = deliveryURL.map { url in webhooks.filter { WebhookSecrets.sameURL($0.deliveryURL, url) } } ?? []
            oursNotActive = ours.filter { $0.status != "active" }
        }
    }

    /// The fix for a WooCommerce failure, by WooCommerce's (or the client's) `code`.
    public static func wooFix(_ error: any Error, connection: Connection) -> String {
        guard let woo = error as? WooCommerceError else { return (error as? ConnectorError)?.fix ?? "" }
        let settings = connection.woocommerce
        let plainHTTP = settings.baseURL.lowercased().hasPrefix("http://")
        switch woo.code {
        case "woocommerce_rest_cannot_view" where woo.status == 401:
            // 401 (not 403): WordPress saw no user at all — the key was not taken.
            if settings.authMode.rawValue != "oauth1" && plainHTTP {
                return "Basic auth needs HTTPS: over plain HTTP WordPress ignores the key and the call is anonymous — serve the store over HTTPS (behind a proxy, let WordPress see HTTPS via X-Forwarded-Proto), or set woocommerce.authMode to oauth1"
            }
            return "WordPress saw an anonymous request: a proxy or the web server may drop the Authorization header before PHP (pass HTTP_AUTHORIZATION through), or set woocommerce.authMode to query or oauth1"
        case "woocommerce_rest_cannot_view", "woocommerce_rest_cannot_create", "woocommerce_rest_cannot_edit":
            return "the key's user may not do this: give the REST API key Read/Write permission and a user who can manage WooCommerce (WooCommerce > Settings > Advanced > REST API)"
        case "woocommerce_rest_authentication_error":
            return "WooCommerce refused the key: check woocommerce.consumerKey and consumerSecret (mlc connection set-secret \(connection.id) woocommerce.consumerSecret)" +
                (settings.authMode.rawValue == "oauth1" ? "; with oauth1 also that this machine's clock is right (WooCommerce refuses timestamps 15 minutes off)" : "")
        case "tls_failed":
            return "the store's TLS certificate is not trusted (self-signed or a private CA): put its CA certificate in woocommerce.caCertificatePEM (mlc connection update), or give the store a publicly trusted certificate"
        case "transport_failed", "transport_timeout":
            return "the store could not be reached: check woocommerce.baseURL and that the store is up and reachable from here"
        case "rest_no_route":
            return "no WooCommerce REST API at woocommerce.baseURL: check the URL is the WordPress home and WooCommerce is active with pretty permalinks"
        default:
            return woo.connectorError.fix
        }
    }

    static func message(_ error: any Error) -> String {
        if let error = error as? ConnectorError { return error.message }
        return String(describing: error)
    }

    static func ms(since start: ContinuousClock.Instant) -> Int {
        let elapsed = ContinuousClock.now - start
        return Int(elapsed.components.seconds * 1000 + elapsed.components.attoseconds / 1_000_000_000_000_000)
    }
}

extension FOCustomer {
    /// Just the account, for existence reads.
    public struct Account: Decodable, Sendable { public var CustomerAccount: String }
}
