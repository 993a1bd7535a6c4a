import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol

/// Whole messages signed and verified with one algorithm's test PKI: a pre-launch envelope signed as
/// a COSE_Sign1 with its x5chain (`SigningIdentity.sign`) and verified by the full SPEC.md §9.1
/// procedure with the chain cached (`MessageVerifier.verifyMessage`); and, as the reference, the bare
/// OpenSSL signature and verification of the same Sig_structure bytes.
public final class SignedMessageWorkload {
    public let algorithm: SignatureAlgorithm
    public let identity: SigningIdentity
    public let envelope: Envelope
    public let signed: [UInt8]
    public let toBeSigned: [UInt8]
    public let verifier: MessageVerifier
    public let time: UTCTime
    let key: PrivateKey
    let leafKey: PublicKey
    let signature: [UInt8]

    /// Makes a test PKI for `algorithm` in a temporary directory (removed once loaded).
    public init(_ algorithm: SignatureAlgorithm) throws {
        let option = ["ed25519", "p256", "p384"][SignatureAlgorithm.allCases.firstIndex(of: algorithm)!]
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "parley-bench-pki-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: root) }
        try makeTestPKI(in: root.path, algorithm: option, participants: ["US-NRRC", "RU-NRRC"])
        let trust = try TrustStore.load(
            anchorsPath: root.appendingPathComponent("trust/anchors.pem").path,
            crlPaths: [root.appendingPathComponent("trust/crls.pem").path]
        )
        let chain = try Certificate.load(
            path: root.appendingPathComponent("participants/US-NRRC/signing-chain.pem").path
        )
        key = try PrivateKey.load(path: root.appendingPathComponent("participants/US-NRRC/signing.key").path)
        guard key.algorithm == algorithm else {
            throw BenchError("the test PKI made a \(key.algorithm) key for --alg \(option)")
        }
        let now = Date()
        leafKey = try trust.verify(chain: chain, at: now).leaf.publicKey
        self.algorithm = algorithm
        identity = try SigningIdentity(key: key, chain: chain)
        envelope = Examples.envelope(.preLaunch, created: UTCTime(now))
        signed = try identity.sign(envelope)
        toBeSigned = try COSESign1(decoding: signed).toBeSigned()
        signature = try key.signature(for: toBeSigned)
        verifier = MessageVerifier(trust: trust)
        time = UTCTime(now)
        _ = try verifier.verifyMessage(signed, at: time)  // caches the chain
    }

    @inline(__always)
    public func signMessage() throws {
        opaque(try identity.sign(envelope))
    }

    @inline(__always)
    public func verifyMessage() throws {
        opaque(try verifier.verifyMessage(signed, at: time))
    }

    /// The reference for `signMessage`: OpenSSL's signature of the message's Sig_structure alone.
    @inline(__always)
    public func signBytes() throws {
        opaque(try key.signature(for: toBeSigned))
    }

    /// The reference for `verifyMessage`: OpenSSL's verification of the same signature alone.
    @inline(__always)
    public func verifyBytes() throws {
        guard leafKey.isValidSignature(signature, for: toBeSigned) else {
            throw BenchError("the bare signature does not verify")
        }
    }

    /// A short name for reports: Ed25519, ES256, ES384.
    public var name: String {
        switch algorithm {
        case .edDSA: "Ed25519"
        case .es256: "ES256"
        case .es384: "ES384"
        }
    }
}
