import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol
import Synchronization
import Testing
@testable import ParleyStore
import ParleyTestSupport

/// Archive verification with real signed messages and receipts (ARCHIVE.md §4, SPEC.md §8.6).
@Suite struct ArchiveVerificationTests {
    let dir = TemporaryDirectory()
    let pki: TestPKI
    let us: SigningIdentity, ru: SigningIdentity, hcoc: SigningIdentity
    let now = UTCTime.now

    init() throws {
        pki = try TestPKI.shared()
        us = try pki.identity(Fixture.us)
        ru = try pki.identity(Fixture.ru)
        hcoc = try pki.identity(Fixture.hcoc)
    }

    func signedMessage(
        by signer: SigningIdentity,
        to numbers: [ParticipantID: UInt64],
        created: UTCTime? = nil
    ) throws -> (Envelope, Data) {
        let template = Examples.envelope(.generalCommunication)
        let envelope = Envelope(
            id: MessageID.generate(at: now),
            sender: signer.participantID,
            recipients: numbers.map { Recipient(participant: $0.key, sequence: $0.value) },
            created: created ?? now,
            body: template.body,
            remarks: try LocalizedText(language: "en", text: "archive test")
        )
        return (envelope, Data(try signer.sign(envelope)))
    }

    func fields(_ envelope: Envelope, _ bytes: Data) -> MessageFields {
        MessageFields(
            id: envelope.id,
            bytes: bytes,
            type: envelope.type.rawValue,
            created: envelope.created.date,
            remarks: envelope.remarks
        )
    }

    func receipt(by signer: SigningIdentity, for envelope: Envelope, digestOf bytes: Data) throws -> Data {
        Data(
            try signer.sign(
                Receipt(
                    messageID: envelope.id,
                    digest: Digest.sha256([UInt8](bytes)),
                    recipient: signer.participantID,
                    sender: envelope.sender,
                    received: now,
                    status: .accepted
                )
            )
        )
    }

    /// Queues a signed message to RU and HCOC; each recipient in `receipted` returns an accepted
    /// receipt (over `receiptDigestOf` bytes when given, else the bytes sent).
    @discardableResult
    func send(
        _ store: ParleyStore,
        receipted: [SigningIdentity],
        receiptDigestOf: Data? = nil
    ) async throws -> (Envelope, Data) {
        let signed = Mutex<(Envelope, Data)?>(nil)
        try await store.enqueue(
            sender: Fixture.us.pid,
            recipients: [Fixture.ru.pid, Fixture.hcoc.pid],
            queuedAt: now.date
        ) { numbers in
            let message = try signedMessage(by: us, to: numbers)
            signed.withLock { $0 = message }
            return fields(message.0, message.1)
        }
        let (envelope, bytes) = signed.withLock { $0 }!
        for recipient in receipted {
            let peer = recipient.participantID.rawValue
            try await store.markInFlight(envelope.id, recipient: peer.pid, at: now.date)
            try await store.recordReceipt(
                ReceivedReceipt(
                    bytes: try receipt(by: recipient, for: envelope, digestOf: receiptDigestOf ?? bytes),
                    messageID: envelope.id,
                    recipient: peer.pid,
                    status: .accepted,
                    received: now.date
                )
            )
        }
        return (envelope, bytes)
    }

    /// Accepts a message RU signed for US with sequence number `seq`; US signs the receipt.
    @discardableResult
    func receive(_ store: ParleyStore, seq: UInt64) async throws -> (Envelope, Data) {
        let (envelope, bytes) = try signedMessage(by: ru, to: [Fixture.us.pid: seq])
        let incoming = IncomingMessage(
            fields: fields(envelope, bytes),
            sender: Fixture.ru.pid,
            recipient: Fixture.us.pid,
            sequenceNumber: seq,
            received: now.date
        )
        let outcome = try await store.accept(incoming) { _ in try receipt(by: us, for: envelope, digestOf: bytes) }
        guard case .accepted = outcome else {
            throw StoreError(.invalidState, "message \(envelope.id) not accepted: \(outcome)")
        }
        return (envelope, bytes)
    }

