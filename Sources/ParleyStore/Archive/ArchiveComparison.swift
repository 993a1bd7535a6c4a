import Foundation
import ParleyCodec
import ParleyProtocol

/// Archives exported by different participants, read side by side (ARCHIVE.md §6): where they
/// disagree about a message's bytes, a receipt, or a channel's sequence numbers. Each archive is
/// read and checked as `readArchive` does; signatures are the business of `verifyArchive`.
public struct ArchiveComparison: Sendable {
    /// One archive compared: its file and header.
    public struct Side: Sendable, Hashable {
        public var path: String
        public var header: ArchiveHeader
    }

    /// A disagreement between two archives (`Side` indices into `sides`).
    public enum Finding: Sendable, Hashable, CustomStringConvertible {
        /// The same message id with different bytes: equivocation by the sender, or tampering.
        case differentBytes(MessageID, sides: [Int])
        /// A message one archive holds that the other, a party to it, lacks although its period
        /// covers the message's creation.
        case messageMissing(MessageID, heldBy: Int, missingFrom: Int)
        /// A receipt one archive holds that the other, the message's sender or the receipt's signer,
        /// lacks.
        case receiptMissing(MessageID, signer: String, digest: Data, heldBy: Int, missingFrom: Int)
        /// A sequence number the recipient's archive lists as missing, while the sender's archive
        /// holds the message it sent with that number.
        case gapOnlyAtRecipient(
            sender: String,
            recipient: String,
            sequenceNumber: UInt64,
            message: MessageID,
            recipientSide: Int,
            senderSide: Int
        )
        /// Two archives name different messages for the same channel number.
        case differentMessageForNumber(
            sender: String,
            recipient: String,
            sequenceNumber: UInt64,
            messages: [MessageID],
            sides: [Int]
        )

        public var description: String {
            switch self {
            case .differentBytes(let id, let sides):
                "message \(id) has different bytes in archives \(sides.map { "#\($0 + 1)" }.joined(separator: " and ")): "
                    + "one of them is not what the sender signed for the other, or the sender signed two messages under one id"
            case .messageMissing(let id, let heldBy, let missingFrom):
                "message \(id) is in archive #\(heldBy + 1) but not in archive #\(missingFrom + 1), "
                    + "whose exporter is a party to it and whose period covers it"
            case .receiptMissing(let id, let signer, let digest, let heldBy, let missingFrom):
                "the receipt of \(signer) for message \(id) (SHA-256 \(Hex.encode(digest))) is in archive #\(heldBy + 1) "
                    + "but not in archive #\(missingFrom + 1)"
            case .gapOnlyAtRecipient(
                let sender,
                let recipient,
                let number,
                let message,
                let recipientSide,
                let senderSide
            ):
                "channel \(sender) → \(recipient): number \(number) is missing in archive #\(recipientSide + 1) "
                    + "(the recipient's), but archive #\(senderSide + 1) (the sender's) holds message \(message) sent with it"
            case .differentMessageForNumber(let sender, let recipient, let number, let messages, let sides):
                "channel \(sender) → \(recipient): number \(number) is message \(messages.map(\.description).joined(separator: " / ")) "
                    + "in archives \(sides.map { "#\($0 + 1)" }.joined(separator: " / "))"
            }
        }
    }

    public var sides: [Side]
    public var findings: [Finding]
    /// Message ids held by more than one archive.
    public var messagesInCommon: Int

    /// Reads every archive (each must be well-formed; the first that is not throws) and compares
    /// them pairwise.
    public static func compare(paths: [String]) throws -> ArchiveComparison {
        var holdings: [Holdings] = []
        var sides: [Side] = []
        for path in paths {
            var held = Holdings()
            let summary = try ParleyStore.readArchive(at: path) { held.add($0) }
            held.header = summary.header
            holdings.append(held)
            sides.append(Side(path: path, header: summary.header))
        }
        var findings: [Finding] = []
        var inCommon = Set<MessageID>()
        for a in holdings.indices {
            for b in holdings.indices where b > a {
                inCommon.formUnion(Set(holdings[a].messages.keys).intersection(holdings[b].messages.keys))
                findings += compare(holdings[a], a, holdings[b], b)
            }
        }
        return ArchiveComparison(sides: sides, findings: findings, messagesInCommon: inCommon.count)
    }

    /// What one archive says, indexed for comparison.
    struct Holdings {
        struct Held {
            var digest: Data
            var sender: String
            var created: Date
            var stored: Date
            /// Recipient → sequence number.
            var recipients: [String: UInt64]
        }
        struct Number: Hashable {
            var sender: String
            var recipient: String
            var sequenceNumber: UInt64
        }
        var header: ArchiveHeader?
        var messages: [MessageID: Held] = [:]
        /// Message → signer → receipt digests.
        var receipts: [MessageID: [String: Set<Data>]] = [:]
        var numbers: [Number: MessageID] = [:]
        var gaps: [Number] = []

        var exporter: String { header?.exporter ?? "" }

