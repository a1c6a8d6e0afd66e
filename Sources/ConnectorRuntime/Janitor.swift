import ConnectorCore
import ConnectorStore
import Foundation
import Logging
import ServiceLifecycle

/// Runs retention in the background of a long-lived (http mode) function: every `interval` it
/// purges what expired, in small batches. A failed run is logged and tried again next time.
struct StoreJanitor: Service {
    let store: any KeyValueStore
    let clock: any WallClock
    let interval: Duration
    let logger: Logger

    func run() async throws {
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            do {
                let removed = try await Retention.purge(store, now: clock.now())
                if removed > 0 { logger.info("retention.purged", metadata: ["removed": "\(removed)"]) }
            } catch {
                logger.warning("retention.failed", metadata: ["error": "\(error)"])
            }
            let interval = self.interval
            _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: interval) }
        }
    }
}
