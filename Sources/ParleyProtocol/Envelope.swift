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
    public init(
        id: MessageID,
        sender: ParticipantID,
        recipients: [Recipient],
        created: UTCTime,
        body: NotificationBody,
        references: [Reference] = [],
        remarks: LocalizedText? = nil
    ) {
        self.id = id
        self.sender = sender
        self.recipients = recipients.sorted { $0.participant < $1.participant }
        self.created = created
        self.body = body
        self.references = references
        self.remarks = remarks
    }

    /// A decoded envelope: its recipients are in the order `checkStructure` requires, so they are
    /// not sorted again (that copy and sort cost a fifth of a decode).
    private init(_ identity: Identity, body: NotificationBody, references: [Reference], remarks: LocalizedText?) {
        id = identity.id
        sender = identity.sender
        recipients = identity.recipients
        created = identity.created
        self.body = body
        self.references = references
        self.remarks = remarks
    }

    /// Decodes and validates an envelope from its deterministic CBOR bytes (a COSE_Sign1 payload).
    /// An error carries the code a receiver rejects with, in the order of SPEC.md §9.1 steps 7, 8
    /// and 17: envelope structure `malformed`, the inside of the body and the type's reference
    /// rules `invalid-body`.
    public init(decoding bytes: [UInt8]) throws {
        switch try Self.decode(bytes) {
        case .valid(let envelope): self = envelope
        case .invalidContent(_, let error): throw error
        }
    }

    /// A payload whose version and structure are valid (SPEC.md §9.1 steps 7–8), with the step-17
    /// verdict kept aside: a receiver checks the signature, the chain and the addressing first.
    enum Decoded {
        case valid(Envelope)
        /// The first violation inside the body or of the type's reference rules (`invalid-body`).
        case invalidContent(Identity, ProtocolError)

        var identity: Identity {
            switch self {
            case .valid(let envelope): Identity(envelope)
            case .invalidContent(let identity, _): identity
            }
        }

        /// Nil exactly when `contentError` is set.
        var envelope: Envelope? {
            if case .valid(let envelope) = self { envelope } else { nil }
        }

        var contentError: ProtocolError? {
            if case .invalidContent(_, let error) = self { error } else { nil }
        }
    }

    /// Throws the step-7 and step-8 verdicts (`unsupported-version`, `malformed`, then
    /// `unknown-type`); a body error does not stop the check of the rest of the envelope.
    static func decode(_ bytes: [UInt8]) throws -> Decoded {
        var reader = try Field.structure { try CBORReader(bytes) }
        var r = try Field.envelope { try FieldReader(&reader) }
        let identity = try Field.envelope { try Identity(reading: &reader, fields: &r) }
        let typeCode = try Field.envelope { try r.required(6, "type", &reader) { try $0.readUnsigned() } }
        let type = NotificationType(rawValue: typeCode)
        let references: [Reference] = try Field.envelope {
            try r.optional(7, "refs", &reader) { reader in
                let n = try Field.array(&reader, count: 1...Self.maximumReferences)
                return try Field.elements(&reader, count: n) { reader in
                    let (id, relation) = try Field.pair(&reader, Field.messageID) { try Field.code(&$0, Relation.self) }
                    return Reference(messageID: id, relation: relation)
                }
            } ?? []
        }
        var contentError: ProtocolError?
        // Returned, not assigned to a captured variable: that copied the body twice more per decode.
        let body: NotificationBody? = try Field.envelope {
            try r.required(8, "body", &reader) { reader in
                let start = reader
                guard try reader.peekMajorType() == 5 else {
                    throw ProtocolError(.malformed, "the body (key 8) must be a map")
                }
                if let type {
                    do {
                        return try NotificationBody(type: type, from: &reader)
                    } catch var error as ProtocolError where error.rejectionCode == .invalidBody {
                        error.field = Field.join("body", error.field)
                        contentError = error
                    }
                }
                // Passed over, so that the rest of the envelope is checked before the body decides.
                reader = start
                _ = try reader.readItem()
                return nil
            }
        }
        let remarks = try Field.envelope {
            try r.optional(9, "remarks", &reader) {
                try LocalizedText(from: &$0, maximumLength: Self.maximumRemarksLength)
            }
        }
        try Field.envelope { try r.finish() }
        try Field.structure { try reader.finish() }
        try Self.checkStructure(
            sender: identity.sender,
            recipients: identity.recipients,
            references: references,
            remarks: remarks
        )
        guard type != nil else {
            throw ProtocolError(
                .unknownType,
                field: "type",
                "notification type \(typeCode) is not in the version 1 catalogue"
            )
        }
        // Consumed, not bound by `guard let`: that copied the body once more.
        guard contentError == nil, case .some(let decodedBody) = consume body else {
            return .invalidContent(identity, contentError!)
        }
        let envelope = Envelope(identity, body: decodedBody, references: references, remarks: remarks)
        do {
            try envelope.validateContent()
        } catch let error as ProtocolError {
            return .invalidContent(identity, error)
        }
        return .valid(envelope)
    }

    /// The deterministic encoding: the payload of the message's COSE_Sign1.
    public var encoded: [UInt8] {
        var w = CBORWriter(capacity: 256)
        w.writeMapHeader(7 + (references.isEmpty ? 0 : 1) + (remarks == nil ? 0 : 1))
        w.writeUnsigned(1)
        w.writeUnsigned(Self.version)
        w.writeUnsigned(2)
        w.writeByteString(id.bytes)
        w.writeUnsigned(3)
        w.writeTextString(sender.rawValue)
        w.writeUnsigned(4)
        w.writeArrayHeader(recipients.count)
        for recipient in recipients {
            w.writeArrayHeader(2)
            w.writeTextString(recipient.participant.rawValue)
            w.writeUnsigned(recipient.sequence)
        }
        w.writeUnsigned(5)
        w.write(created)
        w.writeUnsigned(6)
        w.write(code: type)
        if !references.isEmpty {
            w.writeUnsigned(7)
            w.writeArrayHeader(references.count)
            for reference in references {
                w.writeArrayHeader(2)
                w.writeByteString(reference.messageID.bytes)
                w.write(code: reference.relation)
            }
        }
        w.writeUnsigned(8)
        body.write(to: &w)
        if let remarks {
            w.writeUnsigned(9)
            remarks.write(to: &w)
        }
        return w.bytes
    }

    /// The envelope as a CBOR item (for diagnostic notation and tests).
    public var cbor: CBOR { try! CBOR(decoding: encoded) }

    /// Checks every rule of SPEC.md and NOTIFICATIONS.md that the envelope alone can decide, with
    /// the codes a receiver gives (a sender signs nothing a receiver rejects for its content).
    public func validate() throws {
        try Self.checkStructure(sender: sender, recipients: recipients, references: references, remarks: remarks)
        try validateContent()
        try Field.named("body") { try body.validateFields() }
    }

    /// The envelope structure beyond each field's own (SPEC.md §6.1, §6.2): `malformed`.
    static func checkStructure(
        sender: ParticipantID,
        recipients: [Recipient],
        references: [Reference],
        remarks: LocalizedText?
    ) throws {
        guard (1...Self.maximumRecipients).contains(recipients.count) else {
            throw ProtocolError(
                .malformed,
                field: "recipients",
                "1…\(Self.maximumRecipients) recipients are required, found \(recipients.count)"
            )
        }
        for (i, recipient) in recipients.enumerated() {
            guard recipient.sequence >= 1 else {
                throw ProtocolError(.malformed, field: "recipients[\(i)][1]", "sequence numbers start at 1")
            }
            guard recipient.participant != sender else {
                throw ProtocolError(
                    .malformed,
                    field: "recipients[\(i)]",
                    "the sender \(sender) cannot be its own recipient"
                )
            }
            if i > 0 {
                let previous = recipients[i - 1].participant
                guard previous != recipient.participant else {
                    throw ProtocolError(
                        .malformed,
                        field: "recipients[\(i)]",
                        "recipient \(recipient.participant) is listed twice"
                    )
                }
                guard previous < recipient.participant else {
                    throw ProtocolError(
                        .malformed,
                        field: "recipients[\(i)]",
                        "recipients must be sorted by participant id; \(recipient.participant) comes before \(previous)"
                    )
                }
            }
        }
        guard references.count <= Self.maximumReferences else {
            throw ProtocolError(
                .malformed,
                field: "refs",
                "at most \(Self.maximumReferences) references, found \(references.count)"
            )
        }
        if Set(references).count != references.count {
            throw ProtocolError(.malformed, field: "refs", "the same reference (message id and relation) appears twice")
        }
        if let remarks {
            try Field.envelope {
                try Field.named("remarks") { try Field.checkText(remarks.text, maximum: Self.maximumRemarksLength) }
            }
        }
    }

    /// The type's reference rules and the body's rules relative to the creation time: `invalid-body`.
    private func validateContent() throws {
        try validateReferences()
        try Field.named("body") { try body.validateTiming(created: created) }
    }

    private func validateReferences() throws {
        let required = body.requiredRelation
        if let required {
            let count = references.filter { $0.relation == required }.count
            guard count == 1 else {
                throw ProtocolError(
                    .invalidField,
                    field: "refs",
                    "a \(type) needs exactly one reference with relation \(required), found \(count)"
                )
            }
        }
        for (i, reference) in references.enumerated()
        where reference.relation != required && reference.relation != .respondsTo {
            throw ProtocolError(
                .invalidField,
                field: "refs[\(i)]",
                "a \(type) may not reference another message with relation \(reference.relation)"
            )
        }
        if type == .postLaunchReport && references.count > 1 {
            throw ProtocolError(
                .invalidField,
                field: "refs",
                "a post-launch report responds to at most one message, found \(references.count) references"
            )
        }
    }
}

