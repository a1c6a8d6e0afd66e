import ConnectorConnections
import ConnectorCore
import ConnectorStore
import Foundation
import Logging

extension Keyspace {
    /// One record per F&O business event, by its `EventId` (the dedupe key). Expires after the
    /// retention, like deliveries.
    public static func businessEvent(_ connection: String, eventID: String) -> String {
        "bevent/\(StoreKey.segment(connection))/id/\(StoreKey.segment(eventID))"
    }

    /// The same event by (legal entity, `ControlNumber`): F&O's own duplicate marker, so a
    /// resend that carries a new `EventId` is still seen as a repeat.
    public static func businessEventControl(_ connection: String, legalEntity: String, controlNumber: Int64) -> String {
        "bevent/\(StoreKey.segment(connection))/cn/\(StoreKey.segment(legalEntity.lowercased()))/\(controlNumber)"
    }

    /// Every business-event record of a connection.
    public static func businessEvents(_ connection: String) -> String { "bevent/\(StoreKey.segment(connection))/" }
}

/// One F&O business event as it arrives (reference §6.2, §6.3): a flat JSON object, keys in
/// alphabetical order; only what the connector needs is read, the rest is ignored.
public struct BusinessEventEnvelope: Sendable, Equatable {
    /// The X++ class name, e.g. `SalesInvoicePostedBusinessEvent`.
    public var businessEventID: String
    /// Uppercase GUID, no braces.
    public var eventID: String
    /// The company it happened in (`BusinessEventLegalEntity`, else `LegalEntity`), lowercased.
    public var legalEntity: String?
    public var controlNumber: Int64?
    /// `EventTime` (`/Date(ms)/`).
    public var eventTime: Date?
    /// `SalesOrderId` (sales invoice posted).
    public var salesOrderNumber: String?
    /// `InvoiceId` (sales invoice posted).
    public var invoiceNumber: String?

    public static let salesInvoicePosted = "SalesInvoicePostedBusinessEvent"

    private struct Raw: Decodable {
        var BusinessEventId: String?
        var BusinessEventLegalEntity: String?
        var LegalEntity: String?
        var ControlNumber: FlexibleInteger?
        var EventId: String?
        var EventTime: String?
        var SalesOrderId: String?
        var InvoiceId: String?
    }

