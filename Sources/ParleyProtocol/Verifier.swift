import Foundation
import ParleyCodec
import ParleyCrypto

/// A message whose signature, certificate chain, participant binding and content have been checked.
public struct VerifiedMessage: Sendable {
    /// The exact bytes received.
    public let bytes: [UInt8]
    /// SHA-256 of `bytes`: what receipts carry (computed when asked for: a receiver has it already).
    public var digest: [UInt8] { Digest.sha256(bytes) }
    public let envelope: Envelope
    public let algorithm: SignatureAlgorithm
    public let signer: VerifiedChain
}

/// A receipt whose signature, chain and participant binding have been checked.
public struct VerifiedReceipt: Sendable {
    public let bytes: [UInt8]
    public let receipt: Receipt
    public let algorithm: SignatureAlgorithm
    public let signer: VerifiedChain
}

/// What a receipt must answer: the message that was sent, as the sender knows it.
public struct SentMessage: Sendable {
    public let id: MessageID
    public let digest: [UInt8]
    public let sender: ParticipantID
    public let created: UTCTime
    public let recipients: [ParticipantID]

    public init(id: MessageID, digest: [UInt8], sender: ParticipantID, created: UTCTime, recipients: [ParticipantID]) {
        self.id = id
        self.digest = digest
        self.sender = sender
        self.created = created
        self.recipients = recipients
    }

    public init(_ message: VerifiedMessage) {
        self.init(
            id: message.envelope.id,
            digest: message.digest,
            sender: message.envelope.sender,
            created: message.envelope.created,
            recipients: message.envelope.recipients.map(\.participant)
        )
    }
}

/// The one entry point that turns received bytes into authenticated Parley content (SPEC.md §9).
///
/// Safe to use from many tasks at once; CRLs are refreshed by replacing the trust store in `trust`.
public struct MessageVerifier: Sendable {
    public static let maximumSize = 262_144

    public let trust: TrustStoreReference
    private let certificates = CertificateCache()

    /// Verifies against the trust store `trust` holds at each call, and with its clock skew
    /// allowance: replacing the store (a reload) changes both.
    public init(trust: TrustStoreReference) {
        self.trust = trust
    }

    public init(trust: TrustStore) {
        self.init(trust: TrustStoreReference(trust))
    }

    /// Seconds a message's creation time may lie ahead of the verification time (SPEC.md §9.1 δ):
    /// the current trust store's `maximumClockSkew`, which also bounds certificate and CRL times.
    public var maximumClockSkew: Int64 {
        Int64(trust.current.maximumClockSkew)
    }

    /// Verifies `bytes` as a Parley message received at `time` (SPEC.md §9.1 steps 1–4 and 6–17;
    /// the steps that need the store are the caller's). With `recipient`, the message must be
    /// addressed to it. The first failing step decides the error, as SPEC.md orders them.
    public func verifyMessage(
        _ bytes: [UInt8],
        at time: UTCTime,
        recipient: ParticipantID? = nil
    ) throws -> VerifiedMessage {
        try verifyMessage(try Self.identify(bytes), bytes, at: time, recipient: recipient)
    }

    /// Verifies `bytes`, already identified by `identify(bytes)` (a receiver identifies a message
    /// before its duplicate check, SPEC.md §9.1 step 5), from step 6 on.
    public func verifyMessage(
        _ identified: Identified,
        _ bytes: [UInt8],
        at time: UTCTime,
        recipient: ParticipantID? = nil
    ) throws -> VerifiedMessage {
        do {
            return try verifyIdentifiedMessage(
                bytes,
                try identified.object.get(),
                sender: identified.sender,
                at: time,
                recipient: recipient
            )
        } catch var error as ProtocolError {
            error.messageID = identified.id
            error.sender = identified.sender
            throw error
        }
    }

    /// A message identified by SPEC.md §9.1 steps 1–4.
    public struct Identified: Sendable {
        public var id: MessageID
        public var sender: ParticipantID
        /// The COSE_Sign1, or why its elements other than the payload are not what RFC 9052 says
        /// (a `malformed` verdict of step 6, given once the message is identified).
        var object: Result<COSESign1, ProtocolError>
    }

    /// SPEC.md §9.1 steps 1–4, shared by every receiver and verifier: the size, the message and
    /// its payload each decoded whole within the limits, and the id and sender. Throws `too-large`
    /// or `malformed`, whose reason names the fault and where it is: a node answers these with an
    /// HTTP problem, as no receipt can name the message.
    public static func identify(_ bytes: [UInt8]) throws -> Identified {
        guard bytes.count <= maximumSize else {
            throw ProtocolError(.tooLarge, "\(bytes.count) bytes exceed the limit of \(maximumSize) bytes")
        }
        let object: Result<COSESign1, ProtocolError>
        let payload: [UInt8]
        do {
            let decoded = try COSESign1(decoding: bytes, profile: .rfc9052)
            (object, payload) = (.success(decoded), decoded.payload)
        } catch let error as CodecError where error.code == .notCOSESign1 {
            // Step 3 needs only tag 18 around four elements whose third is a byte string.
            guard case .tagged(COSESign1.tag, .array(let items))? = try? CBOR(decoding: bytes), items.count == 4,
                case .byteString(let bytes) = items[2]
            else { throw Field.decoding(error, of: "the message") }
            (object, payload) = (.failure(Field.decoding(error, of: "the message")), bytes)
        } catch let error as CodecError {
            throw Field.decoding(error, of: "the message")
        }
        let (id, sender) = try Envelope.identify(payload: payload)
        return Identified(id: id, sender: sender, object: object)
    }

