import Foundation
import ParleyProtocol

/// One entry of a message's `refs`: the referenced message and how this message relates to it.
public struct MessageReference: Hashable, Sendable {
    public var target: MessageID
    public var relation: Relation
    public init(target: MessageID, relation: Relation) {
        self.target = target
        self.relation = relation
    }
}

/// Which way a stored message travelled.
public enum MessageDirection: Int, Sendable, Hashable {
    /// Signed by this node and queued in the outbox.
    case sent = 0
    /// Accepted from a peer into the inbox.
    case received = 1
}

/// The decoded fields of a message the store keeps next to its exact bytes. The caller decodes and
/// verifies; the store never parses `bytes`.
public struct MessageFields: Hashable, Sendable {
    public var id: MessageID
    /// The exact COSE_Sign1 bytes, as signed (outbox) or as received (inbox).
    public var bytes: Data
    public var type: UInt64
    /// Envelope key 5 (whole seconds; sub-seconds are dropped).
    public var created: Date
    public var references: [MessageReference]
    public var remarks: LocalizedText?

    public init(
        id: MessageID,
        bytes: Data,
        type: UInt64,
        created: Date,
        references: [MessageReference] = [],
        remarks: LocalizedText? = nil
    ) {
        self.id = id
        self.bytes = bytes
        self.type = type
        self.created = created
        self.references = references
        self.remarks = remarks
    }
}

/// Delivery state of one (outgoing message, recipient) pair.
public enum DeliveryState: String, Sendable, Hashable, CaseIterable {
    /// Waiting for its next attempt time.
    case pending
    /// Sent to the peer; no receipt yet.
    case inFlight = "inflight"
    /// The recipient returned a receipt with status accepted or duplicate.
    case delivered
    /// The recipient returned a receipt with status rejected.
    case rejected
    /// Given up after the configured time, without a receipt.
    case expired
    /// Stopped by the operator.
    case cancelled
}

/// Receipt status (receipt key 7) with the rejection (key 8) when rejected.
public enum ReceiptStatus: Hashable, Sendable {
    case accepted
    case duplicate
    case rejected(code: UInt64, reason: String)

    public var code: UInt64 {
        switch self {
        case .accepted: 0
        case .duplicate: 1
        case .rejected: 2
        }
    }
}

/// A receipt this node received for one of its messages (the caller verified the signature and
/// that the signer is `recipient`).
public struct ReceivedReceipt: Hashable, Sendable {
    public var bytes: Data
    public var messageID: MessageID
    /// The receipt's signer: the recipient of the receipted message.
    public var recipient: String
    public var status: ReceiptStatus
    public var received: Date

    public init(bytes: Data, messageID: MessageID, recipient: ParticipantID, status: ReceiptStatus, received: Date) {
        self.bytes = bytes
        self.messageID = messageID
        self.recipient = recipient.rawValue
        self.status = status
        self.received = received
    }
}

/// A message accepted from a peer, decoded and verified by the caller.
public struct IncomingMessage: Hashable, Sendable {
    public var fields: MessageFields
    public var sender: String
    /// This node's participant id, as named in the message's recipients.
    public var recipient: String
    /// The sequence number the message carries for `recipient`.
    public var sequenceNumber: UInt64
    public var received: Date

    public init(
        fields: MessageFields,
        sender: ParticipantID,
        recipient: ParticipantID,
        sequenceNumber: UInt64,
        received: Date
    ) {
        self.fields = fields
        self.sender = sender.rawValue
        self.recipient = recipient.rawValue
        self.sequenceNumber = sequenceNumber
        self.received = received
    }
}

/// One outgoing message to queue: who sends it to whom, and how to build its signed bytes once the
/// channel sequence numbers are known.
public struct EnqueueRequest: Sendable {
    public var sender: String
    public var recipients: [String]
    /// Called inside the write transaction with the sequence number allocated for each recipient.
    /// Throwing rolls the transaction back: no sequence number is consumed.
    public var build: @Sendable ([String: UInt64]) throws -> MessageFields

    public init(
        sender: ParticipantID,
        recipients: [ParticipantID],
        build: @escaping @Sendable ([ParticipantID: UInt64]) throws -> MessageFields
    ) {
        self.sender = sender.rawValue
        self.recipients = recipients.map(\.rawValue)
        let ids = Dictionary(recipients.map { ($0.rawValue, $0) }, uniquingKeysWith: { first, _ in first })
        // Called only with the numbers of `recipients` (`ParleyStore.enqueue`).
        self.build = { numbers in try build(Dictionary(uniqueKeysWithValues: numbers.map { (ids[$0.key]!, $0.value) }))
        }
    }
}

/// What `enqueue` committed.
public struct QueuedMessage: Hashable, Sendable {
    public var id: MessageID
    public var sequenceNumbers: [String: UInt64]
    /// SHA-256 of the stored bytes.
    public var digest: Data
}

/// One incoming message with the closure that builds this node's receipt for it.
public struct AcceptRequest: Sendable {
    public var message: IncomingMessage
    /// Called inside the write transaction only when the message is new (status accepted); returns
    /// the exact signed receipt bytes to store and return to the sender.
    public var buildReceipt: @Sendable (IncomingMessage) throws -> Data

    public init(message: IncomingMessage, buildReceipt: @escaping @Sendable (IncomingMessage) throws -> Data) {
        self.message = message
        self.buildReceipt = buildReceipt
    }
}

/// What `accept` did with an incoming message.
public enum AcceptOutcome: Hashable, Sendable {
    /// Stored; `receipt` is the receipt to return. `channel` tells what the arrival did to the sequence.
    case accepted(receipt: Data, channel: ChannelChange)
    /// The same id and bytes were already stored: nothing changed; return the stored receipt.
    case duplicate(storedReceipt: Data)
    /// The same id was stored with different bytes: nothing stored, an alert was recorded.
    /// Reply with a rejection receipt (code 10).
    case equivocation(storedDigest: Data, receivedDigest: Data)
    /// The channel sequence number was already used by another message id: nothing stored, an alert
    /// was recorded. Reply with a rejection receipt (code 9).
    case replay(sequenceNumber: UInt64, storedID: MessageID?)
}

/// The effect of an accepted message on its incoming channel.
public enum ChannelChange: Hashable, Sendable {
    /// The next expected number.
    case inOrder
    /// Arrived ahead: the numbers in `missing` are now recorded as a gap.
    case gapDetected(missing: ClosedRange<UInt64>)
    /// Filled a previously recorded gap.
    case gapFilled
}

/// Result of recording a received receipt.
public enum ReceiptOutcome: Hashable, Sendable {
    /// The delivery moved to `state`.
    case recorded(DeliveryState)
    /// Stored as evidence; the delivery had already been settled by an earlier receipt.
    case additional
    /// These exact receipt bytes were already stored: nothing changed.
    case alreadyStored
}
