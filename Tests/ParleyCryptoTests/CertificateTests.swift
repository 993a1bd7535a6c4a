import Foundation
import ParleyCodec
import ParleyCrypto
import Testing
import ParleyTestSupport

@Suite("Certificates and CRLs")
struct CertificateTests {
    let pki: TestPKI

    init() throws {
        pki = try TestPKI.shared()
    }

    /// Host names for a TLS client's check of the server (SPEC.md §12.1): the dNSName and iPAddress
    /// entries only, never the common name, no partial wildcards.
    @Test func hostNameMatchingUsesTheSubjectAltNames() throws {
        let tls = try #require(try Certificate.load(path: pki.path("participants/US-NRRC/tls.pem")).first)
        for host in ["us-nrrc.parley.test", "US-NRRC.Parley.Test", "localhost", "127.0.0.1"] {
            #expect(tls.matchesHost(host), "\(host)")
        }
        for host in [
            "ru-nrrc.parley.test", "parley.test", "x.us-nrrc.parley.test", "US-NRRC", "127.0.0.2", "::1", "",
            "localhost.",
        ] {
            #expect(!tls.matchesHost(host), "\(host)")
        }
        // A signing certificate names no host.
        let signing = try #require(try Certificate.load(path: pki.path("participants/US-NRRC/signing.pem")).first)
        #expect(!signing.matchesHost("us-nrrc.parley.test") && !signing.matchesHost("127.0.0.1"))
    }

    /// Days left count whole days to notAfter, rounded down, and go negative after it: the figure
    /// logs, metrics and the admin status show (checked against the certificate's own notAfter, so
    /// on any date).
    @Test func daysLeftRoundDownToWholeDays() throws {
        let certificate = try #require(try pki.certificates("participants/US-NRRC/signing.pem").first)
        let end = certificate.notValidAfter
        #expect(certificate.daysLeft(at: end) == 0)
        #expect(certificate.daysLeft(at: end - 1) == 0)
        #expect(certificate.daysLeft(at: end - 86_400) == 1)
        #expect(certificate.daysLeft(at: end - 86_400 + 1) == 0)
        #expect(certificate.daysLeft(at: end - 30 * 86_400 - 3_600) == 30)
        #expect(certificate.daysLeft(at: end + 1) == -1)
        #expect(certificate.daysLeft(at: end + 86_400) == -1)
        #expect(certificate.daysLeft(at: end + 86_400 + 1) == -2)
    }

    /// Fields against what the openssl command reports for the same file.
    @Test func fieldsMatchOpenSSL() throws {
        let path = pki.path("participants/US-NRRC/signing.pem")
        let certificate = try #require(try Certificate.load(path: path).first)
        let report = try run(
            "/usr/bin/openssl",
            [
                "x509", "-in", path, "-noout", "-serial", "-fingerprint", "-sha256", "-subject", "-issuer",
                "-nameopt", "RFC2253", "-startdate", "-enddate",
            ]
        )
        func field(_ name: String) -> String? {
            report.split(separator: "\n").first { $0.hasPrefix(name + "=") }.map {
                String($0.dropFirst(name.count + 1))
            }
        }
        #expect(field("serial")?.lowercased() == certificate.serialNumberHex)
        let fingerprint = try #require(report.split(separator: "\n").first { $0.contains("Fingerprint=") })
        #expect(
            fingerprint.split(separator: "=").last?.replacingOccurrences(of: ":", with: "").lowercased()
                == certificate.sha256Fingerprint.hexString
        )
        #expect(field("subject") == certificate.subject)
        #expect(field("issuer") == certificate.issuer)
        #expect(certificate.subject == "CN=US-NRRC,O=Parley TEST PKI - NOT FOR PRODUCTION")
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "MMM d HH:mm:ss yyyy 'GMT'"
        let startText = try #require(field("notBefore")).replacingOccurrences(of: "  ", with: " ")
        let endText = try #require(field("notAfter")).replacingOccurrences(of: "  ", with: " ")
        #expect(formatter.date(from: startText) == certificate.notValidBefore)
        #expect(formatter.date(from: endText) == certificate.notValidAfter)

