import ParleyCodec

/// A reference from a notification to an earlier message.
public struct Reference: Sendable, Hashable {
    public var messageID: MessageID
    public var relation: Relation

    public init(messageID: MessageID, relation: Relation) {
        self.messageID = messageID
        self.relation = relation
    }
}

/// A recipient and the sequence number of the sender-to-recipient channel this message takes.
public struct Recipient: Sendable, Hashable {
    public var participant: ParticipantID
    public var sequence: UInt64

    public init(participant: ParticipantID, sequence: UInt64) {
        self.participant = participant
        self.sequence = sequence
    }
}

/// The signed content of a Parley message (SPEC.md, "Envelope").
public struct Envelope: Sendable, Hashable {
    public static let version: UInt64 = 1
    public static let maximumRecipients = 256
    public static let maximumReferences = 16
    public static let maximumRemarksLength = 4_096

    public var id: MessageID
    public var sender: ParticipantID
    /// Sorted by participant id; see `init`.
    public var recipients: [Recipient]
    public var created: UTCTime
    public var body: NotificationBody
    public var references: [Reference]
    public var remarks: LocalizedText?

    public var type: NotificationType { body.type }

    /// An envelope; recipients are put in the order SPEC.md requires. Call `validate()` before signing.
    public init(id: MessageID, sender: ParticipantID, recipients: [Recipient], created: UTCTime, body: NotificationBody,
                references: [Reference] = [], remarks: LocalizedText? = nil) {
        self.id = id
        self.sender = sender
        self.recipients = recipients.sorted { $0.participant < $1.participant }
        self.created = created
        self.body = body
        self.references = references
        self.remarks = remarks
    }

    /// Decodes and validates an envelope from its deterministic CBOR bytes (a COSE_Sign1 payload).
    public init(decoding bytes: [UInt8]) throws {
        var reader = try Field.structure { try CBORReader(bytes) }
        var r = try FieldReader(&reader)
        let identity = try Identity(reading: &reader, fields: &r)
        id = identity.id
        sender = identity.sender
        recipients = identity.recipients
        created = identity.created
        let typeCode = try r.required(6, "type", &reader) { try $0.readUnsigned() }
        guard let type = NotificationType(rawValue: typeCode) else {
            throw ProtocolError(.unknownType, field: "type", "notification type \(typeCode) is not in the version 1 catalogue")
        }
        references = try r.optional(7, "refs", &reader) { reader in
            let n = try Field.array(&reader, count: 1...Self.maximumReferences)
            return try Field.elements(&reader, count: n) { reader in
                let (id, relation) = try Field.pair(&reader, Field.messageID) { try Field.code(&$0, Relation.self) }
                return Reference(messageID: id, relation: relation)
            }
        } ?? []
        body = try r.required(8, "body", &reader) { try NotificationBody(type: type, from: &$0) }
        remarks = try r.optional(9, "remarks", &reader) { try LocalizedText(from: &$0, maximumLength: Self.maximumRemarksLength) }
        try r.finish()
        try Field.structure { try reader.finish() }
        try validateEnvelope()
    }

    /// The deterministic encoding: the payload of the message's COSE_Sign1.
    public var encoded: [UInt8] {
        var w = CBORWriter(capacity: 256)
        w.writeMapHeader(7 + (references.isEmpty ? 0 : 1) + (remarks == nil ? 0 : 1))
        w.writeUnsigned(1); w.writeUnsigned(Self.version)
        w.writeUnsigned(2); w.writeByteString(id.bytes)
        w.writeUnsigned(3); w.writeTextString(sender.rawValue)
        w.writeUnsigned(4); w.writeArrayHeader(recipients.count)
        for recipient in recipients {
            w.writeArrayHeader(2)
            w.writeTextString(recipient.participant.rawValue)
            w.writeUnsigned(recipient.sequence)
        }
        w.writeUnsigned(5); w.write(created)
        w.writeUnsigned(6); w.write(code: type)
        if !references.isEmpty {
            w.writeUnsigned(7); w.writeArrayHeader(references.count)
            for reference in references {
                w.writeArrayHeader(2)
                w.writeByteString(reference.messageID.bytes)
                w.write(code: reference.relation)
            }
        }
        w.writeUnsigned(8); body.write(to: &w)
        if let remarks { w.writeUnsigned(9); remarks.write(to: &w) }
        return w.bytes
    }

