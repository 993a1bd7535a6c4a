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
        let item: CBOR
        do { item = try CBOR(decoding: bytes) } catch let error as CodecError { throw ProtocolError(error) }
        try self.init(cbor: item)
    }

    public init(cbor item: CBOR) throws {
        var r = try FieldReader(item, path: "")
        let version = try r.required(1, "version") { item, field -> UInt64 in
            guard case .unsignedInteger(let v) = item else {
                throw ProtocolError(.malformed, field: field, "must be an unsigned integer")
            }
            return v
        }
        guard version == Self.version else {
            throw ProtocolError(.unsupportedVersion, field: "version", "protocol version \(version) is not supported; this node speaks version 1")
        }
        id = try r.required(2, "id", Field.messageID)
        sender = try r.required(3, "sender", Field.participant)
        recipients = try r.required(4, "recipients") { item, field in
            try Field.array(item, field, count: 1...Self.maximumRecipients).enumerated().map { i, entry in
                let pair = try Field.array(entry, "\(field)[\(i)]", count: 2...2)
                return Recipient(participant: try Field.participant(pair[0], "\(field)[\(i)][0]"),
                                 sequence: try Field.uint(1...UInt64.max)(pair[1], "\(field)[\(i)][1]"))
            }
        }
        created = try r.required(5, "created", Field.time)
        let typeCode = try r.required(6, "type", Field.uint(0...UInt64.max))
        guard let type = NotificationType(rawValue: typeCode) else {
            throw ProtocolError(.unknownType, field: "type", "notification type \(typeCode) is not in the version 1 catalogue")
        }
        references = try r.optional(7, "refs") { item, field in
            try Field.array(item, field, count: 1...Self.maximumReferences).enumerated().map { i, entry in
                let pair = try Field.array(entry, "\(field)[\(i)]", count: 2...2)
                return Reference(messageID: try Field.messageID(pair[0], "\(field)[\(i)][0]"),
                                 relation: try Field.code(Relation.self)(pair[1], "\(field)[\(i)][1]"))
            }
        } ?? []
        body = try r.required(8, "body") { try NotificationBody(type: type, cbor: $0, path: $1) }
        remarks = try r.optional(9, "remarks", LocalizedText.parser(maximumLength: Self.maximumRemarksLength))
        try r.finish()
        try validate()
    }

    public var cbor: CBOR {
        var map: CBORMap = [
            1: .unsignedInteger(Self.version),
            2: .byteString(id.bytes),
            3: .textString(sender.rawValue),
            4: .array(recipients.map { [.textString($0.participant.rawValue), .unsignedInteger($0.sequence)] }),
            5: created.cbor,
            6: .unsignedInteger(type.rawValue),
            8: body.cbor,
        ]
        if !references.isEmpty {
            map[7] = .array(references.map { [.byteString($0.messageID.bytes), .unsignedInteger($0.relation.rawValue)] })
        }
        if let remarks { map[9] = remarks.cbor }
        return .map(map)
    }

    /// The deterministic encoding: the payload of the message's COSE_Sign1.
    public var encoded: [UInt8] { CBOREncoder.encode(cbor) }

    /// Checks every rule of SPEC.md and NOTIFICATIONS.md that the envelope alone can decide.
    public func validate() throws {
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
        if let remarks { try Field.checkText(remarks.text, maximum: Self.maximumRemarksLength, field: "remarks") }
        try validateReferences()
        try body.validateFields()
        try body.validateTiming(created: created)
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
