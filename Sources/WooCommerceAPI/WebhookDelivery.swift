import Foundation

/// The `X-WC-Webhook-*` headers of one delivery (names looked up case-insensitively).
public struct WebhookHeaders: Sendable, Equatable {
    public var source: String?
    public var topic: String?
    public var resource: String?
    public var event: String?
    public var signature: String?
    public var webhookID: String?
    /// Repeats within one second for different deliveries — never a dedupe key.
    public var deliveryID: String?

    /// `headers` with lower-cased names.
    public init(headers: [String: String]) {
        source = headers["x-wc-webhook-source"]
        topic = headers["x-wc-webhook-topic"]
        resource = headers["x-wc-webhook-resource"]
        event = headers["x-wc-webhook-event"]
        signature = headers["x-wc-webhook-signature"]
        webhookID = headers["x-wc-webhook-id"]
        deliveryID = headers["x-wc-webhook-delivery-id"]
    }

    /// True when no WooCommerce delivery header is present (the ping carries none).
    public var isEmpty: Bool {
        source == nil && topic == nil && resource == nil && event == nil && signature == nil && webhookID == nil && deliveryID == nil
    }
}

/// The ping WooCommerce sends when a webhook is created or activated: form body
/// `webhook_id=N`, no X-WC headers, no signature. It must be answered 200.
public enum WebhookPing {
    /// The webhook id when `body` is a ping body.
    public static func webhookID(in body: [UInt8]) -> Int? {
        guard body.count <= 64, let text = String(validating: body, as: UTF8.self),
              let match = try? /^webhook_id=([0-9]{1,18})$/.wholeMatch(in: text) else { return nil }
        return Int(match.1)
    }
}

/// What a signed delivery's body turned out to be.
public enum DeliveryBody: Sendable, Equatable {
    /// A resource (order, product, customer, coupon) with its id.
    case resource(id: Int64)
    /// `{"id":N}`: the resource was trashed (`*.deleted`).
    case deleted(id: Int64)
    /// A REST error object WooCommerce signed and sent because it could not build the payload.
    case restError(code: String)
    /// Not JSON, not an object, or no usable id.
    case unusable(reason: String)

    /// Reads only what classification needs, in one pass over the body.
    private struct Probe: Decodable {
        var id: Int64?
        var code: String?
        var hasMessage = false
        var keyCount = 0

        struct Key: CodingKey {
            var stringValue: String
            var intValue: Int? { nil }
            init(stringValue: String) { self.stringValue = stringValue }
            init?(intValue: Int) { nil }
        }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            keyCount = c.allKeys.count
            id = try? c.decodeIfPresent(Int64.self, forKey: Key(stringValue: "id"))
            code = try? c.decodeIfPresent(String.self, forKey: Key(stringValue: "code"))
            hasMessage = c.contains(Key(stringValue: "message"))
        }
    }

    /// Classifies `body` without keeping it: only the id (or error code) is read.
    public static func classify(_ body: [UInt8]) -> DeliveryBody {
        guard let first = body.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }), first == UInt8(ascii: "{") else {
            return .unusable(reason: "body is not a JSON object")
        }
        guard let probe = try? JSONDecoder().decode(Probe.self, from: Data(body)) else {
            return .unusable(reason: "body is not valid JSON")
        }
        if let id = probe.id, id > 0 {
            return probe.keyCount == 1 ? .deleted(id: id) : .resource(id: id)
        }
        if let code = probe.code, probe.hasMessage {
            return .restError(code: String(code.prefix(100)))
        }
        return .unusable(reason: "body has no resource id")
    }
}

