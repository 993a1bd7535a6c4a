import Foundation
import ParleyProtocol
import Testing
import ParleyTestSupport

/// A committed ed25519 signed vector.
private func vector(_ name: String) -> String {
    SourceTree.root.appendingPathComponent("Protocol/vectors/signed/ed25519").appendingPathComponent(name).path
}

/// What a new user meets first: exit statuses as documented, totals, names, hints and help text
/// that read well, and no internal detail in anything printed.
@Suite struct FirstContactTests {
    static let signed = SourceTree.root.appendingPathComponent("Protocol/vectors/signed")
    static let ed25519 = signed.appendingPathComponent("ed25519")
    static let trust = ["--trust", vector("anchors.pem"), "--crl", vector("crls.pem"), "--at", "2026-12-01T06:01:00Z"]

    // MARK: - Exit statuses

    /// The statuses of README's table and of `parley --help` are the same set.
    @Test func exitTableOfREADMEAndHelpAgree() throws {
        let readme = try String(contentsOf: SourceTree.root.appendingPathComponent("README.md"), encoding: .utf8)
        let readmeStatuses = Set(
            readme.split(separator: "\n").compactMap { line -> Int? in
                guard line.hasPrefix("| "), let cell = line.split(separator: "|").first else { return nil }
                return Int(cell.trimmingCharacters(in: .whitespaces))
            }
        )
        let help = try CLI.run(["--help"])
        #expect(help.status == 0)
        let table = help.stdout.components(separatedBy: "Exit status (sysexits.h):\n").last ?? ""
        let helpStatuses = Set(
            table.split(separator: "\n").prefix { !$0.isEmpty }.compactMap { line -> Int? in
                line.hasPrefix("  ") && !line.hasPrefix("    ") ? Int(line.split(separator: " ").first ?? "") : nil
            }
        )
        #expect(readmeStatuses == [0, 1, 2, 64, 65, 66, 69, 70, 73, 74, 77, 78])
        #expect(helpStatuses == readmeStatuses)
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var arguments: [String]
        var status: Int32
        var testDescription: String { name }
    }

    static let statusCases: [Case] = [
        Case(
            name: "verify: a valid message",
            arguments: ["verify", vector("message-pre-launch.cose")] + trust,
            status: 0
        ),
        Case(
            name: "verify: a tampered message",
            arguments: ["verify", vector("tampered-payload-bit.cose")] + trust,
            status: 1
        ),
        Case(name: "verify: an unreadable input", arguments: ["verify", "/nonexistent/msg.cose"] + trust, status: 66),
        Case(
            name: "verify: an unreadable input among valid ones",
            arguments: ["verify", vector("message-pre-launch.cose"), "/nonexistent/msg.cose"] + trust,
            status: 66
        ),
        Case(
            name: "verify: malformed --at",
            arguments: [
                "verify", vector("message-pre-launch.cose"), "--trust", vector("anchors.pem"),
                "--crl", vector("crls.pem"), "--at", "2026-12-01 06:01",
            ],
            status: 64
        ),
        Case(
            name: "verify: impossible --at",
            arguments: [
                "verify", vector("message-pre-launch.cose"), "--trust", vector("anchors.pem"),
                "--crl", vector("crls.pem"), "--at", "2026-02-30T06:01:00Z",
            ],
            status: 64
        ),
        Case(
            name: "verify: malformed --recipient",
            arguments: ["verify", vector("message-pre-launch.cose"), "--recipient", "fr-cnrr"] + trust,
            status: 64
        ),
        Case(
            name: "verify: no --crl",
            arguments: ["verify", vector("message-pre-launch.cose"), "--trust", vector("anchors.pem")],
            status: 64
        ),
        Case(
            name: "verify: missing anchors",
            arguments: [
                "verify", vector("message-pre-launch.cose"), "--trust", "/nonexistent/anchors.pem",
                "--crl", vector("crls.pem"),
            ],
            status: 66
        ),
        Case(
            name: "verify: anchors that are not PEM",
            arguments: [
                "verify", vector("message-pre-launch.cose"), "--trust",
                SourceTree.root.appendingPathComponent("README.md").path, "--crl", vector("crls.pem"),
            ],
            status: 65
        ),
        Case(
            name: "verify: unreadable --for-message",
            arguments: ["verify", vector("receipt-accepted.cose"), "--for-message", "/nonexistent/m.cose"] + trust,
            status: 66
        ),
        Case(name: "inspect: an unreadable input", arguments: ["inspect", "/nonexistent/msg.cose"], status: 66),
        Case(
            name: "inspect: not CBOR",
            arguments: ["inspect", SourceTree.root.appendingPathComponent("Package.swift").path],
            status: 65
        ),
        Case(name: "unknown command", arguments: ["statuss"], status: 64),
        Case(name: "unknown option", arguments: ["verify", "--frobnicate"], status: 64),
        Case(name: "status: no daemon", arguments: ["status", "--socket", "/nonexistent/admin.sock"], status: 69),
        Case(name: "outbox: --limit 0", arguments: ["outbox", "--limit", "0"], status: 64),
        Case(name: "inbox: malformed --since", arguments: ["inbox", "--since", "yesterday"], status: 64),
    ]

