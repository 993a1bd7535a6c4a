import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol

/// The result of verifying an archive offline (Protocol/ARCHIVE.md §4, steps 1–7).
public struct ArchiveVerificationReport: Sendable {
    public enum ItemKind: String, Sendable, Hashable {
        case message
        case receipt
    }

    /// A message or receipt that failed a check of steps 5–6.
    public struct Failure: Sendable, CustomStringConvertible {
        public var kind: ItemKind
        /// Position of the item in the archive file; the header is item 0.
        public var itemIndex: Int
        public var messageID: MessageID
        /// The message's sender or the receipt's signer, as the archive's index names it.
        public var participant: String
        /// The verification time used (SPEC.md §8.6); nil for checks that do not depend on time.
        public var verifiedAt: UTCTime?
        /// What failed: `code`, `field` and `reason`.
        public var error: ProtocolError

        public var description: String {
            "item \(itemIndex) (\(kind.rawValue) \(messageID) of \(participant))\(verifiedAt.map { " at \($0)" } ?? ""): \(error)"
        }
    }

    /// The sequence numbers one (sender, recipient) channel carries in this archive.
    public struct Channel: Sendable, Hashable {
        public var sender: String
        public var recipient: String
        /// Distinct message ids on the channel.
        public var messages: Int
        public var lowest: UInt64
        public var highest: UInt64
        /// Numbers between `lowest` and `highest` that no message of the archive carries. Numbers
        /// below `lowest` belong to messages stored before the archive's range, or are missing.
        public var gaps: [ClosedRange<UInt64>]
        /// Numbers carried by more than one message id (step 7), with those ids sorted bytewise.
        public var reused: [UInt64: [MessageID]]

        /// Every number from 1 to `highest` is carried by exactly one message.
        public var isComplete: Bool { lowest == 1 && gaps.isEmpty && reused.isEmpty }
    }

    /// Which recipients of a message returned a valid receipt for it.
    public struct MessageReceipts: Sendable, Hashable {
        public var messageID: MessageID
        public var sender: String
        public var direction: MessageDirection
        /// The recipients the archive records: every delivery of a sent message, the exporter for a
        /// received one.
        public var recipients: [String]
        /// Recipients with a valid receipt matching the message, and that receipt's status (an
        /// accepted receipt wins over a duplicate, a duplicate over a rejection).
        public var receiptedBy: [String: ReceiptStatus]
        /// Recipients without a valid receipt in the archive.
        public var notReceiptedBy: [String]
    }

    /// The steps of ARCHIVE.md §4 this verification performed.
    public var stepsPerformed: ClosedRange<Int> = 1...7
    /// The checked structure (steps 1–4).
    public var archive: ArchiveSummary
    /// Messages and receipts whose every check passed.
    public var messagesValid = 0
    public var receiptsValid = 0
    public var failures: [Failure] = []
    /// Sorted by (sender, recipient).
    public var channels: [Channel] = []
    /// In archive order.
    public var messages: [MessageReceipts] = []

    public var messagesFailed: Int { Set(failures.filter { $0.kind == .message }.map(\.itemIndex)).count }
    public var receiptsFailed: Int { Set(failures.filter { $0.kind == .receipt }.map(\.itemIndex)).count }
    /// Messages some recipient has not (validly) receipted.
    public var unreceipted: [MessageReceipts] { messages.filter { !$0.notReceiptedBy.isEmpty } }
    public var channelsWithGaps: [Channel] { channels.filter { !$0.gaps.isEmpty } }

    /// Every signature, chain, index field and receipt checks out, and no channel number is used
    /// twice. Gaps and missing receipts are facts of the record, reported but not failures.
    public var isValid: Bool { failures.isEmpty && channels.allSatisfy(\.reused.isEmpty) }

