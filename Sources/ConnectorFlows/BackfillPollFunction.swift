import ConnectorCore
import ConnectorStore
import Foundation
import Logging

/// The `backfill-poll` function: `com.mlconnector.backfill.tick` (data `{"connection": "acme"}`)
/// polls one connection; the schedule's `dev.knative.sources.ping` polls the connection its
/// data names, or every connection when it names none.
public struct BackfillPollFunction: FunctionHandler {
    public static let tick = "com.mlconnector.backfill.tick"
    public static let ping = "dev.knative.sources.ping"

    public let poll: BackfillPoll

    public init(poll: BackfillPoll) { self.poll = poll }

    struct TickData: Decodable { var connection: String? }

    public func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        guard event.type == Self.tick || event.type == Self.ping else {
            return .reject(400, "backfill-poll takes \(Self.tick) and \(Self.ping) events, not \(Formatting.bounded(event.type))")
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
                parts.append(Self.json(report))
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

    static func json(_ report: BackfillReport) -> String {
        var json = "{\"status\":\"polled\",\"connection\":\(JSONText.quoted(report.connection)),\"listed\":\(report.listed),"
        json += "\"handedOn\":\(report.handedOn),\"reHanded\":\(report.reHanded),\"since\":\(JSONText.quoted(Formatting.timestamp(report.since)))"
        json += ",\"cursor\":" + (report.cursor.map { JSONText.quoted(Formatting.timestamp($0)) } ?? "null")
        if report.truncated { json += ",\"truncated\":true" }
        return json + "}"
    }
}
