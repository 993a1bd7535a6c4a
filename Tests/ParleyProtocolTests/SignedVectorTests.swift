import Foundation
import ParleyCodec
import ParleyCrypto
import Testing
@testable import ParleyProtocol
import ParleyTestSupport

/// `Protocol/vectors/signed/`: signed messages and receipts for each algorithm, with the public
/// certificates and CRLs that verify them, and tampered variants, each listed in `manifest.json`
/// with the outcome a verifier must reach at the stated time. `PARLEY_WRITE_VECTORS=1 swift test
/// --filter SignedVectorTests` makes a fresh test PKI and rewrites them (no private key is written).
@Suite struct SignedVectorTests {
    static let directory = VectorTests.directory.appendingPathComponent("signed")
    static let verifyAt = Examples.created + 60

    struct Entry: Codable, Sendable, CustomTestStringConvertible {
        var file: String
        var kind: String
        var description: String
        var verifyAt: String
        var crls: String
        var recipient: String?
        var forMessage: String?
        /// "valid", or the rejection code / error name a verifier must report.
        var expect: String
        var testDescription: String { file }
    }

    /// The outcome's name in SPEC.md §15.7's registry, as every verifier reports it.
    static func outcome(_ code: ProtocolError.Code) -> String { code.outcomeName }

    static var entries: [Entry] {
        guard let data = try? Data(contentsOf: directory.appendingPathComponent("manifest.json")) else { return [] }
        return (try? JSONDecoder().decode([Entry].self, from: data)) ?? []
    }

    @Test func manifestCoversEveryAlgorithmAndTamperingKind() {
        let entries = Self.entries
        #expect(entries.count >= 20)
        for folder in ["ed25519", "p256", "p384"] {
            #expect(entries.contains { $0.file == "\(folder)/message-pre-launch.cose" && $0.expect == "valid" })
            #expect(entries.contains { $0.file == "\(folder)/receipt-accepted.cose" && $0.expect == "valid" })
        }
        for expected in [
            "bad-signature", "participant-mismatch", "certificate-not-valid-at-time", "certificate-revoked",
            "untrusted-certificate", "revocation-unavailable", "not-a-recipient", "malformed",
        ] {
            #expect(entries.contains { $0.expect == expected }, "no vector expects \(expected)")
        }
    }

    @Test(arguments: entries)
    func vectorVerifiesAsListed(_ entry: Entry) throws {
        let folder = Self.directory.appendingPathComponent(entry.file).deletingLastPathComponent()
        let trust = try TrustStore.load(
            anchorsPath: folder.appendingPathComponent("anchors.pem").path,
            crlPaths: [Self.directory.appendingPathComponent(entry.crls).path]
        )
        let verifier = MessageVerifier(trust: trust)
        let bytes = Array(try Data(contentsOf: Self.directory.appendingPathComponent(entry.file)))
        let time = try UTCTime(rfc3339: entry.verifyAt)
        let recipient = try entry.recipient.map(ParticipantID.init)
        do {
            if entry.kind == "message" {
                let verified = try verifier.verifyMessage(bytes, at: time, recipient: recipient)
                #expect(verified.envelope == Examples.envelope(.preLaunch))
            } else {
                let messageBytes = Array(try Data(contentsOf: Self.directory.appendingPathComponent(entry.forMessage!)))
                let message = try verifier.verifyMessage(messageBytes, at: time)
                _ = try verifier.verifyReceipt(bytes, at: time, for: SentMessage(message), from: recipient)
            }
            #expect(entry.expect == "valid", "\(entry.file) verified, but should fail with \(entry.expect)")
        } catch let error as ProtocolError {
            #expect(Self.outcome(error.code) == entry.expect, "\(entry.file): \(error)")
        }
    }

