import ConnectorConnections
import ConnectorCore
import ConnectorStore
import ConnectorStorePostgres
import ConnectorStoreSQLite
import Foundation
import Logging
import Synchronization

/// The store backends the one conformance suite runs on. A backend that needs a server the
/// machine does not have reports it instead of silently passing.
public enum StoreBackend: String, CaseIterable, Sendable, CustomStringConvertible {
    case memory
    case sqlite
    /// Needs `MLC_TEST_POSTGRES_URL` (scripts/test starts a throwaway PostgreSQL and sets it).
    case postgres

    public var description: String { rawValue }

    /// The PostgreSQL server the suite may use, if one was started for it.
    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["MLC_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The backends this run can exercise: always memory and SQLite; PostgreSQL when a server
    /// was provided (in CI its absence is itself a failing test, see `PostgresAvailabilityTests`).
    public static var available: [StoreBackend] {
        postgresURL == nil ? [.memory, .sqlite] : [.memory, .sqlite, .postgres]
    }

    /// Backends with a file or server other OS processes can share.
    public static var shared: [StoreBackend] { available.filter { $0 != .memory } }

    /// A fresh, empty store of this kind.
    public func make(clock: any WallClock = SystemWallClock()) async throws -> any KeyValueStore {
        switch self {
        case .memory: return MemoryStore(clock: clock)
        case .sqlite: return try await SQLiteStore.open(path: TemporaryDirectory.make().appendingPathComponent("state.sqlite").path, clock: clock)
        // A machine running the whole suite at once can be slow to hand out connections.
        case .postgres: return try await PostgresStore.open(url: try freshURL(), clock: clock, timeout: .seconds(60))
        }
    }

    /// A store URL no other test uses: a new SQLite file, or a new PostgreSQL schema.
    public func freshURL() throws -> String {
        switch self {
        case .memory: return "memory:"
        case .sqlite: return "sqlite:" + TemporaryDirectory.make().appendingPathComponent("state.sqlite").path
        case .postgres:
            guard let base = Self.postgresURL else {
                throw ConnectorError.storeUnavailable("no PostgreSQL for the tests", fix: "run the suite through scripts/test, which starts one")
            }
            let schema = "t_" + UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "").prefix(20)
            return base + (base.contains("?") ? "&" : "?") + "schema=\(schema)"
        }
    }
}

public enum TemporaryDirectory {
    /// A new directory under the system temp dir (left for the OS to clean; tests never share one).
    public static func make(_ label: String = "mlc-test") -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString.prefix(12))")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// Where the package's own files and built executables are, found from this source file and
/// the running test binary — never from the working directory.
public enum PackagePaths {
    public static var root: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }

    /// A product built beside the test binary (`swift build --build-tests` builds them all).
    public static func executable(_ name: String) throws -> URL {
        let selfPath = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        var directory = URL(fileURLWithPath: selfPath).deletingLastPathComponent()
        // On Linux the test binary is `.build/<triple>/debug/<pkg>PackageTests.xctest`.
        if directory.lastPathComponent.hasSuffix(".xctest") { directory.deleteLastPathComponent() }
        let candidate = directory.appendingPathComponent(name)
        guard FileManager.default.isExecutableFile(atPath: candidate.path) else {
            throw ConnectorError.notFound("executable \(name) not found next to the test binary in \(directory.path)", fix: "build everything first: swift build --build-tests")
        }
        return candidate
    }
}

/// A finished child process.
public struct ProcessResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

public enum ProcessRunner {
    /// Runs `executable` to completion (bounded by `timeout` seconds; killed after).
    public static func run(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil, timeout: TimeInterval = 60) async throws -> ProcessResult {
        let process = try start(executable, arguments, environment: environment, stdin: stdin)
        return try await process.wait(timeout: timeout)
    }

    public static func start(_ executable: URL, _ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> RunningProcess {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("MLC_") && !["K_SERVICE", "K_SINK", "AWS_LAMBDA_RUNTIME_API", "FUNCTIONS_CUSTOMHANDLER_PORT", "CLOUD_RUN_JOB", "PORT"].contains($0.key) }
        env.merge(environment) { _, new in new }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try? input.fileHandleForWriting.close()
        return RunningProcess(process: process, stdout: out, stderr: err)
    }
}

/// A child process whose output is collected as it runs.
public final class RunningProcess: @unchecked Sendable {
    public let process: Process
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    init(process: Process, stdout: Pipe, stderr: Pipe) {
        self.process = process
        stdout.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.lock(); self.out.append(d); self.lock.unlock()
        }
        stderr.fileHandleForReading.readabilityHandler = { [weak self] h in
            let d = h.availableData
            guard let self else { return }
            self.lock.lock(); self.err.append(d); self.lock.unlock()
        }
    }

    public var stdoutSoFar: String { lock.lock(); defer { lock.unlock() }; return String(decoding: out, as: UTF8.self) }
    public var stderrSoFar: String { lock.lock(); defer { lock.unlock() }; return String(decoding: err, as: UTF8.self) }

    /// Polls (bounded) until `predicate` holds on the output collected so far. Suspends between
    /// polls instead of blocking: a blocked thread could starve the very task it waits for.
    public func waitForOutput(timeout: TimeInterval = 30, _ predicate: (String) -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if predicate(stdoutSoFar + stderrSoFar) { return true }
            if !process.isRunning { return predicate(stdoutSoFar + stderrSoFar) }
            try? await Task.sleep(for: .milliseconds(10))  // another process's output: there is no event to await
        }
        return false
    }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits (bounded, suspending) for the child to exit and its output to be drained.
    public func wait(timeout: TimeInterval = 60) async throws -> ProcessResult {
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline {
            try? await Task.sleep(for: .milliseconds(5))  // a child process's exit: polled, bounded
        }
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
            throw ConnectorError.invalidInput("\(process.executableURL?.lastPathComponent ?? "process") did not finish within \(Int(timeout)) s")
        }
        process.waitUntilExit()
        try? await Task.sleep(for: .milliseconds(20))  // let the pipe handlers take their last chunk
        return ProcessResult(status: process.terminationStatus, stdout: stdoutSoFar, stderr: stderrSoFar)
    }
}