    /// `ControlNumber` is a JSON number (int64) in every payload seen; a string is taken too.
    private struct FlexibleInteger: Decodable {
        var value: Int64?
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let number = try? c.decode(Int64.self) { value = number }
            else if let text = try? c.decode(String.self) { value = Int64(text) }
            else if let number = try? c.decode(Double.self), number.rounded() == number, abs(number) < 9e15 { value = Int64(number) }
            else { value = nil }
        }
    }

    /// The events of one POST: one object, or an array of them. Throws `invalidInput` naming
    /// what is wrong.
    public static func parse(_ bytes: [UInt8]) throws -> [BusinessEventEnvelope] {
        let first = bytes.first { ![0x20, 0x0A, 0x0D, 0x09].contains($0) }
        let raws: [Raw]
        do {
            if first == UInt8(ascii: "[") {
                raws = try JSONDecoder().decode([Raw].self, from: Data(bytes))
            } else if first == UInt8(ascii: "{") {
                raws = [try JSONDecoder().decode(Raw.self, from: Data(bytes))]
            } else {
                throw ConnectorError.invalidInput("the body is not a JSON object or array", fix: "F&O sends its business event as flat JSON")
            }
        } catch let error as ConnectorError {
            throw error
        } catch {
            throw ConnectorError.invalidInput("the body is not a business event: its JSON could not be read", fix: "F&O sends its business event as flat JSON")
        }
        guard !raws.isEmpty else { throw ConnectorError.invalidInput("an empty array of business events", fix: "send at least one event") }
        return try raws.enumerated().map { (index, raw) throws -> BusinessEventEnvelope in
            let which = raws.count > 1 ? " (event \(index + 1))" : ""
            guard let type = raw.BusinessEventId.map({ Formatting.bounded($0) }), !type.isEmpty else {
                throw ConnectorError.invalidInput("a business event without BusinessEventId\(which)", fix: "F&O's envelope names the event class in BusinessEventId")
            }
            guard var id = raw.EventId?.trimmingCharacters(in: CharacterSet(charactersIn: "{} ")), !id.isEmpty else {
                throw ConnectorError.invalidInput("a business event without EventId\(which)", fix: "F&O's envelope carries a GUID in EventId")
            }
            id = Formatting.bounded(id.uppercased(), limit: 80)
            let company = (raw.BusinessEventLegalEntity ?? raw.LegalEntity).map { Formatting.bounded($0.lowercased(), limit: 8) }
            return BusinessEventEnvelope(
                businessEventID: type, eventID: id, legalEntity: company?.isEmpty == true ? nil : company, controlNumber: raw.ControlNumber?.value,
                eventTime: raw.EventTime.flatMap(Self.dotNetDate), salesOrderNumber: raw.SalesOrderId.map { Formatting.bounded($0, limit: 40) }.flatMap { $0.isEmpty || $0.contains("*") ? nil : $0 },  // `*` is F&O's wildcard: never a key
                invoiceNumber: raw.InvoiceId.map { Formatting.bounded($0, limit: 40) }.flatMap { $0.isEmpty ? nil : $0 })
        }
    }

    /// `/Date(1740650400000)/` (optionally with an offset, `/Date(…+0000)/`) as a date.
    public static func dotNetDate(_ text: String) -> Date? {
        guard text.hasPrefix("/Date("), text.hasSuffix(")/") else { return nil }
        var digits = text.dropFirst(6).dropLast(2)
        if let sign = digits.dropFirst().firstIndex(where: { $0 == "+" || $0 == "-" }) { digits = digits[..<sign] }
        return Int64(digits).map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }
}

/// What the receiver kept of one business event (the audit trail holds the same in words).
public struct BusinessEventRecord: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable {
        /// Pending completion work was written for its sales order.
        case handedOff
        /// Acknowledged and kept for the trail only: an event type the connector does not act
        /// on, another legal entity, or no sales order named.
        case ignored
    }

    public var connection: String
    public var eventID: String
    public var businessEventID: String
    public var legalEntity: String?
    public var controlNumber: Int64?
    public var salesOrderNumber: String?
    public var invoiceNumber: String?
    public var eventTime: Date?
    public var receivedAt: Date
    public var state: State
    public var reason: String?
}

/// `POST /events/dynamics/{connection}?code=SECRET` (SPEC §3, reference §6): checks the code in
/// constant time, records each event durably and deduplicated (EventId, and legal entity +
/// ControlNumber), hands sales-invoice events on as pending completion work, and answers at
/// once — F&O retries only 3 times, 1 s apart. The completion itself runs in backfill-poll
/// (``OrderCompletion``), woken by `com.mlconnector.order.invoiced`.
///
/// The code lives only in the request's query: nothing here logs, audits or answers with the
/// query or the path's query string, and the runtime logs the path without it.
public struct BusinessEventIntake: Sendable {
    let store: any KeyValueStore
    let connections: any ConnectionSource
    let clock: any WallClock
    let settings: IntakeSettings
    let wakeUp: (any WakeUpSender)?
    let audit: AuditTrail

    /// The CloudEvent type that wakes backfill-poll's completion step for one sales order.
    public static let invoicedEventType = "com.mlconnector.order.invoiced"
    /// The pending-work kind of a sales order to check for completion.
    public static let pendingKind = "invoice"

    public init(store: any KeyValueStore, connections: any ConnectionSource, clock: any WallClock = SystemWallClock(),
                settings: IntakeSettings = IntakeSettings(), wakeUp: (any WakeUpSender)? = nil) {
        self.store = store
        self.connections = connections
        self.clock = clock
        self.settings = settings
        self.wakeUp = wakeUp
        self.audit = AuditTrail(store: store, clock: clock, retention: settings.retention)
    }

