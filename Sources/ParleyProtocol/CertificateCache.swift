import ParleyCrypto
import Synchronization

/// Parsed certificates by their DER bytes, so that a chain seen before is not parsed again: a peer
/// sends the same x5chain with every message. Bounded; when full it starts over.
final class CertificateCache: Sendable {
    private let entries = Mutex<[[UInt8]: Certificate]>([:])
    let capacity: Int

    init(capacity: Int = 512) { self.capacity = capacity }

    func certificate(_ der: [UInt8]) throws -> Certificate {
        if let cached = entries.withLock({ $0[der] }) { return cached }
        let certificate = try Certificate(derEncoded: der)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[der] = certificate
        }
        return certificate
    }
}
