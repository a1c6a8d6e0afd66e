import Foundation

/// A PostgreSQL 15 cluster of the test's own, on a loopback port, for tests that stop and
/// restart the server (they must not disturb the cluster the rest of the suite shares).
public final class ThrowawayPostgres: @unchecked Sendable {
    public static let binaries = "/usr/lib/postgresql/15/bin"
    public static var isAvailable: Bool { FileManager.default.isExecutableFile(atPath: binaries + "/initdb") }

    public let directory: URL
    public let port: Int
    public var url: String { "postgres://mlc@127.0.0.1:\(port)/postgres" }

    private init(directory: URL, port: Int) {
        self.directory = directory
        self.port = port
    }

    /// initdb + start. Runs the server binaries as `postgres` when the tests run as root.
    public static func start() async throws -> ThrowawayPostgres {
        let directory = TemporaryDirectory.make("mlc-pg")
        let port = try freePort()
        let cluster = ThrowawayPostgres(directory: directory, port: port)
        if getuid() == 0 {
            _ = try await cluster.shell("chmod 755 '\(directory.path)' && chown postgres:postgres '\(directory.path)'")
        }
        _ = try await cluster.asPostgres("\(binaries)/initdb -D '\(directory.path)/data' -A trust -U mlc -E UTF8 --no-sync")
        try await cluster.startServer()
        return cluster
    }

    public func startServer() async throws {
        // pg_ctl's own output goes to a file: the server it starts must not inherit our pipes,
        // or they would never reach end-of-file. A machine busy with the whole suite can be slow
        // to bring a restarted server up: one more try, then the server's own words in the error.
        for attempt in 1...2 {
            do {
                _ = try await asPostgres("\(Self.binaries)/pg_ctl -D '\(directory.path)/data' -l '\(directory.path)/server.log' -w -t 120 -o \"-c listen_addresses=127.0.0.1 -p \(port) -k '\(directory.path)'\" start > '\(directory.path)/pg_ctl.out' 2>&1 < /dev/null")
                return
            } catch {
                let log = (try? String(contentsOf: directory.appendingPathComponent("server.log"), encoding: .utf8)) ?? ""
                let out = (try? String(contentsOf: directory.appendingPathComponent("pg_ctl.out"), encoding: .utf8)) ?? ""
                if attempt == 2 {
                    throw NSError(domain: "ThrowawayPostgres", code: 2, userInfo: [NSLocalizedDescriptionKey: "pg_ctl start failed twice: \(out.suffix(400)) — server.log: \(log.suffix(800))"])
                }
                // A half-started server is stopped before the second try.
                _ = try? await asPostgres("\(Self.binaries)/pg_ctl -D '\(directory.path)/data' -m immediate -w -t 60 stop")
            }
        }
    }

    public func stopServer() async throws {
        _ = try await asPostgres("\(Self.binaries)/pg_ctl -D '\(directory.path)/data' -m fast -w -t 60 stop")
    }

    /// Stops the server and deletes the cluster.
    public func destroy() async {
        _ = try? await stopServer()
        try? FileManager.default.removeItem(at: directory)
    }

    private func asPostgres(_ command: String) async throws -> String {
        try await shell(getuid() == 0 ? "runuser -u postgres -- sh -c \(Self.quote(command))" : command)
    }

    private func shell(_ command: String) async throws -> String {
        // The server is a daemon that outlives this shell: it must not inherit any descriptor of
        // ours beyond 0–2 (Foundation watches one to learn that the child exited).
        // Python's subprocess closes every other descriptor in the child (close_fds).
        let spawn = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1], shell=True, close_fds=True))"
        let result = try await ProcessRunner.run(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", spawn, command], timeout: 200)
        guard result.status == 0 else {
            throw NSError(domain: "ThrowawayPostgres", code: Int(result.status), userInfo: [NSLocalizedDescriptionKey: "\(command): \(result.stderr)"])
        }
        return result.stdout
    }

    private static func quote(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "'\\''") + "'" }

    private static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0 else { throw NSError(domain: "ThrowawayPostgres", code: 1) }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
