import Foundation
import ParleyCodec
import Testing
@testable import ParleyProtocol
import ParleyTestSupport

/// SPEC.md Appendix A is generated from the committed signed vectors by `WireNames.signedDiagnostic`,
/// so the example cannot drift from the code again. `PARLEY_WRITE_SPEC=1 swift test --filter
/// AppendixTests` rewrites the appendix.
@Suite struct AppendixTests {
    static let spec = SourceTree.root.appendingPathComponent("Protocol/SPEC.md")
    static let heading = "## Appendix A. Example message"

    static func vector(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: SignedVectorTests.directory.appendingPathComponent("ed25519/\(name)")))
    }

    /// The appendix as the vectors say it should read.
    static func generated() throws -> String {
        let message = try vector("message-pre-launch.cose")
        let receipt = try vector("receipt-accepted.cose")
        let envelope = try Envelope(decoding: try COSESign1(decoding: message).payload)
        let answer = try Receipt(decoding: try COSESign1(decoding: receipt).payload)
        let recipients = envelope.recipients.map { "`\($0.participant)` (seq \($0.sequence))" }.joined(
            separator: " and "
        )
        return """
            \(heading)

            A \(envelope.type.name) notification from `\(envelope.sender)` to \(recipients), signed with \
            Ed25519: the committed test vector `vectors/signed/ed25519/message-pre-launch.cose`, written \
            out by the code that checks it (`WireNames.signedDiagnostic`). Byte strings longer than 64 \
            bytes (the certificates) are shortened to their first 8 bytes followed by `...`, with their \
            length in a comment; the vector file is exact. NOTIFICATIONS.md has a complete envelope for \
            every type.

            ```
            \(try WireNames.signedDiagnostic(of: message))
            ```

            The receipt that `\(answer.recipient)` returned (`vectors/signed/ed25519/receipt-accepted.cose`): \
            x5chain-sha256 in the protected header, the chain itself in the unprotected header (§5.2).

            ```
            \(try WireNames.signedDiagnostic(of: receipt))
            ```

            """
    }

    @Test func appendixAIsTheDiagnosticOfTheCommittedVectors() throws {
        let text = try String(contentsOf: Self.spec, encoding: .utf8)
        let start = try #require(text.range(of: Self.heading), "SPEC.md has no Appendix A")
        let expected = try Self.generated()
        if ProcessInfo.processInfo.environment["PARLEY_WRITE_SPEC"] == "1" {
            try (String(text[..<start.lowerBound]) + expected).write(to: Self.spec, atomically: true, encoding: .utf8)
            return
        }
        #expect(
            String(text[start.lowerBound...]) == expected,
            "regenerate with PARLEY_WRITE_SPEC=1 swift test --filter AppendixTests"
        )
    }

    /// The receipt of the appendix keeps §5.2's header split, which an earlier hand-written example broke.
    @Test func theReceiptExampleKeepsTheChainUnprotected() throws {
        let receipt = try WireNames.signedDiagnostic(of: try Self.vector("receipt-accepted.cose"))
        let protected = try #require(receipt.components(separatedBy: "/ unprotected /").first)
        #expect(protected.contains("x5chain-sha256"))
        #expect(!protected.contains("33 / x5chain /"))
        #expect(
            receipt.contains("/ unprotected / {\n    33 / x5chain /")
                || receipt.contains("/ unprotected / {33 / x5chain /")
        )
    }
}
