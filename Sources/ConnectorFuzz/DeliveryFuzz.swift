import Foundation
import WooCommerceAPI

/// A delivery body as the receiver sees it: classified, checked for the ping form and verified
/// against a fixed webhook secret.
enum DeliveryFuzz {
    static let secret = "fuzz-webhook-secret"

    static func run(_ body: [UInt8]) -> FuzzFinding? {
        func finding(_ what: String) -> FuzzFinding { FuzzFinding(.delivery, what + " (body \(excerpt(body)))") }

        let classified = DeliveryBody.classify(body)
        switch classified {
        case .resource(let id), .deleted(let id):
            guard id > 0 else { return finding("classified id \(id) is not positive") }
            // The id is read from the body's digits: it never wraps around or comes from elsewhere.
            guard contains(body, Array(String(id).utf8)) else { return finding("classified id \(id) is not in the body") }
        case .restError(let code):
            guard code.count <= 100 else { return finding("REST error code is \(code.count) characters (limit 100)") }
        case .unusable(let reason):
            guard !reason.isEmpty else { return finding("unusable without a reason") }
        }
        guard DeliveryBody.classify(body) == classified else { return finding("classify is not deterministic") }

        if let id = WebhookPing.webhookID(in: body) {
            guard id >= 0, body.starts(with: Array("webhook_id=".utf8)) else { return finding("ping id \(id) from a body that is not webhook_id=N") }
        }

        let signature = WebhookSignature.sign(body, secret: secret)
        guard WebhookSignature.isValid(signature, body: body, secret: secret) else { return finding("the secret's own signature does not verify") }
        guard !WebhookSignature.isValid(signature, body: body, secret: secret + "x") else { return finding("a signature verifies under another secret") }
        if let last = body.last {
            var changed = body
            changed[changed.count - 1] = last ^ 0x01
            guard !WebhookSignature.isValid(signature, body: changed, secret: secret) else { return finding("a signature verifies a changed body") }
        }
        // A header made of the attacker's own bytes (the first line of the body) must not verify.
        let header = String(decoding: body.prefix { $0 != 0x0A }.prefix(200), as: UTF8.self)
        guard !WebhookSignature.isValid(header, body: body, secret: secret) else { return finding("a header taken from the body verifies") }
        return nil
    }

    static func contains(_ haystack: [UInt8], _ needle: [UInt8]) -> Bool {
        guard !needle.isEmpty, needle.count <= haystack.count else { return needle.isEmpty }
        for start in 0...(haystack.count - needle.count) where haystack[start] == needle[0] {
            if haystack[start..<(start + needle.count)].elementsEqual(needle) { return true }
        }
        return false
    }
}
