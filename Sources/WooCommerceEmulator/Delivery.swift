import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// A queued delivery: Action Scheduler's `woocommerce_deliver_webhook_async` with
/// `(webhook_id, resource id)` as arguments, which is why identical pending ones coalesce.
struct DeliveryJob: Sendable, Equatable {
    var webhookID: Int
    var resourceID: Int
}

/// The form-encoded, unsigned ping sent when a webhook is saved active with a pending delivery.
struct PingJob: Sendable {
    var webhookID: Int
    var deliveryURL: String
}

/// A delivery ready to send: payload built, headers set.
struct PreparedDelivery: Sendable {
    var job: DeliveryJob
    var topic: String
    var url: String
    var headers: [(String, String)]
    var body: [UInt8]
}

extension WooCommerceEmulator {
    static func userAgent(_ configuration: Configuration) -> String {
        "WooCommerce/\(configuration.version) Hookshot (WordPress/\(configuration.wordPressVersion))"
    }

    /// Turns the store's fired hooks into queued deliveries for active webhooks of that topic;
    /// an identical pending delivery is not queued twice.
    func enqueueEvents(_ core: inout Core) {
        let events = core.store.events
        core.store.events.removeAll()
        for event in events {
            if event.resource == "order", let order = core.store.orders[event.id], ["draft", "auto-draft", "checkout-draft"].contains(order.status), event.event == "created" {
                continue
            }
            for webhook in core.store.webhooks.values.sorted(by: { $0.id < $1.id }) where webhook.status == "active" && webhook.topic == event.topic {
                let job = DeliveryJob(webhookID: webhook.id, resourceID: event.id)
                if !core.queue.contains(job) { core.queue.append(job) }
            }
        }
    }

    /// Runs the queue now, as WP-Cron would: every queued delivery is sent once, in order,
    /// with its payload built at this moment. Returns the attempts made.
    @discardableResult
    public func runDeliveries() async -> [DeliveryAttempt] {
        let prepared: [PreparedDelivery] = core.withLock { core in
            let jobs = core.queue
            core.queue.removeAll()
            let now = clock.now()
            let renderer = Renderer(state: core.store, home: core.home)
            return jobs.compactMap { job in
                guard let webhook = core.store.webhooks[job.webhookID] else { return nil }
                let payload = Self.payload(for: webhook, resourceID: job.resourceID, store: core.store, renderer: renderer, errorFault: core.faults.errorPayloads > 0)
                if core.faults.errorPayloads > 0 { core.faults.errorPayloads -= 1 }
                let body = payload.phpEncoded()
                let deliveryID = Digest.wpHash("\(webhook.id)\(Int(now.timeIntervalSince1970))", salt: configuration.authSalt)
                let headers: [(String, String)] = [
                    ("User-Agent", Self.userAgent(configuration)),
                    ("Accept", "*/*"),
                    ("Content-Type", "application/json"),
                    ("X-WC-Webhook-Source", core.home + "/"),
                    ("X-WC-Webhook-Topic", webhook.topic),
                    ("X-WC-Webhook-Resource", webhook.resource),
                    ("X-WC-Webhook-Event", webhook.event),
                    ("X-WC-Webhook-Signature", Digest.hmacSHA256Base64(key: Array(Self.specialCharsDecode(webhook.secret).utf8), message: body)),
                    ("X-WC-Webhook-ID", String(webhook.id)),
                    ("X-WC-Webhook-Delivery-ID", deliveryID),
                ]
                return PreparedDelivery(job: job, topic: webhook.topic, url: webhook.deliveryURL, headers: headers, body: body)
            }
        }
        var attempts: [DeliveryAttempt] = []
        for delivery in prepared {
            let (drop, duplicate) = core.withLock { core -> (Bool, Bool) in
                if core.faults.dropDeliveries > 0 { core.faults.dropDeliveries -= 1; return (true, false) }
                if core.faults.duplicateDeliveries > 0 { core.faults.duplicateDeliveries -= 1; return (false, true) }
                return (false, false)
            }
            var status: Int?
            if !drop, configuration.safeRemoteRequests, !isSafeRemote(delivery.url) {
                // wp_safe_remote_post refuses it before any connection: a failed delivery.
                let attempt = DeliveryAttempt(webhookID: delivery.job.webhookID, topic: delivery.topic, resourceID: delivery.job.resourceID, status: nil, dropped: false)
                core.withLock { core in
                    core.attempts.append(attempt)
                    recordResult(attempt, in: &core)
                }
                attempts.append(attempt)
                continue
            }
            if !drop {
                status = await post(url: delivery.url, headers: delivery.headers, body: delivery.body)
                if duplicate { _ = await post(url: delivery.url, headers: delivery.headers, body: delivery.body) }
            }
            let attempt = DeliveryAttempt(webhookID: delivery.job.webhookID, topic: delivery.topic, resourceID: delivery.job.resourceID, status: status, dropped: drop)
            core.withLock { core in
                core.attempts.append(attempt)
                recordResult(attempt, in: &core)
            }
            attempts.append(attempt)
        }
        return attempts
    }

