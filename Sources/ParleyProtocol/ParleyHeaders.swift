import ParleyCodec
import ParleyCrypto

/// The two header buckets of a Parley object (SPEC.md §5.1, §5.2): the certificate chain in the
/// unprotected header, and its SHA-256 with alg and content type in the protected header.
public struct ParleyHeaders: Sendable, Hashable {
    /// The encoded protected header (the bytes that are signed).
    public let protected: [UInt8]
    public let unprotected: CBORMap

    public init(algorithm: Int, contentType: String, chain: X5Chain) {
        protected = ProtectedHeader(algorithm: algorithm, contentType: contentType,
                                    chainDigest: Digest.sha256(chain.encoded)).encoded
        unprotected = [.integer(X5Chain.label): chain.item]
    }

    /// A COSE_Sign1 with these headers.
    public func object(payload: [UInt8], signature: [UInt8]) -> COSESign1 {
        COSESign1(protectedHeader: protected, unprotectedHeader: unprotected, payload: payload, signature: signature)
    }
}
