import ConnectorFuzz
import Foundation

#if FUZZING
// Built with `--sanitize=fuzzer -Xswiftc -DFUZZING`: libFuzzer's own main drives this entry;
// MLC_FUZZ_TARGET names the target. A broken invariant traps, so libFuzzer saves the input.
private let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["MLC_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        fatalError("MLC_FUZZ_TARGET is '\(name)'; set it to one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return target
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ start: UnsafeRawPointer?, _ count: Int) -> CInt {
    let input = start.map { Array(UnsafeRawBufferPointer(start: $0, count: count)) } ?? []
    if let finding = target.run(input) { fatalError("invariant broken: \(finding)") }
    return 0
}
#else
/// Corpus replay and seed writing (the normal build). Usage:
///   mlc-fuzz --target delivery|cloudevent|batch|connection FILE_OR_DIR...
///   mlc-fuzz seeds --out DIR [--repository DIR] [--fixtures DIR]
@main
struct MLCFuzz {
    static func main() {
        do {
            exit(try run(Array(CommandLine.arguments.dropFirst())))
        } catch {
            FileHandle.standardError.write(Data("mlc-fuzz: \(error)\n".utf8))
            exit(2)
        }
    }

    static func run(_ arguments: [String]) throws -> Int32 {
        var options: [String: String] = [:]
        var paths: [String] = []
        var iterator = arguments.makeIterator()
        while let argument = iterator.next() {
            if argument.hasPrefix("--") {
                guard let value = iterator.next() else { throw FuzzUsageError("\(argument) needs a value") }
                options[String(argument.dropFirst(2))] = value
            } else {
                paths.append(argument)
            }
        }
        if paths.first == "seeds" {
            guard let out = options["out"] else { throw FuzzUsageError("seeds needs --out DIR") }
            let repository = URL(fileURLWithPath: options["repository"] ?? FileManager.default.currentDirectoryPath)
            let fixtures = options["fixtures"].map { URL(fileURLWithPath: $0) }
            for (target, seeds) in try FuzzSeeds.all(repository: repository, fixtures: fixtures) {
                let directory = URL(fileURLWithPath: out).appendingPathComponent(target.rawValue)
                try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
                for seed in seeds { try Data(seed.bytes).write(to: directory.appendingPathComponent(seed.name)) }
                print("\(target.rawValue): \(seeds.count) seeds")
            }
            return 0
        }
        guard let name = options["target"], let target = FuzzTarget(rawValue: name), !paths.isEmpty else {
            throw FuzzUsageError("usage: mlc-fuzz --target \(FuzzTarget.allCases.map(\.rawValue).joined(separator: "|")) FILE_OR_DIR... | mlc-fuzz seeds --out DIR [--repository DIR] [--fixtures DIR]")
        }
        let result = try FuzzReplay.replay(paths: paths, target: target)
        for (file, finding) in result.findings { print("FINDING \(file): \(finding)") }
        print("\(target.rawValue): \(result.inputs) inputs replayed, \(result.findings.count) broken invariants")
        return result.findings.isEmpty ? 0 : 1
    }
}
#endif
