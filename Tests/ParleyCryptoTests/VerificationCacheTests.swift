import Foundation
@testable import ParleyCrypto
import Testing
import ParleyTestSupport

/// The verification-result cache and run-time trust-store replacement.
@Suite("Verification cache and trust store replacement")
struct VerificationCacheTests {
    let pki: TestPKI
    let now = Date()

    init() throws {
        pki = try TestPKI.shared()
    }

    @Test func repeatedVerificationIsServedFromTheCacheOnlyInsideItsWindow() throws {
        let store = try pki.trustStore()
        let chain = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        let first = try store.verify(chain: chain, at: now)
        #expect(store.storage.cache.count == 1)
        #expect(try store.verify(chain: chain, at: now.addingTimeInterval(60)) == first)
        #expect(store.storage.cache.count == 1)

        // Failures are never cached.
        #expect(throws: ChainVerificationError.self) {
            try store.verify(chain: pki.certificates("negative/revoked/signing-chain.pem"), at: now)
        }
        #expect(store.storage.cache.count == 1)

        // Outside the window the cache does not answer: past the issuing CRL's nextUpdate, before notBefore.
        let issuingCRL = try #require(store.crls.first { $0.issuer.contains("Issuing CA") })
        let late = #expect(throws: ChainVerificationError.self) {
            try store.verify(chain: chain, at: issuingCRL.nextUpdate)
        }
        #expect(late?.check == .crlExpired)
        let early = #expect(throws: ChainVerificationError.self) {
            try store.verify(chain: chain, at: chain[0].notValidBefore.addingTimeInterval(-86_400))
        }
        #expect(early?.check == .crlNotYetValid || early?.check == .notYetValid)

        // The purpose is part of the key: a TLS chain accepted for TLS is still refused for signing.
        let tls = try pki.certificates("participants/US-NRRC/tls-chain.pem")
        _ = try store.verify(chain: tls, at: now, purpose: .transportTLS)
        let misuse = #expect(throws: ChainVerificationError.self) {
            try store.verify(chain: tls, at: now, purpose: .messageSigning)
        }
        #expect(misuse?.check == .keyUsage)

        store.clearCache()
        #expect(store.storage.cache.count == 0)
    }

    @Test func derChainsShareTheCacheAndReportUnparsableCertificates() throws {
        let store = try pki.trustStore()
        let chain = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        let fromDER = try store.verify(chainDER: chain.map(\.derEncoded), at: now)
        #expect(fromDER.participantID == "US-NRRC")
        #expect(store.storage.cache.count == 1)
        #expect(try store.verify(chain: chain, at: now) == fromDER)
        #expect(store.storage.cache.count == 1)

        let revoked = #expect(throws: ChainVerificationError.self) {
            try store.verify(
                chainDER: pki.certificates("negative/revoked/signing-chain.pem").map(\.derEncoded),
                at: now
            )
        }
        #expect(revoked?.check == .revoked)
        let garbage = #expect(throws: ChainVerificationError.self) {
            try store.verify(chainDER: [chain[0].derEncoded, [0x30, 0x01, 0x00]], at: now)
        }
        #expect(garbage?.check == .other)
        #expect(garbage?.certificateIndex == 1)
        let none = #expect(throws: ChainVerificationError.self) { try store.verify(chainDER: [], at: now) }
        #expect(none?.check == .other)
        let tooMany = #expect(throws: ChainVerificationError.self) {
            try store.verify(chainDER: Array(repeating: chain[1].derEncoded, count: 11), at: now)
        }
        #expect(tooMany?.check == .pathTooLong)
    }

    @Test func theCacheIsBounded() throws {
        let store = try TrustStore(
            anchors: pki.certificates("trust/anchors.pem"),
            crls: pki.revocationLists("trust/crls.pem"),
            cacheCapacity: 2
        )
        for path in [
            "participants/US-NRRC/signing-chain.pem", "participants/US-NRRC/signing-2-chain.pem",
            "participants/RU-NRRC/signing-chain.pem", "participants/US-NRRC/signing-chain.pem",
        ] {
            _ = try store.verify(chain: pki.certificates(path), at: now)
            #expect(store.storage.cache.count <= 2)
        }
        #expect(store.storage.cache.count == 2)
    }

    /// A CRL refresh: a new trust store replaces the old one, and its (empty) cache cannot vouch for a
    /// certificate the new CRL revokes.
    @Test func crlRefreshRevokesACachedChain() throws {
        let pki = try TestPKI.make()
        defer { pki.remove() }
        let chain = try pki.certificates("participants/RU-NRRC/signing-chain.pem")
        let reference = TrustStoreReference(try pki.trustStore())
        #expect(try reference.current.verify(chain: chain, at: now).participantID == "RU-NRRC")

        try pki.revoke("participants/RU-NRRC/signing.pem")
        let later = TestPKI.generalizedTime(now.addingTimeInterval(-60))
        let nextMonth = TestPKI.generalizedTime(now.addingTimeInterval(30 * 86_400))
        try pki.issueCRL(
            ca: "issuing",
            config: "issuing-ca.cnf",
            lastUpdate: later,
            nextUpdate: nextMonth,
            output: "issuing/refreshed-crl.pem"
        )
        let refreshed = try pki.trustStore(crls: ["root/crl.pem", "issuing/refreshed-crl.pem"])
        let old = reference.current
        reference.replace(with: refreshed)

        let error = #expect(throws: ChainVerificationError.self) { try reference.current.verify(chain: chain, at: now) }
        #expect(error?.check == .revoked)
        // Others under the same CA still verify.
        #expect(
            try reference.current.verify(chain: pki.certificates("participants/US-NRRC/signing-chain.pem"), at: now)
                .participantID == "US-NRRC"
        )
        // Old and new CRL files loaded together: the newest CRL per CA is used, in either order.
        for files in [
            ["trust/crls.pem", "issuing/refreshed-crl.pem"], ["issuing/refreshed-crl.pem", "trust/crls.pem"],
        ] {
            let both = try pki.trustStore(crls: files)
            #expect(both.crls.count == 2)
            let again = #expect(throws: ChainVerificationError.self) { try both.verify(chain: chain, at: now) }
            #expect(again?.check == .revoked)
        }

        // The replaced store still answers from its own (older) CRLs.
        #expect(try old.verify(chain: chain, at: now).participantID == "RU-NRRC")
    }

    /// Eight tasks verify (valid and revoked chains, cached and not) while the trust store is swapped.
    @Test func concurrentVerificationWhileTheTrustStoreIsSwapped() async throws {
        let reference = TrustStoreReference(try pki.trustStore())
        let valid = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        let rollover = try pki.certificates("participants/US-NRRC/signing-2-chain.pem")
        let revoked = try pki.certificates("negative/revoked/signing-chain.pem")
        let anchors = try pki.certificates("trust/anchors.pem")
        let crls = try pki.revocationLists("trust/crls.pem")
        let now = self.now
        let rounds = 150

        let outcomes = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            group.addTask {
                for round in 0..<60 {
                    reference.replace(with: try TrustStore(anchors: anchors, crls: crls))
                    if round % 3 == 0 { reference.current.clearCache() }
                    await Task.yield()
                }
                return (0, 0)
            }
            for worker in 0..<8 {
                group.addTask {
                    var accepted = 0
                    var rejected = 0
                    for round in 0..<rounds {
                        let store = reference.current
                        let chain = (round + worker) % 2 == 0 ? valid : rollover
                        if (try? store.verify(chain: chain, at: now).participantID) == "US-NRRC" { accepted += 1 }
                        do {
                            _ = try store.verify(chain: revoked, at: now)
                        } catch let error as ChainVerificationError where error.check == .revoked {
                            rejected += 1
                        }
                    }
                    return (accepted, rejected)
                }
            }
            return try await group.reduce(into: [(Int, Int)]()) { $0.append($1) }
        }
        let workers = outcomes.filter { $0 != (0, 0) }
        #expect(workers.count == 8)
        for (accepted, rejected) in workers {
            #expect(accepted == rounds)
            #expect(rejected == rounds)
        }
    }
}
