import Foundation
import ParleyCrypto
import ParleyProtocol

/// A test PKI made by `Certs/make-test-pki.sh` in a temporary directory, removed at exit (layout:
/// Certs/README.md): by default for US-NRRC (who signs in `Examples`), RU-NRRC and HCOC-CC.
public struct TestPKI: Sendable {
    public static let script = SourceTree.url("Certs/make-test-pki.sh").path
    public static let participants = ["US-NRRC", "RU-NRRC", "HCOC-CC"]

    private static let ed25519 = Result { try TestPKI.make(algorithm: "ed25519") }
    private static let p256 = Result { try TestPKI.make(algorithm: "p256") }
    private static let p384 = Result { try TestPKI.make(algorithm: "p384") }

    /// One PKI a signing algorithm for every test that only reads it, made when first asked for.
    public static func shared(_ algorithm: SignatureAlgorithm = .edDSA) throws -> TestPKI {
        switch algorithm {
        case .edDSA: try ed25519.get()
        case .es256: try p256.get()
        case .es384: try p384.get()
        }
    }

    public let directory: URL

    public init(directory: URL) { self.directory = directory }

    /// A new PKI, for a test that changes it: leaf keys of `algorithm` (the script's default when nil),
    /// further script `arguments` (e.g. `--ca-alg ed25519`).
    public static func make(
        algorithm: String? = nil,
        arguments: [String] = [],
        participants: [String] = participants
    ) throws -> TestPKI {
        let parent = try temporaryDirectory("parley-pki")
        let directory = parent.appendingPathComponent("pki")
        let log = parent.appendingPathComponent("make-test-pki.log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let output = try FileHandle(forWritingTo: log)
        defer { try? output.close() }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            ["bash", script] + (algorithm.map { ["--alg", $0] } ?? []) + arguments + [directory.path] + participants
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            throw TestPKIError(
                description: "make-test-pki.sh exited with \(process.terminationStatus): \(text.suffix(2_000))"
            )
        }
        return TestPKI(directory: directory)
    }

    /// Deletes the PKI (its temporary parent directory).
    public func remove() {
        try? FileManager.default.removeItem(at: directory.deletingLastPathComponent())
    }

    public func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    /// `participant`'s signing key and chain.
    public func key(_ participant: String) -> String { path("participants/\(participant)/signing.key") }
    public func chain(_ participant: String) -> String { path("participants/\(participant)/signing-chain.pem") }
    /// The regime's trust anchors (the root) and CRLs (root and issuing CA).
    public var anchors: String { path("trust/anchors.pem") }
    public var crls: String { path("trust/crls.pem") }

    public func certificates(_ relative: String) throws -> [Certificate] {
        try Certificate.load(path: path(relative))
    }

    public func revocationLists(_ relative: String) throws -> [CertificateRevocationList] {
        try CertificateRevocationList.load(path: path(relative))
    }

    /// A participant's identity: its `certificate` key ("signing", or e.g. "rollover") and chain.
    public func identity(_ participant: String, certificate: String = "signing") throws -> SigningIdentity {
        try SigningIdentity.load(
            keyPath: path("participants/\(participant)/\(certificate).key"),
            chainPath: path("participants/\(participant)/\(certificate)-chain.pem")
        )
    }

    /// The key and chain of one of the script's negative cases (`negative/<folder>/`).
    public func negativeIdentity(_ folder: String) throws -> (PrivateKey, [Certificate]) {
        (
            try PrivateKey.load(path: path("negative/\(folder)/signing.key")),
            try Certificate.load(path: path("negative/\(folder)/signing-chain.pem"))
        )
    }

    /// The regime's trust store, as a node loads it.
    public func trust(crls: String = "trust/crls.pem") throws -> TrustStore {
        try TrustStore.load(anchorsPath: anchors, crlPaths: [path(crls)])
    }

    /// A trust store of the given anchors and CRLs (paths relative to the PKI).
    public func trustStore(
        crls crlPaths: [String] = ["trust/crls.pem"],
        anchors: [String] = ["trust/anchors.pem"],
        maximumClockSkew: TimeInterval = 300
    ) throws -> TrustStore {
        try TrustStore(
            anchors: anchors.flatMap { try certificates($0) },
            crls: crlPaths.flatMap { try revocationLists($0) },
            maximumClockSkew: maximumClockSkew
        )
    }

    public func verifier(crls: String = "trust/crls.pem") throws -> MessageVerifier {
        MessageVerifier(trust: try trust(crls: crls))
    }

    /// Re-issues a CA's CRL with the given thisUpdate and nextUpdate (`generalizedTime`), to `output`.
    public func issueCRL(ca: String, config: String, lastUpdate: String, nextUpdate: String, output: String) throws {
        try openssl(
            ca: ca,
            config: config,
            ["-gencrl", "-crl_lastupdate", lastUpdate, "-crl_nextupdate", nextUpdate, "-out", path(output)]
        )
    }

    /// Revokes a certificate in the issuing CA's database (the next CRL it issues lists it) for
    /// keyCompromise, with its key unsafe since `compromisedSince` (the invalidityDate; by default
    /// a day before the certificate's notBefore), so that it counts as revoked at any time a test
    /// verifies at (SPEC.md §8.4), also a "now" taken before the PKI was made.
    public func revoke(_ certificate: String, compromisedSince: Date? = nil) throws {
        let since = try compromisedSince ?? certificates(certificate)[0].notValidBefore.addingTimeInterval(-86_400)
        try openssl(
            ca: "issuing",
            config: "issuing-ca.cnf",
            ["-revoke", path(certificate), "-crl_compromise", Self.generalizedTime(since)]
        )
    }

    private func openssl(ca: String, config: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/openssl")
        process.arguments = ["ca", "-batch", "-config", SourceTree.url("Certs/openssl/\(config)").path] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["PARLEY_CA_DIR"] = path(ca)
        process.environment = environment
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw TestPKIError(
                description: "openssl \(arguments.joined(separator: " ")) exited with \(process.terminationStatus)"
            )
        }
    }

    /// `date` as an OpenSSL time (YYYYMMDDHHMMSSZ).
    public static func generalizedTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyyMMddHHmmss'Z'"
        return formatter.string(from: date)
    }
}

public struct TestPKIError: Error, CustomStringConvertible {
    public var description: String

    public init(description: String) { self.description = description }
}
