import Foundation
import ParleyCrypto
import Testing
import ParleyTestSupport

/// Chain verification against the test PKI made by Certs/make-test-pki.sh.
@Suite("Trust store")
struct TrustStoreTests {
    let pki: TestPKI
    let now = Date()

    init() throws {
        pki = try TestPKI.shared()
    }

    /// Asserts that verification fails with `check` (and `index`, if given) and returns the error.
    @discardableResult
    func expectRejection(
        _ check: ChainVerificationError.Check,
        index: Int? = nil,
        sourceLocation: SourceLocation = #_sourceLocation,
        _ verify: () throws -> VerifiedChain
    ) -> ChainVerificationError? {
        let error = #expect(throws: ChainVerificationError.self, sourceLocation: sourceLocation) { try verify() }
        #expect(error?.check == check, "\(String(describing: error))", sourceLocation: sourceLocation)
        if let index {
            #expect(error?.certificateIndex == index, "\(String(describing: error))", sourceLocation: sourceLocation)
        }
        return error
    }

    @Test(arguments: ["US-NRRC", "RU-NRRC"])
    func validChainVerifiesAndYieldsTheParticipantID(_ id: String) throws {
        let store = try pki.trustStore()
        let chain = try pki.certificates("participants/\(id)/signing-chain.pem")
        #expect(chain.count == 2)
        let verified = try store.verify(chain: chain, at: now)
        #expect(verified.participantID == id)
        #expect(verified.leaf == chain[0])
        #expect(verified.path == chain + store.anchors)
        #expect(verified.purpose == .messageSigning)

        // An x5chain must leave the anchor out (SPEC.md §5.2, §8.5 step 1); a TLS peer's chain may send it.
        expectRejection(.untrustedIssuer, index: 2) { try store.verify(chain: chain + store.anchors, at: now) }
        let tlsChain = try pki.certificates("participants/\(id)/tls-chain.pem")
        #expect(try store.verify(chain: tlsChain + store.anchors, at: now, purpose: .transportTLS).participantID == id)
        // TLS certificate for TLS.
        let tls = try store.verify(
            chain: pki.certificates("participants/\(id)/tls-chain.pem"),
            at: now,
            purpose: .transportTLS
        )
        #expect(tls.participantID == id)
    }

    /// OpenSSL builds its own path and skips untrusted certificates it does not need; an x5chain with
    /// repeated, looping or left-over certificates is not a path (SPEC.md §8.5 step 2).
    @Test func x5chainMustBeThePathItself() throws {
        let store = try pki.trustStore()
        let chain = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        let (leaf, issuing) = (chain[0], chain[1])
        let other = try pki.certificates("participants/\("RU-NRRC")/signing.pem")[0]
        for (bad, index) in [
            ([leaf, issuing, issuing], 2), ([leaf, issuing, leaf, issuing], 2), ([leaf, other, issuing], 1),
        ] {
            let error = expectRejection(.untrustedIssuer, index: index) { try store.verify(chain: bad, at: now) }
            #expect(error?.reason.contains("not a certification path") == true, "\(String(describing: error))")
        }
        #expect(try store.verify(chain: chain, at: now).path == chain + store.anchors)
    }

    @Test func rolloverCertificateVerifiesWithTheSameParticipantID() throws {
        let store = try pki.trustStore()
        let old = try store.verify(chain: pki.certificates("participants/US-NRRC/signing-chain.pem"), at: now)
        let new = try store.verify(chain: pki.certificates("participants/US-NRRC/signing-2-chain.pem"), at: now)
        #expect(new.participantID == old.participantID)
        #expect(new.leaf != old.leaf)
        #expect(new.leaf.publicKey != old.leaf.publicKey)
    }

    @Test func leafWithoutItsIssuingCAIsUntrusted() throws {
        let store = try pki.trustStore()
        let leaf = try pki.certificates("participants/US-NRRC/signing.pem")
        let error = expectRejection(.untrustedIssuer, index: 0) { try store.verify(chain: leaf, at: now) }
        #expect(error?.reason.contains("unable to get local issuer certificate") == true)
        #expect(error?.reason.contains("depth 0") == true)
    }

