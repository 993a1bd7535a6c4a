#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ParleyCodec
import ParleyCrypto
import Synchronization

/// Parsed certificate chains with the SHA-256 of their encoding, by their DER bytes, so that a
/// chain seen before is neither parsed nor hashed again: a peer sends the same x5chain with every
/// message. Bounded; when full it starts over.
final class CertificateCache: Sendable {
    struct Entry: Sendable {
        let certificates: [Certificate]
        /// SHA-256 of `X5Chain.encoded`, compared with the protected header's `x5chain-sha256`.
        let digest: [UInt8]
    }

    private let entries = Mutex<[Key: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 512) { self.capacity = capacity }

    /// The parsed chain, once its SHA-256 is `signedDigest` (SPEC.md §9.1 step 9): otherwise
    /// `bad-signature`; a certificate that does not parse is `untrusted-certificate` (or
    /// `unsupported-algorithm` for a key type Parley does not use).
    func chain(_ x5chain: X5Chain, signedDigest: [UInt8]) throws -> [Certificate] {
        let key = Key(certificates: x5chain.certificates)
        let entry: Entry
        if let cached = entries.withLock({ $0[key] }) {
            entry = cached
        } else {
            let digest = Digest.sha256(x5chain.encoded)
            guard digest == signedDigest else { throw Self.digestMismatch }
            let certificates: [Certificate]
            do {
                certificates = try x5chain.certificates.map { try Certificate(derEncoded: $0) }
            } catch let error as CryptoError {
                throw ProtocolError(
                    error.code == .unsupportedAlgorithm ? .unsupportedAlgorithm : .untrustedCertificate,
                    field: "unprotected.x5chain",
                    "a certificate of x5chain cannot be used: \(error)"
                )
            }
            entry = Entry(certificates: certificates, digest: digest)
            entries.withLock { entries in
                if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
                entries[key] = entry
            }
        }
        guard entry.digest == signedDigest else { throw Self.digestMismatch }
        return entry.certificates
    }

    private static var digestMismatch: ProtocolError {
        ProtocolError(
            .badSignature,
            field: "unprotected.x5chain",
            "the x5chain is not the chain the signer signed (its SHA-256 differs from the protected header's x5chain-sha256): it was changed after signing"
        )
    }

    /// DER chains as a dictionary key. Equality compares every byte; the hash reads only the
    /// lengths and the last 32 bytes of each certificate (inside its signature), which is enough to
    /// spread keys and much cheaper than hashing kilobytes byte by byte. A hostile collision only
    /// costs a compare.
    struct Key: Hashable, Sendable {
        let certificates: [[UInt8]]

        func hash(into hasher: inout Hasher) {
            hasher.combine(certificates.count)
            for der in certificates {
                hasher.combine(der.count)
                der.suffix(32).withUnsafeBytes { hasher.combine(bytes: $0) }
            }
        }

        static func == (lhs: Key, rhs: Key) -> Bool {
            guard lhs.certificates.count == rhs.certificates.count else { return false }
            for (a, b) in zip(lhs.certificates, rhs.certificates) {
                guard a.count == b.count else { return false }
                let equal =
                    a.isEmpty
                    || a.withUnsafeBytes { a in
                        b.withUnsafeBytes { b in memcmp(a.baseAddress!, b.baseAddress!, a.count) == 0 }
                    }
                guard equal else { return false }
            }
            return true
        }
    }
}
