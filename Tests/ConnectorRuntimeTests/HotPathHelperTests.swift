import ConnectorCore
import Foundation
import Testing

/// The hand-written replacements for Foundation and regex calls on the webhook hot path must
/// answer exactly what the calls they replaced answered.
@Suite struct HotPathHelperTests {
    @Test func decimalsParseExactlyAndRejectWhatTheOldPatternRejected() {
        let accepted: [(String, String)] = [
            ("0.01", "0.01"), ("-12.5", "-12.5"), ("19.99", "19.99"), ("7", "7"), ("-0", "0"), ("0.000", "0"),
            ("123456789012345678901234567890", "123456789012345678901234567890"),
            ("1.123456789012345678", "1.123456789012345678"),
        ]
        for (text, expected) in accepted {
            #expect(Formatting.decimal(text) == Decimal(string: expected), "\(text)")
        }
        let rejected = ["", "-", ".5", "5.", "1.2.3", "+1", " 1", "1 ", "1e5", "1,5", "١٢", "0x10", "--1",
                        "1234567890123456789012345678901", "1.1234567890123456789", "1.-2", "NaN"]
        for text in rejected {
            #expect(Formatting.decimal(text) == nil, "\(text)")
        }
        #expect(Formatting.decimal("-0.50")?.description == "-0.5")
    }

    @Test func trimmingRemovesSpacesAndTabsOnlyAtTheEnds() {
        #expect(Formatting.trimmedSpaces("  abc \t") == "abc")
        #expect(Formatting.trimmedSpaces("\u{00A0}\u{2003}a b\u{3000}") == "a b")
        #expect(Formatting.trimmedSpaces(" \t ") == "")
        #expect(Formatting.trimmedSpaces("") == "")
        // Newlines are not spaces (CharacterSet.whitespaces leaves them too).
        #expect(Formatting.trimmedSpaces("\nabc\n") == "\nabc\n")
        for text in ["  x ", "\u{2009}é\t", "a", " \u{00A0}", "\r\n x"] {
            #expect(String(Formatting.trimmedSpaces(text)) == text.trimmingCharacters(in: .whitespaces), "\(text.debugDescription)")
        }
    }

    @Test func constantTimeEqualsComparesWholeArrays() {
        let mac: [UInt8] = Array(0..<32)
        var other = mac
        #expect(Digests.constantTimeEquals(mac, other))
        other[31] ^= 1
        #expect(!Digests.constantTimeEquals(mac, other))
        other = mac
        other[0] ^= 0x80
        #expect(!Digests.constantTimeEquals(mac, other))
        #expect(!Digests.constantTimeEquals(mac, Array(mac.prefix(31))))
        #expect(!Digests.constantTimeEquals([], [0]))
        #expect(Digests.constantTimeEquals([UInt8](), [UInt8]()))
        // The generic form agrees.
        #expect(Digests.constantTimeEquals(mac[...], mac))
        #expect(!Digests.constantTimeEquals("Bearer a".utf8, "Bearer b".utf8))
    }

    @Test func randomUUIDsAreVersion4AndDistinct() {
        var seen = Set<UUID>()
        for _ in 0..<1000 {
            let id = UUID.random()
            let text = id.uuidString.lowercased()
            let parts = text.split(separator: "-")
            #expect(parts.map(\.count) == [8, 4, 4, 4, 12])
            #expect(parts[2].first == "4", "version nibble of \(text)")
            #expect("89ab".contains(parts[3].first!), "variant of \(text)")
            seen.insert(id)
        }
        #expect(seen.count == 1000)
    }
}