    private func verifyIdentifiedMessage(
        _ bytes: [UInt8],
        _ object: COSESign1,
        sender: ParticipantID,
        at time: UTCTime,
        recipient: ParticipantID?
    ) throws -> VerifiedMessage {
        // Step 6: the COSE_Sign1 profile.
        do { try object.checkParleyUnprotectedHeader() } catch let error as CodecError {
            var failure = Field.decoding(error, of: "the unprotected header")
            failure.field = "unprotected"
            throw failure
        }
        let header = try decodeHeader(object, expecting: ContentType.message)
        // Steps 7–8: version, envelope structure and type; the inside of the body waits for step 17.
        let decoded = try Envelope.decode(object.payload)
        let identity = decoded.identity
        // Steps 9–14: signature, chain, revocation, participant binding.
        let (algorithm, signer) = try authenticate(object, header, at: time)
        guard signer.participantID == sender.rawValue else {
            throw ProtocolError(
                .participantMismatch,
                field: "sender",
                "the message names \(sender) as sender but is signed with a certificate of \(signer.participantID) (\(signer.leaf.subject)): a valid signature by another participant is a forgery"
            )
        }
        // Steps 15–17: addressing, time, content.
        if let recipient, !identity.recipients.contains(where: { $0.participant == recipient }) {
            throw ProtocolError(
                .notARecipient,
                field: "recipients",
                "the message is addressed to \(identity.recipients.map(\.participant.rawValue).joined(separator: ", ")), not to \(recipient)"
            )
        }
        let skew = maximumClockSkew
        guard identity.created.secondsSince1970 <= time.secondsSince1970 + skew else {
            throw ProtocolError(
                .clockSkew,
                field: "created",
                "created \(identity.created) is more than \(skew) s after the verification time \(time): the sender's clock runs ahead of the verifier's, or the verification time is too early"
            )
        }
        if let error = decoded.contentError { throw error }
        return VerifiedMessage(bytes: bytes, envelope: decoded.envelope!, algorithm: algorithm, signer: signer)
    }

    /// Verifies `bytes` as a receipt at `time` (SPEC.md §9.2). With `message` and `recipient`, the
    /// receipt must answer that message and come from that recipient.
    public func verifyReceipt(
        _ bytes: [UInt8],
        at time: UTCTime,
        for message: SentMessage? = nil,
        from recipient: ParticipantID? = nil
    ) throws -> VerifiedReceipt {
        let object = try decodeObject(bytes)
        let header = try decodeHeader(object, expecting: ContentType.receipt)
        let receipt: Receipt
        do { receipt = try Receipt(decoding: object.payload) } catch var error as ProtocolError {
            error.code = error.code == .unsupportedVersion ? error.code : .malformed
            throw error
        }
        do {
            let (algorithm, signer) = try authenticate(object, header, at: time)
            guard signer.participantID == receipt.recipient.rawValue else {
                throw ProtocolError(
                    .participantMismatch,
                    field: "recipient",
                    "the receipt names \(receipt.recipient) as recipient but is signed with a certificate of \(signer.participantID) (\(signer.leaf.subject))"
                )
            }
            if let recipient, receipt.recipient != recipient {
                throw ProtocolError(
                    .receiptMismatch,
                    field: "recipient",
                    "the receipt comes from \(receipt.recipient), but the message was delivered to \(recipient)"
                )
            }
            if let message {
                // SPEC.md §9.2 step 6: the signer is a recipient, except in the one receipt that says
                // it is not (a not-a-recipient rejection, §9.1 step 15), whose signer must not be one.
                let isRecipient = message.recipients.contains(receipt.recipient)
                if case .rejected(.notARecipient, _) = receipt.status {
                    guard !isRecipient else {
                        throw ProtocolError(
                            .receiptMismatch,
                            field: "rejection",
                            "\(receipt.recipient) rejects message \(message.id) as not addressed to it, but it is one of the message's recipients"
                        )
                    }
                } else {
                    guard isRecipient else {
                        throw ProtocolError(
                            .receiptMismatch,
                            field: "recipient",
                            "\(receipt.recipient) is not a recipient of message \(message.id)"
                        )
                    }
                }
                guard receipt.messageID == message.id else {
                    throw ProtocolError(
                        .receiptMismatch,
                        field: "message-id",
                        "the receipt is for message \(receipt.messageID), not \(message.id)"
                    )
                }
                guard receipt.sender == message.sender else {
                    throw ProtocolError(
                        .receiptMismatch,
                        field: "sender",
                        "the receipt names sender \(receipt.sender), the message was sent by \(message.sender)"
                    )
                }
                guard receipt.digest == message.digest else {
                    throw ProtocolError(
                        .receiptMismatch,
                        field: "digest",
                        "the receipt's digest is not SHA-256 of the bytes sent: \(receipt.recipient) received (or claims to have received) other bytes; report this"
                    )
                }
                if receipt.status.code != .rejected {
                    guard receipt.received.secondsSince1970 + maximumClockSkew >= message.created.secondsSince1970
                    else {
                        throw ProtocolError(
                            .receiptMismatch,
                            field: "received",
                            "the receipt says the message was received at \(receipt.received), before it was created (\(message.created))"
                        )
                    }
                }
            }
            return VerifiedReceipt(bytes: bytes, receipt: receipt, algorithm: algorithm, signer: signer)
        } catch var error as ProtocolError {
            error.messageID = receipt.messageID
            error.sender = receipt.sender
            throw error
        }
    }

