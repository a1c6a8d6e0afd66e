import AsyncHTTPClient
import ConnectorCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import Synchronization

/// Posts wake-up CloudEvents (structured mode) to Knative's `K_SINK`. Best effort by design:
/// the hand-off is already durable in the store, so a failure is logged and forgotten.
public final class SinkWakeUpSender: WakeUpSender {
    let sink: String
    let client: HTTPClient
    let timeout: TimeAmount
    private let inFlight = Mutex<[UUID: Task<Void, Never>]>([:])
    /// Beyond this many unanswered wake-ups new ones are dropped (the poll covers them).
    static let maxInFlight = 64

    public init(sink: String, client: HTTPClient = .shared, timeout: TimeAmount = .seconds(2)) {
        self.sink = sink
        self.client = client
        self.timeout = timeout
    }

    public func send(_ event: CloudEvent, logger: Logger) {
        let id = UUID.random()
        let started = inFlight.withLock { tasks -> Bool in
            guard tasks.count < Self.maxInFlight else { return false }
            tasks[id] = Task {
                await self.post(event, logger: logger)
                _ = self.inFlight.withLock { $0.removeValue(forKey: id) }
            }
            return true
        }
        if !started { logger.warning("wakeup.dropped", metadata: ["event.type": "\(event.type)", "reason": "too many in flight"]) }
    }

    public func drain() async {
        for task in inFlight.withLock({ Array($0.values) }) { await task.value }
    }

    func post(_ event: CloudEvent, logger: Logger) async {
        var request = HTTPClientRequest(url: sink)
        request.method = .POST
        request.headers.add(name: "content-type", value: "application/cloudevents+json")
        request.body = .bytes(CloudEventCodec.encodeStructured(event))
        do {
            let response = try await client.execute(request, timeout: timeout)
            _ = try? await response.body.collect(upTo: 64 * 1024)
            if (200..<300).contains(Int(response.status.code)) {
                logger.debug("wakeup.sent", metadata: ["event.type": "\(event.type)"])
            } else {
                logger.warning("wakeup.refused", metadata: ["event.type": "\(event.type)", "http.status": "\(response.status.code)"])
            }
        } catch {
            logger.warning("wakeup.failed", metadata: ["event.type": "\(event.type)", "error": "\(error)"])
        }
    }
}
