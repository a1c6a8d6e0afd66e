import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation
import Logging
import Synchronization
import WooCommerceAPI

/// Settings of the front door, from `MLC_*` variables.
public struct IntakeSettings: Sendable {
    /// Bodies above this are recorded as unusable (still verified, still answered 200).
    public var maxBodyBytes: Int
    /// How long delivery, pending and audit records are kept (they hold personal data).
    public var retention: Duration
    /// Window of alert deduplication when a connection cannot be read.
    public var alertWindow: Duration

    public init(maxBodyBytes: Int = 2 * 1024 * 1024, retention: Duration = .seconds(30 * 86_400), alertWindow: Duration = .seconds(3600)) {
        self.maxBodyBytes = maxBodyBytes
        self.retention = retention
        self.alertWindow = alertWindow
    }
}

/// The record kept for every distinct signed delivery — the delivery's place in the audit
/// trail (received, verified, what it was, whether it was handed on).
public struct DeliveryRecord: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Pending work was written for the order or customer it names.
        case handedOff
        /// Kept for the trail only (trash notices, product and coupon topics).
        case recorded
        /// Signed, but nothing could be read from it; alerted, the poll recovers.
        case unusable
    }

    public var connection: String
    public var topic: String
    public var resourceID: String
    public var webhookID: String?
    public var deliveryID: String?
    public var receivedAt: Date
    public var bodySHA256: String
    public var bodyBytes: Int
    public var state: State
    public var reason: String?
    /// The raw body when it is usable text within the size limit (for replay); nil otherwise.
    public var body: String?

    enum CodingKeys: String, CodingKey {
        case connection, topic, resourceID, webhookID, deliveryID, receivedAt, bodySHA256, bodyBytes, state, reason
    }

    public init(connection: String, topic: String, resourceID: String, webhookID: String?, deliveryID: String?, receivedAt: Date,
                bodySHA256: String, bodyBytes: Int, state: State, reason: String?, body: String?) {
        self.connection = connection
        self.topic = topic
        self.resourceID = resourceID
        self.webhookID = webhookID
        self.deliveryID = deliveryID
        self.receivedAt = receivedAt
        self.bodySHA256 = bodySHA256
        self.bodyBytes = bodyBytes
        self.state = state
        self.reason = reason
        self.body = body
    }

    /// Stored as the record's JSON, a newline, then the raw body bytes: the body is kept exactly
    /// as received and costs no escaping on the hot path.
    public func encoded() throws -> [UInt8] {
        // Hand-written (this runs on every delivery); `decode` reads it with the store's decoder.
        var json = "{\"bodyBytes\":\(bodyBytes),\"bodySHA256\":"
        JSONText.appendString(bodySHA256, to: &json)
        json += ",\"connection\":"
        JSONText.appendString(connection, to: &json)
        if let deliveryID { json += ",\"deliveryID\":"; JSONText.appendString(deliveryID, to: &json) }
        if let reason { json += ",\"reason\":"; JSONText.appendString(reason, to: &json) }
        json += ",\"receivedAt\":"
        JSONText.appendString(Formatting.timestamp(receivedAt), to: &json)
        json += ",\"resourceID\":"
        JSONText.appendString(resourceID, to: &json)
        json += ",\"state\":"
        JSONText.appendString(state.rawValue, to: &json)
        json += ",\"topic\":"
        JSONText.appendString(topic, to: &json)
        if let webhookID { json += ",\"webhookID\":"; JSONText.appendString(webhookID, to: &json) }
        json += "}"
        var bytes = Array(json.utf8)
        if let body {
            bytes.append(0x0A)
            bytes.append(contentsOf: body.utf8)
        }
        return bytes
    }

    public static func decode(_ bytes: [UInt8]) throws -> DeliveryRecord {
        let split = bytes.firstIndex(of: 0x0A) ?? bytes.endIndex
        var record = try StoreJSON.decoder.decode(DeliveryRecord.self, from: Data(bytes[..<split]))
        if split < bytes.endIndex {
            record.body = String(decoding: bytes[(split + 1)...], as: UTF8.self)
        }
        return record
    }
}

/// Work handed from one function to another (SPEC §4), written before the sender is answered.
public struct PendingWork: Codable, Sendable, Equatable {
    public var connection: String
    /// `order` or `customer`.
    public var kind: String
    public var resourceID: String
    public var firstSeenAt: Date
    /// The delivery (or poll) that handed it on first.
    public var origin: String
    /// Failed attempts so far (transient failures only; permanent ones park).
    public var attempts: Int?
    /// A drain leaves the work alone until then (growing delays after transient failures).
    public var retryAt: Date?

