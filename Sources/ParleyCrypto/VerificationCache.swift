import Foundation
import Synchronization

/// Successful chain verifications of one `TrustStore`, each with the time window in which it holds.
/// Bounded; the oldest entry is replaced first.
final class VerificationCache: Sendable {
    struct Key: Hashable, Sendable {
        /// The SHA-256 fingerprints of the chain's certificates, in order.
        var fingerprints: [UInt8]
        var purpose: CertificatePurpose

        init(chain: [Certificate], purpose: CertificatePurpose) {
            var fingerprints: [UInt8] = []
            fingerprints.reserveCapacity(32 * chain.count)
            for certificate in chain { fingerprints.append(contentsOf: certificate.sha256Fingerprint) }
            self.fingerprints = fingerprints
            self.purpose = purpose
        }

        init(fingerprints: [UInt8], purpose: CertificatePurpose) {
            self.fingerprints = fingerprints
            self.purpose = purpose
        }

        /// The fingerprints are SHA-256 values, so their first eight bytes spread keys as well as all
        /// of them would, at an eighth of the cost of hashing the array byte by byte; equality still
        /// compares every byte.
        func hash(into hasher: inout Hasher) {
            hasher.combine(fingerprints.count)
            hasher.combine(purpose)
            fingerprints.prefix(8).withUnsafeBytes { hasher.combine(bytes: $0) }
        }
    }

    private struct Entry {
        var result: VerifiedChain
        var window: Range<Date>
    }

    private struct State: ~Copyable {
        var entries: [Key: Entry] = [:]
        var slots: [Key?]
        var nextSlot = 0
    }

    private let state: Mutex<State>
    let capacity: Int

    init(capacity: Int) {
        self.capacity = max(0, capacity)
        self.state = Mutex(State(slots: Array(repeating: nil, count: max(0, capacity))))
    }

    func lookup(_ key: Key, at time: Date) -> VerifiedChain? {
        guard capacity > 0 else { return nil }
        return state.withLock { state in
            guard let entry = state.entries[key], entry.window.contains(time) else { return nil }
            return entry.result
        }
    }

    func insert(_ key: Key, _ result: VerifiedChain, validDuring window: Range<Date>) {
        guard capacity > 0 else { return }
        state.withLock { state in
            if state.entries[key] != nil {
                state.entries[key] = Entry(result: result, window: window)
                return
            }
            if let evicted = state.slots[state.nextSlot] {
                state.entries[evicted] = nil
            }
            state.slots[state.nextSlot] = key
            state.nextSlot = (state.nextSlot + 1) % capacity
            state.entries[key] = Entry(result: result, window: window)
        }
    }

    func removeAll() {
        state.withLock { state in
            state.entries.removeAll(keepingCapacity: true)
            state.slots = Array(repeating: nil, count: capacity)
            state.nextSlot = 0
        }
    }

    var count: Int {
        state.withLock { $0.entries.count }
    }
}

/// A trust store that can be replaced at run time (for example after fetching new CRLs) while many
/// tasks verify with it. Readers take the current store and verify without holding the lock.
public final class TrustStoreReference: Sendable {
    private let store: Mutex<TrustStore>

    public init(_ store: TrustStore) {
        self.store = Mutex(store)
    }

    public var current: TrustStore {
        store.withLock { $0 }
    }

    public func replace(with newStore: TrustStore) {
        store.withLock { $0 = newStore }
    }
}
