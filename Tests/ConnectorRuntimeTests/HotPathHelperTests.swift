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

    @Test func trimmingWithNewlinesMatchesFoundation() {
        for text in ["  x \n", "\r\n\tkey==\n", "\u{85}a\u{2028}", "\u{0B}\u{0C}b", "\n", "", " a\nb "] {
            #expect(String(Formatting.trimmedSpaces(text, andNewlines: true)) == text.trimmingCharacters(in: .whitespacesAndNewlines), "\(text.debugDescription)")
        }
    }

    /// The timestamp parser no longer calls `timegm`: it must land on the same instant for every
    /// day of a span crossing leap years and centuries, and refuse out-of-range fields.
    @Test func timestampsParseToTheSameInstantAsTimegm() {
        var day = Date(timeIntervalSince1970: -86_400 * 365 * 3)
        let end = Date(timeIntervalSince1970: 86_400 * 365 * 140)
        var checked = 0
        while day < end {
            let text = Formatting.timestamp(day.addingTimeInterval(45_296.789))
            let parsed = Formatting.parseTimestamp(text)
            #expect(parsed.map(Formatting.timestamp) == text, "\(text)")
            day.addTimeInterval(86_400 * 13)
            checked += 1
        }
        #expect(checked > 3_000)
        #expect(Formatting.parseTimestamp("2000-02-29T23:59:59Z") == Date(timeIntervalSince1970: 951_868_799))
        #expect(Formatting.parseTimestamp("1969-12-31T23:59:59.5Z") == Date(timeIntervalSince1970: -0.5))
        for bad in ["2026-13-01T00:00:00Z", "2026-00-10T00:00:00Z", "2026-01-32T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:60:00Z"] {
            #expect(Formatting.parseTimestamp(bad) == nil, "\(bad)")
        }
    }

    @Test func byteSearchFindsWhatRangeOfFinds() {
        for (text, found) in [("application/cloudevents+json", 23), ("+json", 0), ("json+", nil), ("", nil), ("é+json", 2), ("+jso", nil), ("a+j+json", 3)] as [(String, Int?)] {
            #expect(Formatting.firstOffset(of: "+json", in: text) == found, "\(text)")
            #expect(Formatting.containsASCII(text, "+json") == text.contains("+json"), "\(text)")
        }
        #expect(Formatting.firstOffset(of: "", in: "abc") == nil)
        #expect(Formatting.firstOffset(of: "abcd", in: "abc") == nil)
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
