import ParleyCodec

/// The signed answer of a recipient to a message (SPEC.md, "Receipt").
public struct Receipt: Sendable, Hashable {
    public static let maximumReasonLength = 1_024

    public enum Status: Sendable, Hashable {
        case accepted
        /// The recipient already had this message (same id, same bytes).
        case duplicate
        case rejected(RejectionCode, reason: String)

        public var code: ReceiptStatusCode {
            switch self {
            case .accepted: return .accepted
            case .duplicate: return .duplicate
            case .rejected: return .rejected
            }
        }
    }

    public var messageID: MessageID
    /// SHA-256 of the exact COSE_Sign1 bytes received.
    public var digest: [UInt8]
    /// The receipt's signer.
    public var recipient: ParticipantID
    /// The sender named in the receipted message.
    public var sender: ParticipantID
    public var received: UTCTime
    public var status: Status

    public init(messageID: MessageID, digest: [UInt8], recipient: ParticipantID, sender: ParticipantID,
                received: UTCTime, status: Status) {
        self.messageID = messageID
        self.digest = digest
        self.recipient = recipient
        self.sender = sender
        self.received = received
        self.status = status
    }

    public init(decoding bytes: [UInt8]) throws {
        let item: CBOR
        do { item = try CBOR(decoding: bytes) } catch let error as CodecError { throw ProtocolError(error) }
        try self.init(cbor: item)
    }

    public init(cbor item: CBOR) throws {
        var r = try FieldReader(item, path: "")
        let version = try r.required(1, "version", Field.uint(0...UInt64.max))
        guard version == Envelope.version else {
            throw ProtocolError(.unsupportedVersion, field: "version", "receipt version \(version) is not supported; this node speaks version 1")
        }
        messageID = try r.required(2, "message-id", Field.messageID)
        digest = try r.required(3, "digest") { item, field in
            guard case .byteString(let bytes) = item, bytes.count == 32 else {
                throw ProtocolError(.invalidField, field: field, "must be a 32-byte SHA-256 digest")
            }
            return bytes
        }
        recipient = try r.required(4, "recipient", Field.participant)
        sender = try r.required(5, "sender", Field.participant)
        received = try r.required(6, "received", Field.time)
        let statusCode = try r.required(7, "status", Field.code(ReceiptStatusCode.self))
        let rejection = try r.optional(8, "rejection") { item, field -> (RejectionCode, String) in
            let pair = try Field.array(item, field, count: 2...2)
            return (try Field.code(RejectionCode.self)(pair[0], field + "[0]"),
                    try Field.text(Self.maximumReasonLength)(pair[1], field + "[1]"))
        }
        try r.finish()
        switch (statusCode, rejection) {
        case (.accepted, nil): status = .accepted
        case (.duplicate, nil): status = .duplicate
        case (.rejected, let (code, reason)?): status = .rejected(code, reason: reason)
        case (.rejected, nil):
            throw ProtocolError(.missingField, field: "rejection", "a rejected receipt must carry a rejection code and reason")
        default:
            throw ProtocolError(.invalidField, field: "rejection", "only a rejected receipt carries a rejection")
        }
        try validate()
    }

    public func validate() throws {
        guard digest.count == 32 else {
            throw ProtocolError(.invalidField, field: "digest", "must be a 32-byte SHA-256 digest")
        }
        if case .rejected(_, let reason) = status {
            try Field.checkText(reason, maximum: Self.maximumReasonLength, field: "rejection[1]")
        }
    }

    public var cbor: CBOR {
        var map: CBORMap = [
            1: .unsignedInteger(Envelope.version),
            2: .byteString(messageID.bytes),
            3: .byteString(digest),
            4: .textString(recipient.rawValue),
            5: .textString(sender.rawValue),
            6: received.cbor,
            7: .unsignedInteger(status.code.rawValue),
        ]
        if case .rejected(let code, let reason) = status {
            map[8] = [.unsignedInteger(code.rawValue), .textString(reason)]
        }
        return .map(map)
    }

    /// The deterministic encoding: the payload of the receipt's COSE_Sign1.
    public var encoded: [UInt8] { CBOREncoder.encode(cbor) }
}
