import ConnectorCore
import Foundation
import Synchronization

/// A lock per key for tasks of this process (FIFO, ownership handed to the next waiter).
actor KeyedAsyncLock {
    private var held: Set<String> = []
    private var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]

    func acquire(_ key: String) async {
        guard held.contains(key) else {
            held.insert(key)
            return
        }
        await withCheckedContinuation { waiters[key, default: []].append($0) }
    }

    func release(_ key: String) {
        if var queue = waiters[key], !queue.isEmpty {
            let next = queue.removeFirst()
            waiters[key] = queue.isEmpty ? nil : queue
            next.resume()
        } else {
            held.remove(key)
        }
    }
}

/// Collects an order's timeline while it is worked (remote calls arrive from the client).
final class Timeline: Sendable {
    private let clock: any WallClock
    private let collected = Mutex<[AuditRecord.Event]>([])
    private let readState = Mutex<String?>(nil)

    init(clock: any WallClock) { self.clock = clock }

    func add(_ step: String, _ detail: String, call: String? = nil) {
        let event = AuditRecord.Event(at: clock.now(), step: step, detail: detail, call: call)
        collected.withLock { $0.append(event) }
    }

    var events: [AuditRecord.Event] { collected.withLock { $0 } }

    /// The state hash (`BackfillPoll.stateHash`) of the order as this work read it.
    var orderState: String? {
        get { readState.withLock { $0 } }
        set { readState.withLock { $0 = newValue } }
    }
}
