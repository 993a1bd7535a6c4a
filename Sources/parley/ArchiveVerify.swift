import ArgumentParser
import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol
import ParleyStore

/// `parley archive ...`: exported archives.
struct ArchiveCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "archive",
        abstract: "Work with exported archives.",
        subcommands: [ArchiveVerify.self, ArchiveCompare.self, ArchiveExport.self]
    )
}

/// `parley archive verify FILE`: ARCHIVE.md §4 offline.
struct ArchiveVerify: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Verify an exported archive offline: every signature and chain, channel sequences, receipts.",
        discussion: """
            Checks the archive's structure and trailer, then every message (at the time its receipts \
            were signed, SPEC.md §8.6) and every receipt against its message, and the sequence \
            numbers of each channel. Prints a summary: items and how many are valid, each failure \
            (item, message id, code, reason), gaps per channel and messages without a receipt. \
            Give every CRL of each CA for the period the archive covers (repeat --crl, or \
            concatenate them): each item is checked with the CRL authoritative at its own \
            verification time (SPEC.md §8.4). Progress is shown on standard \
            error when it is a terminal. Gaps and missing receipts are \
            reported facts; with --strict they also make the verification fail.

            Exit status: 0 if everything verifies, 1 if not, 65 if the file is not a readable archive.

            Example:
              parley archive verify export-2026.parley --trust anchors.pem --crl crls.pem

            \(ExitStatus.seeTable)
            """
    )

    @Argument(help: ArgumentHelp("The archive file.", valueName: "file"))
    var file: String

    @Option(help: ArgumentHelp("PEM file of trust anchors. Example: --trust anchors.pem", valueName: "anchors"))
    var trust: String

    @Option(
        name: .customLong("crl"),
        help: ArgumentHelp("CRL file (PEM or DER); repeat for each CA. Example: --crl crls.pem", valueName: "crl")
    )
    var crls: [String] = []

    @Option(
        help: ArgumentHelp(
            "Seconds a message's creation time may lie ahead of the verification time.",
            valueName: "seconds"
        )
    )
    var clockSkew: Int = 300

    @Flag(help: "Also fail on channel gaps and messages without a receipt.")
    var strict = false

    @Flag(help: "A JSON report on standard output.")
    var json = false

    func run() throws {
        guard (0...3_600).contains(clockSkew) else {
            throw ValidationError("--clock-skew \(clockSkew) must be between 0 and 3600 seconds (SPEC.md §2)")
        }
        guard !crls.isEmpty else {
            throw ValidationError(
                "no --crl given: revocation must be checked, so a current CRL for every CA is required"
            )
        }
        guard FileManager.default.isReadableFile(atPath: file) else {
            throw CLIError(ExitStatus.noInput, "cannot read archive \(file): no such file, or no permission to read it")
        }
        let store = try TrustStore.load(anchorsPath: trust, crlPaths: crls, maximumClockSkew: TimeInterval(clockSkew))
        let verifier = MessageVerifier(trust: store)
        var progress = ProgressLine()
        let report = try ParleyStore.verifyArchive(at: file, verifier: verifier) { items in
            progress.show("verified \(items) items…")
        }
        progress.finish()
        let passed = report.isValid && (!strict || (report.channelsWithGaps.isEmpty && report.unreceipted.isEmpty))
        print(json ? Self.json(report, file: file, passed: passed) : Self.text(report, file: file, passed: passed))
        if !passed { throw ExitCode(ExitStatus.verificationFailed) }
    }

    static func text(_ r: ArchiveVerificationReport, file: String, passed: Bool) -> String {
        var lines = [
            "\(passed ? "✔" : "✘") \(file): \(r.archive.messages + r.archive.receipts) items (\(r.archive.messages) messages, \(r.archive.receipts) receipts, \(r.archive.channels) channels), SHA-256 \(Hex.encode(r.archive.digest))"
        ]
        lines.append(
            "  messages: \(r.messagesValid) valid, \(r.messagesFailed) failed; receipts: \(r.receiptsValid) valid, \(r.receiptsFailed) failed"
        )
        for f in r.failures {
            var line =
                "  failure: item \(f.itemIndex), \(f.kind.rawValue) of message \(f.messageID) (\(f.participant)): \(f.error.outcomeName)"
            if !f.error.field.isEmpty { line += " in \(f.error.field)" }
            line += ": \(f.error.reason)"
            if let at = f.verifiedAt { line += " (verified at \(at))" }
            lines.append(line)
        }
        for c in r.channels {
            let gaps = c.gaps.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)–\($0.upperBound)" }
            var line = "  channel \(c.sender)→\(c.recipient): \(c.messages) messages, numbers \(c.lowest)–\(c.highest)"
            line += gaps.isEmpty ? ", no gaps" : ", gaps \(gaps.joined(separator: ", "))"
            if !c.reused.isEmpty {
                line +=
                    ", numbers used by two messages \(c.reused.keys.sorted().map(String.init).joined(separator: ", "))"
            }
            lines.append(line)
        }
        for m in r.unreceipted {
            lines.append(
                "  no receipt: message \(m.messageID) from \(m.sender), none from \(m.notReceiptedBy.joined(separator: ", "))"
            )
        }
        return lines.joined(separator: "\n")
    }

    static func json(_ r: ArchiveVerificationReport, file: String, passed: Bool) -> String {
        let object: [String: Any] = [
            "file": file, "valid": passed,
            "messages": r.archive.messages, "receipts": r.archive.receipts,
            "messages-valid": r.messagesValid, "receipts-valid": r.receiptsValid,
            "failures": r.failures.map { f -> [String: Any] in
                var e: [String: Any] = [
                    "item": f.itemIndex, "kind": f.kind.rawValue, "message": f.messageID.hex,
                    "participant": f.participant, "code": f.error.outcomeName, "reason": f.error.reason,
                ]
                if !f.error.field.isEmpty { e["field"] = f.error.field }
                if let at = f.verifiedAt { e["verified-at"] = "\(at)" }
                return e
            },
            "channels": r.channels.map { c -> [String: Any] in
                [
                    "sender": c.sender, "recipient": c.recipient, "messages": c.messages, "lowest": c.lowest,
                    "highest": c.highest,
                    "gaps": c.gaps.map { [$0.lowerBound, $0.upperBound] },
                    "reused": c.reused.keys.sorted(),
                ]
            },
            "unreceipted": r.unreceipted.map {
                ["message": $0.messageID.hex, "sender": $0.sender, "missing": $0.notReceiptedBy] as [String: Any]
            },
        ]
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }
}
