import Foundation
import ParleyCodec
import ParleyCrypto

/// A node's signing key with its certificate chain: what signs its messages and receipts.
public struct SigningIdentity: Sendable {
    public let key: PrivateKey
    /// Leaf first, then intermediates; the trust anchor is not included.
    public let chain: [Certificate]
    /// The participant id bound in the leaf certificate.
    public let participantID: ParticipantID
    /// The headers of messages and receipts: the same for every object signed.
    private let messageHeaders: ParleyHeaders
    private let receiptHeaders: ParleyHeaders

    public init(key: PrivateKey, chain: [Certificate]) throws {
        guard let leaf = chain.first else {
            throw ProtocolError(
                .invalidSigningIdentity,
                "the certificate chain is empty; give the signing certificate first, then its issuing CAs"
            )
        }
        guard chain.count <= X5Chain.maximumLength else {
            throw ProtocolError(
                .invalidSigningIdentity,
                "the chain has \(chain.count) certificates; at most \(X5Chain.maximumLength) fit in x5chain (leave the root out)"
            )
        }
        guard leaf.publicKey == key.publicKey else {
            throw ProtocolError(
                .invalidSigningIdentity,
                "the private key does not belong to the first certificate of the chain (\(leaf.subject))"
            )
        }
        guard let id = leaf.participantID, let participantID = try? ParticipantID(id) else {
            throw ProtocolError(
                .invalidSigningIdentity,
                "certificate \(leaf.subject) binds no participant id (SAN URI urn:parley:participant:<ID>)"
            )
        }
        self.key = key
        self.chain = chain
        self.participantID = participantID
        let x5chain: X5Chain
        do { x5chain = try X5Chain(chain.map(\.derEncoded)) } catch let error as CodecError {
            throw ProtocolError(
                .invalidSigningIdentity,
                "the certificate chain cannot be sent as x5chain: \(error.reason)"
            )
        }
        messageHeaders = ParleyHeaders(
            algorithm: key.algorithm.rawValue,
            contentType: ContentType.message,
            chain: x5chain
        )
        receiptHeaders = ParleyHeaders(
            algorithm: key.algorithm.rawValue,
            contentType: ContentType.receipt,
            chain: x5chain
        )
    }

    /// Loads a private key (PKCS#8 PEM, mode 0600 or stricter) and a PEM chain file.
    public static func load(keyPath: String, chainPath: String, passphrase: String? = nil) throws -> SigningIdentity {
        try SigningIdentity(
            key: try PrivateKey.load(path: keyPath, passphrase: passphrase),
            chain: try Certificate.load(path: chainPath)
        )
    }

    /// Validates `envelope` and signs it as a Parley message: the exact bytes to store and send.
    public func sign(_ envelope: Envelope) throws -> [UInt8] {
        guard envelope.sender == participantID else {
            throw ProtocolError(
                .participantMismatch,
                field: "sender",
                "this node signs as \(participantID), but the envelope names \(envelope.sender) as sender"
            )
        }
        try envelope.validate()
        let signed = try sign(payload: envelope.encoded, contentType: ContentType.message)
        guard signed.count <= MessageVerifier.maximumSize else {
            throw ProtocolError(
                .tooLarge,
                "the signed message is \(signed.count) bytes; receivers accept at most \(MessageVerifier.maximumSize) (SPEC.md §4.3): shorten the text"
            )
        }
        return signed
    }

    /// Signs a receipt issued by this node.
    public func sign(_ receipt: Receipt) throws -> [UInt8] {
        guard receipt.recipient == participantID else {
            throw ProtocolError(
                .participantMismatch,
                field: "recipient",
                "this node signs as \(participantID), but the receipt names \(receipt.recipient) as its recipient"
            )
        }
        try receipt.validate()
        return try sign(payload: receipt.encoded, contentType: ContentType.receipt)
    }

    func sign(payload: [UInt8], contentType: String) throws -> [UInt8] {
        let headers = contentType == ContentType.receipt ? receiptHeaders : messageHeaders
        let toBeSigned = COSESign1.toBeSigned(protectedHeader: headers.protected, payload: payload)
        return headers.encoded(payload: payload, signature: try key.signature(for: toBeSigned))
    }
}

/// The content types of Parley's COSE_Sign1 objects (SPEC.md §5.2).
public enum ContentType {
    public static let message = "application/parley-message+cbor"
    public static let receipt = "application/parley-receipt+cbor"
}
