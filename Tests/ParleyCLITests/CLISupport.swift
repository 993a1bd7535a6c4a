import Foundation
import ParleyCrypto
import ParleyProtocol
import Testing

/// Runs the built `parley` executable as a subprocess.
enum CLI {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `parley` in the build products directory next to the test runner (a dependency of this target).
    static let executable: URL = {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var directory = testBinary.deletingLastPathComponent()
        // On Linux the runner is <products>/ParleyPackageTests.xctest; on macOS a bundle inside it.
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("parley")
            var isDirectory: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDirectory), !isDirectory.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate.path) {
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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("parley-cli-run-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout"), err = directory.appendingPathComponent("stderr")
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
        return Output(status: process.terminationStatus,
                      stdout: (try? String(contentsOf: out, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOf: err, encoding: .utf8)) ?? "")
    }
}

/// A fresh directory, removed when released.
final class TemporaryDirectory: @unchecked Sendable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("parley-cli-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func write(_ name: String, _ text: String) -> String {
        let path = path(name)
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        return path
    }

    deinit { try? FileManager.default.removeItem(at: url) }
}

/// One test PKI for all CLI tests, made with `parley pki test` (so that command is exercised too),
/// for every participant of NOTIFICATIONS.md's examples.
struct CLITestPKI: Sendable {
    static let participants = ["US-NRRC", "RU-NRRC", "HCOC-CC", "FR-CNES", "FR-MFA", "DE-BAFA", "FR-SGDSN", "JP-METI"]
    static let shared = Result { try CLITestPKI.make() }

    let directory: URL
    let output: CLI.Output

    static func make() throws -> CLITestPKI {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("parley-cli-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let directory = parent.appendingPathComponent("pki")
        let output = try CLI.run(["pki", "test", directory.path, "--participants", participants.joined(separator: ",")])
        guard output.status == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: output.stderr]) }
        return CLITestPKI(directory: directory, output: output)
    }

    func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }
    func key(_ participant: String) -> String { path("participants/\(participant)/signing.key") }
    func chain(_ participant: String) -> String { path("participants/\(participant)/signing-chain.pem") }
    var anchors: String { path("trust/anchors.pem") }
    var crls: String { path("trust/crls.pem") }

    func identity(_ participant: String) throws -> SigningIdentity {
        try SigningIdentity.load(keyPath: key(participant), chainPath: chain(participant))
    }

    func verifier() throws -> MessageVerifier {
        MessageVerifier(trust: try TrustStore.load(anchorsPath: anchors, crlPaths: [crls]))
    }
}

extension String {
    /// The parsed JSON object of a line of `--json` output.
    var jsonObject: [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(utf8))) as? [String: Any]
    }
}