    /// A few lines for an operator or auditor.
    public var summaryText: String {
        var lines = [
            "archive: \(archive.messages) messages, \(archive.receipts) receipts, \(archive.channels) channels, SHA-256 \(archive.digest.hexString)",
            "messages: \(messagesValid) valid, \(messagesFailed) failed; receipts: \(receiptsValid) valid, \(receiptsFailed) failed",
        ]
        for channel in channels where !channel.gaps.isEmpty || !channel.reused.isEmpty {
            let gaps = channel.gaps.map { $0.count == 1 ? "\($0.lowerBound)" : "\($0.lowerBound)–\($0.upperBound)" }
            lines.append(
                "channel \(channel.sender)→\(channel.recipient): gaps \(gaps.joined(separator: ", "))"
                    + (channel.reused.isEmpty ? "" : "; numbers used twice \(channel.reused.keys.sorted())")
            )
        }
        for message in unreceipted {
            lines.append(
                "message \(message.messageID) from \(message.sender): no valid receipt from \(message.notReceiptedBy.joined(separator: ", "))"
            )
        }
        lines += failures.map(\.description)
        return lines.joined(separator: "\n")
    }
}

extension ParleyStore {
    /// Verifies an archive offline (ARCHIVE.md §4, all seven steps): the structure and trailer
    /// (steps 1–4, which throw `StoreError.archiveInvalid` on failure), then every message and
    /// receipt with `verifier` at the verification time of SPEC.md §8.6, the index fields against
    /// the signed bytes, and the channel sequence numbers. Per-item failures are in the report.
    ///
    /// A message is verified at the `received` time of each valid accepted (else duplicate)
    /// receipt its recipients signed for it, as that recipient, or at its creation time if it has
    /// none. A receipt with status accepted or rejected is verified at its own `received` time; a
    /// duplicate receipt at the time the exporter stored it.
    ///
    /// `progress` is called with the number of items read so far, after each item.
    public static func verifyArchive(
        at path: String,
        verifier: MessageVerifier,
        progress: (Int) -> Void = { _ in }
    ) throws -> ArchiveVerificationReport {
        var verification = ArchiveVerifier(verifier: verifier)
        var index = 0
        let summary = try readArchive(at: path) { entry in
            index += 1
            progress(index)
            switch entry {
            case .message(let message):
                verification.finishGroup()
                verification.group = (index, message, [])
            case .receipt(let receipt):
                verification.group?.receipts.append((index, receipt))
            case .outgoingChannel, .incomingChannel:
                verification.finishGroup()
            }
        }
        verification.finishGroup()
        return verification.report(summary)
    }
}

/// Verifies each message with the receipts that follow it, and collects channel numbers.
private struct ArchiveVerifier {
    let verifier: MessageVerifier
    var group: (index: Int, message: ArchivedMessage, receipts: [(Int, StoredReceipt)])?
    var failures: [ArchiveVerificationReport.Failure] = []
    var messages: [ArchiveVerificationReport.MessageReceipts] = []
    var messagesValid = 0
    var receiptsValid = 0
    /// (sender, recipient) → sequence number → message ids.
    var channelNumbers: [ChannelKey: [UInt64: Set<MessageID>]] = [:]

    struct ChannelKey: Hashable {
        var sender: String
        var recipient: String
    }

    init(verifier: MessageVerifier) {
        self.verifier = verifier
    }

