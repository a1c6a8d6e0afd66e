import Foundation
import Synchronization

/// The wall clock every time-dependent decision reads: TTLs, lease expiry, alert windows.
///
/// Injected everywhere so tests advance time instead of sleeping. Wall time (not a monotonic
/// clock) because expiries are compared across processes and machines through the store.
public protocol WallClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The real clock.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that only moves when a test moves it.
public final class ManualWallClock: WallClock {
    private let current: Mutex<Date>

    public init(_ start: Date = Date(timeIntervalSince1970: 1_795_000_000)) {
        current = Mutex(start)
    }

    public func now() -> Date { current.withLock { $0 } }

    /// Moves the clock forward by `seconds`.
    public func advance(by seconds: TimeInterval) {
        current.withLock { $0 = $0.addingTimeInterval(seconds) }
    }

    /// Sets the clock to `date`.
    public func set(_ date: Date) {
        current.withLock { $0 = date }
    }
}

extension Date {
    /// Milliseconds since the Unix epoch, the unit every store backend persists.
    public var unixMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    /// The instant `milliseconds` after the Unix epoch.
    public init(unixMilliseconds milliseconds: Int64) {
        self.init(timeIntervalSince1970: TimeInterval(milliseconds) / 1000)
    }
}

/// Waiting, injected like the clock: back-off, Retry-After and retry spacing wait through it,
/// so a test records the waits (and moves its clock) instead of sleeping.
public protocol Sleeper: Sendable {
    /// Waits `seconds`; throws `CancellationError` when the task is cancelled.
    func sleep(seconds: TimeInterval) async throws
}

/// Real waiting.
public struct SystemSleeper: Sleeper {
    public init() {}
    public func sleep(seconds: TimeInterval) async throws {
        guard seconds > 0 else { return }
        try await Task.sleep(for: .milliseconds(Int64((seconds * 1000).rounded(.up))))
    }
}

/// Waiting that returns at once: it records every wait and, when given a manual clock, moves
/// that clock forward by the wait — so expiry and Retry-After logic sees time pass.
public final class RecordingSleeper: Sleeper {
    private let waits = Mutex<[TimeInterval]>([])
    private let clock: ManualWallClock?

    public init(advancing clock: ManualWallClock? = nil) { self.clock = clock }

    public func sleep(seconds: TimeInterval) async throws {
        try Task.checkCancellation()
        waits.withLock { $0.append(seconds) }
        if seconds > 0 { clock?.advance(by: seconds) }
    }

    /// Every wait asked for so far, in order.
    public var recorded: [TimeInterval] { waits.withLock { $0 } }
}
