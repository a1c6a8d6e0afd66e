import Foundation
import Logging
import Synchronization

/// Where finished log lines go. One line per call, newline not included.
public protocol LogSink: Sendable {
    func write(line: String)
}

/// Writes each line to a file descriptor with a single `write(2)`, so lines from concurrent
/// tasks never interleave.
public struct FileDescriptorLogSink: LogSink {
    public static let standardOutput = FileDescriptorLogSink(fd: 1)
    public static let standardError = FileDescriptorLogSink(fd: 2)

    private let fd: Int32
    public init(fd: Int32) { self.fd = fd }

    public func write(line: String) {
        var line = line
        line.append("\n")
        line.withUTF8 { raw in
            var offset = 0
            while offset < raw.count {
                #if canImport(Glibc)
                let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                #else
                let n = Darwin.write(fd, raw.baseAddress! + offset, raw.count - offset)
                #endif
                if n <= 0 { return }
                offset += n
            }
        }
    }
}

/// Keeps every line in memory; tests read them back (for example to prove no secret was logged).
public final class CapturingLogSink: LogSink {
    private let storage = Mutex<[String]>([])
    public init() {}
    public func write(line: String) { storage.withLock { $0.append(line) } }
    /// Every line written so far.
    public var lines: [String] { storage.withLock { $0 } }
}

/// One JSON object per line: `timestamp`, `level`, `severity` (Cloud Logging), `message`
/// (a constant), then the metadata as dotted keys. Satisfies Lambda's JSON log format, Cloud
/// Logging and plain `kubectl logs`. The handler never adds a body or a secret by itself;
/// callers only ever log identifiers and outcomes.
public struct JSONLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level
    private let label: String
    private let sink: any LogSink
    private let clock: any WallClock

    public init(label: String, sink: any LogSink, level: Logger.Level = .info, clock: any WallClock = SystemWallClock()) {
        self.label = label
        self.sink = sink
        self.logLevel = level
        self.clock = clock
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata, !extra.isEmpty { merged.merge(extra) { _, new in new } }

        var out = "{\"timestamp\":"
        // A request's line with its ids is 400–600 bytes: one allocation, not a chain of doublings.
        out.reserveCapacity(768)
        JSONText.appendString(Self.timestamp(clock.now()), to: &out)
        out += ",\"level\":"
        JSONText.appendString(event.level.rawValue, to: &out)
        out += ",\"severity\":"
        JSONText.appendString(Self.severity(event.level), to: &out)
        out += ",\"message\":"
        JSONText.appendString(event.message.description, to: &out)
        out += ",\"logger\":"
        JSONText.appendString(label, to: &out)
        for (key, value) in merged.sorted(by: { $0.key < $1.key }) where !Self.isReserved(key) {
            out += ","
            JSONText.appendString(key, to: &out)
            out += ":"
            Self.append(value, to: &out)
        }
        out += "}"
        sink.write(line: out)
    }

    /// The keys the handler writes itself (compared, not hashed: this runs for every key of every line).
    private static func isReserved(_ key: String) -> Bool {
        switch key {
        case "timestamp", "level", "severity", "message", "logger": true
        default: false
        }
    }

    private static func append(_ value: Logger.Metadata.Value, to out: inout String) {
        switch value {
        case .string(let s): JSONText.appendString(s, to: &out)
        case .stringConvertible(let c):
            if let b = c as? Bool { out += b ? "true" : "false" }
            else if let i = c as? Int { out += String(i) }
            else if let i = c as? Int64 { out += String(i) }
            else if let d = c as? Double, d.isFinite { out += String(d) }
            else { JSONText.appendString(c.description, to: &out) }
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                append(item, to: &out)
            }
            out += "]"
        case .dictionary(let dict):
            out += "{"
            for (i, key) in dict.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                JSONText.appendString(key, to: &out)
                out += ":"
                append(dict[key]!, to: &out)
            }
            out += "}"
        }
    }

    private static func severity(_ level: Logger.Level) -> String {
        switch level {
        case .trace, .debug: "DEBUG"
        case .info: "INFO"
        case .notice: "NOTICE"
        case .warning: "WARNING"
        case .error: "ERROR"
        case .critical: "CRITICAL"
        }
    }

    static func timestamp(_ date: Date) -> String {
        Formatting.timestamp(date)
    }
}

/// Minimal JSON text helpers for hand-written, hot-path output (log lines, small answers).
public enum JSONText {
    /// Appends `s` as a JSON string literal (quoted, escaped) to `out`.
    public static func appendString(_ s: String, to out: inout String) {
        var s = s
        // Scanned as one contiguous buffer: iterating `utf8` byte by byte cost ~15 instructions a byte.
        let plain = s.withUTF8 { bytes in
            for byte in bytes where byte < 0x20 || byte == 0x22 || byte == 0x5C { return false }
            return true
        }
        if plain {
            // Nothing to escape (the common case): one append.
            out += "\""
            out += s
            out += "\""
            return
        }
        out.unicodeScalars.append("\"")
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out.unicodeScalars.append("\"")
    }

    /// `s` as a JSON string literal.
    public static func quoted(_ s: String) -> String {
        var out = ""
        appendString(s, to: &out)
        return out
    }
}

extension Logger.Level {
    /// Parses `MLC_LOG_LEVEL`-style names (also Lambda's upper-case ones); nil when unknown.
    public init?(loose name: String) {
        switch name.lowercased() {
        case "trace": self = .trace
        case "debug": self = .debug
        case "info": self = .info
        case "notice": self = .notice
        case "warn", "warning": self = .warning
        case "error": self = .error
        case "critical", "fatal": self = .critical
        default: return nil
        }
    }
}