    @Test(.enabled(if: ProcessInfo.processInfo.environment["PARLEY_WRITE_VECTORS"] == "1"))
    func writeVectors() throws {
        try? FileManager.default.removeItem(at: Self.directory)
        var entries: [Entry] = []
        let at = Self.verifyAt.description
        let envelope = Examples.envelope(.preLaunch)
        for (folder, algorithm) in [("ed25519", SignatureAlgorithm.edDSA), ("p256", .es256), ("p384", .es384)] {
            let pki = try TestPKI.make(algorithm: folder)
            let out = Self.directory.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
            try FileManager.default.copyItem(
                atPath: pki.path("trust/anchors.pem"),
                toPath: out.appendingPathComponent("anchors.pem").path
            )
            try FileManager.default.copyItem(
                atPath: pki.path("trust/crls.pem"),
                toPath: out.appendingPathComponent("crls.pem").path
            )
            func write(
                _ name: String,
                _ bytes: [UInt8],
                kind: String = "message",
                expect: String,
                _ description: String,
                crls: String = "\(folder)/crls.pem",
                recipient: String? = nil,
                forMessage: String? = nil
            ) throws {
                try Data(bytes).write(to: out.appendingPathComponent(name))
                entries.append(
                    Entry(
                        file: "\(folder)/\(name)",
                        kind: kind,
                        description: description,
                        verifyAt: at,
                        crls: crls,
                        recipient: recipient,
                        forMessage: forMessage.map { "\(folder)/\($0)" },
                        expect: expect
                    )
                )
            }
            let us = try pki.identity("US-NRRC")
            let message = try us.sign(envelope)
            try write(
                "message-pre-launch.cose",
                message,
                expect: "valid",
                "pre-launch notification signed by US-NRRC (\(algorithm))",
                recipient: "HCOC-CC"
            )
            let receipt = Receipt(
                messageID: envelope.id,
                digest: Digest.sha256(message),
                recipient: Examples.recipients[0],
                sender: Examples.sender,
                received: Self.verifyAt,
                status: .accepted
            )
            try write(
                "receipt-accepted.cose",
                try pki.identity("HCOC-CC").sign(receipt),
                kind: "receipt",
                expect: "valid",
                "HCOC-CC's accepted receipt for message-pre-launch.cose",
                recipient: "HCOC-CC",
                forMessage: "message-pre-launch.cose"
            )
            let rollover = try pki.identity("US-NRRC", certificate: "signing-2")
            try write(
                "message-rollover-certificate.cose",
                try rollover.sign(envelope),
                expect: "valid",
                "signed with US-NRRC's second (rollover) certificate"
            )

            var object = try COSESign1(decoding: message)
            var swapped = object
            swapped.unprotectedHeader = [33: try X5Chain(rollover.chain.map(\.derEncoded)).item]
            try write(
                "tampered-x5chain.cose",
                swapped.encoded,
                expect: "bad-signature",
                "x5chain replaced after signing by US-NRRC's valid rollover chain (x5chain-sha256 no longer matches)"
            )
            var flipped = object
            flipped.payload[flipped.payload.firstIndex(of: UInt8(ascii: "S"))!] ^= 1
            try write(
                "tampered-payload-bit.cose",
                flipped.encoded,
                expect: "bad-signature",
                "one payload bit flipped after signing"
            )
            var truncated = object
            truncated.signature.removeLast()
            try write(
                "tampered-signature-length.cose",
                truncated.encoded,
                expect: "bad-signature",
                "signature one byte short"
            )
            if algorithm != .edDSA {
                object.signature = ECDSALowS.twin(of: object.signature, algorithm: algorithm)
                try write(
                    "tampered-high-s.cose",
                    object.encoded,
                    expect: "bad-signature",
                    "(r, n − s): valid ECDSA, but not low-S"
                )
            }
            if algorithm == .edDSA {
                let headers = ParleyHeaders(
                    algorithm: SignatureAlgorithm.es256.rawValue,
                    contentType: ContentType.message,
                    chain: try X5Chain(us.chain.map(\.derEncoded))
                )
                let signature = try us.key.signature(
                    for: COSESign1.toBeSigned(protectedHeader: headers.protected, payload: envelope.encoded)
                )
                try write(
                    "alg-key-mismatch.cose",
                    headers.object(payload: envelope.encoded, signature: signature).encoded,
                    expect: "bad-signature",
                    "header says ES256, the certificate has an Ed25519 key"
                )
                try write(
                    "other-participant.cose",
                    try pki.identity("RU-NRRC").sign(payload: envelope.encoded, contentType: ContentType.message),
                    expect: "participant-mismatch",
                    "envelope names US-NRRC, signed with RU-NRRC's valid certificate"
                )
                for (name, negative, expect) in [
                    ("expired-certificate.cose", "expired", "certificate-not-valid-at-time"),
                    ("not-yet-valid-certificate.cose", "not-yet-valid", "certificate-not-valid-at-time"),
                    ("revoked-certificate.cose", "revoked", "certificate-revoked"),
                    ("unknown-ca.cose", "other-ca", "untrusted-certificate"),
                ] {
                    let (key, chain) = try pki.negativeIdentity(negative)
                    try write(
                        name,
                        try SigningIdentity(key: key, chain: chain).sign(
                            payload: envelope.encoded,
                            contentType: ContentType.message
                        ),
                        expect: expect,
                        "signed with the test PKI's \(negative) certificate"
                    )
                }
                try FileManager.default.copyItem(
                    atPath: pki.path("negative/expired-crl/crls.pem"),
                    toPath: out.appendingPathComponent("expired-crls.pem").path
                )
                try write(
                    "message-with-expired-crl.cose",
                    message,
                    expect: "revocation-unavailable",
                    "a valid message checked with an expired issuing CRL: the verifier cannot decide",
                    crls: "ed25519/expired-crls.pem"
                )
                try write(
                    "message-not-for-fr.cose",
                    message,
                    expect: "not-a-recipient",
                    "checked by FR-CNRR, which is not a recipient",
                    recipient: "FR-CNRR"
                )
                try write(
                    "message-trailing-byte.cose",
                    message + [0],
                    expect: "malformed",
                    "one byte after the COSE_Sign1"
                )
                try write(
                    "receipt-for-other-bytes.cose",
                    try pki.identity("HCOC-CC").sign(
                        Receipt(
                            messageID: envelope.id,
                            digest: Digest.sha256(message + [0]),
                            recipient: Examples.recipients[0],
                            sender: Examples.sender,
                            received: Self.verifyAt,
                            status: .accepted
                        )
                    ),
                    kind: "receipt",
                    expect: "receipt-mismatch",
                    "receipt whose digest is not that of message-pre-launch.cose",
                    recipient: "HCOC-CC",
                    forMessage: "message-pre-launch.cose"
                )
            }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try encoder.encode(entries).write(to: Self.directory.appendingPathComponent("manifest.json"))
    }
}
