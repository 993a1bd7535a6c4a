import AsyncHTTPClient
import Foundation
import ParleyCodec
import ParleyCrypto
@testable import ParleyNode
import ParleyProtocol
import ParleyStore
import Logging
import Testing
import ParleyTestSupport

@Suite struct RobustnessTests {
    /// Mutated messages straight into the receiver: every answer is a signed receipt that verifies
    /// or a 4xx problem, and nothing but the untouched message is stored.
    @Test func mutatedMessagesGetAReceiptOrAProblemNeverACrash() async throws {
        let pki = try TestPKI.shared()
        let directory = try temporaryDirectory()
        let configuration = try pki.nodeConfiguration("RU-NRRC", port: 0, peers: [:], directory: directory)
        let node = try Node(
            configuration: configuration,
            logger: .init(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        let receiver = MessageReceiver(
            identity: node.identity,
            verifier: node.verifier,
            store: node.store,
            logger: node.logger
        )
        let us = try SigningIdentity.load(
            keyPath: pki.path("participants/US-NRRC/signing.key"),
            chainPath: pki.path("participants/US-NRRC/signing-chain.pem")
        )
        let original = try us.sign(
            Envelope(
                id: .generate(),
                sender: try ParticipantID("US-NRRC"),
                recipients: [Recipient(participant: node.participant, sequence: 1)],
                created: .now,
                body: preLaunchBody()
            )
        )
        var generator = SystemRandomNumberGenerator()
        var receipts = 0
        var problems = 0
        for round in 0..<300 {
            var bytes = original
            switch round % 3 {
            case 0:
                bytes[Int.random(in: 0..<bytes.count, using: &generator)] ^= UInt8.random(
                    in: 1...255,
                    using: &generator
                )
            case 1: bytes = Array(bytes.prefix(Int.random(in: 0..<bytes.count, using: &generator)))
            default:
                bytes.insert(
                    UInt8.random(in: 0...255, using: &generator),
                    at: Int.random(in: 0...bytes.count, using: &generator)
                )
            }
            switch await receiver.receive(bytes, at: .now, peer: nil) {
            case .receipt(let receipt, let status, _, _):
                receipts += 1
                let verified = try node.verifier.verifyReceipt(receipt, at: .now)
                #expect(verified.receipt.status == status)
                #expect(verified.receipt.digest == Digest.sha256(bytes))
                if case .accepted = status { #expect(bytes == original) }
            case .problem(let problem):
                problems += 1
                #expect((400..<500).contains(problem.status.code), "\(problem)")
            }
        }
        #expect(receipts > 0 && problems > 0)
        #expect(try await node.store.inbox(InboxQuery()).allSatisfy { Array($0.fields.bytes) == original })
    }

    /// SPEC.md §9.1 step 3 identifies a message by its tag, four elements and byte-string payload;
    /// a fault in the other elements is step 6 and earns a signed `malformed` rejection, not an HTTP 400.
    @Test func faultsOutsideThePayloadGetASignedRejection() async throws {
        let pki = try TestPKI.shared()
        let configuration = try pki.nodeConfiguration(
            "RU-NRRC",
            port: 0,
            peers: [:],
            directory: try temporaryDirectory()
        )
        let node = try Node(
            configuration: configuration,
            logger: .init(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        let receiver = MessageReceiver(
            identity: node.identity,
            verifier: node.verifier,
            store: node.store,
            logger: node.logger
        )
        let us = try SigningIdentity.load(
            keyPath: pki.path("participants/US-NRRC/signing.key"),
            chainPath: pki.path("participants/US-NRRC/signing-chain.pem")
        )
        let message = try COSESign1(
            decoding: try us.sign(
                Envelope(
                    id: .generate(),
                    sender: try ParticipantID("US-NRRC"),
                    recipients: [Recipient(participant: node.participant, sequence: 1)],
                    created: .now,
                    body: preLaunchBody()
                )
            )
        )
        let elements: [(String, CBOR, CBOR, CBOR)] = [
            (
                "unprotected header {4: h'01'}", .byteString(message.protectedHeader), .map([4: .byteString([1])]),
                .byteString(message.signature)
            ),
            (
                "protected header not a byte string", try CBOR(decoding: message.protectedHeader), .map([:]),
                .byteString(message.signature)
            ),
            ("signature not a byte string", .byteString(message.protectedHeader), .map([:]), .array([])),
        ]
        for (fault, protected, unprotected, signature) in elements {
            let bytes = CBOREncoder.encode(
                .tagged(18, .array([protected, unprotected, .byteString(message.payload), signature]))
            )
            guard case .receipt(let receipt, let status, _, _) = await receiver.receive(bytes, at: .now, peer: nil)
            else {
                Issue.record("\(fault): answered with a problem, not a receipt")
                continue
            }
            guard case .rejected(.malformed, _) = status else {
                Issue.record("\(fault): \(status)")
                continue
            }
            #expect(
                try node.verifier.verifyReceipt(receipt, at: .now).receipt.digest == Digest.sha256(bytes),
                "\(fault)"
            )
        }
        // Without a byte-string payload there is nothing to identify.
        let detached = CBOREncoder.encode(
            .tagged(
                18,
                .array([.byteString(message.protectedHeader), .map([:]), .null, .byteString(message.signature)])
            )
        )
        guard case .problem(let problem) = await receiver.receive(detached, at: .now, peer: nil) else {
            Issue.record("a detached payload was answered with a receipt")
            return
        }
        #expect(problem.status == 400 && problem.name == "malformed")
        #expect(try await node.store.inbox(InboxQuery()).isEmpty)
    }
}
