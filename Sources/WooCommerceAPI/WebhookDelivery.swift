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

    /// Classifies `body` without keeping it: only the id (or error code) is read, in one
    /// validating pass.
    public static func classify(_ body: [UInt8]) -> DeliveryBody {
        let top: JSONProbe.TopLevel
        do {
            top = try JSONProbe.read(body)
        } catch JSONProbe.Failure.tooDeep {
            return .unusable(reason: "body nests deeper than \(JSONProbe.maxDepth) levels")
        } catch {
            return .unusable(reason: "body is not valid JSON")
        }
        guard top.isObject else { return .unusable(reason: "body is not a JSON object") }
        if let id = top.id, id > 0 {
            return top.keyCount == 1 ? .deleted(id: id) : .resource(id: id)
        }
        if let code = top.code, top.hasMessage {
            return .restError(code: String(code.prefix(100)))
        }
        return .unusable(reason: "body has no resource id")
    }
}