extension Envelope {
    /// SPEC.md §9.1 step 4: the whole payload decodes as one deterministic CBOR item within the
    /// limits of §4.3, and names the message's id (key 2) and sender (key 3). Throws `too-large`
    /// or `malformed` with the real reason (which fault, at which byte).
    public static func identify(payload: [UInt8]) throws -> (id: MessageID, sender: ParticipantID) {
        let item: CBOR
        do { item = try CBOR(decoding: payload) } catch let error as CodecError {
            throw Field.decoding(error, of: "the payload")
        }
        guard case .map(let map) = item else {
            throw ProtocolError(.malformed, "the payload is a CBOR \(item.kindName), not a map (the envelope)")
        }
        guard case .byteString(let bytes)? = map[2], let id = try? MessageID(bytes: bytes) else {
            throw ProtocolError(.malformed, field: "id", "the payload has no 16-byte message id at key 2")
        }
        guard case .textString(let text)? = map[3], let sender = try? ParticipantID(text) else {
            throw ProtocolError(
                .malformed,
                field: "sender",
                "the payload has no participant id (SPEC.md §8.1) at key 3"
            )
        }
        return (id, sender)
    }

    /// The envelope's keys 1–5: version, id, sender, recipients and creation time, which a receiver
    /// needs whether or not the body is valid (SPEC.md §9.1 steps 14–16).
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

        init(reading reader: inout CBORReader, fields r: inout FieldReader) throws {
            let version = try r.required(1, "version", &reader) { try $0.readUnsigned() }
            guard version == Envelope.version else {
                throw ProtocolError(
                    .unsupportedVersion,
                    field: "version",
                    "protocol version \(version) is not supported; this node speaks version 1"
                )
            }
            id = try r.required(2, "id", &reader, Field.messageID)
            sender = try r.required(3, "sender", &reader, Field.participant)
            recipients = try r.required(4, "recipients", &reader) { reader in
                let n = try Field.array(&reader, count: 1...Envelope.maximumRecipients)
                return try Field.elements(&reader, count: n) { reader in
                    let (participant, sequence) = try Field.pair(&reader, Field.participant) {
                        try Field.uint(&$0, 1...UInt64.max)
                    }
                    return Recipient(participant: participant, sequence: sequence)
                }
            }
            created = try r.required(5, "created", &reader, Field.time)
        }
    }
}
