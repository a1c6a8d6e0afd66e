import Foundation

/// Corpus replay: every file (directories walked) through one target.
public enum FuzzReplay {
    public struct Result: Sendable {
        public var inputs = 0
        public var findings: [(file: String, finding: FuzzFinding)] = []
    }

    public static func replay(paths: [String], target: FuzzTarget) throws -> Result {
        var result = Result()
        for path in paths {
            for file in try inputFiles(path) {
                guard let data = FileManager.default.contents(atPath: file) else { continue }
                result.inputs += 1
                if let finding = target.run(Array(data)) { result.findings.append((file, finding)) }
            }
        }
        return result
    }

    static func inputFiles(_ path: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw FuzzUsageError("\(path): no such file or directory")
        }
        guard isDirectory.boolValue else { return [path] }
        var out: [String] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() where !name.hasPrefix(".") {
            out += try inputFiles((path as NSString).appendingPathComponent(name))
        }
        return out
    }
}

public struct FuzzUsageError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
