import ArgumentParser
import ConnectorConnections
import ConnectorCore
import ConnectorFlows
import ConnectorRemotes
import ConnectorStore
import Foundation
import Logging
import Synchronization

/// `mlc backfill --connection C --since T [--until T]`: a window of WooCommerce orders (all
/// statuses) listed and handed on — those whose state was not handed on yet — then every
/// pending order of the connection posted through order-poster in this process, with a
/// progress bar on a terminal and a summary. Exit 1 when an order failed or was parked.
struct BackfillCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "backfill",
        abstract: "Hand on a window of WooCommerce orders (all statuses) and post what is pending now; exit 1 if any order failed or parked.",
        discussion: """
            T is an instant (2026-11-01T00:00:00Z, or a date 2026-11-01 meaning its midnight UTC) or a span back from now (90m, 6h, 3d). \
            Orders whose current state was handed on already are not handed on again (the poll's memory); posting is idempotent \
            (F&O is looked up before anything is created), so running it twice is safe. The poll cursor is not moved.
            """)

    @Option(help: "Connection id.") var connection: String
    @Option(help: "Start of the window: orders modified after this (instant, date, or span back like 3d).") var since: String
    @Option(help: "End of the window (default: now).") var until: String?
    @Option(help: "Orders posted at once.") var concurrency = 4
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let now = Date()
        let start: Date, end: Date?
        do {
            start = try Self.instant(since, option: "--since", now: now)
            end = try until.map { try Self.instant($0, option: "--until", now: now) }
            guard (1...32).contains(concurrency) else { throw CLIError(message: "--concurrency \(concurrency) is out of range — use 1…32") }
        } catch { Self.exitCleanly(CLIError(error)) }

        let summary: ManualBackfill.Summary
        do {
            let key = try masterKey()
            summary = try await withStore(store) { kv in
                let clock = SystemWallClock()
                let logger = Logger(label: "mlc") { label in JSONLogHandler(label: label, sink: FileDescriptorLogSink.standardError, level: cliLogLevel()) }
                guard try await ConnectionRepository(store: kv, clock: clock).exists(connection) else {
                    throw CLIError(message: "no connection '\(connection)' — list them with: mlc connection list")
                }
                let remotes = LiveRemoteSystems(httpClient: .shared, store: kv, clock: clock, sleeper: SystemSleeper(),
                                                tokenCache: SealedTokenCache(store: kv, key: key, clock: clock), logger: logger)
                let functions = LocalFunctions(store: kv, masterKey: key, remotes: remotes, clock: clock, sleeper: SystemSleeper(), logger: logger)
                let bar = ProgressDisplay(terminal: isatty(STDERR_FILENO) == 1)
                say("backfill \(connection): orders modified after \(Formatting.timestamp(start)) until \(end.map(Formatting.timestamp) ?? "now")")
                do {
                    let result = try await ManualBackfill(functions: functions, remotes: remotes, clock: clock)
                        .run(connectionID: connection, since: start, until: end, concurrency: concurrency, logger: logger) { bar.show($0) }
                    bar.finish()
                    await remotes.shutdown()
                    return result
                } catch {
                    bar.finish()
                    await remotes.shutdown()
                    throw error
                }
            }
        } catch { Self.exitCleanly(CLIError(error)) }

        let w = summary.window
        say("listed \(w.listed)  handed on \(w.handedOn)  posted \(summary.posted)  skipped \(summary.skipped)  parked \(summary.parked)  failed \(summary.failed)")
        if w.truncated { say("the listing stopped at its page bound: run again with a later --since to read the rest") }
        if summary.paused {
            say("connection \(connection) is paused: \(w.handedOn) order(s) handed on and left pending — mlc connection resume \(connection) posts them")
        }
        for (id, reason) in summary.problems.sorted(by: { $0.key < $1.key }) {
            say("  order \(id): \(Formatting.bounded(reason, limit: 200))")
        }
        if summary.parked > 0 { say("parked orders wait for a person: mlc audit list --state parked --connection \(connection), then mlc replay ID") }
        if summary.failed > 0 { say("failed orders stay pending: the next backfill (or mlc run's schedule) retries them") }
        if summary.parked > 0 || summary.failed > 0 { Foundation.exit(1) }
    }

    /// An RFC 3339 instant, a date (its midnight UTC), or a span back from `now` (`90m`, `6h`, `3d`).
    static func instant(_ text: String, option: String, now: Date) throws -> Date {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let unit = trimmed.last, "mhdw".contains(unit), let amount = Int(trimmed.dropLast()), amount >= 0 {
            let seconds = ["m": 60, "h": 3_600, "d": 86_400, "w": 604_800][String(unit)]!
            return now.addingTimeInterval(-Double(amount * seconds))
        }
        if let date = Formatting.parseTimestamp(trimmed) { return date }
        if trimmed.count == 10, let date = Formatting.parseTimestamp(trimmed + "T00:00:00Z") { return date }
        throw CLIError(message: "\(option) '\(text)' is not a time — use an instant like 2026-11-01T00:00:00Z, a date like 2026-11-01, or a span back from now like 90m, 6h, 3d")
    }
}

/// Progress on standard error: a redrawn bar on a terminal, plain lines otherwise (at most
/// one per tenth of the work, so a log stays short).
final class ProgressDisplay: Sendable {
    let terminal: Bool
    private let last = Mutex<(phase: String, tenth: Int, drawn: Bool)>(("", -1, false))

    init(terminal: Bool) { self.terminal = terminal }

    func show(_ step: ManualBackfill.Step) {
        switch step {
        case .listing(let listed):
            if terminal {
                draw("\rlisting WooCommerce orders… \(listed) listed\u{1B}[K")
            } else {
                let changed = last.withLock { state -> Bool in
                    defer { state.phase = "listing" }
                    return state.phase != "listing"
                }
                if changed { line("listing WooCommerce orders…") }
            }
        case .posting(let done, let total):
            if terminal {
                let width = 30
                let filled = total == 0 ? width : done * width / total
                let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
                draw("\rposting [\(bar)] \(done)/\(total)\u{1B}[K")
            } else {
                let tenth = total == 0 ? 10 : done * 10 / total
                let due = last.withLock { state -> Bool in
                    guard state.phase != "posting" || tenth > state.tenth else { return false }
                    state.phase = "posting"
                    state.tenth = tenth
                    return true
                }
                if due { line("posted \(done)/\(total)") }
            }
        }
    }

    /// Ends the bar's line on a terminal.
    func finish() {
        if terminal, last.withLock({ $0.drawn }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    private func draw(_ text: String) {
        last.withLock { $0.drawn = true }
        FileHandle.standardError.write(Data(text.utf8))
    }

    private func line(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
    }
}

/// A line on standard output at once.
private func say(_ text: String) {
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}