    /// The body WooCommerce builds when the delivery runs: the internal `GET` of the resource,
    /// `{"id":N}` for `deleted`, or — when that GET fails (resource gone, owner without rights,
    /// or the `errorPayloads` fault) — the REST error object, still signed and sent.
    static func payload(for webhook: WebhookRecord, resourceID: Int, store: StoreState, renderer: Renderer, errorFault: Bool) -> WooJSON {
        if webhook.event == "deleted" { return .obj(["id": .int(resourceID)]) }
        if errorFault {
            return RESTError(status: 401, code: "woocommerce_rest_cannot_view", message: "Sorry, you cannot view this resource.").json
        }
        let missing: RESTError
        switch webhook.resource {
        case "order":
            if let order = store.orders[resourceID] { return renderer.order(order) }
            missing = .invalidID("shop_order", status: 404)
        case "product":
            if let product = store.products[resourceID] { return renderer.product(product) }
            missing = .invalidID("product", status: 404)
        case "customer":
            if let customer = store.customers[resourceID] { return renderer.customer(customer) }
            missing = RESTError(status: 404, code: "woocommerce_rest_invalid_id", message: "Invalid resource ID.")
        default:
            if let coupon = store.coupons[resourceID] { return renderer.coupon(coupon) }
            missing = .invalidID("shop_coupon", status: 404)
        }
        return missing.json
    }

    /// WordPress's `wp_specialchars_decode($secret, ENT_QUOTES)`, applied to the key before signing.
    static func specialCharsDecode(_ text: String) -> String {
        guard text.contains("&") else { return text }
        return text.replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">")
            .replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#039;", with: "'")
            .replacingOccurrences(of: "&#39;", with: "'").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// `wp_safe_remote_*`: loopback and private hosts only when they are the site's own host,
    /// and ports 80, 443, 8080 or the site's own port.
    func isSafeRemote(_ url: String) -> Bool {
        guard let components = URLComponents(string: url), let host = components.host?.lowercased() else { return false }
        let home = URLComponents(string: homeURL)
        let homeHost = home?.host?.lowercased()
        let homePort = home?.port ?? (home?.scheme == "https" ? 443 : 80)
        let port = components.port ?? (components.scheme == "https" ? 443 : 80)
        let octets = host.split(separator: ".").compactMap { Int($0) }
        let isPrivate = host == "localhost" || (octets.count == 4 && (
            octets[0] == 127 || octets[0] == 10 || octets[0] == 0 || (octets[0] == 172 && (16...31).contains(octets[1]))
                || (octets[0] == 192 && octets[1] == 168) || (octets[0] == 169 && octets[1] == 254)))
        if isPrivate && host != homeHost { return false }
        return [80, 443, 8080, homePort].contains(port)
    }

    /// Success (200–302) resets the counter; a failure increments it, or — when more than 5
    /// failures are already counted — disables the webhook and leaves the counter at 6.
    func recordResult(_ attempt: DeliveryAttempt, in core: inout Core) {
        guard var webhook = core.store.webhooks[attempt.webhookID] else { return }
        let now = clock.now()
        if attempt.succeeded {
            if webhook.failureCount != 0 {
                webhook.failureCount = 0
                webhook.modified = now
            }
        } else {
            if webhook.failureCount > 5 {
                webhook.status = "disabled"
            } else {
                webhook.failureCount += 1
            }
            webhook.modified = now
        }
        core.store.webhooks[webhook.id] = webhook
    }

    func sendPing(_ ping: PingJob) async {
        if configuration.safeRemoteRequests, !isSafeRemote(ping.deliveryURL) { return }
        let status = await post(url: ping.deliveryURL, headers: [
            ("User-Agent", Self.userAgent(configuration)),
            ("Accept", "*/*"),
            ("Content-Type", "application/x-www-form-urlencoded"),
        ], body: Array("webhook_id=\(ping.webhookID)".utf8))
        if let status, (200...302).contains(status) {
            core.withLock { $0.store.webhooks[ping.webhookID]?.pendingDelivery = false }
        }
    }

    /// POSTs and returns the status, or `nil` when the request failed; never retries.
    func post(url: String, headers: [(String, String)], body: [UInt8]) async -> Int? {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await DeliveryClient.shared.execute(request, timeout: .nanoseconds(Int64(configuration.deliveryTimeout.components.seconds) * 1_000_000_000 + configuration.deliveryTimeout.components.attoseconds / 1_000_000_000))
            _ = try? await response.body.collect(upTo: 1 << 20)
            return Int(response.status.code)
        } catch {
            logger.debug("woo_emulator.delivery_failed", metadata: ["error": "\(type(of: error))"])
            return nil
        }
    }
}

/// The client deliveries go out through: one connection attempt (like WordPress's single
/// `wp_safe_remote_request`, so a closed port fails at once instead of being retried until the
/// timeout), redirects not followed (a 301/302 answer counts as success). Process-wide and
/// never shut down, like `HTTPClient.shared`.
enum DeliveryClient {
    static let shared: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.redirectConfiguration = .disallow
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