    public init(connection: String, kind: String, resourceID: String, firstSeenAt: Date, origin: String, attempts: Int? = nil, retryAt: Date? = nil) {
        self.connection = connection
        self.kind = kind
        self.resourceID = resourceID
        self.firstSeenAt = firstSeenAt
        self.origin = origin
        self.attempts = attempts
        self.retryAt = retryAt
    }

    /// Hand-written JSON (written on every delivery); read back with the store's decoder.
    public func encoded() -> [UInt8] {
        var json = "{"
        if let attempts { json += "\"attempts\":\(attempts)," }
        json += "\"connection\":"
        JSONText.appendString(connection, to: &json)
        json += ",\"firstSeenAt\":"
        JSONText.appendString(Formatting.timestamp(firstSeenAt), to: &json)
        json += ",\"kind\":"
        JSONText.appendString(kind, to: &json)
        json += ",\"origin\":"
        JSONText.appendString(origin, to: &json)
        json += ",\"resourceID\":"
        JSONText.appendString(resourceID, to: &json)
        if let retryAt {
            json += ",\"retryAt\":"
            JSONText.appendString(Formatting.timestamp(retryAt), to: &json)
        }
        json += "}"
        return Array(json.utf8)
    }
}

/// SPEC §9: verifies, deduplicates and records WooCommerce deliveries, hands work on durably,
/// and answers so WooCommerce never disables the webhook over something it cannot fix.
public struct WebhookIntake: Sendable {
    let store: any KeyValueStore
    let connections: any ConnectionSource
    let clock: any WallClock
    let settings: IntakeSettings
    let wakeUp: (any WakeUpSender)?
    let alerts: AlertCenter
    let audit: AuditTrail
    let signatureFailures: SignatureFailures

    public init(store: any KeyValueStore, connections: any ConnectionSource, clock: any WallClock = SystemWallClock(),
                settings: IntakeSettings = IntakeSettings(), wakeUp: (any WakeUpSender)? = nil) {
        self.store = store
        self.connections = connections
        self.clock = clock
        self.settings = settings
        self.wakeUp = wakeUp
        self.alerts = AlertCenter(store: store, clock: clock)
        self.audit = AuditTrail(store: store, clock: clock, retention: settings.retention)
        self.signatureFailures = SignatureFailures(store: store, clock: clock, alerts: alerts)
    }

