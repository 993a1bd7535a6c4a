import Foundation
import ParleyCrypto
import Testing
import ParleyTestSupport

/// Validation at a past time with a history of CRLs (SPEC.md §8.4): the CRL authoritative at T
/// decides, a revocation dated after T does not count, a compromise counts from its invalidityDate.
@Suite("CRL history")
struct CRLHistoryTests {
    static let day: TimeInterval = 86_400

    /// A fresh PKI with three monthly issuing-CA CRLs, A, B and C, made with explicit dates from the
    /// leaf's notBefore (`start`). Between them: US-NRRC's second signing certificate revoked as
    /// superseded, dated start+36d (listed from B on); RU-NRRC's signing certificate revoked for
    /// keyCompromise, dated start+50d with invalidityDate start+20d (listed from C on).
    struct History {
        let pki: TestPKI
        let start: Date
        let store: TrustStore

        init() throws {
            pki = try TestPKI.make()
            start = try pki.certificates("participants/US-NRRC/signing.pem")[0].notValidBefore
            let authority = Authority(pki: pki, start: start)
            try authority.issue("A", from: 1, until: 37)
            try authority.revoke("participants/US-NRRC/signing-2.pem", on: 36, reason: "superseded")
            try authority.issue("B", from: 36, until: 62)
            try authority.revoke("participants/RU-NRRC/signing.pem", on: 50, invalidOn: 20)
            try authority.issue("C", from: 61, until: 91)
            store = try pki.trustStore(crls: ["root/crl.pem", "issuing/A.pem", "issuing/B.pem", "issuing/C.pem"])
        }

        func at(_ days: Double, plus seconds: TimeInterval = 0) -> Date {
            start.addingTimeInterval(days * CRLHistoryTests.day + seconds)
        }
    }

    /// The issuing CA's operator, making CRLs and revocations at simulated dates.
    struct Authority {
        let pki: TestPKI
        let start: Date

        func at(_ days: Double) -> Date { start.addingTimeInterval(days * CRLHistoryTests.day) }

        func issue(_ name: String, from: Double, until: Double) throws {
            try pki.issueCRL(
                ca: "issuing",
                config: "issuing-ca.cnf",
                lastUpdate: TestPKI.generalizedTime(at(from)),
                nextUpdate: TestPKI.generalizedTime(at(until)),
                output: "issuing/\(name).pem"
            )
        }

        /// Revokes with `openssl ca`, then sets the revocation date in the CA database, which
        /// `openssl ca` always records as the present.
        func revoke(
            _ certificate: String,
            on day: Double,
            reason: String = "keyCompromise",
            invalidOn: Double? = nil
        ) throws {
            var environment = ProcessInfo.processInfo.environment
            environment["PARLEY_CA_DIR"] = pki.path("issuing")
            var arguments = [
                "ca", "-batch", "-config", SourceTree.root.appendingPathComponent("Certs/openssl/issuing-ca.cnf").path,
                "-revoke", pki.path(certificate),
            ]
            // `-crl_compromise` sets the reason keyCompromise and the invalidityDate.
            if let invalidOn {
                arguments += ["-crl_compromise", TestPKI.generalizedTime(at(invalidOn))]
            } else {
                arguments += ["-crl_reason", reason]
            }
            _ = try run("/usr/bin/openssl", arguments, environment: environment)
            let serial = try pki.certificates(certificate)[0].serialNumberHex.uppercased()
            let index = pki.path("issuing/db/index.txt")
            let utcTime = String(TestPKI.generalizedTime(at(day)).dropFirst(2))
            let lines = try String(contentsOfFile: index, encoding: .utf8).split(separator: "\n").map { line in
                var fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
                guard fields.count > 3, fields[0] == "R", fields[3].uppercased().hasSuffix(serial) else {
                    return String(line)
                }
                var revocation = fields[2].split(separator: ",").map(String.init)
                revocation[0] = utcTime
                fields[2] = revocation.joined(separator: ",")
                return fields.joined(separator: "\t")
            }
            try (lines.joined(separator: "\n") + "\n").write(toFile: index, atomically: true, encoding: .utf8)
        }
    }

