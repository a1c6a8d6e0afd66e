import Foundation

/// The parsers that read bytes an outsider controls, each as a fuzz target: raw bytes in, the
/// real parser run, the invariants that must hold for every input checked.
///
/// Bad input may only ever make a parser throw (or classify the input as unusable). A trap —
/// force unwrap, index out of range, integer overflow, unbounded recursion — ends the process,
/// which is what libFuzzer catches; a broken invariant comes back as a `FuzzFinding`.
public enum FuzzTarget: String, CaseIterable, Sendable {
    /// WooCommerce delivery bodies: classification, the ping form, the signature check.
    case delivery
    /// CloudEvents over HTTP (binary and structured mode) and event files.
    case cloudevent
    /// F&O `$batch` answers (multipart/mixed, changesets inside).
    case batch
    /// Connection files (`mlc connection add --file`).
    case connection

    /// Runs `input` through the target; nil when every invariant held.
    public func run(_ input: [UInt8]) -> FuzzFinding? {
        switch self {
        case .delivery: DeliveryFuzz.run(input)
        case .cloudevent: CloudEventFuzz.run(input)
        case .batch: BatchFuzz.run(input)
        case .connection: ConnectionFuzz.run(input)
        }
    }

    /// What each target checks, one line each (docs and `mlc-fuzz --help`).
    public var invariants: String {
        switch self {
        case .delivery:
            "classify is total and deterministic; a resource/deleted id is positive and is the body's own digits; a REST error code is ≤ 100 characters; a ping id is non-negative and the body starts with webhook_id=; the fixed secret's signature verifies, a one-bit change or a header taken from the body does not"
        case .cloudevent:
            "decode(headers:body:) throws only CloudEventError; a decoded event has specversion 1.0 and non-empty id, source and type; it re-encodes (structured, and binary where binary mode can carry it) and decodes to the same event"
        case .batch:
            "parseResponse throws only its own parse error, with a message; parsing is deterministic; no part body is longer than the answer"
        case .connection:
            "parse throws only ConnectorError (invalid configuration) naming the file; a parsed connection has a valid id and normalised URLs, and encodes (secrets revealed) and parses back to the same connection"
        }
    }
}

/// A broken invariant: which target, and what did not hold.
public struct FuzzFinding: Error, Sendable, Equatable, CustomStringConvertible {
    public let target: FuzzTarget
    public let invariant: String

    public init(_ target: FuzzTarget, _ invariant: String) {
        self.target = target
        self.invariant = invariant
    }

    public var description: String { "\(target.rawValue): \(invariant)" }
}

/// The first `limit` bytes of `bytes` as printable text, for a finding's message.
func excerpt<Bytes: Collection<UInt8>>(_ bytes: Bytes, limit: Int = 80) -> String {
    var out = ""
    for byte in bytes.prefix(limit) {
        if byte >= 0x20 && byte < 0x7F && byte != UInt8(ascii: "\\") { out.unicodeScalars.append(Unicode.Scalar(byte)) }
        else { out += String(format: "\\x%02x", byte) }
    }
    return bytes.count > limit ? out + "…" : out
}
