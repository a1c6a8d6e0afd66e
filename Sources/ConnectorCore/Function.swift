import Foundation
import Logging

/// An HTTP request as every front door hands it to a function: http mode, a captured request
/// in once mode, and later Lambda's and Azure's HTTP events.
public struct HTTPRequestEnvelope: Sendable {
    public var method: String
    /// The path without the query string.
    public var path: String
    /// Query parameters (first value wins).
    public var query: [String: String]
    /// Header names lower-cased; repeated headers joined with ", ".
    public var headers: [String: String]
    /// The exact body bytes (signatures are computed over them).
    public var body: [UInt8]

    public init(method: String, path: String, query: [String: String] = [:], headers: [String: String], body: [UInt8]) {
        self.method = method.uppercased()
        self.path = path
        self.query = query
        self.headers = headers
        self.body = body
    }

    /// Splits `target` (`/path?a=b`) into path and query.
    public init(method: String, target: String, headers: [String: String], body: [UInt8]) {
        var query: [String: String] = [:]
        var path = target
        if let mark = target.firstIndex(of: "?") {
            path = String(target[..<mark])
            for item in URLComponents(string: "?" + target[target.index(after: mark)...])?.queryItems ?? [] where query[item.name] == nil {
                query[item.name] = item.value ?? ""
            }
        }
        self.init(method: method, path: path, query: query, headers: headers, body: body)
    }
}

/// What a function decided, independent of the front door that carries it back.
///
/// Mapping (runtimes.md Appendix A): done → 2xx / exit 0; retry → 503 or 429 + Retry-After /
/// exit 75; reject → 4xx / exit 65.
public struct Outcome: Sendable, Equatable {
    public enum Kind: String, Sendable { case done, retry, reject }

    public var kind: Kind
    /// The HTTP status to answer with.
    public var status: Int
    /// A small JSON body (never a secret, never the request body).
    public var body: [UInt8]
    /// Seconds, for 429/503.
    public var retryAfter: Int?
    /// A short, bounded reason for logs and the once-mode result line.
    public var reason: String

    public init(kind: Kind, status: Int, body: [UInt8] = [], retryAfter: Int? = nil, reason: String) {
        self.kind = kind
        self.status = status
        self.body = body
        self.retryAfter = retryAfter
        self.reason = reason
    }

    public static func done(_ status: Int = 200, json: String? = nil, reason: String = "done") -> Outcome {
        Outcome(kind: .done, status: status, body: json.map { Array($0.utf8) } ?? [], reason: reason)
    }
    public static func retry(_ reason: String, status: Int = 503, after: Int? = nil) -> Outcome {
        Outcome(kind: .retry, status: status, body: Array("{\"error\":\(JSONText.quoted(reason))}".utf8), retryAfter: after, reason: reason)
    }
    public static func reject(_ status: Int, _ reason: String) -> Outcome {
        Outcome(kind: .reject, status: status, body: Array("{\"error\":\(JSONText.quoted(reason))}".utf8), reason: reason)
    }

    /// The once-mode process exit code.
    public var exitCode: Int32 {
        switch kind {
        case .done: 0
        case .retry: 75
        case .reject: 65
        }
    }
}

/// Per-invocation values: who is running, which invocation, which logger.
public struct InvocationContext: Sendable {
    public var function: String
    public var invocationID: String
    public var logger: Logger
    public var deadline: Date?

    public init(function: String, invocationID: String, logger: Logger, deadline: Date? = nil) {
        self.function = function
        self.invocationID = invocationID
        self.logger = logger
        self.deadline = deadline
    }
}

/// One of the four functions, as every front door sees it.
public protocol FunctionHandler: Sendable {
    /// An HTTP request (webhooks, business events).
    func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome
    /// A CloudEvent (the functions' own hand-offs, schedules).
    func handle(event: CloudEvent, context: InvocationContext) async -> Outcome
}

/// Wakes a consumer after a hand-off was written durably (Knative's K_SINK). Losing a wake-up
/// loses nothing: pending work is re-handed by the poll.
public protocol WakeUpSender: Sendable {
    /// Starts sending `event` without delaying the caller's answer.
    func send(_ event: CloudEvent, logger: Logger)
    /// Waits (bounded) for the wake-ups already started — before a once-mode process exits or
    /// an http-mode process stops.
    func drain() async
}
