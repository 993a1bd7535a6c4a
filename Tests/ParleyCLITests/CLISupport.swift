import Foundation
import ParleyCrypto
import ParleyProtocol
import Testing
import ParleyTestSupport

/// Runs the built `parley` executable as a subprocess.
enum CLI {
    /// `parley` in the build products directory next to the test runner (a dependency of this target).
    static let executable: URL = {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On Linux the runner is <products>/ParleyPackageTests.xctest; on macOS a bundle inside it.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("parley")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory),
                !isDirectory.boolValue,
                FileManager.default.isExecutableFile(atPath: candidate.path)
            {
                return candidate
            }
            directory = directory.deletingLastPathComponent()
        }
        return testBinary.deletingLastPathComponent().appendingPathComponent("parley")
    }()

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String]) throws -> Output {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "parley-cli-run-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout")
        let err = directory.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: out.path, contents: nil)
        _ = FileManager.default.createFile(atPath: err.path, contents: nil)
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.standardOutput = try FileHandle(forWritingTo: out)
        process.standardError = try FileHandle(forWritingTo: err)
        process.standardInput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        return Output(
            status: process.terminationStatus,
            stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? ""
        )
    }
}

/// One test PKI for all CLI tests, made with `parley pki test` (so that command is exercised too),
/// for every participant of NOTIFICATIONS.md's examples.
enum CLITestPKI {
    static let participants = ["US-NRRC", "RU-NRRC", "HCOC-CC", "FR-CNES", "FR-MFA", "DE-BAFA", "FR-SGDSN", "JP-METI"]
    /// The PKI and what `parley pki test` printed.
    static let made = Result { try CLITestPKI.make() }
    static var shared: Result<TestPKI, any Error> { made.map(\.pki) }

    static func make() throws -> (pki: TestPKI, output: CLI.Output) {
        let directory = try temporaryDirectory("parley-cli-pki").appendingPathComponent("pki")
        let output = try CLI.run(["pki", "test", directory.path, "--participants", participants.joined(separator: ",")])
        guard output.status == 0 else { throw TestPKIError(description: "parley pki test failed: \(output.stderr)") }
        return (TestPKI(directory: directory), output)
    }
}

extension String {
    /// The parsed JSON object of a line of `--json` output.
    var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(utf8))) as? [String: Any]
    }
}
