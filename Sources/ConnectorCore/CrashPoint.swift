import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Named places where a test may kill the process outright (SIGKILL — no unwinding, no
/// `defer`, no flush), to prove that what the store and F&O hold at that instant is enough to
/// finish the work exactly once after a restart. Armed only by `MLC_TEST_CRASH_AT=<name>` in
/// the environment of a process the crash tests start; read once; inert otherwise.
public enum CrashPoint {
    /// The armed point's name, if any.
    public static let armed: String? = ProcessInfo.processInfo.environment["MLC_TEST_CRASH_AT"].flatMap { $0.isEmpty ? nil : $0 }

    /// Dies here when `name` is the armed point.
    @inline(__always)
    public static func hit(_ name: String) {
        guard let armed, armed == name else { return }
        FileHandle.standardError.write(Data("crash point \(name): SIGKILL\n".utf8))
        kill(getpid(), SIGKILL)
    }
}
