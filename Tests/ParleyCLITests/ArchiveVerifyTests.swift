import Foundation
import ParleyCrypto
import ParleyProtocol
import ParleyStore
import Synchronization
import Testing
import ParleyTestSupport

/// `parley archive verify` on archives exported by the store API with real signed messages.
@Suite struct ArchiveVerifyTests {
    let dir = TemporaryDirectory()
    let pki: TestPKI
    let now = UTCTime.now

    init() throws { pki = try CLITestPKI.shared.get() }

    /// A store with messages from US-NRRC to RU-NRRC and HCOC-CC; HCOC-CC's receipt is missing for
    /// the last one unless `complete`.
    func exportArchive(complete: Bool) async throws -> String {
        let us = try pki.identity("US-NRRC")
        let ru = try pki.identity("RU-NRRC")
        let hcoc = try pki.identity("HCOC-CC")
        let store = try ParleyStore(path: dir.path("store-\(complete).sqlite"))
        for n in 0..<3 {
            let signed = Mutex<(Envelope, Data)?>(nil)
            try await store.enqueue(
                sender: us.participantID,
                recipients: [ru.participantID, hcoc.participantID],
                queuedAt: now.date
            ) { numbers in
                let envelope = Envelope(
                    id: MessageID.generate(at: now),
                    sender: us.participantID,
                    recipients: numbers.map { Recipient(participant: $0.key, sequence: $0.value) },
                    created: now,
                    body: Examples.body(.generalCommunication)
                )
                let bytes = Data(try us.sign(envelope))
                signed.withLock { $0 = (envelope, bytes) }
                return MessageFields(
                    id: envelope.id,
                    bytes: bytes,
                    type: envelope.type.rawValue,
                    created: envelope.created.date
                )
            }
            let (envelope, bytes) = signed.withLock { $0 }!
            for recipient in [ru, hcoc] where complete || n < 2 || recipient.participantID != hcoc.participantID {
                let peer = recipient.participantID
                let receipt = try recipient.sign(
                    Receipt(
                        messageID: envelope.id,
                        digest: Digest.sha256(Array(bytes)),
                        recipient: recipient.participantID,
                        sender: envelope.sender,
                        received: now,
                        status: .accepted
                    )
                )
                try await store.markInFlight(envelope.id, recipient: peer, at: now.date)
                try await store.recordReceipt(
                    ReceivedReceipt(
                        bytes: Data(receipt),
                        messageID: envelope.id,
                        recipient: peer,
                        status: .accepted,
                        received: now.date
                    )
                )
            }
        }
        let path = dir.path("archive-\(complete).parley")
        try await store.exportArchive(
            to: path,
            exporter: us.participantID,
            from: now.date - 3600,
            to: now.date + 3600,
            createdAt: now.date
        )
        return path
    }

    @Test func completeArchiveVerifies() async throws {
        let archive = try await exportArchive(complete: true)
        let output = try CLI.run(["archive", "verify", archive, "--trust", pki.anchors, "--crl", pki.crls])
        #expect(output.status == 0, "\(output.stdout)\(output.stderr)")
        #expect(output.stdout.contains("3 messages"))
        #expect(output.stdout.contains("messages: 3 valid, 0 failed; receipts: 6 valid, 0 failed"))
        #expect(output.stdout.contains("channel US-NRRC→HCOC-CC: 3 messages, numbers 1–3, no gaps"))
        let json = try CLI.run([
            "archive", "verify", archive, "--trust", pki.anchors, "--crl", pki.crls, "--json", "--strict",
        ])
        #expect(json.status == 0)
        #expect(json.stdout.jsonObject?["valid"] as? Bool == true)
    }

    @Test func missingReceiptIsReportedAndFailsOnlyWhenStrict() async throws {
        let archive = try await exportArchive(complete: false)
        let lenient = try CLI.run(["archive", "verify", archive, "--trust", pki.anchors, "--crl", pki.crls])
        #expect(lenient.status == 0, "\(lenient.stdout)")
        #expect(lenient.stdout.contains("no receipt: message"))
        #expect(lenient.stdout.contains("none from HCOC-CC"))
        let strict = try CLI.run([
            "archive", "verify", archive, "--trust", pki.anchors, "--crl", pki.crls, "--strict", "--json",
        ])
        #expect(strict.status == 1)
        let unreceipted = strict.stdout.jsonObject?["unreceipted"] as? [[String: Any]]
        #expect(unreceipted?.count == 1)
    }

    @Test func foreignTrustAnchorsFailEveryItem() async throws {
        let archive = try await exportArchive(complete: true)
        let output = try CLI.run([
            "archive", "verify", archive, "--trust", pki.path("negative/other-ca/anchors.pem"),
            "--crl", pki.path("negative/other-ca/crls.pem"), "--json",
        ])
        #expect(output.status == 1, "\(output.stdout)\(output.stderr)")
        let report = try #require(output.stdout.jsonObject)
        let failures = try #require(report["failures"] as? [[String: Any]])
        #expect(failures.count >= 9)
        #expect(
            failures.allSatisfy {
                $0["code"] as? String == "untrusted-certificate" && $0["message"] is String && $0["item"] is Int
            }
        )
    }

    @Test func damagedArchiveIsInvalidData() async throws {
        let archive = try await exportArchive(complete: true)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: archive))
        bytes[bytes.count / 2] ^= 0x01
        let damaged = dir.path("damaged.parley")
        try bytes.write(to: URL(fileURLWithPath: damaged))
        let output = try CLI.run(["archive", "verify", damaged, "--trust", pki.anchors, "--crl", pki.crls])
        #expect(output.status == 65, "\(output.stdout)\(output.stderr)")
        #expect(output.stderr.split(separator: "\n").count == 1)
        let missing = try CLI.run([
            "archive", "verify", dir.path("none.parley"), "--trust", pki.anchors, "--crl", pki.crls,
        ])
        #expect(missing.status == 66)
    }
}
