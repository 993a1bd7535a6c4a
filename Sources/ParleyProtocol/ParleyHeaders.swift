import ParleyCodec
import ParleyCrypto

/// The two header buckets of a Parley object (SPEC.md §5.1, §5.2): the certificate chain in the
/// unprotected header, and its SHA-256 with alg and content type in the protected header.
public struct ParleyHeaders: Sendable, Hashable {
    /// The encoded protected header (the bytes that are signed).
    public let protected: [UInt8]
    public let unprotected: CBORMap
    /// The deterministic encoding of `unprotected`.
    let encodedUnprotected: [UInt8]

    public init(algorithm: Int, contentType: String, chain: X5Chain) {
        let encodedChain = chain.encoded
        protected =
            ProtectedHeader(
                algorithm: algorithm,
                contentType: contentType,
                chainDigest: Digest.sha256(encodedChain)
            ).encoded
        unprotected = [.integer(X5Chain.label): chain.item]
        var writer = CBORWriter(capacity: encodedChain.count + 3)
        writer.writeMapHeader(1)
        writer.writeInteger(Int64(X5Chain.label))
        writer.writeEncoded(encodedChain)
        encodedUnprotected = writer.bytes
    }

    /// A COSE_Sign1 with these headers.
    public func object(payload: [UInt8], signature: [UInt8]) -> COSESign1 {
        COSESign1(protectedHeader: protected, unprotectedHeader: unprotected, payload: payload, signature: signature)
    }

    /// The encoding of `object(payload:signature:)`, written without re-encoding the headers.
    public func encoded(payload: [UInt8], signature: [UInt8]) -> [UInt8] {
        COSESign1.encode(
            protectedHeader: protected,
            encodedUnprotectedHeader: encodedUnprotected,
            payload: payload,
            signature: signature
        )
    }
}
