import Foundation
import ParleyCrypto
@testable import ParleyProtocol

/// A test PKI from `Certs/make-test-pki.sh` for the participants of `Examples` (US-NRRC signs,
/// HCOC-CC and RU-NRRC receive), made in a temporary directory. Layout: Certs/README.md.
struct TestPKI: Sendable {
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static let ed25519 = Result { try TestPKI.make(algorithm: "ed25519") }
    static let p256 = Result { try TestPKI.make(algorithm: "p256") }
    static let p384 = Result { try TestPKI.make(algorithm: "p384") }

    static func shared(_ algorithm: SignatureAlgorithm) throws -> TestPKI {
        switch algorithm {
        case .edDSA: return try ed25519.get()
        case .es256: return try p256.get()
        case .es384: return try p384.get()
        }
    }

    let directory: URL

    static func make(algorithm: String) throws -> TestPKI {
        let parent = FileManager.default.temporaryDirectory.appendingPathComponent("parley-protocol-pki-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: parent, withIntermediateDirectories: true)
        let directory = parent.appendingPathComponent("pki")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["bash", packageRoot.appendingPathComponent("Certs/make-test-pki.sh").path, "--alg", algorithm,
                             directory.path, "US-NRRC", "RU-NRRC", "HCOC-CC"]
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        return TestPKI(directory: directory)
    }

    func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    func identity(_ participant: String, certificate: String = "signing") throws -> SigningIdentity {
        try SigningIdentity.load(keyPath: path("participants/\(participant)/\(certificate).key"),
                                 chainPath: path("participants/\(participant)/\(certificate)-chain.pem"))
    }

    func negativeIdentity(_ folder: String) throws -> (PrivateKey, [Certificate]) {
        (try PrivateKey.load(path: path("negative/\(folder)/signing.key")),
         try Certificate.load(path: path("negative/\(folder)/signing-chain.pem")))
    }

    func trust(crls: String = "trust/crls.pem") throws -> TrustStore {
        try TrustStore.load(anchorsPath: path("trust/anchors.pem"), crlPaths: [path(crls)])
    }

    func verifier(crls: String = "trust/crls.pem") throws -> MessageVerifier {
        MessageVerifier(trust: try trust(crls: crls))
    }
}