    /// The envelope as a CBOR item (for diagnostic notation and tests).
    public var cbor: CBOR { try! CBOR(decoding: encoded) }

    /// Checks every rule of SPEC.md and NOTIFICATIONS.md that the envelope alone can decide.
    public func validate() throws {
        try validateEnvelope()
        try Field.named("body") { try body.validateFields() }
    }

    /// The rules beyond each field's own (which decoding has checked already).
    private func validateEnvelope() throws {
        guard (1...Self.maximumRecipients).contains(recipients.count) else {
            throw ProtocolError(.invalidField, field: "recipients", "1…\(Self.maximumRecipients) recipients are required, found \(recipients.count)")
        }
        for (i, recipient) in recipients.enumerated() {
            guard recipient.sequence >= 1 else {
                throw ProtocolError(.invalidField, field: "recipients[\(i)][1]", "sequence numbers start at 1")
            }
            guard recipient.participant != sender else {
                throw ProtocolError(.invalidField, field: "recipients[\(i)]", "the sender \(sender) cannot be its own recipient")
            }
            if i > 0 {
                let previous = recipients[i - 1].participant
                guard previous != recipient.participant else {
                    throw ProtocolError(.invalidField, field: "recipients[\(i)]", "recipient \(recipient.participant) is listed twice")
                }
                guard previous < recipient.participant else {
                    throw ProtocolError(.invalidField, field: "recipients[\(i)]", "recipients must be sorted by participant id; \(recipient.participant) comes before \(previous)")
                }
            }
        }
        guard references.count <= Self.maximumReferences else {
            throw ProtocolError(.invalidField, field: "refs", "at most \(Self.maximumReferences) references, found \(references.count)")
        }
        if Set(references).count != references.count {
            throw ProtocolError(.invalidField, field: "refs", "the same reference (message id and relation) appears twice")
        }
        if let remarks { try Field.named("remarks") { try Field.checkText(remarks.text, maximum: Self.maximumRemarksLength) } }
        try validateReferences()
        try Field.named("body") { try body.validateTiming(created: created) }
    }

    private func validateReferences() throws {
        let required = body.requiredRelation
        if let required {
            let count = references.filter { $0.relation == required }.count
            guard count == 1 else {
                throw ProtocolError(.invalidField, field: "refs", "a \(type) needs exactly one reference with relation \(required), found \(count)")
            }
        }
        for (i, reference) in references.enumerated() where reference.relation != required && reference.relation != .respondsTo {
            throw ProtocolError(.invalidField, field: "refs[\(i)]", "a \(type) may not reference another message with relation \(reference.relation)")
        }
        if type == .postLaunchReport && references.count > 1 {
            throw ProtocolError(.invalidField, field: "refs", "a post-launch report responds to at most one message, found \(references.count) references")
        }
    }
}

extension Envelope {
    /// The fields that identify a message (SPEC.md §9.1 step 4): version, id, sender, recipients
    /// and creation time, the envelope's keys 1–5.
    struct Identity {
        var id: MessageID
        var sender: ParticipantID
        var recipients: [Recipient]
        var created: UTCTime

        init(_ envelope: Envelope) {
            id = envelope.id
            sender = envelope.sender
            recipients = envelope.recipients
            created = envelope.created
        }

        /// Reads keys 1–5 without looking at the rest of the envelope.
        init(peeking payload: [UInt8]) throws {
            var reader = try Field.structure { try CBORReader(payload) }
            var r = try FieldReader(&reader)
            try self.init(reading: &reader, fields: &r)
        }

        init(reading reader: inout CBORReader, fields r: inout FieldReader) throws {
            let version = try r.required(1, "version", &reader) { try $0.readUnsigned() }
            guard version == Envelope.version else {
                throw ProtocolError(.unsupportedVersion, field: "version", "protocol version \(version) is not supported; this node speaks version 1")
            }
            id = try r.required(2, "id", &reader, Field.messageID)
            sender = try r.required(3, "sender", &reader, Field.participant)
            recipients = try r.required(4, "recipients", &reader) { reader in
                let n = try Field.array(&reader, count: 1...Envelope.maximumRecipients)
                return try Field.elements(&reader, count: n) { reader in
                    let (participant, sequence) = try Field.pair(&reader, Field.participant) { try Field.uint(&$0, 1...UInt64.max) }
                    return Recipient(participant: participant, sequence: sequence)
                }
            }
            created = try r.required(5, "created", &reader, Field.time)
        }
    }
}
