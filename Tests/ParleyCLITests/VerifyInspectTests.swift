import Foundation
import Testing
import ParleyTestSupport

/// `parley verify` and `parley inspect` against the committed vectors of Protocol/vectors/.
@Suite struct VerifyInspectTests {
    static let signed = SourceTree.root.appendingPathComponent("Protocol/vectors/signed")

    struct Entry: Codable, Sendable, CustomTestStringConvertible {
        var file: String
        var kind: String
        var verifyAt: String
        var crls: String
        var recipient: String?
        var forMessage: String?
        var expect: String
        var testDescription: String { file }
    }

    static var entries: [Entry] {
        guard let data = try? Data(contentsOf: signed.appendingPathComponent("manifest.json")) else { return [] }
        return (try? JSONDecoder().decode([Entry].self, from: data)) ?? []
    }

    @Test func manifestIsRead() {
        #expect(Self.entries.count >= 20)
    }

    /// Every vector gets its listed verdict: the exit status, and with --json the error's code.
    @Test(arguments: entries)
    func vectorGetsExpectedVerdict(_ entry: Entry) throws {
        let folder = Self.signed.appendingPathComponent(entry.file).deletingLastPathComponent()
        var arguments = [
            "verify", Self.signed.appendingPathComponent(entry.file).path,
            "--trust", folder.appendingPathComponent("anchors.pem").path,
            "--crl", Self.signed.appendingPathComponent(entry.crls).path,
            "--at", entry.verifyAt, "--json",
        ]
        if let recipient = entry.recipient { arguments += ["--recipient", recipient] }
        if let message = entry.forMessage {
            arguments += ["--for-message", Self.signed.appendingPathComponent(message).path]
        }
        let output = try CLI.run(arguments)
        let result = try #require(
            output.stdout.split(separator: "\n").first.map(String.init)?.jsonObject,
            "no JSON line: \(output.stdout) \(output.stderr)"
        )
        if entry.expect == "valid" {
            #expect(output.status == 0, "\(output.stdout)")
            #expect(result["valid"] as? Bool == true)
            #expect(result["signer"] is String)
        } else {
            #expect(output.status == 1, "\(output.stdout)")
            #expect(result["valid"] as? Bool == false)
            let error = try #require(result["error"] as? [String: Any])
            // One name for the outcome, the registry's (SPEC.md §15.7), and the rejection a node signs.
            #expect(error["code"] as? String == entry.expect, "got \(error)")
            let rejection = (error["rejection"] as? [String: Any])?["name"] as? String
            #expect(
                rejection
                    == (["revocation-unavailable", "receipt-mismatch"].contains(entry.expect) ? nil : entry.expect),
                "got \(error)"
            )
        }
    }

    @Test func textOutputNamesSignerAndFields() throws {
        let output = try CLI.run([
            "verify", Self.signed.appendingPathComponent("ed25519/message-pre-launch.cose").path,
            "--trust", Self.signed.appendingPathComponent("ed25519/anchors.pem").path,
            "--crl", Self.signed.appendingPathComponent("ed25519/crls.pem").path,
            "--at", "2026-12-01T06:01:00Z",
        ])
        #expect(output.status == 0)
        #expect(output.stdout.contains("valid pre-launch message, signed by US-NRRC"))
        #expect(output.stdout.contains("window"))
    }

    @Test func missingCRLIsAUsageError() throws {
        let output = try CLI.run([
            "verify", Self.signed.appendingPathComponent("ed25519/message-pre-launch.cose").path,
            "--trust", Self.signed.appendingPathComponent("ed25519/anchors.pem").path,
        ])
        #expect(output.status == 64)
        #expect(output.stderr.contains("--crl"))
    }

    @Test func missingAnchorsFileIsNamedOnOneLine() throws {
        let output = try CLI.run([
            "verify", Self.signed.appendingPathComponent("ed25519/message-pre-launch.cose").path,
            "--trust", "/nonexistent/anchors.pem", "--crl", Self.signed.appendingPathComponent("ed25519/crls.pem").path,
        ])
        #expect(output.status == 66, "\(output.stderr)")
        #expect(output.stderr.contains("/nonexistent/anchors.pem"))
        #expect(output.stderr.split(separator: "\n").count == 1, "\(output.stderr)")
    }

    @Test func inspectShowsTheStructure() throws {
        let output = try CLI.run(["inspect", Self.signed.appendingPathComponent("p256/message-pre-launch.cose").path])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(output.stdout.contains("COSE_Sign1 (tag 18)"))
        #expect(output.stdout.contains("x5chain"))
        #expect(output.stdout.contains("participant US-NRRC"))
        #expect(output.stdout.contains("application/parley-message+cbor"))
    }

    @Test func inspectOfAMissingFileFails() throws {
        let output = try CLI.run(["inspect", "/nonexistent/message.cose"])
        #expect(output.status == 66)
        #expect(output.stderr.contains("/nonexistent/message.cose"))
        #expect(!output.stderr.contains("Fatal error"))
    }

    @Test func inspectOfInvalidCBORIsInvalidData() throws {
        let dir = TemporaryDirectory()
        let path = dir.path("bad.cose")
        try Data([0xFF, 0xFF]).write(to: URL(fileURLWithPath: path))
        let output = try CLI.run(["inspect", path])
        #expect(output.status == 65)
        #expect(output.stderr.hasPrefix("parley: error: not valid CBOR"))
        #expect(output.stderr.split(separator: "\n").count == 1)
    }

    @Test func unreadableMessageCountsAsNotVerifiedAndExits66() throws {
        let output = try CLI.run([
            "verify", "/nonexistent/message.cose", "--trust",
            Self.signed.appendingPathComponent("ed25519/anchors.pem").path,
            "--crl", Self.signed.appendingPathComponent("ed25519/crls.pem").path, "--json",
        ])
        #expect(output.status == 66, "EX_NOINPUT, as README and `parley --help` say")
        let line = output.stdout.split(separator: "\n").first.map(String.init)?.jsonObject
        #expect(line?["valid"] as? Bool == false)
        #expect((line?["error"] as? [String: Any])?["code"] as? String == "unreadable")
    }
}