    /// Handles one POST of one event or an array of events.
    public func receive(connectionID: String, request: HTTPRequestEnvelope, logger baseLogger: Logger) async -> Outcome {
        var logger = baseLogger
        let connection: Connection
        do {
            guard let found = try await connections.named(connectionID, logger: &logger) else {
                logger.notice("business_event.rejected", metadata: ["reason": "unknown connection"])
                return .reject(404, "unknown connection")
            }
            connection = found
        } catch {
            // Without the code nothing can be checked; F&O retries, then keeps the event for a
            // resend, and the poll completes the order anyway.
            logger.error("business_event.connection_unreadable", metadata: ["error": "\(Formatting.bounded(String(describing: error), limit: 200))"])
            return .retry("connection cannot be read")
        }

        let expected = connection.dynamics.businessEventCode.reveal()
        let presented = request.query["code"] ?? ""
        // An empty stored code never matches (a connection always has one; this is defence).
        guard !expected.isEmpty, !presented.isEmpty, Digests.constantTimeEquals(Array(presented.utf8), Array(expected.utf8)) else {
            let reason = presented.isEmpty ? "rejected.code-missing" : "rejected.code"
            logger.warning("business_event.rejected", metadata: ["reason": "\(reason)"])
            do {
                try await audit.append(connection: connectionID, subject: "business-event", event: reason, detail: ["bodyBytes": String(request.body.count)])
            } catch {
                logger.error("audit.write_failed", metadata: ["error": "\(error)"])
            }
            return .reject(401, presented.isEmpty ? "missing code" : "invalid code")
        }
        guard request.method == "POST" else { return .reject(405, "use POST") }
        guard request.body.count <= settings.maxBodyBytes else {
            return .reject(413, "body of \(request.body.count) bytes is over the \(settings.maxBodyBytes)-byte limit")
        }

        let events: [BusinessEventEnvelope]
        do {
            events = try BusinessEventEnvelope.parse(request.body)
        } catch {
            let text = (error as? ConnectorError)?.description ?? "unreadable business event"
            logger.warning("business_event.unreadable", metadata: ["error": "\(text)"])
            try? await audit.append(connection: connectionID, subject: "business-event", event: "rejected.unreadable", detail: ["reason": text, "bodyBytes": String(request.body.count)])
            return .reject(400, text)
        }

        var accepted = 0, duplicates = 0, ignored = 0
        for event in events {
            do {
                switch try await record(event, connection: connection, logger: logger) {
                case .handedOff: accepted += 1
                case .ignored: ignored += 1
                case nil: duplicates += 1
                }
            } catch {
                // Not recorded: ask F&O to send it again (it retries, then keeps it for a
                // resend); the events already recorded are duplicates then.
                logger.error("business_event.store_failed", metadata: ["error": "\(Formatting.bounded(String(describing: error), limit: 200))"])
                return .retry("the store is unavailable")
            }
        }
        let json = "{\"status\":\"accepted\",\"handedOff\":\(accepted),\"ignored\":\(ignored),\"duplicates\":\(duplicates)}"
        return .done(200, json: json, reason: duplicates == events.count ? "duplicate" : "accepted")
    }

