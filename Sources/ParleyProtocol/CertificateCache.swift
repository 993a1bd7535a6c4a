import ParleyCrypto
import Synchronization

/// Parsed certificates by their DER bytes, so that a chain seen before is not parsed again: a peer
/// sends the same x5chain with every message. Bounded; when full it starts over.
final class CertificateCache: Sendable {
    private let entries = Mutex<[DER: Certificate]>([:])
    let capacity: Int

    init(capacity: Int = 512) { self.capacity = capacity }

    func certificate(_ der: [UInt8]) throws -> Certificate {
        let key = DER(bytes: der)
        if let cached = entries.withLock({ $0[key] }) { return cached }
        let certificate = try Certificate(derEncoded: der)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = certificate
        }
        return certificate
    }

    /// DER bytes as a dictionary key. Equality compares every byte; the hash reads only the length
    /// and the last 32 bytes (inside the certificate's signature), which is enough to spread keys
    /// and much cheaper than hashing a kilobyte byte by byte. A hostile collision only costs a compare.
    struct DER: Hashable, Sendable {
        let bytes: [UInt8]

        func hash(into hasher: inout Hasher) {
            hasher.combine(bytes.count)
            bytes.suffix(32).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }
}