    mutating func finishGroup() {
        guard let (messageIndex, message, receipts) = group else { return }
        group = nil
        let id = message.fields.id
        let recipients = message.direction == .sent ? message.deliveries.map(\.recipient) : [message.inbox!.recipient]
        let digest = [UInt8](message.fields.bytes)
        let sent = SentMessage(
            id: id,
            digest: Digest.sha256(digest),
            sender: Self.participant(message.sender),
            created: UTCTime(message.fields.created),
            recipients: recipients.map(Self.participant)
        )

        // Receipts first: the valid ones give the message's verification times.
        var receiptedBy: [String: ReceiptStatus] = [:]
        var times: [(UTCTime, String)] = []
        var duplicateTimes: [(UTCTime, String)] = []
        for (index, stored) in receipts {
            let bytes = [UInt8](stored.bytes)
            let time = Self.receiptTime(bytes, stored)
            func fail(_ error: ProtocolError) {
                failures.append(
                    .init(
                        kind: .receipt,
                        itemIndex: index,
                        messageID: id,
                        participant: stored.signer,
                        verifiedAt: time,
                        error: error
                    )
                )
            }
            do {
                let verified = try verifier.verifyReceipt(
                    bytes,
                    at: time,
                    for: sent,
                    from: Self.participant(stored.signer)
                )
                if let mismatch = Self.indexMismatch(stored, verified.receipt) {
                    fail(mismatch)
                    continue
                }
                receiptsValid += 1
                let recipient = verified.receipt.recipient.rawValue
                if Self.rank(stored.status) > receiptedBy[recipient].map(Self.rank) ?? -1 {
                    receiptedBy[recipient] = stored.status
                }
                switch verified.receipt.status {
                case .accepted: times.append((verified.receipt.received, recipient))
                case .duplicate: duplicateTimes.append((verified.receipt.received, recipient))
                case .rejected: break
                }
            } catch let error as ProtocolError {
                fail(error)
            } catch {
                fail(ProtocolError(.malformed, "\(error)"))
            }
        }

        // The message at each recipient's receipt time (SPEC.md §8.6), or at its creation time.
        var checks: [(UTCTime, String?)] = []
        for (time, recipient) in times + duplicateTimes where !checks.contains(where: { $0.1 == recipient }) {
            checks.append((time, recipient))
        }
        if checks.isEmpty {
            checks = [(sent.created, message.direction == .received ? recipients[0] : nil)]
        }
        var messageFailed = false
        for (time, recipient) in checks {
            do {
                let verified = try verifier.verifyMessage(digest, at: time, recipient: recipient.map(Self.participant))
                for mismatch in Self.indexMismatches(message, verified.envelope) {
                    failures.append(
                        .init(
                            kind: .message,
                            itemIndex: messageIndex,
                            messageID: id,
                            participant: message.sender,
                            verifiedAt: nil,
                            error: mismatch
                        )
                    )
                    messageFailed = true
                }
            } catch {
                let failure = error as? ProtocolError ?? ProtocolError(.malformed, "\(error)")
                failures.append(
                    .init(
                        kind: .message,
                        itemIndex: messageIndex,
                        messageID: id,
                        participant: message.sender,
                        verifiedAt: time,
                        error: failure
                    )
                )
                messageFailed = true
            }
            if messageFailed { break }
        }
        if !messageFailed { messagesValid += 1 }

        messages.append(
            .init(
                messageID: id,
                sender: message.sender,
                direction: message.direction,
                recipients: recipients,
                receiptedBy: receiptedBy,
                notReceiptedBy: recipients.filter { receiptedBy[$0] == nil }
            )
        )
        for delivery in message.deliveries {
            channelNumbers[ChannelKey(sender: message.sender, recipient: delivery.recipient), default: [:]][
                delivery.sequenceNumber,
                default: []
            ].insert(id)
        }
        if let entry = message.inbox {
            channelNumbers[ChannelKey(sender: message.sender, recipient: entry.recipient), default: [:]][
                entry.sequenceNumber,
                default: []
            ].insert(id)
        }
    }

    func report(_ summary: ArchiveSummary) -> ArchiveVerificationReport {
        var report = ArchiveVerificationReport(archive: summary)
        report.messagesValid = messagesValid
        report.receiptsValid = receiptsValid
        report.failures = failures
        report.messages = messages
        report.channels = channelNumbers.map { key, numbers in
            let sorted = numbers.keys.sorted()
            var gaps: [ClosedRange<UInt64>] = []
            for (previous, next) in zip(sorted, sorted.dropFirst()) where next > previous + 1 {
                gaps.append((previous + 1)...(next - 1))
            }
            let reused = numbers.filter { $0.value.count > 1 }.mapValues { $0.sorted { $0.precedes($1) } }
            return .init(
                sender: key.sender,
                recipient: key.recipient,
                messages: Set(numbers.values.joined()).count,
                lowest: sorted.first!,
                highest: sorted.last!,
                gaps: gaps,
                reused: reused
            )
        }.sorted { ($0.sender, $0.recipient) < ($1.sender, $1.recipient) }
        return report
    }

    // MARK: Helpers

    /// The archive's participant ids were checked by the reader; this cannot fail for them.
    static func participant(_ id: String) -> ParticipantID { try! ParticipantID(id) }

    static func rank(_ status: ReceiptStatus) -> Int {
        switch status {
        case .accepted: 2
        case .duplicate: 1
        case .rejected: 0
        }
    }

    /// SPEC.md §8.6: a receipt's own `received` time, except a duplicate's, which is the time the
    /// exporter stored it. An undecodable receipt is checked at its stored time (and fails).
    static func receiptTime(_ bytes: [UInt8], _ stored: StoredReceipt) -> UTCTime {
        guard stored.status != .duplicate,
            let object = try? COSESign1(decoding: bytes), let receipt = try? Receipt(decoding: object.payload)
        else {
            return UTCTime(stored.stored)
        }
        return receipt.received
    }

