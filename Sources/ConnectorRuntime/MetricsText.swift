import Foundation

/// The Prometheus text format read back: samples with their labels, and the TYPE and HELP lines.
/// What the tests (and anyone checking a scrape by script) assert on; not a full parser (no
/// timestamps, no exemplars — `/metrics` here writes neither).
public struct MetricsExposition: Sendable {
    public struct Sample: Sendable, Equatable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }
    public var samples: [Sample] = []
    public var types: [String: String] = [:]
    public var helps: [String: String] = [:]

    public init(_ bytes: [UInt8]) { self.init(String(decoding: bytes, as: UTF8.self)) }

    public init(_ text: String) {
        for line in text.split(separator: "\n").map(String.init) {
            if line.hasPrefix("# TYPE ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1).map(String.init)
                if parts.count == 2 { types[parts[0]] = parts[1] }
            } else if line.hasPrefix("# HELP ") {
                let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1).map(String.init)
                if parts.count == 2 { helps[parts[0]] = parts[1].replacingOccurrences(of: "\\\\", with: "\\") }
            } else if !line.hasPrefix("#"), let sample = Self.parse(line) {
                samples.append(sample)
            }
        }
    }

    static func parse(_ line: String) -> Sample? {
        var chars = Array(line)
        var index = 0
        var name = ""
        while index < chars.count, chars[index] != "{", chars[index] != " " { name.append(chars[index]); index += 1 }
        var labels: [String: String] = [:]
        if index < chars.count, chars[index] == "{" {
            index += 1
            while index < chars.count, chars[index] != "}" {
                var key = ""
                while index < chars.count, chars[index] != "=" { key.append(chars[index]); index += 1 }
                index += 2  // ="
                var value = ""
                while index < chars.count, chars[index] != "\"" {
                    if chars[index] == "\\", index + 1 < chars.count {
                        index += 1
                        value.append(chars[index] == "n" ? "\n" : chars[index])
                    } else {
                        value.append(chars[index])
                    }
                    index += 1
                }
                index += 1  // closing quote
                if index < chars.count, chars[index] == "," { index += 1 }
                labels[key] = value
            }
            index += 1  // }
        }
        chars = Array(chars[min(index, chars.count)...])
        guard let value = Double(String(chars).trimmingCharacters(in: .whitespaces).split(separator: " ").first.map(String.init) ?? "") else { return nil }
        return Sample(name: name, labels: labels, value: value)
    }

    public func samples(named name: String) -> [Sample] { samples.filter { $0.name == name } }
    public func value(_ name: String, _ labels: [String: String] = [:]) -> Double? { samples.first { $0.name == name && $0.labels == labels }?.value }
    public func type(_ name: String) -> String? { types[name] }
    public func help(_ name: String) -> String? { helps[name] }
}