    // MARK: Shared steps

    private func decodeObject(_ bytes: [UInt8]) throws -> COSESign1 {
        guard bytes.count <= Self.maximumSize else {
            throw ProtocolError(.tooLarge, "\(bytes.count) bytes exceed the limit of \(Self.maximumSize) bytes")
        }
        do {
            return try COSESign1(decoding: bytes)
        } catch let error as CodecError {
            switch error.code {
            case .depthLimitExceeded, .itemLimitExceeded, .inputTooLarge, .headerLimitExceeded:
                throw ProtocolError(.tooLarge, error.description)
            default:
                throw ProtocolError(.malformed, error.description)
            }
        }
    }

    private func decodeHeader(_ object: COSESign1, expecting contentType: String) throws -> ProtectedHeader {
        let header: ProtectedHeader
        do {
            header = try ProtectedHeader(decoding: object.protectedHeader)
        } catch let error as CodecError {
            var failure = Field.decoding(error, of: "the protected header")
            failure.field = "protected"
            throw failure
        }
        guard header.contentType == contentType else {
            throw ProtocolError(
                .malformed,
                field: "protected",
                "content type is \"\(header.contentType)\"; expected \"\(contentType)\""
            )
        }
        guard SignatureAlgorithm(rawValue: header.algorithm) != nil else {
            throw ProtocolError(
                .unsupportedAlgorithm,
                field: "protected",
                "COSE algorithm \(header.algorithm) is not supported; Parley uses -8 (EdDSA), -7 (ES256) and -35 (ES384)"
            )
        }
        return header
    }

    private func authenticate(
        _ object: COSESign1,
        _ header: ProtectedHeader,
        at time: UTCTime
    ) throws -> (SignatureAlgorithm, VerifiedChain) {
        let x5chain: X5Chain
        do { x5chain = try object.certificateChain } catch let error as CodecError {
            throw ProtocolError(
                error.code == .headerLimitExceeded ? .tooLarge : .malformed,
                field: "unprotected.x5chain",
                error.description
            )
        }
        let chain = try certificates.chain(x5chain, signedDigest: header.chainDigest)
        let leaf = chain[0]
        let algorithm = SignatureAlgorithm(rawValue: header.algorithm)!
        guard leaf.publicKey.algorithm == algorithm else {
            throw ProtocolError(
                .badSignature,
                field: "protected.alg",
                "alg \(algorithm) does not match the \(leaf.publicKey.algorithm) key of \(leaf.subject)"
            )
        }
        guard ECDSALowS.isLowS(object.signature, algorithm: algorithm) else {
            throw ProtocolError(
                .badSignature,
                field: "signature",
                "ECDSA signature with s > n/2: Parley requires low-S signatures (SPEC.md §5.3)"
            )
        }
        guard leaf.publicKey.isValidSignature(object.signature, for: object.toBeSigned(), algorithm: algorithm) else {
            throw ProtocolError(
                .badSignature,
                field: "signature",
                "the \(algorithm) signature does not verify with the key of \(leaf.subject)"
            )
        }
        do {
            return (algorithm, try trust.current.verify(chain: chain, at: time.date, purpose: .messageSigning))
        } catch let error as ChainVerificationError {
            let code: ProtocolError.Code
            switch error.check {
            case .expired, .notYetValid: code = .certificateNotValidAtTime
            case .revoked: code = .certificateRevoked
            case .crlMissing, .crlExpired, .crlNotYetValid, .crlInvalid: code = .revocationUnavailable
            default: code = .untrustedCertificate
            }
            var failure = ProtocolError(code, field: "unprotected.x5chain", error.description)
            failure.chainDiagnostic = error
            throw failure
        }
    }
}
