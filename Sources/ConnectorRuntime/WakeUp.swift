import AsyncHTTPClient
import ConnectorCore
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// Posts wake-up CloudEvents (structured mode) to Knative's `K_SINK`. Best effort by design:
/// the hand-off is already durable in the store, so a failure is logged and forgotten.
public struct SinkWakeUpSender: WakeUpSender {
    let sink: String
    let client: HTTPClient
    let timeout: TimeAmount

    public init(sink: String, client: HTTPClient = .shared, timeout: TimeAmount = .seconds(2)) {
        self.sink = sink
        self.client = client
        self.timeout = timeout
    }

    public func send(_ event: CloudEvent, logger: Logger) async {
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
