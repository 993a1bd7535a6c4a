import Foundation
internal import COpenSSL

/// Every complete CRL a verifier holds, grouped by CA, so that a chain can be validated at any
/// past time with the CRL that was authoritative then (SPEC.md §8.4, RFC 5280 §6.3, ETSI EN 319
/// 102-1's validation at a past time).
struct CRLHistory: Sendable {
    /// All complete CRLs, each once, in the order given.
    let all: [CertificateRevocationList]
    /// Indices into `all`, one group per CA (same issuer name and authority key identifier).
    let groups: [[Int]]
    /// Compromise entries (SPEC.md §8.4) by serial number: which CRL lists them, and the entry.
    let compromises: [String: [(crl: Int, entry: RevokedCertificate)]]

    init(_ crls: [CertificateRevocationList]) {
        var all: [CertificateRevocationList] = []
        // Delta CRLs are not used (SPEC.md §8.4): a CA whose only CRL is a delta has no current CRL.
        for crl in crls where !crl.isDelta && !all.contains(crl) {
            all.append(crl)
        }
        var groups: [[Int]] = []
        for index in all.indices {
            if let group = groups.firstIndex(where: { all[$0[0]].hasSameIssuer(as: all[index]) }) {
                groups[group].append(index)
            } else {
                groups.append([index])
            }
        }
        var compromises: [String: [(crl: Int, entry: RevokedCertificate)]] = [:]
        for (index, crl) in all.enumerated() {
            for entry in crl.entries where entry.reason.isCompromise {
                compromises[entry.serialNumberHex, default: []].append((index, entry))
            }
        }
        self.all = all
        self.groups = groups
        self.compromises = compromises
    }

    /// Per CA, the newest CRL (highest cRLNumber, or latest thisUpdate without one).
    var newest: [CertificateRevocationList] {
        groups.map { all[newest(of: $0)] }
    }

    /// The index among `indices` (not empty, one CA's) of the CRL that supersedes the others.
    private func newest(of indices: [Int]) -> Int {
        indices.dropFirst().reduce(indices[0]) { all[$1].supersedes(all[$0]) ? $1 : $0 }
    }

    /// The CRL of each CA to use at `time` (indices into `all`): the authoritative one, which is the
    /// newest of those current at `time` (`thisUpdate ≤ time + skew`, `time ≤ nextUpdate`). A CA
    /// with none current still gets one, so that the verdict names what is wrong: the latest
    /// already issued (it has expired), or else the earliest (it is not yet valid).
    func selection(at time: Date, skew: TimeInterval) -> [Int] {
        groups.map { group in
            let current = group.filter {
                all[$0].thisUpdate.addingTimeInterval(-skew) <= time && time <= all[$0].nextUpdate
            }
            if !current.isEmpty { return newest(of: current) }
            let issued = group.filter { all[$0].thisUpdate.addingTimeInterval(-skew) <= time }
            if let first = issued.first {
                return issued.dropFirst().reduce(first) { all[$1].thisUpdate > all[$0].thisUpdate ? $1 : $0 }
            }
            return group.dropFirst().reduce(group[0]) { all[$1].thisUpdate < all[$0].thisUpdate ? $1 : $0 }
        }
    }

    /// The times around `time` at which `selection(at:)` gives the same CRL for the CA of `selected`:
    /// the selected CRL is current, no CRL that supersedes it is current yet (or still), and no
    /// entry of it for a path certificate (`serials`) has taken effect yet.
    func window(of selected: Int, at time: Date, skew: TimeInterval, serials: Set<String>) -> Range<Date> {
        let crl = all[selected]
        var start = crl.thisUpdate.addingTimeInterval(-skew)
        var end = crl.nextUpdate
        let group = groups.first { $0.contains(selected) } ?? [selected]
        for other in group where other != selected && all[other].supersedes(crl) {
            let otherStart = all[other].thisUpdate.addingTimeInterval(-skew)
            if otherStart > time {
                end = min(end, otherStart)
            } else if all[other].nextUpdate < time {
                start = max(start, all[other].nextUpdate.addingTimeInterval(1))
            }
        }
        for entry in crl.entries where serials.contains(entry.serialNumberHex) && entry.effectiveDate > time {
            end = min(end, entry.effectiveDate)
        }
        return start < end ? start..<end : time..<time
    }
}