/// Loggers whose every line is kept, to assert on them (and to prove no secret is ever logged).
public enum TestLogging {
    /// Every line any test logger wrote in this process.
    public static let allLines = CapturingLogSink()

    public static func logger(_ label: String = "test", level: Logger.Level = .trace) -> (Logger, CapturingLogSink) {
        let sink = CapturingLogSink()
        var logger = Logger(label: label) { label in JSONLogHandler(label: label, sink: TeeSink(a: sink, b: allLines), level: level) }
        logger.logLevel = level
        return (logger, sink)
    }
}

struct TeeSink: LogSink {
    let a: any LogSink
    let b: any LogSink
    func write(line: String) {
        a.write(line: line)
        b.write(line: line)
    }
}

/// Connections for tests, built through the real file parser so defaults and validation apply.
public enum TestConnections {
    public static func make(id: String, webhookSecret: String, baseURL: String = "https://127.0.0.1:8443", prefix: String = "WC",
                            consumerSecret: String = "cs_test_consumer_secret", clientSecret: String = "test-client-secret-value",
                            legalEntity: String = "usmf", environmentURL: String = "https://test.operations.dynamics.com") throws -> Connection {
        let json = """
            {"schemaVersion":1,"id":"\(id)",
             "woocommerce":{"baseURL":"\(baseURL)","consumerKey":"ck_test_\(id)","consumerSecret":"\(consumerSecret)","webhookSecret":"\(webhookSecret)"},
             "dynamics":{"environmentURL":"\(environmentURL)","tenantId":"tenant-\(id)","clientId":"client-\(id)","clientSecret":"\(clientSecret)","legalEntity":"\(legalEntity)"},
             "orders":{"referencePrefix":"\(prefix)"}}
            """
        return try ConnectionFile.parse(Data(json.utf8), source: "test:\(id)")
    }
}

/// A store that fails on demand, wrapped around a real one (to prove a failed write is handled).
public final class FaultyStore: KeyValueStore, @unchecked Sendable {
    let inner: any KeyValueStore
    private let lock = NSLock()
    private var failWrites = false
    private var failReads = false

    public init(_ inner: any KeyValueStore) { self.inner = inner }

    public func setFailWrites(_ fail: Bool) { lock.lock(); failWrites = fail; lock.unlock() }
    /// Reads fail too (the whole store is down).
    public func setFailEverything(_ fail: Bool) { lock.lock(); failWrites = fail; failReads = fail; lock.unlock() }
    private func check() throws {
        lock.lock(); defer { lock.unlock() }
        if failWrites { throw ConnectorError.storeUnavailable("injected fault: store write failed") }
    }
    private func checkRead() throws {
        lock.lock(); defer { lock.unlock() }
        if failReads { throw ConnectorError.storeUnavailable("injected fault: store read failed") }
    }

    public func get(_ key: String) async throws -> StoredValue? { try checkRead(); return try await inner.get(key) }
    public func set(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> Int64 { try check(); return try await inner.set(key, value, ttl: ttl) }
    public func insertIfAbsent(_ key: String, _ value: [UInt8], ttl: Duration?) async throws -> InsertOutcome { try check(); return try await inner.insertIfAbsent(key, value, ttl: ttl) }
    public func insertIfAbsent(_ entries: [StoreEntry]) async throws -> [Int64?] { try check(); return try await inner.insertIfAbsent(entries) }
    public func compareAndSwap(_ key: String, expectedVersion: Int64, _ value: [UInt8], ttl: Duration?) async throws -> SwapOutcome { try check(); return try await inner.compareAndSwap(key, expectedVersion: expectedVersion, value, ttl: ttl) }
    public func delete(_ key: String, expectedVersion: Int64?) async throws -> Bool { try check(); return try await inner.delete(key, expectedVersion: expectedVersion) }
    public func list(prefix: String, after: String?, limit: Int) async throws -> StorePage { try await inner.list(prefix: prefix, after: after, limit: limit) }
    public func purgeExpired(before cutoff: Date, limit: Int) async throws -> Int { try await inner.purgeExpired(before: cutoff, limit: limit) }
    public func close() async throws { try await inner.close() }
}

/// Opens a store from a URL made by `StoreBackend.freshURL()` (the tests do not link the runtime).
public enum StoreFactoryForTests {
    public static func open(_ url: String, clock: any WallClock = SystemWallClock()) async throws -> any KeyValueStore {
        if url.hasPrefix("sqlite:") { return try await SQLiteStore.open(path: String(url.dropFirst("sqlite:".count)), clock: clock) }
        if url.hasPrefix("postgres") { return try await PostgresStore.open(url: url, clock: clock, timeout: .seconds(60)) }
        return MemoryStore(clock: clock)
    }
}

extension StoreBackend {
    /// The URL with a small connection pool: tests that start several processes on one
    /// PostgreSQL keep within its connection limit (SQLite URLs are returned as they are).
    public static func smallPool(_ url: String, size: Int = 2) -> String {
        guard url.hasPrefix("postgres") else { return url }
        return url + (url.contains("?") ? "&" : "?") + "pool=\(size)"
    }
}
