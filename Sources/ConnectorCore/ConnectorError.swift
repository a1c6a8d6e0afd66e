/// An error any part of the connector can raise, classed by what the caller should do about it.
///
/// Modelled on AsyncHTTPClient's `HTTPClientError`: a public struct around a private code, a
/// short bounded `description` safe for logs and metric labels, and a `fix` in plain words for
/// the person who has to act on it. The message never contains a secret or a request body.
public struct ConnectorError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What the caller should do.
    public enum Disposition: String, Sendable {
        /// Bad input or configuration: retrying the same thing fails the same way.
        case permanent
        /// The store or a remote system is unavailable: retry later.
        case transient
    }

    private enum Code: String, Sendable {
        case invalidConfiguration, invalidInput, notFound, alreadyExists, storeUnavailable
        case masterKey, sealing, conflict
        case remoteUnavailable, remoteRejected, credentialsRejected, throttled
    }

    private let code: Code
    /// What went wrong, in one line.
    public let message: String
    /// What to do about it, in one line (may be empty).
    public let fix: String
    /// How long the remote system asked us to wait (`Retry-After`), when it said.
    public let retryAfter: Double?

    private init(_ code: Code, _ message: String, fix: String = "", retryAfter: Double? = nil) {
        self.code = code
        self.message = message
        self.fix = fix
        self.retryAfter = retryAfter
    }

    public var disposition: Disposition {
        switch code {
        // A conflict is someone else's concurrent change: the same call later sees the new state.
        case .storeUnavailable, .remoteUnavailable, .throttled, .conflict: .transient
        default: .permanent
        }
    }

    /// A stable, bounded label for metrics and audit records.
    public var label: String { code.rawValue }

    public var description: String { fix.isEmpty ? message : "\(message) — \(fix)" }

    public static func == (lhs: ConnectorError, rhs: ConnectorError) -> Bool { lhs.code == rhs.code }

    public static func invalidConfiguration(_ message: String, fix: String = "") -> Self { .init(.invalidConfiguration, message, fix: fix) }
    public static func invalidInput(_ message: String, fix: String = "") -> Self { .init(.invalidInput, message, fix: fix) }
    public static func notFound(_ message: String, fix: String = "") -> Self { .init(.notFound, message, fix: fix) }
    public static func alreadyExists(_ message: String, fix: String = "") -> Self { .init(.alreadyExists, message, fix: fix) }
    public static func storeUnavailable(_ message: String, fix: String = "") -> Self { .init(.storeUnavailable, message, fix: fix) }
    public static func masterKey(_ message: String, fix: String = "") -> Self { .init(.masterKey, message, fix: fix) }
    public static func sealing(_ message: String, fix: String = "") -> Self { .init(.sealing, message, fix: fix) }
    public static func conflict(_ message: String, fix: String = "") -> Self { .init(.conflict, message, fix: fix) }
    /// A remote system did not answer, or answered 5xx / a timeout: try again later.
    public static func remoteUnavailable(_ message: String, fix: String = "", retryAfter: Double? = nil) -> Self { .init(.remoteUnavailable, message, fix: fix, retryAfter: retryAfter) }
    /// A remote system refused the request itself (validation, business rule): retrying fails the same way.
    public static func remoteRejected(_ message: String, fix: String = "") -> Self { .init(.remoteRejected, message, fix: fix) }
    /// A remote system refused our credentials (a wrong secret, an app not registered).
    public static func credentialsRejected(_ message: String, fix: String = "") -> Self { .init(.credentialsRejected, message, fix: fix) }
    /// A remote system asked us to slow down (429 + Retry-After).
    public static func throttled(_ message: String, retryAfter: Double?) -> Self { .init(.throttled, message, fix: "wait and retry; nothing was processed", retryAfter: retryAfter) }

    // Comparison values: `error == .notFound` style checks.
    public static let invalidConfiguration = ConnectorError(.invalidConfiguration, "invalid configuration")
    public static let invalidInput = ConnectorError(.invalidInput, "invalid input")
    public static let notFound = ConnectorError(.notFound, "not found")
    public static let alreadyExists = ConnectorError(.alreadyExists, "already exists")
    public static let storeUnavailable = ConnectorError(.storeUnavailable, "store unavailable")
    public static let masterKey = ConnectorError(.masterKey, "master key")
    public static let sealing = ConnectorError(.sealing, "sealing")
    public static let conflict = ConnectorError(.conflict, "conflict")
    public static let remoteUnavailable = ConnectorError(.remoteUnavailable, "remote unavailable")
    public static let remoteRejected = ConnectorError(.remoteRejected, "remote rejected")
    public static let credentialsRejected = ConnectorError(.credentialsRejected, "credentials rejected")
    public static let throttled = ConnectorError(.throttled, "throttled")
}
