import ConnectorCore
import Foundation

/// Reads and checks connection files (`mlc connection add --file F`).
public enum ConnectionFile {
    /// Decodes and validates `data`, naming `source` (the file path) in every error.
    public static func parse(_ data: Data, source: String) throws -> Connection {
        let connection: Connection
        do {
            connection = try JSONDecoder().decode(Connection.self, from: data)
        } catch let error as DecodingError {
            throw describe(error, data: data, source: source)
        } catch {
            throw ConnectorError.invalidConfiguration("\(source): not a valid connection file (\(error))")
        }
        var normalized = connection
        try validate(&normalized, source: source)
        return normalized
    }

    /// Reads `path` and parses it.
    public static func load(path: String) throws -> Connection {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConnectorError.invalidConfiguration("\(path): cannot read the connection file", fix: "check the path and its permissions")
        }
        return try parse(data, source: path)
    }

    private static func describe(_ error: DecodingError, data: Data, source: String) -> ConnectorError {
        switch error {
        case .keyNotFound(let key, let context):
            let path = dottedPath(context.codingPath + [key])
            return .invalidConfiguration("\(source): required key '\(path)' is missing", fix: "add '\(path)' (SPEC §6 lists the required keys)")
        case .dataCorrupted(let context) where context.debugDescription == "unknown key":
            let path = dottedPath(context.codingPath)
            return .invalidConfiguration("\(source): unknown key '\(path)'", fix: "remove it or fix its spelling (every key, with its default, is documented in Sources/ConnectorConnections/Connection.swift)")
        case .dataCorrupted(let context):
            if context.codingPath.isEmpty {
                // Foundation's decoder reports a number its key's type cannot hold (1.5 or 1e400 where a
                // whole number belongs) as invalid JSON without a path; the JSON itself reads fine.
                if (try? JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])) != nil {
                    return .invalidConfiguration("\(source): a number does not fit its key (a fraction or an out-of-range number where a whole number belongs)",
                                                 fix: "use whole numbers within the ranges documented in Sources/ConnectorConnections/Connection.swift")
                }
                return .invalidConfiguration("\(source): not valid JSON", fix: "check the file with a JSON linter")
            }
            return .invalidConfiguration("\(source): key '\(dottedPath(context.codingPath))' is invalid: \(context.debugDescription)")
        case .typeMismatch(let type, let context):
            return .invalidConfiguration("\(source): key '\(dottedPath(context.codingPath))' has the wrong type (expected \(typeName(type)))")
        case .valueNotFound(let type, let context):
            return .invalidConfiguration("\(source): key '\(dottedPath(context.codingPath))' is null (expected \(typeName(type)))")
        @unknown default:
            return .invalidConfiguration("\(source): \(error)")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type, is SecretValue.Type: "a string"
        case is Int.Type, is Double.Type: "a number"
        case is Bool.Type: "true or false"
        default: "\(type)".contains("Array") ? "an array" : "\(type)".contains("Dictionary") ? "an object" : "\(type)"
        }
    }

    static let allowedEnvironmentDomains = ["dynamics.com", "dynamics.cn", "dynamics.us", "appsplatform.us"]
    static let allowedAuthorityHosts = [
        "login.microsoftonline.com", "login.microsoftonline.us", "login.chinacloudapi.cn", "login.partner.microsoftonline.cn",
    ]

    /// Semantic checks after decoding. Normalises what has one right form (lower-case
    /// environment URL without a trailing slash, lower-case legal entity).
    static func validate(_ c: inout Connection, source: String) throws {
        func fail(_ key: String, _ message: String, fix: String = "") -> ConnectorError {
            .invalidConfiguration("\(source): key '\(key)' \(message)", fix: fix)
        }
        guard c.schemaVersion == Connection.currentSchemaVersion else {
            throw fail("schemaVersion", "is \(c.schemaVersion); this build reads schema version \(Connection.currentSchemaVersion)")
        }
        guard ConnectionID.isValid(c.id) else {
            throw fail("id", "must be 1–40 lower-case letters, digits or '-', starting with a letter or digit")
        }
        // Accepted by the schema but not applied by this build: refused rather than silently ignored.
        guard c.mapping.defaultDimensions.isEmpty else {
            throw fail("mapping.defaultDimensions", "is not applied by this build yet (F&O's display-value format is tenant-specific)",
                       fix: "remove it, and set the default dimensions on the customer group or the items in F&O meanwhile")
        }
        // WooCommerce
        // The same normaliser the receiver compares X-WC-Webhook-Source with: a URL it cannot
        // read would make every delivery fail the source check.
        guard StoreURL.normalized(c.woocommerce.baseURL) != nil, let store = URLComponents(string: c.woocommerce.baseURL),
              let scheme = store.scheme?.lowercased() else {
            throw fail("woocommerce.baseURL", "must be the store's http(s) home URL without user, query or fragment, e.g. https://shop.example.com")
        }
        for (name, value) in [("consumerKey", c.woocommerce.consumerKey), ("consumerSecret", c.woocommerce.consumerSecret), ("webhookSecret", c.woocommerce.webhookSecret)] where value.isEmpty {
            throw fail("woocommerce.\(name)", "is empty")
        }
        switch c.woocommerce.authMode {
        case .basic, .query:
            if scheme != "https" && !c.sandbox {
                throw fail("woocommerce.authMode", "'\(c.woocommerce.authMode.rawValue)' sends the keys in clear and WooCommerce refuses it over plain HTTP", fix: "use an https baseURL, or authMode 'oauth1'")
            }
        case .oauth1:
            if scheme == "https" {
                break
            } else if !c.sandbox && !c.woocommerce.allowInsecureHTTP {
                throw fail("woocommerce.authMode", "'oauth1' over plain HTTP does not protect request bodies", fix: "use https, or set woocommerce.allowInsecureHTTP to true if you accept that")
            }
        }
        if let pem = c.woocommerce.caCertificatePEM, !pem.contains("-----BEGIN CERTIFICATE-----") {
            throw fail("woocommerce.caCertificatePEM", "must hold the PEM certificate itself (-----BEGIN CERTIFICATE-----…), not a path")
        }
        if let delivery = c.woocommerce.deliveryURL {
            guard let u = URLComponents(string: delivery), let s = u.scheme?.lowercased(), s == "https" || (s == "http" && c.sandbox), u.host?.isEmpty == false else {
                throw fail("woocommerce.deliveryURL", "must be an https URL WooCommerce can reach")
            }
        }
        let validTopic = /^(order|customer|product|coupon)\.(created|updated|deleted|restored)$/
        for (i, topic) in c.woocommerce.topics.enumerated() where (try? validTopic.wholeMatch(in: topic)) == nil {
            throw fail("woocommerce.topics[\(i)]", "'\(topic)' is not a WooCommerce topic such as order.updated")
        }
        // Dynamics
        var environment = c.dynamics.environmentURL.lowercased()
        while environment.hasSuffix("/") { environment.removeLast() }
        guard let env = URLComponents(string: environment), let envScheme = env.scheme, let envHost = env.host, !envHost.isEmpty,
              env.path.isEmpty, env.query == nil else {
            throw fail("dynamics.environmentURL", "must be the environment's root URL, e.g. https://contoso.operations.dynamics.com (no path)")
        }
        if c.sandbox && isLoopback(envHost) {
            // The emulator: plain HTTP on loopback is fine.
        } else {
            guard envScheme == "https", allowedEnvironmentDomains.contains(where: { envHost.hasSuffix("." + $0) }) else {
                throw fail("dynamics.environmentURL", "must be https on a Dynamics domain (*.operations.dynamics.com, *.cloudax.dynamics.com, …)", fix: c.sandbox ? "" : "for the local emulator set \"sandbox\": true and use a loopback URL")
            }
        }
        c.dynamics.environmentURL = environment
        var authority = c.dynamics.authorityHost.lowercased()
        while authority.hasSuffix("/") { authority.removeLast() }
        guard let auth = URLComponents(string: authority), let authHost = auth.host, auth.path.isEmpty,
              (auth.scheme == "https" && allowedAuthorityHosts.contains(authHost)) || (c.sandbox && isLoopback(authHost)) else {
            throw fail("dynamics.authorityHost", "must be one of Microsoft's Entra hosts (\(allowedAuthorityHosts.map { "https://" + $0 }.joined(separator: ", ")))", fix: c.sandbox ? "" : "sandbox connections may use a loopback URL")
        }
        c.dynamics.authorityHost = authority
        for (name, value) in [("tenantId", c.dynamics.tenantId), ("clientId", c.dynamics.clientId)] where value.trimmingCharacters(in: .whitespaces).isEmpty {
            throw fail("dynamics.\(name)", "is empty")
        }
        if c.dynamics.clientSecret.isEmpty { throw fail("dynamics.clientSecret", "is empty") }
        c.dynamics.legalEntity = c.dynamics.legalEntity.lowercased()
        guard (1...4).contains(c.dynamics.legalEntity.count), c.dynamics.legalEntity.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw fail("dynamics.legalEntity", "must be an F&O company id (dataAreaId) of 1–4 letters or digits, e.g. usmf")
        }
        if !c.dynamics.businessEventCode.isEmpty && c.dynamics.businessEventCode.reveal().utf8.count < 32 {
            throw fail("dynamics.businessEventCode", "must be at least 32 characters", fix: "omit it and one is generated")
        }
        // Orders
        guard (1...6).contains(c.orders.referencePrefix.count), c.orders.referencePrefix.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber) }) else {
            throw fail("orders.referencePrefix", "must be 1–6 letters or digits (keys written to F&O stay ≤ 20 characters and never contain '*')")
        }
        if c.orders.paidStatuses.isEmpty { throw fail("orders.paidStatuses", "must list at least one status") }
        guard (0...1440).contains(c.orders.pollOverlapMinutes) else { throw fail("orders.pollOverlapMinutes", "must be between 0 and 1440") }
        // Mapping
        guard (1...12).contains(c.mapping.customerAccountDigits) else { throw fail("mapping.customerAccountDigits", "must be between 1 and 12") }
        for (attribute, dimension) in c.mapping.variantDimensions where !["color", "size", "style", "config"].contains(dimension) {
            throw fail("mapping.variantDimensions.\(attribute)", "must be one of color, size, style, config")
        }
        // Catalog
        guard (0...1).contains(c.catalog.safetyValveShare) else { throw fail("catalog.safetyValveShare", "must be a share between 0 and 1, e.g. 0.02") }
        guard c.catalog.wooRequestsPerSecond > 0 else { throw fail("catalog.wooRequestsPerSecond", "must be positive") }
        guard (1...16).contains(c.catalog.wooConcurrency) else { throw fail("catalog.wooConcurrency", "must be between 1 and 16") }
        // Schedules
        for (name, expression) in [("backfill", c.schedules.backfill), ("catalog", c.schedules.catalog)] {
            do { _ = try CronExpression(expression) } catch let error as ConnectorError {
                throw fail("schedules.\(name)", "is not a valid five-field cron expression (UTC): \(error.message)", fix: error.fix)
            }
        }
        if !c.alerts.webhookURL.isEmpty, URLComponents(string: c.alerts.webhookURL.reveal())?.scheme?.hasPrefix("http") != true {
            throw fail("alerts.webhookURL", "must be an http(s) URL")
        }
        guard c.alerts.windowMinutes >= 1 else { throw fail("alerts.windowMinutes", "must be at least 1") }
    }

    /// localhost, ::1, or a dotted IPv4 address in 127.0.0.0/8 — never a name that merely starts with "127.".
    static func isLoopback(_ host: String) -> Bool {
        if host == "localhost" || host == "::1" || host == "[::1]" { return true }
        let octets = host.split(separator: ".", omittingEmptySubsequences: false)
        guard octets.count == 4, octets[0] == "127" else { return false }
        return octets.allSatisfy { $0.count <= 3 && UInt8($0) != nil }
    }
}

/// Connection ids appear in URLs and store keys, so they are held to a small alphabet.
public enum ConnectionID {
    public static func isValid(_ id: String) -> Bool {
        guard (1...40).contains(id.utf8.count), let first = id.utf8.first, first != UInt8(ascii: "-") else { return false }
        return id.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") }
    }
}