    func export(_ store: ParleyStore, _ name: String) async throws -> String {
        let path = dir.path(name)
        try await store.exportArchive(
            to: path,
            exporter: Fixture.us.pid,
            from: now.date - 3600,
            to: now.date + 3600,
            createdAt: now.date
        )
        return path
    }

    /// A store whose record is complete: every message receipted by every recipient, no gaps.
    func completeStore() async throws -> (ParleyStore, [(Envelope, Data)]) {
        let store = try ParleyStore(path: dir.path("complete.sqlite"))
        var sent = [(Envelope, Data)]()
        for _ in 0..<3 { sent.append(try await send(store, receipted: [ru, hcoc])) }
        for seq in 1...3 { try await receive(store, seq: UInt64(seq)) }
        return (store, sent)
    }

    @Test func completeArchiveVerifies() async throws {
        let (store, _) = try await completeStore()
        let report = try ParleyStore.verifyArchive(
            at: try await export(store, "complete.parley-archive"),
            verifier: try pki.verifier()
        )
        #expect(report.failures.isEmpty, "\(report.summaryText)")
        #expect(report.isValid)
        #expect(report.stepsPerformed == 1...7)
        #expect(report.messagesValid == 6 && report.messagesFailed == 0)
        #expect(report.receiptsValid == 3 * 2 + 3 && report.receiptsFailed == 0)
        #expect(report.unreceipted.isEmpty)
        #expect(report.messages.count == 6)
        #expect(
            report.channels.map { "\($0.sender)>\($0.recipient)" } == [
                "RU-NRRC>US-NRRC", "US-NRRC>HCOC-CC", "US-NRRC>RU-NRRC",
            ]
        )
        #expect(report.channels.allSatisfy { $0.isComplete && $0.highest == 3 && $0.messages == 3 })
    }

    @Test func tamperedMessageIsNamedWithBadSignature() async throws {
        let (store, sent) = try await completeStore()
        let path = try await export(store, "a.parley-archive")
        var file = try #require(fileBytes(path))
        let (envelope, bytes) = sent[1]
        // Flip a bit in the message's signature, then fix the trailer's SHA-256 so that only the
        // signature check can notice.
        let range = try #require(file.range(of: bytes))
        file[range.upperBound - 1] ^= 0x01
        let items = try archiveItemOffsets([UInt8](file))
        let trailer = items.last!
        file.replaceSubrange((file.count - 32)..<file.count, with: file.prefix(trailer).sha256)
        let tampered = dir.path("tampered.parley-archive")
        try file.write(to: URL(fileURLWithPath: tampered))
        #expect(throws: Never.self) { try ParleyStore.verifyArchive(at: tampered) }

        let report = try ParleyStore.verifyArchive(at: tampered, verifier: try pki.verifier())
        #expect(!report.isValid)
        let messageFailures = report.failures.filter { $0.kind == .message }
        #expect(messageFailures.count == 1)
        let failure = try #require(messageFailures.first)
        #expect(failure.messageID == envelope.id)
        #expect(failure.error.code == .badSignature)
        #expect(failure.error.field == "signature")
        #expect(
            failure.itemIndex == 1 + 3 * 1,
            "item index of the second message (header, message, two receipts, message)"
        )
        // Its receipts now name a digest of other bytes.
        let receiptFailures = report.failures.filter { $0.kind == .receipt }
        #expect(receiptFailures.count == 2)
        #expect(
            receiptFailures.allSatisfy {
                $0.messageID == envelope.id && $0.error.code == .receiptMismatch && $0.error.field == "digest"
            }
        )
        #expect(report.messagesValid == 5 && report.messagesFailed == 1)
        #expect(report.unreceipted.map(\.messageID) == [envelope.id])
    }

    @Test func defectsAreReported() async throws {
        let store = try ParleyStore(path: dir.path("defects.sqlite"))
        try await send(store, receipted: [ru, hcoc])
        // RU's receipt names the digest of other bytes.
        let (mismatched, _) = try await send(store, receipted: [ru, hcoc], receiptDigestOf: Data("other bytes".utf8))
        // HCOC never answered.
        let (unanswered, _) = try await send(store, receipted: [ru])
        // Number 3 from RU never arrived.
        for seq in [1, 2, 4] as [UInt64] { try await receive(store, seq: seq) }

        let report = try ParleyStore.verifyArchive(
            at: try await export(store, "d.parley-archive"),
            verifier: try pki.verifier()
        )
        #expect(!report.isValid)
        #expect(report.failures.count == 2, "\(report.summaryText)")
        #expect(report.failures.allSatisfy { $0.kind == .receipt && $0.messageID == mismatched.id })
        #expect(report.failures.allSatisfy { $0.error.code == .receiptMismatch && $0.error.field == "digest" })
        #expect(Set(report.failures.map(\.participant)) == [Fixture.ru, Fixture.hcoc])
        #expect(report.messagesValid == 6 && report.messagesFailed == 0)

        let unreceipted = Dictionary(uniqueKeysWithValues: report.unreceipted.map { ($0.messageID, $0.notReceiptedBy) })
        #expect(unreceipted == [mismatched.id: [Fixture.hcoc, Fixture.ru], unanswered.id: [Fixture.hcoc]])
        let answered = try #require(report.messages.first { $0.messageID == unanswered.id })
        #expect(answered.receiptedBy == [Fixture.ru: .accepted])

        let incoming = try #require(report.channels.first { $0.sender == Fixture.ru })
        #expect(incoming.gaps == [3...3] && incoming.lowest == 1 && incoming.highest == 4 && !incoming.isComplete)
        #expect(report.channelsWithGaps.map(\.sender) == [Fixture.ru])
        #expect(report.summaryText.contains("channel RU-NRRC→US-NRRC: gaps 3"))
    }

    @Test func messageIsVerifiedAtItsReceiptTime() async throws {
        // Two messages claiming creation ten days ago, before the test PKI's CRLs (and possibly
        // certificates) were issued. The one RU receipted is verified at the receipt's time and
        // passes; the one without a receipt can only be verified at its creation time, and fails.
        let store = try ParleyStore(path: dir.path("times.sqlite"))
        let past = UTCTime(secondsSince1970: now.secondsSince1970 - 10 * 86_400)
        let queued = Mutex([(Envelope, Data)]())
        for _ in 0..<2 {
            try await store.enqueue(sender: Fixture.us.pid, recipients: [Fixture.ru.pid], queuedAt: now.date) {
                numbers in
                let signed = try signedMessage(by: us, to: numbers, created: past)
                queued.withLock { $0.append(signed) }
                return fields(signed.0, signed.1)
            }
        }
        let messages = queued.withLock { $0 }
        let (receipted, bytes) = messages[0]
        try await store.recordReceipt(
            ReceivedReceipt(
                bytes: try receipt(by: ru, for: receipted, digestOf: bytes),
                messageID: receipted.id,
                recipient: Fixture.ru.pid,
                status: .accepted,
                received: now.date
            )
        )
        let report = try ParleyStore.verifyArchive(
            at: try await export(store, "times.parley-archive"),
            verifier: try pki.verifier()
        )
        #expect(report.receiptsValid == 1 && report.messagesValid == 1)
        let failure = try #require(report.failures.first, "\(report.summaryText)")
        #expect(report.failures.count == 1)
        #expect(failure.kind == .message && failure.messageID == messages[1].0.id)
        #expect(failure.verifiedAt == past)
        #expect([.certificateNotValidAtTime, .revocationUnavailable].contains(failure.error.code), "\(failure)")
        #expect(report.unreceipted.map(\.messageID) == [messages[1].0.id])
    }

    /// Offsets of the top-level items of an archive file.
    func archiveItemOffsets(_ bytes: [UInt8]) throws -> [Int] {
        var reader = try CBORReader(bytes, limits: ArchiveCBOR.limits(bufferSize: bytes.count), mode: .deterministic)
        var offsets = [Int]()
        while !reader.isAtEnd {
            offsets.append(reader.position)
            _ = try reader.readItem()
        }
        return offsets
    }
}
