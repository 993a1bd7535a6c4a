import ArgumentParser
import Foundation

/// `parley pki ...`: public-key infrastructure helpers.
struct PKI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pki",
        abstract: "Public-key infrastructure helpers.",
        subcommands: [PKITest.self]
    )
}

/// `parley pki test DIR --participants A,B,C`: the throw-away test PKI of Certs/make-test-pki.sh.
struct PKITest: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "test",
        abstract: "Create a throw-away TEST PKI (root and issuing CA, CRLs, keys and certificates per participant).",
        discussion: """
            Runs Certs/make-test-pki.sh (found next to the executable's source tree, or given with \
            --script) with the system openssl. DIR must not exist or be empty. Layout: \
            DIR/trust/anchors.pem and crls.pem, DIR/participants/ID/signing.key and \
            signing-chain.pem, ... (see DIR/README.txt). Never use these keys outside tests.

            Example:
              parley pki test /tmp/pki --participants US-NRRC,RU-NRRC,HCOC-CC

            \(ExitStatus.seeTable)
            """
    )

    @Argument(help: ArgumentHelp("Directory to create (must not exist or be empty).", valueName: "dir"))
    var directory: String

    @Option(
        help: ArgumentHelp(
            "Participant ids, comma-separated; the first also gets a rollover certificate. Example: --participants US-NRRC,RU-NRRC",
            valueName: "ids"
        )
    )
    var participants: String

    @Option(help: ArgumentHelp("Signing key algorithm: ed25519, p256 or p384 (default ed25519).", valueName: "alg"))
    var alg: Keygen.Algorithm = .ed25519

    @Option(help: ArgumentHelp("Path of make-test-pki.sh, if it is not found automatically.", valueName: "path"))
    var script: String?

    func run() throws {
        let ids = participants.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter {
            !$0.isEmpty
        }
        guard !ids.isEmpty else {
            throw ValidationError(
                "--participants needs at least one participant id, e.g. --participants US-NRRC,RU-NRRC"
            )
        }
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue,
                (try? FileManager.default.contentsOfDirectory(atPath: directory))?.isEmpty == true
            else {
                throw CLIError(
                    ExitStatus.cannotCreate,
                    "\(directory) exists and is not an empty directory; give a new directory for the test PKI"
                )
            }
        }
        try Self.make(at: directory, participants: ids, algorithm: alg, script: script)
        print(
            "test PKI for \(ids.joined(separator: ", ")) in \(directory): trust anchors \(directory)/trust/anchors.pem, CRLs \(directory)/trust/crls.pem, keys and chains in \(directory)/participants/ID/"
        )
    }

    /// Runs make-test-pki.sh (`script`, else the one found by `findScript`) to make a test PKI for
    /// `participants` in `directory`. Its output goes to `log` when given (and the last line of it
    /// into the error), else to this process's standard output and error.
    static func make(
        at directory: String,
        participants: [String],
        algorithm: Keygen.Algorithm = .ed25519,
        script: String? = nil,
        log: String? = nil
    ) throws {
        let scriptPath = try script ?? Self.findScript()
        guard FileManager.default.isReadableFile(atPath: scriptPath) else {
            throw CLIError(ExitStatus.unavailable, "test-PKI script \(scriptPath) cannot be read")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", scriptPath, "--alg", algorithm.rawValue, directory] + participants
        var handle: FileHandle?
        if let log {
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
        }
        defer { try? handle?.close() }
        do {
            try process.run()
        } catch {
            throw CLIError(ExitStatus.unavailable, "cannot run bash for \(scriptPath): \(error.localizedDescription)")
        }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let messages =
                log.map { log in
                    let tail =
                        ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n").last.map(
                            String.init
                        ) ?? ""
                    return "(\(tail))"
                } ?? "(its messages are above)"
            throw CLIError(
                ExitStatus.software,
                "make-test-pki.sh failed with status \(process.terminationStatus) \(messages); is openssl 3 installed and on PATH?"
            )
        }
    }

    /// Certs/make-test-pki.sh of the source tree: above the executable (e.g. .build/debug/parley),
    /// else where this file was compiled from.
    static func findScript() throws -> String {
        var candidates: [URL] = []
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
            .deletingLastPathComponent()
        for _ in 0..<6 {
            candidates.append(directory.appendingPathComponent("Certs/make-test-pki.sh"))
            directory.deleteLastPathComponent()
        }
        let sourceRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        candidates.append(sourceRoot.appendingPathComponent("Certs/make-test-pki.sh"))
        guard let found = candidates.first(where: { FileManager.default.fileExists(atPath: $0.path) }) else {
            throw CLIError(
                ExitStatus.unavailable,
                "cannot find Certs/make-test-pki.sh near \(CommandLine.arguments[0]) or in the source tree \(sourceRoot.path); give it with --script PATH"
            )
        }
        return found.path
    }
}
