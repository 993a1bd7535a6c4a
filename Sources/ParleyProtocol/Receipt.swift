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

    public init(
        messageID: MessageID,
        digest: [UInt8],
        recipient: ParticipantID,
        sender: ParticipantID,
        received: UTCTime,
        status: Status
    ) {
        self.messageID = messageID
        self.digest = digest
        self.recipient = recipient
        self.sender = sender
        self.received = received
        self.status = status
    }

    public init(decoding bytes: [UInt8]) throws {
        var reader = try Field.structure { try CBORReader(bytes) }
        var r = try FieldReader(&reader)
        let version = try r.required(1, "version", &reader) { try $0.readUnsigned() }
        guard version == Envelope.version else {
            throw ProtocolError(
                .unsupportedVersion,
                field: "version",
                "receipt version \(version) is not supported; this node speaks version 1"
            )
        }
        messageID = try r.required(2, "message-id", &reader, Field.messageID)
        digest = try r.required(3, "digest", &reader) { reader in
            let bytes = try reader.readByteString()
            guard bytes.count == 32 else {
                throw ProtocolError(.invalidField, "must be a 32-byte SHA-256 digest, found \(bytes.count) bytes")
            }
            return bytes
        }
        recipient = try r.required(4, "recipient", &reader, Field.participant)
        sender = try r.required(5, "sender", &reader, Field.participant)
        received = try r.required(6, "received", &reader, Field.time)
        let statusCode = try r.required(7, "status", &reader) { try Field.code(&$0, ReceiptStatusCode.self) }
        let rejection = try r.optional(8, "rejection", &reader) { reader in
            try Field.pair(
                &reader,
                { try Field.code(&$0, RejectionCode.self) },
                { try Field.text(&$0, Self.maximumReasonLength) }
            )
        }
        try r.finish()
        try Field.structure { try reader.finish() }
        switch (statusCode, rejection) {
        case (.accepted, nil): status = .accepted
        case (.duplicate, nil): status = .duplicate
        case (.rejected, let (code, reason)?): status = .rejected(code, reason: reason)
        case (.rejected, nil):
            throw ProtocolError(
                .missingField,
                field: "rejection",
                "a rejected receipt must carry a rejection code and reason"
            )
        default:
            throw ProtocolError(.invalidField, field: "rejection", "only a rejected receipt carries a rejection")
        }
    }

    /// The deterministic encoding: the payload of the receipt's COSE_Sign1.
    public var encoded: [UInt8] {
        var w = CBORWriter(capacity: 128)
        var reason: (RejectionCode, String)? = nil
        if case .rejected(let code, let text) = status { reason = (code, text) }
        w.writeMapHeader(reason == nil ? 7 : 8)
        w.writeUnsigned(1)
        w.writeUnsigned(Envelope.version)
        w.writeUnsigned(2)
        w.writeByteString(messageID.bytes)
        w.writeUnsigned(3)
        w.writeByteString(digest)
        w.writeUnsigned(4)
        w.writeTextString(recipient.rawValue)
        w.writeUnsigned(5)
        w.writeTextString(sender.rawValue)
        w.writeUnsigned(6)
        w.write(received)
        w.writeUnsigned(7)
        w.write(code: status.code)
        if let (code, text) = reason {
            w.writeUnsigned(8)
            w.writeArrayHeader(2)
            w.write(code: code)
            w.writeTextString(text)
        }
        return w.bytes
    }

    /// The receipt as a CBOR item (for diagnostic notation and tests).
    public var cbor: CBOR { try! CBOR(decoding: encoded) }

    public func validate() throws {
        guard digest.count == 32 else {
            throw ProtocolError(.invalidField, field: "digest", "must be a 32-byte SHA-256 digest")
        }
        if case .rejected(_, let reason) = status {
            try Field.named("rejection[1]") { try Field.checkText(reason, maximum: Self.maximumReasonLength) }
        }
    }
}
