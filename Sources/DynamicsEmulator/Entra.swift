import Foundation

/// Entra ID client-credentials token endpoints (reference §1.2–§1.5) and F&O's bearer check.
extension DynamicsEmulator {
    struct EntraError: Error {
        var error: String
        var code: Int
        var text: String
        var status: Int
    }

    func token(_ request: DynamicsHTTPRequest) -> DynamicsHTTPResponse {
        let segments = request.path.split(separator: "/").map(String.init)
        let tenant = segments.first ?? ""
        let isV2 = request.path.hasSuffix("/oauth2/v2.0/token")
        let form = FormData.decode(String(decoding: request.body, as: UTF8.self))
        do {
            return try issue(tenant: tenant, isV2: isV2, form: form, authorization: request.header("Authorization"))
        } catch let e as EntraError {
            return entraError(e)
        } catch {
            return entraError(EntraError(error: "invalid_request", code: 900144, text: "\(error)", status: 400))
        }
    }

    private func issue(tenant: String, isV2: Bool, form: [String: String], authorization: String?) throws -> DynamicsHTTPResponse {
        guard tenant.caseInsensitiveCompare(configuration.tenantId) == .orderedSame else {
            throw EntraError(error: "invalid_request", code: 90002, text: "Tenant '\(tenant)' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", status: 400)
        }
        func missing(_ name: String) -> EntraError {
            EntraError(error: "invalid_request", code: 900144, text: "The request body must contain the following parameter: '\(name)'.", status: 400)
        }
        guard let grant = form["grant_type"], !grant.isEmpty else { throw missing("grant_type") }
        guard grant == "client_credentials" else {
            throw EntraError(error: "unsupported_grant_type", code: 70003, text: "The app requested an unsupported grant type '\(grant)'.", status: 400)
        }
        var clientId = form["client_id"]
        var secret = form["client_secret"]
        if let authorization, authorization.lowercased().hasPrefix("basic "),
           let decoded = Data(base64Encoded: String(authorization.dropFirst(6))).map({ String(decoding: $0, as: UTF8.self) }),
           let colon = decoded.firstIndex(of: ":")
        {
            clientId = clientId ?? FormData.percentDecode(String(decoded[..<colon]))
            secret = secret ?? FormData.percentDecode(String(decoded[decoded.index(after: colon)...]))
        }
        let audience: String
        if isV2 {
            if form["resource"] != nil {
                throw EntraError(error: "invalid_request", code: 901002, text: "The 'resource' request parameter is not supported.", status: 400)
            }
            guard let scope = form["scope"], !scope.isEmpty else { throw missing("scope") }
            guard scope.hasSuffix("/.default") else {
                throw EntraError(error: "invalid_scope", code: 70011, text: "The provided value for the input parameter 'scope' is not valid. The scope \(scope) is not valid.", status: 400)
            }
            audience = String(scope.dropLast("/.default".count))
        } else {
            guard let resource = form["resource"], !resource.isEmpty else { throw missing("resource") }
            audience = resource
        }
        guard let clientId, !clientId.isEmpty else { throw missing("client_id") }
        guard let client = configuration.clients.first(where: { $0.clientId.caseInsensitiveCompare(clientId) == .orderedSame }) else {
            throw EntraError(error: "unauthorized_client", code: 700016, text: "Application with identifier '\(clientId)' was not found in the directory '\(configuration.tenantId)'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", status: 400)
        }
        guard let secret, !secret.isEmpty else {
            throw EntraError(error: "invalid_client", code: 7000218, text: "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", status: configuration.tokenErrorStatus)
        }
        guard secret == client.clientSecret else {
            throw EntraError(error: "invalid_client", code: 7000215, text: "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '\(client.clientId)'.", status: configuration.tokenErrorStatus)
        }
        let env = environmentURL
        let known = [env] + configuration.otherResources
        guard known.contains(where: { DynamicsEmulator.sameResource($0, audience) }) else {
            throw EntraError(error: "invalid_resource", code: 500011, text: "The resource principal named \(audience) was not found in the tenant named \(configuration.tenantId). This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You might have sent your authentication request to the wrong tenant.", status: 400)
        }
        if audience.hasSuffix("/") {
            logger.warning("token requested with a trailing slash on the resource", metadata: ["entra.resource": "\(audience)"])
        }
        let now = clock.now()
        let lifetime = configuration.tokenLifetime
        let token: String = core.withLock { core in
            let bytes = (0..<4).map { _ in core.random.next() }
            let raw = bytes.flatMap { v in (0..<8).map { UInt8(truncatingIfNeeded: v >> ($0 * 8)) } }
            let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + Data(raw).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
            core.tokens[token] = IssuedToken(clientId: client.clientId, audience: audience, expiresAt: now.addingTimeInterval(TimeInterval(lifetime)))
            return token
        }
        if isV2 {
            let body: ODataValue = .object(ODataObject([
                ("token_type", "Bearer"), ("expires_in", .number(Decimal(lifetime))), ("ext_expires_in", .number(Decimal(lifetime))), ("access_token", .string(token)),
            ]))
            return DynamicsHTTPResponse(status: 200, headers: [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store, no-cache")], body: body.encoded())
        }
        let epoch = Int(now.timeIntervalSince1970)
        let body: ODataValue = .object(ODataObject([
            ("token_type", "Bearer"), ("expires_in", .string(String(lifetime))), ("ext_expires_in", .string(String(lifetime))),
            ("expires_on", .string(String(epoch + lifetime))), ("not_before", .string(String(epoch))),
            ("resource", .string(audience)), ("access_token", .string(token)),
        ]))
        return DynamicsHTTPResponse(status: 200, headers: [("Content-Type", "application/json; charset=utf-8"), ("Cache-Control", "no-store, no-cache")], body: body.encoded())
    }

    /// The audience rule of reference §1.1: the environment URL, case-insensitively, with a
    /// trailing slash tolerated.
    static func sameResource(_ a: String, _ b: String) -> Bool {
        func norm(_ s: String) -> String { (s.hasSuffix("/") ? String(s.dropLast()) : s).lowercased() }
        return norm(a) == norm(b)
    }

    private func entraError(_ e: EntraError) -> DynamicsHTTPResponse {
        let now = clock.now()
        let (trace, correlation) = core.withLock { ($0.random.uuid().lowercased(), $0.random.uuid().lowercased()) }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd HH:mm:ss'Z'"
        let stamp = f.string(from: now)
        let body: ODataValue = .object(ODataObject([
            ("error", .string(e.error)),
            ("error_description", .string("AADSTS\(e.code): \(e.text) Trace ID: \(trace) Correlation ID: \(correlation) Timestamp: \(stamp)".replacingOccurrences(of: " Trace ID:", with: "\r\nTrace ID:").replacingOccurrences(of: " Correlation ID:", with: "\r\nCorrelation ID:").replacingOccurrences(of: " Timestamp:", with: "\r\nTimestamp:"))),
            ("error_codes", .array([.number(Decimal(e.code))])),
            ("timestamp", .string(stamp)),
            ("trace_id", .string(trace)),
            ("correlation_id", .string(correlation)),
            ("error_uri", .string("https://login.microsoftonline.com/error?code=\(e.code)")),
        ]))
        return DynamicsHTTPResponse(status: e.status, headers: [("Content-Type", "application/json; charset=utf-8")], body: body.encoded())
    }

    /// The client behind a valid bearer token for this environment, or `nil` (401).
    func authenticate(_ request: DynamicsHTTPRequest) -> Client? {
        guard let header = request.header("Authorization"), header.lowercased().hasPrefix("bearer ") else { return nil }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        let now = clock.now()
        guard let issued = core.withLock({ $0.tokens[token] }), issued.expiresAt > now else { return nil }
        guard DynamicsEmulator.sameResource(issued.audience, environmentURL) else { return nil }
        return configuration.clients.first { $0.clientId == issued.clientId }
    }
}

/// `application/x-www-form-urlencoded` bodies and query strings.
enum FormData {
    static func decode(_ text: String) -> [String: String] {
        var out: [String: String] = [:]
        for (k, v) in pairs(text) where out[k] == nil { out[k] = v }
        return out
    }

    static func pairs(_ text: String) -> [(String, String)] {
        text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (percentDecode(String(kv[0])), kv.count > 1 ? percentDecode(String(kv[1])) : "")
        }
    }

    static func percentDecode(_ s: String, plusIsSpace: Bool = true) -> String {
        var bytes: [UInt8] = []
        var it = Array(s.utf8)[...]
        while let b = it.popFirst() {
            if b == UInt8(ascii: "%"), it.count >= 2, let v = UInt8(String(decoding: it.prefix(2), as: UTF8.self), radix: 16) {
                bytes.append(v)
                it = it.dropFirst(2)
            } else if b == UInt8(ascii: "+"), plusIsSpace {
                bytes.append(0x20)
            } else {
                bytes.append(b)
            }
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Percent-encodes a query value (RFC 3986 unreserved kept, plus `$ ' ( ) , *` for readability).
    static func encode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~$'(),*:")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}
