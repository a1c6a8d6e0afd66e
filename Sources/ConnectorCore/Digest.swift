import Crypto
import Foundation

/// Small, allocation-light digests and comparisons used on the hot path.
public enum Digests {
    /// Lower-case hex SHA-256 of `bytes`.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex(SHA256.hash(data: $0)) }
    }

    /// Lower-case hex of any byte sequence.
    public static func hex<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(64)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Compares two byte strings in time that depends only on their lengths, never on where
    /// they differ — signatures and shared codes are compared with this, never with `==`.
    public static func constantTimeEquals<A: Collection, B: Collection>(_ a: A, _ b: B) -> Bool
    where A.Element == UInt8, B.Element == UInt8 {
        var diff: UInt8 = a.count == b.count ? 0 : 1
        if a.count == b.count {
            for (x, y) in zip(a, b) { diff |= x ^ y }
        } else {
            // Still walk the input so the time does not reveal where a prefix stopped matching.
            for x in a { diff |= x ^ x }
        }
        return diff == 0
    }
}