        /// Whether this archive's period ([from, to) of storing) covers both the message's creation
        /// and when the other side stored it; the two sides store a message at nearly the same time.
        func covers(_ message: Held) -> Bool {
            guard let header else { return false }
            return header.from <= message.created && message.stored < header.to
        }

        mutating func add(_ entry: ArchiveEntry) {
            switch entry {
            case .message(let message):
                let sender = "\(message.sender)"
                var recipients: [String: UInt64] = [:]
                for delivery in message.deliveries { recipients["\(delivery.recipient)"] = delivery.sequenceNumber }
                if let inbox = message.inbox { recipients["\(inbox.recipient)"] = inbox.sequenceNumber }
                messages[message.fields.id] = Held(
                    digest: message.fields.bytes.sha256,
                    sender: sender,
                    created: message.fields.created,
                    stored: message.stored,
                    recipients: recipients
                )
                for (recipient, number) in recipients {
                    numbers[Number(sender: sender, recipient: recipient, sequenceNumber: number)] = message.fields.id
                }
            case .receipt(let receipt):
                receipts[receipt.messageID, default: [:]]["\(receipt.signer)", default: []].insert(receipt.digest)
            case .incomingChannel(let channel):
                for gap in channel.gaps {
                    for number in gap.missing.prefix(10_000) {
                        gaps.append(
                            Number(
                                sender: "\(channel.sender)",
                                recipient: "\(channel.recipient)",
                                sequenceNumber: number
                            )
                        )
                    }
                }
            case .outgoingChannel:
                break
            }
        }
    }

    static func compare(_ a: Holdings, _ ia: Int, _ b: Holdings, _ ib: Int) -> [Finding] {
        var findings: [Finding] = []
        // Messages: bytes, and presence on both sides of a message between the two exporters.
        for (id, heldA) in a.messages.sorted(by: { $0.key.description < $1.key.description }) {
            if let heldB = b.messages[id] {
                if heldA.digest != heldB.digest { findings.append(.differentBytes(id, sides: [ia, ib])) }
            } else if isParty(b.exporter, to: heldA), b.covers(heldA) {
                findings.append(.messageMissing(id, heldBy: ia, missingFrom: ib))
            }
        }
        for (id, heldB) in b.messages.sorted(by: { $0.key.description < $1.key.description })
        where a.messages[id] == nil {
            if isParty(a.exporter, to: heldB), a.covers(heldB) {
                findings.append(.messageMissing(id, heldBy: ib, missingFrom: ia))
            }
        }
        // Receipts: the sender and the signer should both hold each one.
        func receipts(_ x: Holdings, _ ix: Int, against y: Holdings, _ iy: Int) {
            for (id, bySigner) in x.receipts.sorted(by: { $0.key.description < $1.key.description }) {
                guard let message = y.messages[id] ?? x.messages[id], y.messages[id] != nil else { continue }
                for (signer, digests) in bySigner.sorted(by: { $0.key < $1.key })
                where y.exporter == message.sender || y.exporter == signer {
                    let held = y.receipts[id]?[signer] ?? []
                    for digest in digests.sorted(by: { $0.lexicographicallyPrecedes($1) }) where !held.contains(digest)
                    {
                        findings.append(
                            .receiptMissing(id, signer: signer, digest: digest, heldBy: ix, missingFrom: iy)
                        )
                    }
                }
            }
        }
        receipts(a, ia, against: b, ib)
        receipts(b, ib, against: a, ia)
        // Channels: a number one side holds a message for, that the other lists as missing, or
        // holds another message for.
        func gaps(_ recipientSide: Holdings, _ ir: Int, senderSide: Holdings, _ isd: Int) {
            for gap in recipientSide.gaps
            where gap.sender == senderSide.exporter && gap.recipient == recipientSide.exporter {
                if let message = senderSide.numbers[gap] {
                    findings.append(
                        .gapOnlyAtRecipient(
                            sender: gap.sender,
                            recipient: gap.recipient,
                            sequenceNumber: gap.sequenceNumber,
                            message: message,
                            recipientSide: ir,
                            senderSide: isd
                        )
                    )
                }
            }
        }
        gaps(a, ia, senderSide: b, ib)
        gaps(b, ib, senderSide: a, ia)
        for (number, idA) in a.numbers.sorted(by: {
            ($0.key.sender, $0.key.recipient, $0.key.sequenceNumber) < (
                $1.key.sender, $1.key.recipient, $1.key.sequenceNumber
            )
        }) {
            if let idB = b.numbers[number], idB != idA {
                findings.append(
                    .differentMessageForNumber(
                        sender: number.sender,
                        recipient: number.recipient,
                        sequenceNumber: number.sequenceNumber,
                        messages: [idA, idB],
                        sides: [ia, ib]
                    )
                )
            }
        }
        return findings
    }

    private static func isParty(_ participant: String, to message: Holdings.Held) -> Bool {
        message.sender == participant || message.recipients[participant] != nil
    }
}