    @Test(arguments: statusCases)
    func exitStatusIsTheDocumentedOne(_ c: Case) throws {
        let output = try CLI.run(c.arguments)
        #expect(output.status == c.status, "\(output.stdout)\n\(output.stderr)")
        if c.status >= 64 {
            #expect(
                output.stderr.hasPrefix("parley: error: ") && output.stderr.split(separator: "\n").count == 1,
                "\(output.stderr)"
            )
        }
    }

    @Test func missingInputsExit66AndOutputsThatCannotBeCreated73() throws {
        let pki = try CLITestPKI.shared.get()
        let directory = TemporaryDirectory()
        let compose = [
            "compose", "--type", "launch-cancellation", "--to", "RU-NRRC", "--ref",
            "0192f3a06c007a108b2c3d4e5f601001:cancels",
            "--field", "reason=technical", "--cert", pki.chain("US-NRRC"), "--seq", "1",
        ]
        let missing = try CLI.run(compose + ["--key", "/nonexistent/signing.key", "--out", directory.path("a.cose")])
        #expect(missing.status == 66, "\(missing.stderr)")
        let unwritable = try CLI.run([
            "keygen", "--alg", "ed25519", "--out", directory.path("no-such-directory/signing.key"),
        ])
        #expect(unwritable.status == 73, "an output that cannot be created: \(unwritable.stderr)")
        let existing = directory.write("exists.cose", "x")
        let exists = try CLI.run(compose + ["--key", pki.key("US-NRRC"), "--out", existing])
        #expect(exists.status == 73, "\(exists.stderr)")
    }

    // MARK: - verify: totals, names

    @Test func verifyEndsWithATotalLine() throws {
        let text = try CLI.run(
            [
                "verify", vector("message-pre-launch.cose"), vector("tampered-payload-bit.cose"),
                vector("unknown-ca.cose"),
            ] + Self.trust
        )
        #expect(text.status == 1)
        #expect(text.stdout.split(separator: "\n").last == "1 valid, 2 not valid (3 files)", "\(text.stdout)")
        let one = try CLI.run(["verify", vector("message-pre-launch.cose")] + Self.trust)
        #expect(one.stdout.split(separator: "\n").last == "1 valid, 0 not valid (1 file)", "\(one.stdout)")
        let unreadable = try CLI.run(["verify", vector("message-pre-launch.cose"), "/nonexistent/a.cose"] + Self.trust)
        #expect(
            unreadable.stdout.split(separator: "\n").last == "1 valid, 1 not valid (2 files; 1 could not be read)",
            "\(unreadable.stdout)"
        )

        let json = try CLI.run(
            [
                "verify", vector("message-pre-launch.cose"), vector("tampered-payload-bit.cose"), "/nonexistent/a.cose",
                "--json",
            ]
                + Self.trust
        )
        let lines = json.stdout.split(separator: "\n").map { String($0).jsonObject }
        #expect(lines.count == 4 && lines.allSatisfy { $0 != nil }, "every line is a JSON object: \(json.stdout)")
        let summary = try #require(lines.last??["summary"] as? [String: Any])
        #expect(
            summary["files"] as? Int == 3 && summary["valid"] as? Int == 1 && summary["invalid"] as? Int == 2
                && summary["unreadable"] as? Int == 1,
            "\(summary)"
        )
        #expect(json.status == 66)
    }

    @Test func aTextFileIsNotAParleyMessage() throws {
        let directory = TemporaryDirectory()
        let note = directory.write("note.txt", "Dear colleagues,\nplease find the notification attached.\n")
        let output = try CLI.run(["verify", note] + Self.trust)
        #expect(output.status == 1)
        #expect(output.stdout.contains("not a Parley message (it is a text file"), "\(output.stdout)")
        let json = try CLI.run(["verify", note, "--json"] + Self.trust)
        let error = json.stdout.split(separator: "\n").first.map(String.init)?.jsonObject?["error"] as? [String: Any]
        #expect(error?["code"] as? String == "malformed")
        #expect((error?["reason"] as? String)?.hasPrefix("not a Parley message (") == true, "\(json.stdout)")
        let empty = directory.write("empty.cose", "")
        #expect(
            try CLI.run(["verify", empty] + Self.trust).stdout.contains("not a Parley message (the file is empty)")
        )
    }

    /// The names `parley verify --json` reports are those of SPEC.md §15.7's registry, which lists
    /// the 15 rejection codes and the outcomes that are not rejections.
    @Test func outcomeNamesAreTheRegistrysNames() throws {
        let spec = try String(contentsOf: SourceTree.root.appendingPathComponent("Protocol/SPEC.md"), encoding: .utf8)
        let section = try #require(
            spec.components(separatedBy: "### 15.7. Verification outcomes").dropFirst().first?
                .components(separatedBy: "\n## ").first
        )
        let registry = Set(
            section.split(separator: "\n").filter { $0.hasPrefix("| `") }.flatMap { row in
                (row.split(separator: "|").first ?? "").split(separator: "`").enumerated().filter { $0.offset % 2 == 1 }
                    .map { String($0.element) }
            }
        )
        let rejections = Set(RejectionCode.allCases.map(\.name))
        #expect(registry == rejections.union(["valid", "revocation-unavailable", "receipt-mismatch"]), "\(registry)")

        struct Entry: Decodable {
            var file: String
            var verifyAt: String
            var crls: String
            var recipient: String?
            var forMessage: String?
            var expect: String
        }
        let entries = try JSONDecoder().decode(
            [Entry].self,
            from: Data(contentsOf: Self.signed.appendingPathComponent("manifest.json"))
        )
        #expect(entries.allSatisfy { registry.contains($0.expect) }, "manifest.json expects only registry names")
        for entry in entries where entry.file.hasPrefix("ed25519/") && entry.expect != "valid" {
            var arguments = [
                "verify", Self.signed.appendingPathComponent(entry.file).path, "--trust", vector("anchors.pem"),
                "--crl", Self.signed.appendingPathComponent(entry.crls).path, "--at", entry.verifyAt, "--json",
            ]
            if let recipient = entry.recipient { arguments += ["--recipient", recipient] }
            if let message = entry.forMessage {
                arguments += ["--for-message", Self.signed.appendingPathComponent(message).path]
            }
            let output = try CLI.run(arguments)
            let error =
                output.stdout.split(separator: "\n").first.map(String.init)?.jsonObject?["error"] as? [String: Any]
            #expect(error?["code"] as? String == entry.expect, "\(entry.file): \(output.stdout)")
            let check = (error?["certificate"] as? [String: Any])?["check"] as? String
            #expect(check.map { $0 == $0.lowercased() } ?? true, "certificate check \(check ?? "") in one style")
        }
    }

    // MARK: - Nothing internal in what a user reads

    /// Every failing invocation here prints only operator text: no source location, no Swift type
    /// or case name of the error types (CodecError, ProtocolError, CryptoError, the chain checks).
    @Test func noSourceLocationsOrSwiftNamesInAnyOutput() throws {
        let directory = TemporaryDirectory()
        let pki = try CLITestPKI.shared.get()
        let text = directory.write("note.txt", "hello\n")
        let key = directory.write("key.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
        let trailing = vector("message-trailing-byte.cose")
        var bytes = try Data(contentsOf: URL(fileURLWithPath: vector("message-pre-launch.cose")))
        bytes[bytes.count / 2] ^= 0x01
        let flipped = directory.path("flipped.cose")
        try bytes.write(to: URL(fileURLWithPath: flipped))
        try Data([0xD2, 0x84, 0x40, 0xA0, 0x41, 0x00, 0x40]).write(
            to: URL(fileURLWithPath: directory.path("short.cose"))
        )
        try Data([0xD2, 0x84, 0x43, 0xA1, 0x01, 0x27, 0xA1, 0x18, 0x21, 0x80, 0x41, 0xA0, 0x40]).write(
            to: URL(fileURLWithPath: directory.path("hollow.cose"))
        )

        var invocations: [[String]] = [
            ["verify", text] + Self.trust,
            ["verify", text, "--json"] + Self.trust,
            [
                "verify", directory.path("short.cose"), directory.path("hollow.cose"), flipped, trailing,
                "/nonexistent/m.cose",
            ] + Self.trust,
            ["verify", directory.path("short.cose"), directory.path("hollow.cose"), flipped, trailing, "--json"]
                + Self.trust,
            [
                "verify", vector("message-with-expired-crl.cose"), "--trust", vector("anchors.pem"), "--crl",
                vector("expired-crls.pem"),
                "--at", "2026-12-01T06:01:00Z", "--json",
            ],
            [
                "verify", vector("message-with-expired-crl.cose"), "--trust", vector("anchors.pem"), "--crl",
                vector("expired-crls.pem"),
                "--at", "2026-12-01T06:01:00Z",
            ],
            [
                "verify", vector("receipt-for-other-bytes.cose"), "--for-message", vector("message-pre-launch.cose"),
                "--json",
            ] + Self.trust,
            [
                "verify", vector("message-pre-launch.cose"), "--json", "--trust", vector("anchors.pem"), "--crl",
                vector("crls.pem"), "--at", "2040-01-01T00:00:00Z",
            ],
            [
                "verify", vector("expired-certificate.cose"), vector("revoked-certificate.cose"),
                vector("unknown-ca.cose"), "--json",
            ] + Self.trust,
            ["verify", vector("receipt-accepted.cose"), "--for-message", flipped] + Self.trust,
            ["verify", vector("message-pre-launch.cose"), "--trust", text, "--crl", vector("crls.pem")],
            ["verify", vector("message-pre-launch.cose"), "--trust", vector("anchors.pem"), "--crl", text],
            ["inspect", text],
            ["inspect", trailing],
            [
                "compose", "--type", "pre-launch", "--to", "RU-NRRC", "--field", "class=rocket", "--key",
                pki.key("US-NRRC"),
                "--cert", pki.chain("US-NRRC"), "--seq", "1", "--out", directory.path("x.cose"),
            ],
            [
                "compose", "--type", "launch-cancellation", "--to", "RU-NRRC", "--ref",
                "0192f3a06c007a108b2c3d4e5f601001:cancels",
                "--field", "reason=technical", "--key", key, "--cert", pki.chain("US-NRRC"), "--seq", "1", "--out",
                directory.path("y.cose"),
            ],
            [
                "compose", "--type", "launch-cancellation", "--to", "RU-NRRC", "--ref",
                "0192f3a06c007a108b2c3d4e5f601001:cancels",
                "--field", "reason=technical", "--key", pki.key("US-NRRC"), "--cert", text, "--seq", "1", "--out",
                directory.path("z.cose"),
            ],
            [
                "compose", "--type", "launch-cancellation", "--to", "RU-NRRC", "--ref",
                "0192f3a06c007a108b2c3d4e5f601001:cancels",
                "--field", "reason=technical", "--key", pki.key("RU-NRRC"), "--cert", pki.chain("US-NRRC"), "--seq",
                "1", "--out", directory.path("w.cose"),
            ],
            [
                "compose", "--document", text, "--key", pki.key("US-NRRC"), "--cert", pki.chain("US-NRRC"), "--seq",
                "1", "--out", directory.path("v.cose"),
            ],
            ["archive", "verify", text, "--trust", vector("anchors.pem"), "--crl", vector("crls.pem")],
            ["archive", "verify", trailing, "--trust", vector("anchors.pem"), "--crl", vector("crls.pem"), "--json"],
            ["keygen", "--alg", "rsa", "--out", directory.path("k.pem")],
            ["status", "--socket", "/nonexistent/admin.sock"],
            ["statuss"],
        ]
        invocations.append([
            "verify", "--at", "soon", vector("message-pre-launch.cose"), "--trust", vector("anchors.pem"), "--crl",
            vector("crls.pem"),
        ])
        let errorTypeNames = [
            "CodecError", "ProtocolError", "CryptoError", "ChainVerificationError", "StoreError", "DecodingError",
            "CLIError",
        ]
        // Swift identifiers of the error codes that differ from their registry names (lowerCamelCase).
        let caseName = try Regex(#"\b[a-z]+(?:[A-Z][a-z0-9]*)+\b"#)
        let sourceLocation = try Regex(#"[A-Za-z]+\.swift:\d+"#)
        for arguments in invocations {
            let output = try CLI.run(arguments)
            #expect(output.status != 0, "\(arguments) should fail")
            let printed = output.stdout + output.stderr
            #expect(
                printed.firstMatch(of: sourceLocation) == nil,
                "source location in `parley \(arguments.joined(separator: " "))`: \(printed)"
            )
            for name in errorTypeNames {
                #expect(!printed.contains(name), "\(name) in `parley \(arguments.joined(separator: " "))`: \(printed)")
            }
            // Base64 and hex never look like words with an inner capital after lower-case letters only.
            let words = printed.matches(of: caseName).map { String(printed[$0.range]) }
                .filter { !Self.operatorVocabulary.contains($0) }
            #expect(words.isEmpty, "Swift names \(words) in `parley \(arguments.joined(separator: " "))`: \(printed)")
        }
    }

    /// Words in lowerCamelCase that an operator reads in their own documents: X.509 and CRL field
    /// names (RFC 5280) and parleyd.json keys.
    static let operatorVocabulary: Set = [
        "x5chain", "certificateExpiryWarningDays", "notBefore", "notAfter", "thisUpdate", "nextUpdate",
        "keyUsage", "extendedKeyUsage", "basicConstraints", "pathLenConstraint", "subjectAltName",
    ]

    // MARK: - Help and hints

    @Test func aMistypedCommandGetsASuggestion() throws {
        let typo = try CLI.run(["statuss"])
        #expect(typo.status == 64)
        #expect(typo.stderr.contains("did you mean 'status'?"), "\(typo.stderr)")
        #expect(typo.stderr.split(separator: "\n").count == 1)
        let nested = try CLI.run(["archive", "verfy", "x.parley"])
        #expect(nested.status == 64 && nested.stderr.contains("did you mean 'archive verify'?"), "\(nested.stderr)")
        let swapped = try CLI.run(["veriyf", "x.cose"])
        #expect(swapped.stderr.contains("did you mean 'verify'?"), "\(swapped.stderr)")
        let nothingClose = try CLI.run(["xyzzy"])
        #expect(nothingClose.status == 64 && !nothingClose.stderr.contains("did you mean"), "\(nothingClose.stderr)")
    }

    static let commands = [
        ["compose"], ["verify"], ["inspect"], ["keygen"], ["pki", "test"], ["archive", "verify"],
        ["archive", "export"],
        ["demo"], ["send"], ["outbox"], ["inbox"], ["show"], ["receipts"], ["status"], ["retry"], ["cancel"],
        ["reload"],
    ]

    /// In 80 columns: the exit table keeps its columns, examples are never wrapped (a continuation
    /// at column 0, such as a stray `--json` line), and only `parley --help` carries the table.
    @Test func helpReadsWellIn80Columns() throws {
        let root = try CLI.run(["--help"])
        let table =
            root.stdout.components(separatedBy: "Exit status (sysexits.h):\n").last?.components(separatedBy: "\n\n")
            .first ?? ""
        #expect(!table.isEmpty)
        for line in table.split(separator: "\n") {
            #expect(
                line.count <= 80
                    && (line.hasPrefix("  ")
                        && (Int(line.split(separator: " ")[0]) != nil || line.hasPrefix("      "))),
                "exit table line \"\(line)\""
            )
        }
        for command in Self.commands {
            let help = try CLI.run(command + ["--help"])
            #expect(help.status == 0)
            #expect(!help.stdout.contains("Exit status (sysexits.h)"), "\(command) --help repeats the exit table")
            #expect(help.stdout.contains("see `parley --help`"), "\(command) --help points to the table")
            var inExamples = false
            for line in help.stdout.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.hasPrefix("Example") {
                    inExamples = true
                    continue
                }
                if line.isEmpty {
                    inExamples = false
                    continue
                }
                if inExamples {
                    #expect(line.hasPrefix("  "), "\(command) --help: example wrapped at column 0: \"\(line)\"")
                }
                if !line.hasPrefix("USAGE:") { #expect(line.count <= 80, "\(command) --help: \"\(line)\"") }
                #expect(
                    !(line.hasPrefix("--") && !line.contains(" ")),
                    "\(command) --help: stray option line \"\(line)\""
                )
            }
        }
    }

    @Test func testbedHelpIsOnlyItsDescription() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [SourceTree.root.appendingPathComponent("Deploy/testbed.sh").path, "--help"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output.hasPrefix("testbed.sh: three parleyd nodes"))
        #expect(output.contains("--smoke"))
        #expect(!output.contains("set -euo pipefail") && !output.contains("REPO="), "\(output)")
    }

    // MARK: - README

    /// README's verify example, run as written (with the built `parley` for `swift run parley`):
    /// every ed25519 vector gets the outcome its name promises (manifest.json), and each command
    /// ends with its total line.
    @Test func readmeVerifyExampleShowsWhatEachVectorPromises() throws {
        let readme = try String(contentsOf: SourceTree.root.appendingPathComponent("README.md"), encoding: .utf8)
        let blocks = readme.components(separatedBy: "```sh\n").dropFirst().map {
            $0.components(separatedBy: "```").first ?? ""
        }
        let example = try #require(blocks.first { $0.contains("parley verify") })
        let script = example.replacingOccurrences(of: "swift run parley", with: CLI.executable.path)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        process.currentDirectoryURL = SourceTree.root
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()

        struct Entry: Decodable {
            var file: String
            var expect: String
        }
        let entries = try JSONDecoder().decode(
            [Entry].self,
            from: Data(contentsOf: Self.signed.appendingPathComponent("manifest.json"))
        )
        .filter { $0.file.hasPrefix("ed25519/") }
        #expect(entries.count >= 16)
        let lines = output.split(separator: "\n").map(String.init)
        for entry in entries {
            let shown = lines.filter { $0.contains("/" + entry.file + ":") }
            #expect(shown.count == 1, "\(entry.file) shown \(shown.count) times in README's example")
            let expected =
                entry.expect == "valid"
                ? "✔ Protocol/vectors/signed/\(entry.file): valid"
                : "✘ Protocol/vectors/signed/\(entry.file): \(entry.expect)"
            #expect(
                shown.first?.hasPrefix(expected) == true,
                "README example: \(shown.first ?? "nothing") instead of \(expected)"
            )
        }
        #expect(
            lines.filter { $0.contains(" valid, ") && $0.contains(" not valid (") }.count == example.components(
                separatedBy: "swift run parley verify"
            ).count - 1
        )
    }
}