    @Test func eachTimeUsesTheCRLAuthoritativeThen() throws {
        let history = try History()
        defer { history.pki.remove() }
        let chain = try history.pki.certificates("participants/US-NRRC/signing-chain.pem")
        #expect(history.store.crlHistory.count == 4)
        #expect(history.store.crls.count == 2, "newest per CA: root and C")
        for day in [2.0, 20, 36.5, 45, 61, 70, 90] {
            #expect(
                try history.store.verify(chain: chain, at: history.at(day)).participantID == "US-NRRC",
                "day \(day)"
            )
        }
        // The same chain answered from the cache must not outlive the CRL that allowed it.
        let afterAll = #expect(throws: ChainVerificationError.self) {
            try history.store.verify(chain: chain, at: history.at(91, plus: 1))
        }
        #expect(afterAll?.check == .crlExpired, "\(String(describing: afterAll))")
        let beforeAll = #expect(throws: ChainVerificationError.self) {
            try history.store.verify(chain: chain, at: history.at(0.5))
        }
        #expect(beforeAll?.check == .crlNotYetValid, "\(String(describing: beforeAll))")
    }

    @Test func aRevocationDatedAfterTheVerificationTimeDoesNotCount() throws {
        let history = try History()
        defer { history.pki.remove() }
        let chain = try history.pki.certificates("participants/US-NRRC/signing-2-chain.pem")
        #expect(try history.store.verify(chain: chain, at: history.at(20)).participantID == "US-NRRC")
        // B is current 100 s before its thisUpdate (clock-skew allowance) and lists the revocation,
        // but the revocation is dated at B's thisUpdate, after T.
        #expect(try history.store.verify(chain: chain, at: history.at(36, plus: -100)).participantID == "US-NRRC")
        for day in [36.0, 40, 70] {
            let error = #expect(throws: ChainVerificationError.self, "day \(day)") {
                try history.store.verify(chain: chain, at: history.at(day))
            }
            #expect(error?.check == .revoked, "\(String(describing: error))")
        }
        // Without B and C, nothing lists it: each CRL is a record of what was known when.
        let onlyA = try history.pki.trustStore(crls: ["root/crl.pem", "issuing/A.pem"])
        #expect(try onlyA.verify(chain: chain, at: history.at(36.5)).participantID == "US-NRRC")
    }

    @Test func aCompromiseCountsFromItsInvalidityDateOnAnyCRL() throws {
        let history = try History()
        defer { history.pki.remove() }
        let chain = try history.pki.certificates("participants/RU-NRRC/signing-chain.pem")
        #expect(try history.store.verify(chain: chain, at: history.at(19)).participantID == "RU-NRRC")
        // At day 25 and 45 the authoritative CRLs (A, B) do not list it; C, issued later, reports
        // the compromise from day 20.
        for day in [25.0, 45, 70] {
            let error = #expect(throws: ChainVerificationError.self, "day \(day)") {
                try history.store.verify(chain: chain, at: history.at(day))
            }
            #expect(error?.check == .revoked, "\(String(describing: error))")
            if day == 25 {
                #expect(error?.reason.contains("keyCompromise") == true, "\(String(describing: error))")
                #expect(error?.reason.contains("invalidityDate") == true, "\(String(describing: error))")
            }
        }
        // A store that has not seen C still accepts it: it judges with what it holds.
        let withoutC = try history.pki.trustStore(crls: ["root/crl.pem", "issuing/A.pem", "issuing/B.pem"])
        #expect(try withoutC.verify(chain: chain, at: history.at(25)).participantID == "RU-NRRC")
    }

    @Test func entriesCarryReasonAndDates() throws {
        let history = try History()
        defer { history.pki.remove() }
        let crl = try #require(history.pki.revocationLists("issuing/C.pem").first)
        let ru = try history.pki.certificates("participants/RU-NRRC/signing.pem")[0]
        let entry = try #require(crl.entry(for: ru))
        #expect(entry.reason == .keyCompromise)
        #expect(entry.revocationDate == history.at(50))
        #expect(entry.invalidityDate == history.at(20))
        #expect(entry.effectiveDate == history.at(20))
        let superseded = try #require(crl.entry(for: history.pki.certificates("participants/US-NRRC/signing-2.pem")[0]))
        #expect(superseded.reason == .superseded)
        #expect(superseded.effectiveDate == history.at(36))
    }
}
