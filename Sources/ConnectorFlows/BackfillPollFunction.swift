import ConnectorCore
import ConnectorStore
import Foundation
import Logging

/// The `backfill-poll` function: `com.mlconnector.backfill.tick` (data `{"connection": "acme"}`)
/// polls one connection; the schedule's `dev.knative.sources.ping` polls the connection its
/// data names, or every connection when it names none. After each poll, order completion
/// (``OrderCompletion``) reads the linked sales orders not yet completed back from F&O.
/// `com.mlconnector.order.invoiced` (data `{"connection", "salesOrderNumber"}`, sent by the
/// receiver for a business event) runs completion for that one sales order at once.
public struct BackfillPollFunction: FunctionHandler {
    public static let tick = "com.mlconnector.backfill.tick"
    public static let ping = "dev.knative.sources.ping"
    public static let invoiced = BusinessEventIntake.invoicedEventType

    public let poll: BackfillPoll
    /// nil: no completion (tests of the poll alone).
    public let completion: OrderCompletion?

    public init(poll: BackfillPoll, completion: OrderCompletion? = nil) {
        self.poll = poll
        self.completion = completion
    }

    struct InvoicedData: Decodable { var connection: String; var salesOrderNumber: String }

    struct TickData: Decodable { var connection: String? }

    public func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        if event.type == Self.invoiced { return await completeInvoiced(event, context: context) }
        guard event.type == Self.tick || event.type == Self.ping else {
            return .reject(400, "backfill-poll takes \(Self.tick), \(Self.ping) and \(Self.invoiced) events, not \(Formatting.bounded(event.type))")
        }
        let bytes = event.data ?? []
        let data: TickData
        if bytes.isEmpty || bytes.allSatisfy({ $0 == 0x20 || $0 == 0x0A || $0 == 0x0D || $0 == 0x09 }) {
            data = TickData(connection: nil)
        } else if let decoded = try? JSONDecoder().decode(TickData.self, from: Data(bytes)) {
            data = decoded
        } else {
            return .reject(400, "\(event.type) needs data {\"connection\": \"…\"}")
        }
        if let connection = data.connection {
            guard !connection.isEmpty else { return .reject(400, "\(event.type) names an empty connection") }
            return await run([connection], single: true, context: context)
        }
        guard event.type == Self.ping else {
            return .reject(400, "\(Self.tick) needs data {\"connection\": \"…\"}")
        }
        let all: [String]
        do {
            all = try await poll.store.listAll(prefix: Keyspace.connections).compactMap { String($0.key.dropFirst(Keyspace.connections.count)).removingPercentEncoding }
        } catch {
            return .retry("the store is unavailable: \(error)")
        }
        return await run(all, single: false, context: context)
    }

    public func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        .reject(400, "backfill-poll takes CloudEvents (\(Self.tick), \(Self.ping)); send one in binary or structured mode")
    }

    /// Polls each connection in turn; done with per-connection counts, retry when any poll
    /// failed transiently (its cursor was not moved; the others' hand-offs stand and repeat
    /// harmlessly).
    func run(_ connections: [String], single: Bool, context: InvocationContext) async -> Outcome {
        var parts: [String] = []
        var transient: [String] = []
        var retryAfter: Double?
        for id in connections {
            do {
                let report = try await poll.poll(connectionID: id, logger: context.logger)
                var json = Self.json(report)
                if let completion {
                    // After the poll, whose hand-offs are durable by now. F&O throttled or down:
                    // retry, like a failed poll. A permanent failure (F&O refusing the
                    // credentials) is reported beside the poll's counts, not instead of them.
                    do {
                        let done = try await completion.run(connectionID: id, logger: context.logger)
                        json = String(json.dropLast()) + ",\"completion\":\(done.json)}"
                    } catch let error as ConnectorError where error.disposition == .permanent {
                        context.logger.error("completion.failed", metadata: ["connection": "\(id)", "error": "\(error.description)"])
                        json = String(json.dropLast()) + ",\"completion\":{\"error\":\(JSONText.quoted(error.description))}}"
                    }
                }
                parts.append(json)
            } catch let error as ConnectorError {
                if error.disposition == .transient {
                    transient.append("\(id): \(error.description)")
                    if let after = error.retryAfter { retryAfter = max(retryAfter ?? 0, after) }
                } else if single {
                    return .reject(error.label == "notFound" ? 404 : 422, error.description)
                } else {
                    // One misconfigured connection does not hold back the others' polls.
                    context.logger.error("backfill.failed", metadata: ["connection": "\(id)", "error": "\(error.description)"])
                    parts.append("{\"connection\":\(JSONText.quoted(id)),\"error\":\(JSONText.quoted(error.description))}")
                }
            } catch {
                transient.append("\(id): \(error)")
            }
        }
        if !transient.isEmpty {
            return .retry("poll failed, cursor kept: " + transient.joined(separator: "; "), after: retryAfter.map { Int($0.rounded(.up)) })
        }
        if single, let only = parts.first {
            return .done(200, json: only, reason: "polled")
        }
        return .done(200, json: "{\"status\":\"polled\",\"connections\":[\(parts.joined(separator: ","))]}", reason: "polled")
    }

    /// One sales order named by a business event: completed now when F&O has invoiced all of it.
    func completeInvoiced(_ event: CloudEvent, context: InvocationContext) async -> Outcome {
        guard let data = try? JSONDecoder().decode(InvoicedData.self, from: Data(event.data ?? [])), !data.connection.isEmpty, !data.salesOrderNumber.isEmpty else {
            return .reject(400, "\(Self.invoiced) needs data {\"connection\": \"…\", \"salesOrderNumber\": \"…\"}")
        }
        guard let completion else { return .reject(501, "order completion is not wired into this backfill-poll") }
        do {
            let result = try await completion.completeInvoiced(connectionID: data.connection, salesOrderNumber: data.salesOrderNumber, logger: context.logger)
            let json = "{\"status\":\(JSONText.quoted(result.label)),\"connection\":\(JSONText.quoted(data.connection)),\"salesOrderNumber\":\(JSONText.quoted(data.salesOrderNumber))}"
            switch result {
            // The pending work stays; the next poll (or this event again) takes it.
            case .busy, .paused, .failed: return .done(202, json: json, reason: result.label)
            default: return .done(200, json: json, reason: result.label)
            }
        } catch let error as ConnectorError {
            if error.disposition == .transient { return .retry(error.description, after: error.retryAfter.map { Int($0.rounded(.up)) }) }
            return .reject(error.label == "notFound" ? 404 : 422, error.description)
        } catch {
            return .retry("completion failed: \(Formatting.bounded(String(describing: error), limit: 200))")
        }
    }

    static func json(_ report: BackfillReport) -> String {
        var json = "{\"status\":\"polled\",\"connection\":\(JSONText.quoted(report.connection)),\"listed\":\(report.listed),"
        json += "\"handedOn\":\(report.handedOn),\"reHanded\":\(report.reHanded),\"since\":\(JSONText.quoted(Formatting.timestamp(report.since)))"
        json += ",\"cursor\":" + (report.cursor.map { JSONText.quoted(Formatting.timestamp($0)) } ?? "null")
        if report.truncated { json += ",\"truncated\":true" }
        if report.trashed > 0 { json += ",\"trashed\":\(report.trashed)" }
        if let hooks = report.webhooks {
            func ids(_ list: [Int]) -> String { "[" + list.map(String.init).joined(separator: ",") + "]" }
            json += ",\"webhooks\":{"
            if let skipped = hooks.skipped {
                json += "\"skipped\":\(JSONText.quoted(skipped))"
            } else {
                json += "\"managed\":\(ids(hooks.managed)),\"created\":\(ids(hooks.created)),\"adopted\":\(ids(hooks.adopted)),"
                json += "\"disabled\":\(ids(hooks.disabled)),\"reenabled\":\(ids(hooks.reenabled)),\"paused\":\(ids(hooks.paused))"
            }
            json += "}"
        }
        if let error = report.webhookError { json += ",\"webhookError\":\(JSONText.quoted(error))" }
        if report.alertsSent > 0 { json += ",\"alertsSent\":\(report.alertsSent)" }
        return json + "}"
    }
}
