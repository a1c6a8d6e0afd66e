import ConnectorCore
import Foundation
import Logging

/// The `catalog-push` function: `com.mlconnector.catalog.sync` (data `{"connection": "acme",
/// "itemNumbers": [...]}`, the whole catalog when `itemNumbers` is absent) and the schedule's
/// `dev.knative.sources.ping` (data `{"connection": "acme"}`) push one connection's catalog.
public struct CatalogPushFunction: FunctionHandler {
    public static let catalogSync = "com.mlconnector.catalog.sync"
    public static let ping = "dev.knative.sources.ping"

    public let push: CatalogPush

    public init(push: CatalogPush) { self.push = push }

    struct SyncData: Decodable { var connection: String; var itemNumbers: [String]? }

    public func handle(event: CloudEvent, context: InvocationContext) async -> Outcome {
        guard event.type == Self.catalogSync || event.type == Self.ping else {
            return .reject(400, "catalog-push takes \(Self.catalogSync) and \(Self.ping) events, not \(Formatting.bounded(event.type))")
        }
        guard let data = try? JSONDecoder().decode(SyncData.self, from: Data(event.data ?? [])), !data.connection.isEmpty else {
            return .reject(400, "\(event.type) needs data {\"connection\": \"…\"}" + (event.type == Self.catalogSync ? " (and optionally \"itemNumbers\": [\"…\"])" : ""))
        }
        do {
            let report = try await push.push(connectionID: data.connection, itemNumbers: data.itemNumbers, logger: context.logger)
            return Self.outcome(report, connection: data.connection)
        } catch let error as ConnectorError {
            if error.disposition == .transient {
                return .retry(error.description, status: error.label == "throttled" ? 429 : 503, after: error.retryAfter.map { Int($0.rounded(.up)) })
            }
            if error.label == "invalidConfiguration", event.type == Self.ping {
                // A schedule for a connection whose catalog is off: nothing to do, no retry storm.
                return .done(200, json: "{\"status\":\"skipped\",\"connection\":\(JSONText.quoted(data.connection)),\"reason\":\(JSONText.quoted(error.description))}", reason: "skipped")
            }
            return .reject(error.label == "notFound" ? 404 : 422, error.description)
        } catch {
            return .retry("catalog push failed: \(error)")
        }
    }

    public func handle(request: HTTPRequestEnvelope, context: InvocationContext) async -> Outcome {
        .reject(400, "catalog-push takes CloudEvents (\(Self.catalogSync), \(Self.ping)); send one in binary or structured mode")
    }

    static func outcome(_ report: CatalogPush.Report, connection: String) -> Outcome {
        let status = report.safetyValve != nil ? "held" : (report.failed > 0 ? "partial" : "pushed")
        var json = "{\"status\":\"\(status)\",\"connection\":\(JSONText.quoted(connection)),\"created\":\(report.created),\"updated\":\(report.updated),"
        json += "\"unchanged\":\(report.unchanged),\"failed\":\(report.failed),\"retired\":\(report.retired)"
        if let valve = report.safetyValve { json += ",\"safetyValve\":\(JSONText.quoted(valve))" }
        json += "}"
        // Failed items are in the audit trail and retried by the next run; the valve has alerted.
        return .done(200, json: json, reason: status)
    }
}
