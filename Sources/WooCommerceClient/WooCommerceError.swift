import ConnectorCore
import Foundation

/// A failed WooCommerce call, keeping what the store said: its `code`, `message` and HTTP
/// status (`data.status`), plus `Retry-After` on 429/503.
///
/// Every client operation throws this type. ``connectorError`` classes it for the flows:
/// credentials, not-found and invalid input are permanent; 429, 5xx, timeouts and refused
/// connections are transient. The message never carries a secret, a query string or a body
/// beyond WooCommerce's own message (bounded).
public struct WooCommerceError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The HTTP status; `nil` when no response arrived (timeout, refused, TLS) or the client
    /// refused the call itself.
    public let status: Int?
    /// WooCommerce's `code` (e.g. `woocommerce_rest_authentication_error`), or one of the
    /// client's own: `http_error` (non-JSON error body), `http_redirect`, `transport_timeout`,
    /// `transport_failed`, `tls_failed`, `invalid_response`, `client_invalid_request`.
    public let code: String
    /// WooCommerce's `message`, or a trimmed text of what came back.
    public let message: String
    /// Seconds to wait, from `Retry-After` (429/503).
    public let retryAfter: TimeInterval?
    /// `GET /wp-json/wc/v3/orders` — method and path only, never the query (it may hold keys).
    public let request: String

    public init(status: Int?, code: String, message: String, retryAfter: TimeInterval? = nil, request: String = "") {
        self.status = status
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
        self.request = request
    }

    public var description: String {
        let head = status.map { "WooCommerce \($0) \(code)" } ?? "WooCommerce \(code)"
        return "\(head): \(message)" + (request.isEmpty ? "" : " (\(request))")
    }

    /// Whether retrying the same call later can succeed.
    public var isTransient: Bool { connectorError.disposition == .transient }

    /// The connector-wide error with its disposition and a fix in plain words:
    /// 401/403 `credentialsRejected`, 404 `notFound`, other 4xx `remoteRejected` (WooCommerce's
    /// message kept), 429 `throttled` and 5xx/timeouts/refused `remoteUnavailable` (both
    /// transient, carrying `retryAfter`); the client's own refusals are `invalidInput`, an
    /// untrusted certificate or a redirect `invalidConfiguration`.
    public var connectorError: ConnectorError {
        let what = "WooCommerce " + (status.map { "\($0) " } ?? "") + "\(code): \(message)" + (request.isEmpty ? "" : " (\(request))")
        switch code {
        case "transport_timeout":
            return .remoteUnavailable(what, fix: "the store did not answer in time; retry later, or raise requestTimeout if it is always slow")
        case "transport_failed":
            return .remoteUnavailable(what, fix: "the store could not be reached; retry later and check that baseURL is right")
        case "tls_failed":
            return .invalidConfiguration(what, fix: "the store's TLS certificate was not trusted; set caCertificatePEM to its CA certificate, or fix the certificate")
        case "http_redirect":
            return .invalidConfiguration(what, fix: "set baseURL to the store's final home URL (scheme and host as WordPress → Settings → General shows them)")
        case "client_invalid_request":
            return .invalidInput(what)
        case "invalid_response":
            return .invalidInput(what, fix: "the store's answer did not match the WooCommerce REST v3 shape; check baseURL points at a WooCommerce store")
        // A 500 that is not an outage: the gateway cannot refund through the API.
        case "woocommerce_rest_cannot_create_order_refund":
            return .remoteRejected(what, fix: "record the refund without the gateway (api_refund false) or refund in the payment provider")
        default: break
        }
        guard let status else { return .remoteUnavailable(what, fix: "retry later", retryAfter: retryAfter) }
        switch status {
        case 401, 403:
            return .credentialsRejected(
                "WooCommerce rejected the credentials: \(what)",
                fix: "check consumerKey/consumerSecret, that the key's user has read_write permission, and authMode: basic/query work only over HTTPS as WordPress sees it, oauth1 over plain HTTP")
        case 404:
            return .notFound(what)
        case 409:
            return .conflict(what)
        case 429:
            return .throttled(what, retryAfter: retryAfter)
        case 408, 500...599:
            return .remoteUnavailable(what, fix: "the store or its host is failing; retry later", retryAfter: retryAfter)
        default:
            return .remoteRejected(what, fix: status == 400 ? "the store refused the request's data; correct it and retry" : "")
        }
    }

    /// An error the client raises before sending anything.
    static func invalidRequest(_ message: String, request: String = "") -> WooCommerceError {
        WooCommerceError(status: nil, code: "client_invalid_request", message: message, request: request)
    }
}

/// WooCommerce's error body: `{"code", "message", "data": {"status", …} | <int>}`.
struct WooErrorBody: Decodable {
    var code: String
    var message: String
    var status: Int?

    enum CodingKeys: String, CodingKey { case code, message, data }
    enum DataKeys: String, CodingKey { case status }

    init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        code = try c.decode(String.self, forKey: .code)
        message = (try? c.decodeIfPresent(String.self, forKey: .message)) ?? ""
        // `data` is usually an object with `status`, sometimes a bare integer (refunds).
        if let nested = try? c.nestedContainer(keyedBy: DataKeys.self, forKey: .data) {
            status = try? nested.decodeIfPresent(Int.self, forKey: .status)
        } else {
            status = try? c.decodeIfPresent(Int.self, forKey: .data)
        }
    }
}

extension WooCommerceError {
    /// Builds the error from an HTTP error response; never fails, whatever the body is.
    static func from(status: Int, body: [UInt8], retryAfter: TimeInterval?, request: String) -> WooCommerceError {
        if let parsed = try? JSONDecoder().decode(WooErrorBody.self, from: Data(body)) {
            return WooCommerceError(status: status, code: parsed.code, message: Formatting.bounded(parsed.message, limit: 300), retryAfter: retryAfter, request: request)
        }
        return WooCommerceError(status: status, code: "http_error", message: summary(of: body, status: status), retryAfter: retryAfter, request: request)
    }

    /// A non-JSON body (an HTML page from a proxy) as one short line: tags dropped,
    /// whitespace collapsed, bounded.
    static func summary(of body: [UInt8], status: Int) -> String {
        let text = String(decoding: body.prefix(4096), as: UTF8.self)
        var out = ""
        var inTag = false
        for ch in text {
            if ch == "<" { inTag = true; out.append(" "); continue }
            if ch == ">" { inTag = false; continue }
            if !inTag { out.append(ch) }
        }
        let words = out.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        let line = Formatting.bounded(words, limit: 200)
        return line.isEmpty ? "HTTP \(status) with an empty or unreadable body" : "HTTP \(status), non-JSON body: \(line)"
    }
}
