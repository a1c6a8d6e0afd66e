import Crypto
import Foundation

/// Small, allocation-light digests and comparisons used on the hot path.
public enum Digests {
    /// Lower-case hex SHA-256 of `bytes`.
    public static func sha256Hex(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { hex(SHA256.hash(data: $0)) }
    }

    /// Lower-case hex of any byte sequence. Inlinable, so callers get it specialized: the generic
    /// entry point has the runtime look up the sequence's conformances by name on a cold start.
    @inlinable
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
        constantTimeEquals(Array(a), Array(b))
    }

    /// The same over two arrays, walked as raw buffers (the generic form goes through
    /// unspecialized iterators from another module, a measurable share of a webhook's CPU).
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        a.withUnsafeBufferPointer { x in
            b.withUnsafeBufferPointer { y in
                var diff: UInt8 = x.count == y.count ? 0 : 1
                if x.count == y.count {
                    for i in 0..<x.count { diff |= x[i] ^ y[i] }
                } else {
                    // Still walk the input so the time does not reveal where a prefix stopped matching.
                    for i in 0..<x.count { diff |= x[i] ^ x[i] }
                }
                return diff == 0
            }
        }
    }
}

extension UUID {
    /// A random (version 4) UUID from the system generator (`getrandom(2)`). Foundation's
    /// `UUID()` opens and reads /dev/urandom on Linux each time — a file open per request
    /// for every invocation id and wake-up.
    public static func random() -> UUID {
        var generator = SystemRandomNumberGenerator()
        var bytes = (generator.next() as UInt64, generator.next() as UInt64)
        return withUnsafeMutableBytes(of: &bytes) { raw in
            raw[6] = (raw[6] & 0x0F) | 0x40   // version 4
            raw[8] = (raw[8] & 0x3F) | 0x80   // RFC 4122 variant
            return UUID(uuid: raw.loadUnaligned(as: uuid_t.self))
        }
    }
}
