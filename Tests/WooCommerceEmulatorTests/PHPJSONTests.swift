import ConnectorSamples
import Testing
@testable import WooCommerceEmulator

/// The encoder writes exactly the bytes PHP wrote: every real body parses and re-encodes to
/// itself (`\/`, `\u20ac`, floats such as 17.995, key order).
@Suite struct PHPJSONTests {
    @Test func realRESTBodiesRoundTripByteForByte() throws {
        var checked = 0
        for name in try RESTCapture.allNames() {
            let capture = try RESTCapture.load(name)
            guard capture.rawBody.hasPrefix("{") || capture.rawBody.hasPrefix("[") else { continue }
            let parsed = try WooJSON.parse(Array(capture.rawBody.utf8))
            #expect(parsed.phpString == capture.rawBody, "\(name)")
            checked += 1
        }
        #expect(checked > 60)
    }

    @Test func realDeliveryBodiesRoundTripByteForByte() throws {
        for delivery in try Samples.realDeliveries() where delivery.signed {
            let parsed = try WooJSON.parse(delivery.body)
            #expect(parsed.phpEncoded() == delivery.body, "\(delivery.name)")
        }
    }

    @Test func escapesLikePHP() {
        let value: WooJSON = .obj(["a": "https://x/y", "b": "€ and 😀", "c": "tab\t\"q\"\\", "d": .double(17.995), "e": .double(3)])
        #expect(value.phpString == #"{"a":"https:\/\/x\/y","b":"\u20ac and \ud83d\ude00","c":"tab\t\"q\"\\","d":17.995,"e":3}"#)
    }
}