    /// Handles `POST /webhooks/woocommerce/{connectionID}`.
    public func receive(connectionID: String, request: HTTPRequestEnvelope, logger baseLogger: Logger) async -> Outcome {
        var logger = baseLogger
        let connection: Connection
        do {
            guard let found = try await connections.named(connectionID, logger: &logger) else {
                logger.notice("webhook.rejected", metadata: ["reason": "unknown connection"])
                return .reject(404, "unknown connection")
            }
            connection = found
        } catch let error as ConnectorError {
            // Without the secret nothing can be verified: ask WooCommerce to count a failure
            // rather than accept unverified input, and make sure a person hears about it.
            await alerts.raise(connection: connectionID, reason: "connection-unreadable", detail: error.description, window: settings.alertWindow, logger: logger)
            return .retry("connection cannot be read: \(error.label)")
        } catch {
            await alerts.raise(connection: connectionID, reason: "connection-unreadable", detail: "\(error)", window: settings.alertWindow, logger: logger)
            return .retry("connection cannot be read")
        }

        let wc = WebhookHeaders(headers: request.headers)
        if wc.isEmpty, let webhookID = WebhookPing.webhookID(in: request.body) {
            logger.info("webhook.ping", metadata: ["webhook.id": "\(webhookID)"])
            return .done(200, json: "{\"ping\":\(webhookID)}", reason: "ping")
        }
        logger[metadataKey: "webhook.id"] = wc.webhookID.map { "\(Self.bounded($0))" }
        logger[metadataKey: "webhook.topic"] = wc.topic.map { "\(Self.bounded($0))" }
        logger[metadataKey: "webhook.delivery_id"] = wc.deliveryID.map { "\(Self.bounded($0))" }

        guard let signature = wc.signature, !signature.isEmpty else {
            await auditRejection(connection: connectionID, event: "rejected.unsigned", headers: wc, logger: logger)
            return .reject(401, "missing signature")
        }
        guard WebhookSignature.isValid(signature, body: request.body, secret: connection.woocommerce.webhookSecret.reveal()) else {
            await auditRejection(connection: connectionID, event: "rejected.signature", headers: wc, logger: logger)
            if let webhookID = wc.webhookID {
                await signatureFailures.record(connection: connectionID, webhookID: webhookID, source: wc.source.map(Self.bounded),
                                               window: .seconds(connection.alerts.windowMinutes * 60), logger: logger)
            }
            return .reject(401, "invalid signature")
        }
        guard let source = wc.source, StoreURL.sameStore(source, connection.woocommerce.baseURL) else {
            await auditRejection(connection: connectionID, event: "rejected.source", headers: wc, logger: logger)
            return .reject(403, "source does not match the connection's store")
        }

        // From here on the delivery is genuine: whatever happens, WooCommerce gets a 200.
        let topic = Self.bounded(wc.topic ?? "unknown")
        let bodyHash = Digests.sha256Hex(request.body)
        let oversized = request.body.count > settings.maxBodyBytes
        let kind: DeliveryBody = oversized ? .unusable(reason: "body of \(request.body.count) bytes is over the \(settings.maxBodyBytes)-byte limit") : DeliveryBody.classify(request.body)

        var record = DeliveryRecord(
            connection: connectionID, topic: topic, resourceID: "unknown", webhookID: wc.webhookID.map(Self.bounded),
            deliveryID: wc.deliveryID.map(Self.bounded), receivedAt: clock.now(), bodySHA256: bodyHash, bodyBytes: request.body.count,
            state: .recorded, reason: nil, body: nil)
        var handOff: (kind: String, id: String)?
        switch kind {
        case .resource(let id):
            record.resourceID = String(id)
            // The probe has validated the body as UTF-8 JSON.
            record.body = String(decoding: request.body, as: UTF8.self)
            if topic.hasPrefix("order.") && topic != "order.deleted" {
                handOff = ("order", String(id))
            } else if topic == "customer.updated" || topic == "customer.created" {
                handOff = ("customer", String(id))
            }
            if handOff != nil { record.state = .handedOff }
        case .deleted(let id):
            record.resourceID = String(id)
            record.body = String(decoding: request.body, as: UTF8.self)
            record.reason = "trash notice: recorded, never posted"
        case .restError(let code):
            record.state = .unusable
            record.reason = "WooCommerce sent a REST error instead of the resource: \(code)"
        case .unusable(let reason):
            record.state = .unusable
            record.reason = reason
        }
        logger[metadataKey: "resource.id"] = "\(record.resourceID)"

        let key = Keyspace.delivery(connectionID, topic: topic, resourceID: record.resourceID, bodySHA256: bodyHash)
        do {
            // The delivery record and the hand-off are written in one atomic commit: a repeat of
            // this delivery finds either both or neither, so nothing is ever taken for a
            // duplicate without its work having been handed on. The insert is also the dedupe
            // check (no read first: every genuine delivery would pay for it).
            var entries = [StoreEntry(key: key, value: try record.encoded(), ttl: settings.retention)]
            if let handOff {
                let work = PendingWork(connection: connectionID, kind: handOff.kind, resourceID: handOff.id, firstSeenAt: record.receivedAt, origin: key)
                entries.append(StoreEntry(key: Keyspace.pending(connectionID, kind: handOff.kind, resourceID: handOff.id), value: work.encoded(), ttl: settings.retention))
            }
            let written = try await store.insertIfAbsent(entries)
            if written[0] == nil {
                // A repeat. The group insert writes each absent key, so when this order's work
                // was already finished (posted, skipped or parked: its pending entry gone), the
                // repeat has just queued it again — take that back (a drain that takes it in the
                // instant between finds a posted order's link and skips it).
                if written.count > 1, let requeued = written[1] {
                    _ = try? await store.delete(entries[1].key, expectedVersion: requeued)
                }
                logger.info("webhook.duplicate")
                return .done(200, json: "{\"status\":\"duplicate\"}", reason: "duplicate")
            }
            let newWork = written.count > 1 && written[1] != nil
            if record.state == .unusable {
                await alerts.raise(connection: connectionID, reason: "unusable-delivery", detail: "\(topic) delivery from webhook \(record.webhookID ?? "?"): \(record.reason ?? "")", window: .seconds(connection.alerts.windowMinutes * 60), logger: logger)
            }
            logger.info("webhook.accepted", metadata: ["state": "\(record.state.rawValue)", "body.bytes": "\(record.bodyBytes)"])
            // SPEC §4 defines a wake-up for orders only; customer work is taken by the drain.
            if newWork, let handOff, handOff.kind == "order", let wakeUp {
                wakeUp.send(Self.wakeUpEvent(connection: connectionID, orderID: handOff.id, dedupe: bodyHash), logger: logger)
            }
            return .done(200, json: "{\"status\":\"\(record.state.rawValue)\"}", reason: record.state.rawValue)
        } catch {
            // Never a non-2xx for a genuine delivery: WooCommerce would not retry it anyway and
            // would move toward disabling the webhook. The poll picks the order up.
            await alerts.raise(connection: connectionID, reason: "store-write-failed", detail: "\(topic) delivery for resource \(record.resourceID) not recorded: \(error)", window: .seconds(connection.alerts.windowMinutes * 60), logger: logger)
            return .done(200, json: "{\"status\":\"unrecorded\"}", reason: "store write failed")
        }
    }