        #expect(certificate.participantID == "US-NRRC")
        #expect(!certificate.isCA)
        #expect(certificate.publicKey.algorithm == .edDSA)
        #expect(certificate.sha256Fingerprint == Digest.sha256(certificate.derEncoded))
        #expect(certificate.description.contains("participant: US-NRRC"))
        #expect(certificate.isValid(at: Date()))
    }

    @Test func chainsBundlesAndDER() throws {
        let chain = try pki.certificates("participants/US-NRRC/signing-chain.pem")
        #expect(chain.count == 2)
        #expect(chain[0].issuer == chain[1].subject)
        #expect(chain[1].isCA)
        #expect(chain[1].participantID == nil)
        let der = try pki.certificates("issuing/ca.der")
        #expect(der == [chain[1]])
        #expect(try Certificate(derEncoded: chain[0].derEncoded) == chain[0])
        #expect(try Certificate.parsePEM(chain.map(\.pemEncoded).joined()) == chain)
        // Text around blocks and other block types are ignored.
        let key = try PrivateKey.generate(.edDSA)
        let mixed = "Subject: something\n" + key.publicKey.pemEncoded + chain[0].pemEncoded + "trailing words\n"
        #expect(try Certificate.parsePEM(mixed) == [chain[0]])
        #expect(Set(chain).count == 2)
    }

    @Test func crlsParseAndListRevokedSerials() throws {
        let issuing = try #require(try pki.revocationLists("issuing/crl.pem").first)
        let revokedSigning = try #require(try pki.certificates("negative/revoked/signing.pem").first)
        let revokedTLS = try #require(try pki.certificates("negative/revoked/tls.pem").first)
        #expect(Set(issuing.revokedSerialNumbersHex) == [revokedSigning.serialNumberHex, revokedTLS.serialNumberHex])
        #expect(issuing.issuer == revokedSigning.issuer)
        #expect(abs(issuing.nextUpdate.timeIntervalSince(issuing.thisUpdate) - 30 * 86_400) < 2)
        #expect(try pki.revocationLists("issuing/crl.der") == [issuing])
        #expect(try pki.revocationLists("trust/crls.pem").count == 2)
        let root = try #require(try pki.revocationLists("root/crl.pem").first)
        #expect(root.revokedSerialNumbersHex.isEmpty)
        #expect(root.isCurrent(at: Date()))
        #expect(try CertificateRevocationList(derEncoded: issuing.derEncoded) == issuing)
    }

    @Test func badInputsGiveTypedErrorsNeverCrashes() throws {
        let good = try pki.certificates("participants/US-NRRC/signing.pem")[0].derEncoded
        let goodCRL = try pki.revocationLists("issuing/crl.der")[0].derEncoded
        let derCases: [[UInt8]] = [
            [], [0x30], [0x30, 0x00], Array(good.dropLast()), good + [0x00], Array(good.prefix(100)),
            [UInt8](repeating: 0xff, count: 70_000),
        ]
        for bytes in derCases {
            #expect(throws: CryptoError.self) { try Certificate(derEncoded: bytes) }
            #expect(throws: CryptoError.self) { try CertificateRevocationList(derEncoded: bytes) }
        }
        #expect(throws: CryptoError.self) { try Certificate(derEncoded: goodCRL) }
        #expect(throws: CryptoError.self) { try CertificateRevocationList(derEncoded: good) }

        // Every single-byte corruption of a certificate either parses or throws; never crashes.
        var thrown = 0
        for index in stride(from: 0, to: good.count, by: 3) {
            var corrupted = good
            corrupted[index] ^= 0x5a
            do { _ = try Certificate(derEncoded: corrupted) } catch is CryptoError { thrown += 1 }
        }
        #expect(thrown > 0)
        for _ in 0..<300 {
            let random = (0..<Int.random(in: 0..<600)).map { _ in UInt8.random(in: 0...255) }
            _ = try? Certificate(derEncoded: random)
            _ = try? Certificate(derEncoded: [0x30, 0x82, 0x01, 0x00] + random)
            _ = try? CertificateRevocationList(derEncoded: [0x30, 0x82, 0x01, 0x00] + random)
        }

        let pemCases: [(String, CryptoError.Code)] = [
            ("", .invalidPEM),
            ("hello", .invalidPEM),
            ("-----BEGIN CERTIFICATE-----\nMIIB\n", .invalidPEM),
            ("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", .invalidPEM),
            ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END X509 CRL-----\n", .invalidPEM),
            ("-----END CERTIFICATE-----\n", .invalidPEM),
            ("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n", .invalidPEM),
            ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", .invalidCertificate),
            ("-----BEGIN CERTIFICATE-----\nAA=A\n-----END CERTIFICATE-----\n", .invalidPEM),
        ]
        for (text, code) in pemCases {
            let error = #expect(throws: CryptoError.self) { try Certificate.parsePEM(text) }
            #expect(error?.code == code, "\(text.debugDescription): \(String(describing: error))")
        }
        let crlError = #expect(throws: CryptoError.self) {
            try CertificateRevocationList.parsePEM(Certificate(derEncoded: good).pemEncoded)
        }
        #expect(crlError?.code == .invalidPEM)

        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let garbage = directory.appendingPathComponent("garbage.pem")
        try Data((0..<512).map { _ in UInt8.random(in: 0...255) }).write(to: garbage)
        let fileError = #expect(throws: CryptoError.self) { try Certificate.load(path: garbage.path) }
        #expect(fileError?.reason.contains(garbage.path) == true)
        #expect(throws: CryptoError.self) { try CertificateRevocationList.load(path: garbage.path) }
        #expect(throws: CryptoError.self) { try Certificate.load(path: directory.path) }
    }

    @Test func participantIDSyntax() {
        for valid in ["US-NRRC", "HCOC-CC", "A", "9", String(repeating: "A", count: 64), "A-"] {
            #expect(Certificate.isValidParticipantID(valid), "\(valid)")
        }
        for invalid in ["", "-A", "us-nrrc", "US NRRC", "US_NRRC", String(repeating: "A", count: 65), "É"] {
            #expect(!Certificate.isValidParticipantID(invalid), "\(invalid)")
        }
    }
}