    @Test func revokedCertificatesAreRejected() throws {
        let store = try pki.trustStore()
        let error = expectRejection(.revoked, index: 0) {
            try store.verify(chain: pki.certificates("negative/revoked/signing-chain.pem"), at: now)
        }
        #expect(error?.certificateSubject.contains("CN=REVOKED-TEST") == true)
        #expect(error?.reason.contains("certificate revoked") == true, "\(String(describing: error))")
        expectRejection(.revoked, index: 0) {
            try store.verify(chain: pki.certificates("negative/revoked/tls-chain.pem"), at: now, purpose: .transportTLS)
        }
    }

    @Test func expiredAndNotYetValidCertificatesAreRejected() throws {
        let store = try pki.trustStore()
        let expired = expectRejection(.expired, index: 0) {
            try store.verify(chain: pki.certificates("negative/expired/signing-chain.pem"), at: now)
        }
        #expect(expired?.reason.contains("certificate has expired") == true)
        expectRejection(.notYetValid, index: 0) {
            try store.verify(chain: pki.certificates("negative/not-yet-valid/signing-chain.pem"), at: now)
        }
    }

    /// SPEC.md §8.5: path faults, then validity, then CRL availability, then revocation — whatever
    /// order OpenSSL checks in.
    @Test func theFirstFailingStageOfSPEC85Decides() throws {
        let pki = try TestPKI.make()
        defer { pki.remove() }
        // Expired and revoked: the validity verdict, not the revocation one.
        let expired = try pki.certificates("negative/expired/signing-chain.pem")
        try pki.revoke("negative/expired/signing.pem")
        // CRLs current from the day before the certificate expired until a month from now.
        let from = TestPKI.generalizedTime(expired[0].notValidAfter.addingTimeInterval(-2 * 86_400))
        let until = TestPKI.generalizedTime(now.addingTimeInterval(30 * 86_400))
        try pki.issueCRL(
            ca: "root",
            config: "root-ca.cnf",
            lastUpdate: from,
            nextUpdate: until,
            output: "root/wide-crl.pem"
        )
        try pki.issueCRL(
            ca: "issuing",
            config: "issuing-ca.cnf",
            lastUpdate: from,
            nextUpdate: until,
            output: "issuing/revoking-crl.pem"
        )
        let revoking = try pki.trustStore(crls: ["root/wide-crl.pem", "issuing/revoking-crl.pem"])
        #expect(revoking.crls.contains { !$0.revokedSerialNumbersHex.isEmpty })
        let error = expectRejection(.expired, index: 0) { try revoking.verify(chain: expired, at: now) }
        #expect(
            error?.reason.contains(now.formatted(.iso8601)) == true,
            "names the verification time: \(String(describing: error))"
        )
        #expect(
            error?.reason.contains(expired[0].notValidAfter.formatted(.iso8601)) == true,
            "names notAfter: \(String(describing: error))"
        )
        #expect(
            error?.reason.contains("clock") == false,
            "a given time is not blamed on the clock: \(String(describing: error))"
        )
        // The same certificate while it was valid: revoked.
        expectRejection(.revoked, index: 0) {
            try revoking.verify(chain: expired, at: expired[0].notValidAfter.addingTimeInterval(-86_400))
        }

        // Not yet valid, at a time without a current CRL: the validity verdict, not "revocation unavailable".
        let staleCRLs = try pki.trustStore(crls: ["negative/expired-crl/crls.pem"])
        expectRejection(.notYetValid, index: 0) {
            try staleCRLs.verify(chain: pki.certificates("negative/not-yet-valid/signing-chain.pem"), at: now)
        }
        // Revoked, without a current CRL: revocation status unavailable (the revocation is not known).
        expectRejection(.crlExpired, index: 0) {
            try staleCRLs.verify(chain: pki.certificates("negative/revoked/signing-chain.pem"), at: now)
        }
        // An untrusted path whose certificates have also expired: untrusted.
        let later = now.addingTimeInterval(30 * 365 * 86_400)
        expectRejection(.untrustedIssuer) {
            try revoking.verify(chain: pki.certificates("negative/other-ca/signing-chain.pem"), at: later)
        }
        // A leaf outside the signing profile and expired: the profile verdict.
        expectRejection(.keyUsage, index: 0) {
            try revoking.verify(chain: pki.certificates("participants/US-NRRC/tls-chain.pem"), at: later)
        }
    }

    @Test func otherCAIsUntrustedUntilItsRootIsAnAnchor() throws {
        let store = try pki.trustStore()
        let otherChain = try pki.certificates("negative/other-ca/signing-chain.pem")
        expectRejection(.untrustedIssuer) { try store.verify(chain: otherChain, at: now) }

        // Root rollover: both roots as anchors, both sets of CRLs; chains under either verify.
        let both = try pki.trustStore(
            crls: ["trust/crls.pem", "negative/other-ca/crls.pem"],
            anchors: ["trust/anchors.pem", "negative/other-ca/anchors.pem"]
        )
        #expect(both.anchors.count == 2)
        let underOther = try both.verify(chain: otherChain, at: now)
        let underMain = try both.verify(chain: pki.certificates("participants/US-NRRC/signing-chain.pem"), at: now)
        #expect(underOther.participantID == "US-NRRC")
        #expect(underMain.participantID == "US-NRRC")
        #expect(underOther.path.last != underMain.path.last)

        // The other root as an anchor without its CRLs: fails closed.
        let noOtherCRLs = try pki.trustStore(anchors: ["trust/anchors.pem", "negative/other-ca/anchors.pem"])
        expectRejection(.crlMissing, index: 0) { try noOtherCRLs.verify(chain: otherChain, at: now) }
    }

    @Test func missingCRLsFailClosed() throws {
        let chain = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        let noIssuingCRL = try pki.trustStore(crls: ["root/crl.pem"])
        let error = expectRejection(.crlMissing, index: 0) { try noIssuingCRL.verify(chain: chain, at: now) }
        #expect(error?.reason.contains("unable to get certificate CRL") == true)
        #expect(
            error?.reason.contains("Issuing CA") == true,
            "names the CA whose CRL is missing: \(String(describing: error))"
        )

        let noRootCRL = try pki.trustStore(crls: ["issuing/crl.pem"])
        expectRejection(.crlMissing, index: 1) { try noRootCRL.verify(chain: chain, at: now) }

        let none = try pki.trustStore(crls: [])
        expectRejection(.crlMissing, index: 0) { try none.verify(chain: chain, at: now) }
    }

    @Test func expiredCRLFailsClosed() throws {
        let store = try pki.trustStore(crls: ["negative/expired-crl/crls.pem"])
        let error = expectRejection(.crlExpired, index: 0) {
            try store.verify(chain: pki.certificates("participants/US-NRRC/signing-chain.pem"), at: now)
        }
        #expect(error?.reason.contains("CRL has expired") == true)

        // An expired CRL next to the current one of the same CA is superseded, not used.
        for files in [
            ["trust/crls.pem", "negative/expired-crl/crls.pem"], ["negative/expired-crl/crls.pem", "trust/crls.pem"],
        ] {
            let mixed = try pki.trustStore(crls: files)
            #expect(mixed.crls.count == 2)
            #expect(
                try mixed.verify(chain: pki.certificates("participants/US-NRRC/signing-chain.pem"), at: now)
                    .participantID == "US-NRRC"
            )
        }
        // CRLs of another CA are kept apart.
        #expect(try pki.trustStore(crls: ["trust/crls.pem", "negative/other-ca/crls.pem"]).crls.count == 4)

        // CRL nextUpdate gets no skew allowance; thisUpdate does.
        let regular = try pki.trustStore()
        let chain = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        let issuingCRL = try #require(regular.crls.first { $0.issuer.contains("Issuing CA") })
        _ = try regular.verify(chain: chain, at: issuingCRL.nextUpdate.addingTimeInterval(-1))
        expectRejection(.crlExpired, index: 0) { try regular.verify(chain: chain, at: issuingCRL.nextUpdate) }
        // thisUpdate's allowance, with an issuing CRL made a day after the certificates: at the
        // script's own CRL times the certificates are not valid yet either, and validity is
        // decided first (SPEC.md §8.5).
        let fresh = try TestPKI.make()
        defer { fresh.remove() }
        let leafChain = try fresh.certificates("participants/US-NRRC/signing-chain.pem")
        let thisUpdate = leafChain[0].notValidBefore.addingTimeInterval(86_400)
        try fresh.issueCRL(
            ca: "issuing",
            config: "issuing-ca.cnf",
            lastUpdate: TestPKI.generalizedTime(thisUpdate),
            nextUpdate: TestPKI.generalizedTime(thisUpdate.addingTimeInterval(30 * 86_400)),
            output: "issuing/later-crl.pem"
        )
        let later = try fresh.trustStore(crls: ["root/crl.pem", "issuing/later-crl.pem"])
        _ = try later.verify(chain: leafChain, at: thisUpdate.addingTimeInterval(-300))
        expectRejection(.crlNotYetValid) { try later.verify(chain: leafChain, at: thisUpdate.addingTimeInterval(-301)) }
    }

    @Test func purposesFollowTheProfiles() throws {
        let store = try pki.trustStore()
        let tls = try pki.certificates("participants/US-NRRC/tls-chain.pem")
        let signing = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        let tlsForSigning = expectRejection(.keyUsage, index: 0) {
            try store.verify(chain: tls, at: now, purpose: .messageSigning)
        }
        #expect(tlsForSigning?.reason.contains("serverAuth") == true)
        expectRejection(.keyUsage, index: 0) { try store.verify(chain: signing, at: now, purpose: .transportTLS) }
        #expect(try store.verify(chain: tls, at: now, purpose: .transportTLS).participantID == "US-NRRC")

        // A CA certificate as the leaf.
        let issuing = try pki.certificates("issuing/ca.pem")
        expectRejection(.basicConstraints, index: 0) { try store.verify(chain: issuing, at: now) }
    }

    @Test func participantURIsAreRequiredAndUnique() throws {
        let store = try pki.trustStore()
        let none = try pki.certificates("negative/no-participant-uri/signing-chain.pem")
        #expect(none[0].participantID == nil)
        #expect(none[0].participantIDs.isEmpty)
        expectRejection(.noParticipantID, index: 0) { try store.verify(chain: none, at: now) }

        let two = try pki.certificates("negative/two-participant-uris/signing-chain.pem")
        #expect(two[0].participantID == nil)
        #expect(two[0].participantIDs == ["US-NRRC", "SECOND-ID"])
        let error = expectRejection(.multipleParticipantIDs, index: 0) { try store.verify(chain: two, at: now) }
        #expect(error?.reason.contains("SECOND-ID") == true)

        // SPEC.md §8.1: an upper-case prefix is a participant URI, but defines no participant id.
        let upper = try pki.certificates("negative/uppercase-participant-uri/signing-chain.pem")
        #expect(upper[0].participantURIs == ["URN:PARLEY:PARTICIPANT:US-NRRC"])
        #expect(upper[0].participantID == nil)
        let uppercase = expectRejection(.noParticipantID, index: 0) { try store.verify(chain: upper, at: now) }
        #expect(uppercase?.reason.contains("lowercase") == true, "\(String(describing: uppercase))")
    }

    /// The clock-skew allowance at its exact boundaries, with CRLs re-issued to cover the certificates'
    /// validity (the script's CRLs start today).
    @Test func clockSkewAllowanceAtTheBoundary() throws {
        let pki = try TestPKI.make()
        defer { pki.remove() }
        let year = Calendar(identifier: .gregorian).dateComponents(in: TimeZone(identifier: "UTC")!, from: now).year!
        try pki.issueCRL(
            ca: "root",
            config: "root-ca.cnf",
            lastUpdate: "\(year - 3)0101000000Z",
            nextUpdate: "\(year + 5)0101000000Z",
            output: "root/wide-crl.pem"
        )
        try pki.issueCRL(
            ca: "issuing",
            config: "issuing-ca.cnf",
            lastUpdate: "\(year - 3)0101000000Z",
            nextUpdate: "\(year + 5)0101000000Z",
            output: "issuing/wide-crl.pem"
        )
        let crls = ["root/wide-crl.pem", "issuing/wide-crl.pem"]

        for skew in [300.0, 0.0, 3_600.0] {
            let store = try pki.trustStore(crls: crls, maximumClockSkew: skew)
            let expired = try pki.certificates("negative/expired/signing-chain.pem")
            let notAfter = expired[0].notValidAfter
            #expect(try store.verify(chain: expired, at: notAfter.addingTimeInterval(-1)).participantID == "US-NRRC")
            if skew > 0 {
                #expect(
                    try store.verify(chain: expired, at: notAfter.addingTimeInterval(skew - 1)).participantID
                        == "US-NRRC"
                )
            }
            expectRejection(.expired, index: 0) {
                try store.verify(chain: expired, at: notAfter.addingTimeInterval(skew))
            }

            let future = try pki.certificates("negative/not-yet-valid/signing-chain.pem")
            let notBefore = future[0].notValidBefore
            #expect(try store.verify(chain: future, at: notBefore).participantID == "US-NRRC")
            #expect(try store.verify(chain: future, at: notBefore.addingTimeInterval(-skew)).participantID == "US-NRRC")
            expectRejection(.notYetValid, index: 0) {
                try store.verify(chain: future, at: notBefore.addingTimeInterval(-skew - 1))
            }
        }
    }

    @Test func trustStoreConfigurationErrors() throws {
        #expect(throws: CryptoError.self) { try TrustStore(anchors: [], crls: []) }
        let leaf = try pki.certificates("participants/US-NRRC/signing.pem")
        let error = #expect(throws: CryptoError.self) { try TrustStore(anchors: leaf, crls: []) }
        #expect(error?.reason.contains("not a CA") == true)
        let loaded = try TrustStore.load(
            anchorsPath: pki.path("trust/anchors.pem"),
            crlPaths: [pki.path("root/crl.der"), pki.path("issuing/crl.der")]
        )
        #expect(loaded.crls.count == 2)
        #expect(
            try loaded.verify(chain: pki.certificates("participants/US-NRRC/signing-chain.pem"), at: now).participantID
                == "US-NRRC"
        )
        let missing = #expect(throws: CryptoError.self) {
            try TrustStore.load(anchorsPath: pki.path("trust/nope.pem"), crlPaths: [])
        }
        #expect(missing?.reason.contains("trust/nope.pem") == true)

        let empty = #expect(throws: ChainVerificationError.self) { try loaded.verify(chain: [], at: now) }
        #expect(empty?.check == .other)
        let chain = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        let long = #expect(throws: ChainVerificationError.self) {
            try loaded.verify(chain: chain + Array(repeating: chain[1], count: 9), at: now)
        }
        #expect(long?.check == .pathTooLong)
    }

    struct AlgorithmCase: Sendable, CustomTestStringConvertible {
        var arguments: [String]
        var signing: SignatureAlgorithm
        var testDescription: String { arguments.joined(separator: " ") }
    }

    @Test(arguments: [
        AlgorithmCase(arguments: ["--alg", "p256"], signing: .es256),
        AlgorithmCase(arguments: ["--alg", "p384"], signing: .es384),
        AlgorithmCase(arguments: ["--ca-alg", "ed25519", "--alg", "ed25519", "--tls-alg", "p384"], signing: .edDSA),
    ])
    func otherAlgorithms(_ algorithms: AlgorithmCase) throws {
        let arguments = algorithms.arguments
        let pki = try TestPKI.make(arguments: arguments)
        defer { pki.remove() }
        let store = try pki.trustStore()
        let chain = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        let verified = try store.verify(chain: chain, at: now)
        #expect(verified.participantID == "US-NRRC")
        #expect(verified.leaf.publicKey.algorithm == algorithms.signing)
        expectRejection(.revoked) {
            try store.verify(chain: pki.certificates("negative/revoked/signing-chain.pem"), at: now)
        }

        let key = try PrivateKey.load(path: pki.path("participants/US-NRRC/signing.key"))
        #expect(key.publicKey == verified.leaf.publicKey)
        let message = Array("signed under \(arguments)".utf8)
        #expect(verified.leaf.publicKey.isValidSignature(try key.signature(for: message), for: message))
    }
}