    /// Step 6 for a receipt: the index (ARCHIVE.md §2.3 keys 3–7) against the signed receipt.
    static func indexMismatch(_ stored: StoredReceipt, _ receipt: Receipt) -> ProtocolError? {
        if stored.messageID != receipt.messageID {
            return indexError("message-id", "\(stored.messageID)", "\(receipt.messageID)")
        }
        if stored.signer != receipt.recipient.rawValue {
            return indexError("signer", stored.signer, receipt.recipient.rawValue)
        }
        let signed: ReceiptStatus
        switch receipt.status {
        case .accepted: signed = .accepted
        case .duplicate: signed = .duplicate
        case .rejected(let code, let reason): signed = .rejected(code: code.rawValue, reason: reason)
        }
        if stored.status != signed { return indexError("status", "\(stored.status)", "\(signed)") }
        return nil
    }

    /// Step 6 for a message: the index (ARCHIVE.md §2.2 keys 3–9) and the sequence numbers of its
    /// deliveries or inbox entry against the signed envelope.
    static func indexMismatches(_ message: ArchivedMessage, _ envelope: Envelope) -> [ProtocolError] {
        var errors: [ProtocolError] = []
        let fields = message.fields
        if fields.id != envelope.id { errors.append(indexError("id", "\(fields.id)", "\(envelope.id)")) }
        if message.sender != envelope.sender.rawValue {
            errors.append(indexError("sender", message.sender, envelope.sender.rawValue))
        }
        if fields.type != envelope.type.rawValue {
            errors.append(indexError("type", "\(fields.type)", "\(envelope.type.rawValue)"))
        }
        if UTCTime(fields.created) != envelope.created {
            errors.append(indexError("created", "\(UTCTime(fields.created))", "\(envelope.created)"))
        }
        let indexRefs = Set(fields.references.map { "\($0.target) \($0.relation.rawValue)" })
        let signedRefs = Set(envelope.references.map { "\($0.messageID) \($0.relation.rawValue)" })
        if indexRefs != signedRefs || fields.references.count != envelope.references.count {
            errors.append(
                indexError(
                    "refs",
                    indexRefs.sorted().joined(separator: ", "),
                    signedRefs.sorted().joined(separator: ", ")
                )
            )
        }
        let indexRemarks = fields.remarks.map { "\($0.language): \($0.text)" } ?? "none"
        let signedRemarks = envelope.remarks.map { "\($0.language): \($0.text)" } ?? "none"
        if indexRemarks != signedRemarks { errors.append(indexError("remarks", indexRemarks, signedRemarks)) }
        let signedNumbers = Dictionary(
            envelope.recipients.map { ($0.participant.rawValue, $0.sequence) },
            uniquingKeysWith: { a, _ in a }
        )
        switch message.direction {
        case .sent:
            let indexNumbers = Dictionary(
                message.deliveries.map { ($0.recipient, $0.sequenceNumber) },
                uniquingKeysWith: { a, _ in a }
            )
            if indexNumbers != signedNumbers {
                errors.append(indexError("deliveries", Self.describe(indexNumbers), Self.describe(signedNumbers)))
            }
        case .received:
            if let entry = message.inbox, signedNumbers[entry.recipient] != entry.sequenceNumber {
                errors.append(
                    indexError(
                        "inbox",
                        "\(entry.recipient) #\(entry.sequenceNumber)",
                        signedNumbers[entry.recipient].map { "\(entry.recipient) #\($0)" }
                            ?? "\(entry.recipient) is not a recipient"
                    )
                )
            }
        }
        return errors
    }

    static func describe(_ numbers: [String: UInt64]) -> String {
        numbers.sorted { $0.key < $1.key }.map { "\($0.key) #\($0.value)" }.joined(separator: ", ")
    }

    static func indexError(_ field: String, _ index: String, _ signed: String) -> ProtocolError {
        ProtocolError(
            .invalidField,
            field: "archive-index.\(field)",
            "the archive's index says \(index) but the signed bytes say \(signed): the archive was altered or damaged; trust the signed bytes"
        )
    }
}
