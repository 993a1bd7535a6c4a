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
        receipt is checked on its own; `parley archive verify` matches receipts to messages.

        Exit status: 0 if every file verifies, 1 if any does not (a file that cannot be read \
        counts as not verified), 64 for a usage error, 65/66 if the trust anchors or CRLs cannot be \
        used or read (see `parley --help`).

        Examples:
          parley verify msg.cose --trust anchors.pem --crl crls.pem
          parley verify Protocol/vectors/signed/ed25519/*.cose \\
              --trust Protocol/vectors/signed/ed25519/anchors.pem \\
              --crl Protocol/vectors/signed/ed25519/crls.pem --at 2026-12-01T06:01:00Z --json
        """
    )

    @Argument(help: ArgumentHelp("Messages or receipts to verify (COSE_Sign1 files).", valueName: "file"))
    var files: [String]

    @Option(help: ArgumentHelp("PEM file of trust anchors (the regime's root CA certificates). Example: --trust /etc/parley/anchors.pem", valueName: "anchors"))
    var trust: String

    @Option(name: .customLong("crl"), help: ArgumentHelp("CRL file (PEM or DER); repeat for each CA. Example: --crl root.crl --crl issuing.crl", valueName: "crl"))
    var crls: [String] = []

    @Option(help: ArgumentHelp("Verify as of this UTC time (RFC 3339) instead of now. Example: --at 2026-12-01T06:01:00Z", valueName: "time"))
    var at: String?

    @Option(help: ArgumentHelp("Also require messages to be addressed to this participant. Example: --recipient HCOC-CC", valueName: "id"))
    var recipient: String?

    @Option(help: ArgumentHelp("Check receipts against this message: they must answer it (id, digest, sender) and come from one of its recipients (or from --recipient). Example: --for-message msg.cose", valueName: "file"))
    var forMessage: String?

    @Option(help: ArgumentHelp("Seconds a message's creation time may lie ahead of the verification time.", valueName: "seconds"))
    var clockSkew: Int = 300

    @Flag(help: "One JSON object per file on standard output.")
    var json = false

    func run() throws {
        let time = try at.map { try UTCTime(rfc3339: $0) } ?? .now
        let recipient = try recipient.map(ParticipantID.init)
        guard !crls.isEmpty else {
            throw ValidationError("no --crl given: revocation must be checked, so a current CRL for every CA is required")
        }
        let store = try TrustStore.load(anchorsPath: trust, crlPaths: crls, maximumClockSkew: TimeInterval(clockSkew))
        let verifier = MessageVerifier(trust: store)
        let sent = try forMessage.map { path -> SentMessage in
            do {
                return SentMessage(try verifier.verifyMessage(try readInput(path), at: time))
            } catch let error as ProtocolError {
                throw CLIError(ExitStatus.verificationFailed, "--for-message \(path) does not verify: \(error)")
            }
        }
        var failures = 0
        for file in files {
            let result = verify(file, verifier: verifier, at: time, recipient: recipient, message: sent)
            if !result.valid { failures += 1 }
            print(json ? result.json : result.text)
        }
        if failures > 0 { throw ExitCode(1) }
    }

    struct Result {
        var file: String
        var valid: Bool
        var kind: String?
        var signer: String?
        var certificate: String?
        var fields: [(label: String, value: String)] = []
        var error: ProtocolError?
        var other: String?

        var text: String {
            guard valid else {
                var lines = ["✘ \(file): \(error.map { "\($0.code.rawValue)" } ?? "error")"]
                if let error {
                    if let id = error.messageID { lines.append("  message \(id)\(error.sender.map { " from \($0)" } ?? "")") }
                    if !error.field.isEmpty { lines.append("  field: \(error.field)") }
                    lines.append("  \(error.reason)")
                    if let code = error.rejectionCode { lines.append("  a receiver answers: rejected, code \(code.rawValue) \(code.name)") }
                } else if let other {
                    lines.append("  \(other)")
                }
                return lines.joined(separator: "\n")
            }
            var lines = ["✔ \(file): valid \(kind ?? ""), signed by \(signer ?? "?")", "  certificate: \(certificate ?? "?")"]
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
                var e: [String: Any] = ["code": error.code.rawValue, "reason": error.reason]
                if !error.field.isEmpty { e["field"] = error.field }
                if let id = error.messageID { e["message"] = id.hex }
                if let sender = error.sender { e["sender"] = sender.rawValue }
                if let code = error.rejectionCode { e["rejection"] = ["code": code.rawValue, "name": code.name] }
                if let diagnostic = error.chainDiagnostic {
                    e["certificate"] = ["index": diagnostic.certificateIndex, "subject": diagnostic.certificateSubject, "check": diagnostic.check.rawValue]
                }
                object["error"] = e
            } else if let other {
                object["error"] = ["code": "input", "reason": other]
            }
            let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
            return String(decoding: data, as: UTF8.self)
        }
    }

    func verify(_ file: String, verifier: MessageVerifier, at time: UTCTime, recipient: ParticipantID?, message: SentMessage?) -> Result {
        var result = Result(file: file, valid: false)
        do {
            let bytes = try readInput(file)
            let isReceipt = (try? COSESign1(decoding: bytes)).flatMap { try? ProtectedHeader(decoding: $0.protectedHeader) }?.contentType == ContentType.receipt
            if isReceipt {
                let verified = try verifier.verifyReceipt(bytes, at: time, for: message, from: message == nil ? nil : recipient)
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
        } catch let error as ProtocolError {
            result.error = error
        } catch {
            result.other = "\(error)"
        }
        return result
    }

    func describe(_ leaf: Certificate, _ algorithm: SignatureAlgorithm) -> String {
        "\(leaf.subject), serial \(leaf.serialNumberHex), \(algorithm), valid until \(UTCTime(leaf.notValidAfter))"
    }
}