    private func auditRejection(connection: String, event: String, headers: WebhookHeaders, logger: Logger) async {
        logger.warning("webhook.rejected", metadata: ["reason": "\(event)"])
        var detail: [String: String] = [:]
        detail["topic"] = headers.topic.map(Self.bounded)
        detail["webhookID"] = headers.webhookID.map(Self.bounded)
        detail["deliveryID"] = headers.deliveryID.map(Self.bounded)
        detail["source"] = headers.source.map(Self.bounded)
        do {
            try await audit.append(connection: connection, subject: "webhook", event: event, detail: detail)
        } catch {
            logger.error("audit.write_failed", metadata: ["error": "\(error)"])
        }
    }

    /// The CloudEvent that wakes order-poster (`com.mlconnector.order.changed`, SPEC §4).
    static func wakeUpEvent(connection: String, orderID: String, dedupe: String) -> CloudEvent {
        let data = "{\"connection\":\(JSONText.quoted(connection)),\"orderId\":\(orderID)}"
        return CloudEvent(id: "\(connection)-order-\(orderID)-\(dedupe.prefix(16))", source: "/ml-connector/webhook-receiver/\(connection)",
                          type: "com.mlconnector.order.changed", data: Array(data.utf8))
    }

    /// Header values go into logs and keys only cut to a sane length and printable ASCII.
    static func bounded(_ value: String) -> String { Formatting.bounded(value) }
}

/// Where the intake finds a connection with its secrets opened.
public protocol ConnectionSource: Sendable {
    /// nil when no connection has that id.
    func connection(_ id: String) async throws -> Connection?
}

extension ConnectionSource {
    /// The connection a request's path names, the logger then carrying its id; nil (answer 404)
    /// when the id is malformed or names none. Throws when the store cannot tell.
    func named(_ id: String, logger: inout Logger) async throws -> Connection? {
        guard ConnectionID.isValid(id) else { return nil }
        logger[metadataKey: "connection"] = "\(id)"
        return try await connection(id)
    }
}

/// Connections read from the store and opened with the master key, kept in memory for a few
/// seconds so a burst of deliveries does not decode and unseal the same record each time. A
/// changed or rotated secret is therefore seen within `freshness` (2 s by default).
public final class StoredConnections: ConnectionSource {
    let repository: ConnectionRepository
    let key: MasterKey
    let clock: any WallClock
    let freshness: TimeInterval
    private let cache = Mutex<[String: (connection: Connection, loadedAt: Date)]>([:])

    public init(repository: ConnectionRepository, key: MasterKey, clock: any WallClock = SystemWallClock(), freshness: TimeInterval = 2) {
        self.repository = repository
        self.key = key
        self.clock = clock
        self.freshness = freshness
    }

    public func connection(_ id: String) async throws -> Connection? {
        let now = clock.now()
        if let hit = cache.withLock({ $0[id] }), now.timeIntervalSince(hit.loadedAt) < freshness, now >= hit.loadedAt {
            return hit.connection
        }
        do {
            let loaded = try await repository.load(id, key: key)
            cache.withLock { $0[id] = (loaded, now) }
            return loaded
        } catch let error as ConnectorError where error == .notFound {
            cache.withLock { $0[id] = nil }
            return nil
        } catch let error as ConnectorError where error.disposition == .transient {
            // The store is what failed, not the connection: keep verifying with the last good
            // copy, so a store outage does not turn genuine deliveries into failures.
            if let stale = cache.withLock({ $0[id] }) { return stale.connection }
            throw error
        }
    }
}
