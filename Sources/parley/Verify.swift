import ArgumentParser
import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol

/// `parley verify FILE... --trust ANCHORS --crl CRL`: offline verification of messages and receipts.
struct Verify: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Verify messages and receipts offline against the regime's trust anchors and CRLs.",
        discussion: """
            Each file is checked as SPEC.md §9 says: COSE_Sign1 profile, signature, certificate chain \
            to a trust anchor at the verification time, revocation (a CRL must be present and current \
            for every CA in the path), participant binding, and the content rules of its type. A \
            receipt is checked on its own, or with --for-message against the message it answers; \
            `parley archive verify` matches the receipts of a whole archive.

            One result per file, then a total line: `N valid, M not valid (F files)`. A failure is \
            named by its outcome (SPEC.md §15.7: a rejection code such as bad-signature, or \
            revocation-unavailable, receipt-mismatch), with the rejection code a receiving node would \
            sign. With --json: one JSON object per file, then {"summary": {...}}; a file that cannot \
            be read has the code "unreadable".

            Exit status: 0 if every file verifies, 1 if any does not, 64 for a usage error (such as a \
            malformed --at), 65 if the trust anchors or CRLs cannot be used, 66 if a file (a message, \
            anchors or CRLs) cannot be read; the readable files are still verified and listed.

            Examples:
              parley verify msg.cose --trust anchors.pem --crl crls.pem
              parley verify rcpt.cose --for-message msg.cose --trust anchors.pem \\
                  --crl crls.pem --json
              parley verify Protocol/vectors/signed/ed25519/*.cose \\
                  --trust Protocol/vectors/signed/ed25519/anchors.pem \\
                  --crl Protocol/vectors/signed/ed25519/crls.pem \\
                  --at 2026-12-01T06:01:00Z

            \(ExitStatus.seeTable)
            """
    )

    @Argument(help: ArgumentHelp("Messages or receipts to verify (COSE_Sign1 files).", valueName: "file"))
    var files: [String]

    @Option(
        help: ArgumentHelp(
            "PEM file of trust anchors (the regime's root CA certificates). Example: --trust /etc/parley/anchors.pem",
            valueName: "anchors"
        )
    )
    var trust: String

    @Option(
        name: .customLong("crl"),
        help: ArgumentHelp(
            "CRL file (PEM or DER); repeat for each CA. Example: --crl root.crl --crl issuing.crl",
            valueName: "crl"
        )
    )
    var crls: [String] = []

    @Option(
        help: ArgumentHelp(
            "Verify as of this UTC time (RFC 3339) instead of now. Example: --at 2026-12-01T06:01:00Z",
            valueName: "time"
        )
    )
    var at: String?

    @Option(
        help: ArgumentHelp(
            "Also require messages to be addressed to this participant. Example: --recipient HCOC-CC",
            valueName: "id"
        )
    )
    var recipient: String?

    @Option(
        help: ArgumentHelp(
            "Check receipts against this message: they must answer it (id, digest, sender) and come from one of its recipients (or from --recipient). Example: --for-message msg.cose",
            valueName: "file"
        )
    )
    var forMessage: String?

    @Option(
        help: ArgumentHelp(
            "Seconds a message's creation time may lie ahead of the verification time.",
            valueName: "seconds"
        )
    )
    var clockSkew: Int = 300

    @Flag(help: "One JSON object per file on standard output, then a summary object.")
    var json = false

    func validate() throws {
        guard !crls.isEmpty else {
            throw ValidationError(
                "no --crl given: revocation must be checked, so a current CRL for every CA is required"
            )
        }
        _ = try verificationTime()
        _ = try recipientID()
        guard (0...3_600).contains(clockSkew) else {
            throw ValidationError("--clock-skew \(clockSkew) must be between 0 and 3600 seconds (SPEC.md §2)")
        }
    }

    /// `--at`, or now; a malformed time is a usage error.
    func verificationTime() throws -> UTCTime {
        guard let at else { return .now }
        guard let time = try? UTCTime(rfc3339: at) else {
            throw ValidationError("--at \(at) is not an RFC 3339 UTC time; write it like 2026-12-01T06:01:00Z")
        }
        return time
    }

    func recipientID() throws -> ParticipantID? {
        guard let recipient else { return nil }
        guard let id = try? ParticipantID(recipient) else {
            throw ValidationError("--recipient \(recipient) is not a participant id (1–64 of A–Z 0–9 -, e.g. HCOC-CC)")
        }
        return id
    }

    func run() throws {
        let time = try verificationTime()
        let recipient = try recipientID()
        let store = try TrustStore.load(anchorsPath: trust, crlPaths: crls, maximumClockSkew: TimeInterval(clockSkew))
        let verifier = MessageVerifier(trust: store)
        let sent = try forMessage.map { path -> SentMessage in
            do {
                return SentMessage(try verifier.verifyMessage(try readInput(path), at: time))
            } catch let error as ProtocolError {
                throw CLIError(ExitStatus.verificationFailed, "--for-message \(path) does not verify: \(error)")
            }
        }
        var summary = Summary()
        for file in files {
            let result = verify(file, verifier: verifier, at: time, recipient: recipient, message: sent)
            summary.count(result)
            print(json ? result.json : result.text)
        }
        print(json ? summary.json : summary.text)
        if summary.unreadable > 0 {
            throw CLIError(
                ExitStatus.noInput,
                "\(summary.unreadable) of \(files.count) \(files.count == 1 ? "file" : "files") could not be read (listed above); check the paths and permissions"
            )
        }
        if summary.invalid > 0 { throw ExitCode(ExitStatus.verificationFailed) }
    }

    /// The total line: how many files verified and how many did not.
    struct Summary {
        var valid = 0, invalid = 0, unreadable = 0

        mutating func count(_ result: Result) {
            if result.valid { valid += 1 } else { invalid += 1 }
            if result.unreadable { unreadable += 1 }
        }

        var text: String {
            let files = valid + invalid
            return "\(valid) valid, \(invalid) not valid (\(files) \(files == 1 ? "file" : "files")"
                + (unreadable > 0 ? "; \(unreadable) could not be read)" : ")")
        }

        var json: String {
            let object: [String: Any] = [
                "summary": ["files": valid + invalid, "valid": valid, "invalid": invalid, "unreadable": unreadable]
            ]
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
    }

    struct Result {
        var file: String
        var valid: Bool
        var kind: String?
        var signer: String?
        var certificate: String?
        var fields: [(label: String, value: String)] = []
        var error: ProtocolError?
        /// Why the file was not judged at all (it cannot be read).
        var other: String?
        var unreadable: Bool { other != nil }

        var text: String {
            guard valid else {
                var lines = ["✘ \(file): \(error?.outcomeName ?? "unreadable")"]
                if let error {
                    if let id = error.messageID {
                        lines.append("  message \(id)\(error.sender.map { " from \($0)" } ?? "")")
                    }
                    if !error.field.isEmpty { lines.append("  field: \(error.field)") }
                    lines.append("  \(error.reason)")
                    if let code = error.rejectionCode {
                        lines.append(
                            "  a receiving node answers with a signed rejection, code \(code.rawValue) \(code.name)"
                        )
                    } else if error.code == .revocationUnavailable {
                        lines.append("  a receiving node cannot decide either: it answers 503 and the sender retries")
                    }
                } else if let other {
                    lines.append("  \(other)")
                }
                return lines.joined(separator: "\n")
            }
            var lines = [
                "✔ \(file): valid \(kind ?? ""), signed by \(signer ?? "?")", "  certificate: \(certificate ?? "?")",
            ]
            let width = fields.map(\.label.count).max() ?? 0
            lines += fields.map { "  \($0.label.padding(toLength: width, withPad: " ", startingAt: 0))  \($0.value)" }
            return lines.joined(separator: "\n")
        }

        var json: String {
            var object: [String: Any] = ["file": file, "valid": valid]
            if let kind { object["kind"] = kind }
            if let signer { object["signer"] = signer }
            if let certificate { object["certificate"] = certificate }
            if valid { object["fields"] = fields.map { ["label": $0.label, "value": $0.value] } }
            if let error {
                var e: [String: Any] = ["code": error.outcomeName, "reason": error.reason]
                if !error.field.isEmpty { e["field"] = error.field }
                if let id = error.messageID { e["message"] = id.hex }
                if let sender = error.sender { e["sender"] = sender.rawValue }
                if let code = error.rejectionCode { e["rejection"] = ["code": code.rawValue, "name": code.name] }
                if let diagnostic = error.chainDiagnostic {
                    e["certificate"] = [
                        "index": diagnostic.certificateIndex, "subject": diagnostic.certificateSubject,
                        "check": diagnostic.check.name,
                    ]
                }
                object["error"] = e
            } else if let other {
                object["error"] = ["code": "unreadable", "reason": other]
            }
            let data = try! JSONSerialization.data(
                withJSONObject: object,
                options: [.sortedKeys, .withoutEscapingSlashes]
            )
            return String(decoding: data, as: UTF8.self)
        }
    }

    func verify(
        _ file: String,
        verifier: MessageVerifier,
        at time: UTCTime,
        recipient: ParticipantID?,
        message: SentMessage?
    ) -> Result {
        var result = Result(file: file, valid: false)
        let bytes: [UInt8]
        do {
            bytes = try readInput(file)
        } catch {
            result.other = CLIError.describe(error).message
            return result
        }
        do {
            let isReceipt =
                (try? COSESign1(decoding: bytes)).flatMap { try? ProtectedHeader(decoding: $0.protectedHeader) }?
                .contentType == ContentType.receipt
            if isReceipt {
                let verified = try verifier.verifyReceipt(
                    bytes,
                    at: time,
                    for: message,
                    from: message == nil ? nil : recipient
                )
                result.kind = "receipt"
                result.signer = verified.signer.participantID
                result.certificate = describe(verified.signer.leaf, verified.algorithm)
                result.fields = Rendering.lines(of: verified.receipt)
            } else {
                let verified = try verifier.verifyMessage(bytes, at: time, recipient: recipient)
                result.kind = "\(verified.envelope.type.name) message"
                result.signer = verified.signer.participantID
                result.certificate = describe(verified.signer.leaf, verified.algorithm)
                result.fields = Rendering.lines(of: verified.envelope)
            }
            result.valid = true
        } catch var error as ProtocolError {
            if error.code == .malformed, let what = Self.notAParleyMessage(bytes) {
                error.reason = "not a Parley message (\(what))"
            }
            result.error = error
        } catch {
            result.other = CLIError.describe(error).message
        }
        return result
    }

    /// What a file is when it does not even begin like a COSE_Sign1 (tag 18), or nil if it does.
    static func notAParleyMessage(_ bytes: [UInt8]) -> String? {
        guard bytes.first != 0xD2 else { return nil }
        if bytes.isEmpty { return "the file is empty" }
        let sample = Array(bytes.prefix(4_096))
        let text = String(decoding: sample, as: UTF8.self)
        // A sample cut inside a character ends in one replacement character.
        let scalars = text.unicodeScalars.dropLast(sample.count < bytes.count ? 1 : 0)
        if scalars.allSatisfy({
            $0 != "\u{FFFD}" && ($0.properties.isWhitespace || $0.properties.generalCategory != .control)
        }) {
            let start = text.prefix(while: { $0 != "\n" }).prefix(40)
            return
                "it is a text file, starting \"\(start)\"; a message is a binary COSE_Sign1 (tag 18), e.g. from parley compose"
        }
        return "it does not begin with a COSE_Sign1 (tag 18, byte 0xd2) but with byte 0x\(Hex.encode(bytes.prefix(1)))"
    }

    func describe(_ leaf: Certificate, _ algorithm: SignatureAlgorithm) -> String {
        "\(leaf.subject), serial \(leaf.serialNumberHex), \(algorithm), valid until \(UTCTime(leaf.notValidAfter))"
    }
}
