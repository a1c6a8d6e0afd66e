import ConnectorCore
import ConnectorTestSupport
import Foundation
import Testing

/// SPEC §14 as a user runs it: `mlc sandbox` serves both emulators and writes a connection
/// file with which `mlc connection add` and `mlc connection ping` work at once; order-poster
/// then drains through the real binaries.
@Suite struct SandboxCLITests {
    @Test func sandboxConnectionFileWorksAtOnce() async throws {
        let mlc = try PackagePaths.executable("mlc")
        let directory = TemporaryDirectory.make("mlc-sandbox")
        let file = directory.appendingPathComponent("sandbox.json").path
        let sandbox = try ProcessRunner.start(mlc, ["sandbox", "--write-connection", file, "--connection-id", "sbx"])
        defer { sandbox.signal(SIGTERM) }
        #expect(await sandbox.waitForOutput(timeout: 60) { $0.contains("Serving until Ctrl-C") }, "sandbox did not start: \(sandbox.stderrSoFar)")
        let printed = sandbox.stdoutSoFar
        #expect(printed.contains("consumer key"))
        #expect(printed.contains("mlc connection add --file \(file)"))

        let environment = ["MLC_MASTER_KEY": MasterKeyText.random(), "MLC_STORE_URL": "sqlite:\(directory.appendingPathComponent("state.sqlite").path)"]
        let add = try await ProcessRunner.run(mlc, ["connection", "add", "--file", file], environment: environment)
        #expect(add.status == 0, "\(add.stderr)")
        let ping = try await ProcessRunner.run(mlc, ["connection", "ping", "sbx"], environment: environment)
        #expect(ping.status == 0, "\(ping.stdout)\(ping.stderr)")
        #expect(ping.stdout.contains("WooCommerce: ok"))
        #expect(ping.stdout.contains("F&O: ok"))

        // The function binary, once mode, on the same store: nothing pending yet, a clean drain.
        let drain = #"{"specversion":"1.0","id":"t1","source":"/test","type":"com.mlconnector.orders.drain","data":{"connection":"sbx"}}"#
        let poster = try await ProcessRunner.run(try PackagePaths.executable("order-poster"), ["--stdin"], environment: environment.merging(["MLC_MODE": "once"]) { $1 }, stdin: drain)
        #expect(poster.status == 0, "\(poster.stdout)\(poster.stderr)")
        #expect(poster.stdout.contains("drained"))

        // A wrong secret is named, not hidden: ping fails with Entra's verdict.
        let broken = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "emulator-secret~0123456789", with: "wrong-secret")
        try broken.write(toFile: file, atomically: true, encoding: .utf8)
        #expect(try await ProcessRunner.run(mlc, ["connection", "update", "--file", file], environment: environment).status == 0)
        let refused = try await ProcessRunner.run(mlc, ["connection", "ping", "sbx"], environment: environment)
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("F&O: FAILED") && refused.stdout.contains("invalid_client"))

        sandbox.signal(SIGTERM)
        let ended = try await sandbox.wait(timeout: 30)
        #expect(ended.status == 0 || ended.status == 143 || ended.status == 15)
    }
}

enum MasterKeyText {
    static func random() -> String {
        var generator = SystemRandomNumberGenerator()
        return Data((0..<32).map { _ in UInt8.random(in: 0...255, using: &generator) }).base64EncodedString()
    }
}
