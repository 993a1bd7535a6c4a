import Foundation
import ParleyCrypto
import Synchronization

/// A test PKI made by `Certs/make-test-pki.sh` in a temporary directory (see Certs/README.md for its layout).
struct TestPKI: Sendable {
    static let script = TestSupport.packageRoot.appendingPathComponent("Certs/make-test-pki.sh").path
    static let first = "US-NRRC"
    static let second = "RU-NRRC"

    /// One PKI shared by the read-only tests (made once per test process, removed at exit).
    static let shared: Result<TestPKI, any Error> = Result {
        let pki = try TestPKI.make()
        sharedDirectory.withLock { $0 = pki.directory.deletingLastPathComponent().path }
        atexit {
            if let path = TestPKI.sharedDirectory.withLock({ $0 }) {
                try? FileManager.default.removeItem(atPath: path)
            }
        }
        return pki
    }
    private static let sharedDirectory = Mutex<String?>(nil)

    let directory: URL

    /// A new PKI with participants `US-NRRC` and `RU-NRRC`.
    static func make(arguments: [String] = []) throws -> TestPKI {
        let directory = try TestSupport.temporaryDirectory("parley-test-pki").appendingPathComponent("pki")
        try run("/usr/bin/env", ["bash", script] + arguments + [directory.path, first, second])
        return TestPKI(directory: directory)
    }

    /// Deletes the PKI (its temporary parent directory).
    func remove() {
        try? FileManager.default.removeItem(at: directory.deletingLastPathComponent())
    }

    func path(_ relativePath: String) -> String {
        directory.appendingPathComponent(relativePath).path
    }

    func certificates(_ relativePath: String) throws -> [Certificate] {
        try Certificate.load(path: path(relativePath))
    }

    func crls(_ relativePath: String) throws -> [CertificateRevocationList] {
        try CertificateRevocationList.load(path: path(relativePath))
    }

    /// The regime's trust store: the root as anchor, root and issuing CRLs.
    func trustStore(
        crls crlPaths: [String] = ["trust/crls.pem"],
        anchors: [String] = ["trust/anchors.pem"],
        maximumClockSkew: TimeInterval = 300
    ) throws -> TrustStore {
        try TrustStore(
            anchors: anchors.flatMap { try certificates($0) },
            crls: crlPaths.flatMap { try crls($0) },
            maximumClockSkew: maximumClockSkew
        )
    }

    /// Re-issues a CA's CRL with the given thisUpdate/nextUpdate (YYYYMMDDHHMMSSZ), written to `output`.
    func issueCRL(ca: String, config: String, lastUpdate: String, nextUpdate: String, output: String) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PARLEY_CA_DIR"] = path(ca)
        try run("/usr/bin/openssl", [
            "ca", "-batch", "-config", TestSupport.packageRoot.appendingPathComponent("Certs/openssl/\(config)").path,
            "-gencrl", "-crl_lastupdate", lastUpdate, "-crl_nextupdate", nextUpdate, "-out", path(output),
        ], environment: environment)
    }

    /// Revokes a certificate in the issuing CA's database (the next CRL lists it).
    func revoke(_ certificatePath: String) throws {
        var environment = ProcessInfo.processInfo.environment
        environment["PARLEY_CA_DIR"] = path("issuing")
        try run("/usr/bin/openssl", [
            "ca", "-batch", "-config", TestSupport.packageRoot.appendingPathComponent("Certs/openssl/issuing-ca.cnf").path,
            "-revoke", path(certificatePath), "-crl_reason", "keyCompromise",
        ], environment: environment)
    }

    static func generalizedTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: date)
    }
}