    /// Records one event; nil when it was a duplicate.
    func record(_ event: BusinessEventEnvelope, connection: Connection, logger baseLogger: Logger) async throws -> BusinessEventRecord.State? {
        var logger = baseLogger
        logger[metadataKey: "event.id"] = "\(event.eventID)"
        logger[metadataKey: "event.type"] = "\(event.businessEventID)"
        let id = connection.id
        var record = BusinessEventRecord(
            connection: id, eventID: event.eventID, businessEventID: event.businessEventID, legalEntity: event.legalEntity,
            controlNumber: event.controlNumber, salesOrderNumber: event.salesOrderNumber, invoiceNumber: event.invoiceNumber,
            eventTime: event.eventTime, receivedAt: clock.now(), state: .ignored, reason: nil)
        let ownCompany = connection.dynamics.legalEntity.lowercased()
        if event.businessEventID != BusinessEventEnvelope.salesInvoicePosted {
            record.reason = "event type \(event.businessEventID) is not acted on"
        } else if let company = event.legalEntity, company != ownCompany {
            record.reason = "legal entity \(company) is not the connection's (\(ownCompany))"
        } else if event.salesOrderNumber == nil {
            record.reason = "no SalesOrderId in the event"
        } else {
            record.state = .handedOff
        }

        let key = Keyspace.businessEvent(id, eventID: event.eventID)
        var entries = [StoreEntry(key: key, value: try StoreJSON.encode(record), ttl: settings.retention)]
        if let control = event.controlNumber {
            entries.append(StoreEntry(key: Keyspace.businessEventControl(id, legalEntity: event.legalEntity ?? ownCompany, controlNumber: control),
                                      value: Array(event.eventID.utf8), ttl: settings.retention))
        }
        // A quick look first: most repeats are F&O's own retries of this very event.
        if try await store.get(key) != nil {
            logger.info("business_event.duplicate")
            return nil
        }
        if entries.count > 1, let existing = try await store.get(entries[1].key), existing.value != Array(event.eventID.utf8) {
            logger.info("business_event.duplicate", metadata: ["duplicate.of": "control number"])
            return nil
        }
        var pendingIndex: Int?
        if record.state == .handedOff, let number = event.salesOrderNumber {
            let work = PendingWork(connection: id, kind: Self.pendingKind, resourceID: number, firstSeenAt: record.receivedAt, origin: key)
            pendingIndex = entries.count
            entries.append(StoreEntry(key: Keyspace.pending(id, kind: Self.pendingKind, resourceID: number), value: work.encoded(), ttl: settings.retention))
        }
        // The record and the hand-off in one atomic commit, as for deliveries: a repeat finds
        // both or neither.
        let written = try await store.insertIfAbsent(entries)
        guard written[0] != nil else {
            logger.info("business_event.duplicate")
            return nil
        }
        var detail = ["eventId": event.eventID, "type": event.businessEventID, "state": record.state.rawValue]
        detail["legalEntity"] = event.legalEntity
        detail["controlNumber"] = event.controlNumber.map(String.init)
        detail["salesOrderNumber"] = event.salesOrderNumber
        detail["invoiceNumber"] = event.invoiceNumber
        detail["reason"] = record.reason
        do {
            try await audit.append(connection: id, subject: "business-event", event: record.state == .handedOff ? "received" : "ignored", detail: detail)
        } catch {
            logger.error("audit.write_failed", metadata: ["error": "\(error)"])
        }
        logger.info("business_event.accepted", metadata: [
            "state": "\(record.state.rawValue)", "sales_order": "\(event.salesOrderNumber ?? "")", "invoice": "\(event.invoiceNumber ?? "")",
            "reason": "\(record.reason ?? "")",
        ])
        if let pendingIndex, written[pendingIndex] != nil, let wakeUp, let number = event.salesOrderNumber {
            wakeUp.send(Self.wakeUpEvent(connection: id, salesOrderNumber: number, eventID: event.eventID), logger: logger)
        }
        return record.state
    }

    /// The CloudEvent that wakes backfill-poll's completion step for one sales order.
    public static func wakeUpEvent(connection: String, salesOrderNumber: String, eventID: String) -> CloudEvent {
        let data = "{\"connection\":\(JSONText.quoted(connection)),\"salesOrderNumber\":\(JSONText.quoted(salesOrderNumber))}"
        return CloudEvent(id: "\(connection)-invoiced-\(eventID)", source: "/ml-connector/webhook-receiver/\(connection)",
                          type: invoicedEventType, data: Array(data.utf8))
    }
}
