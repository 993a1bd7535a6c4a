import ArgumentParser
import BenchSupport
import Foundation
import ParleyCodec
import ParleyCrypto
import ParleyProtocol

/// `parley-bench crypto`: ParleyCrypto's sign/verify throughput against `openssl speed` in the same
/// run, and the cost of verifying a message whose certificate chain was verified before.
struct Crypto: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sign/verify throughput of ParleyCrypto vs. `openssl speed`, and cached-chain verification cost.",
        discussion: """
            Single thread, CPU time. Each ParleyCrypto figure signs or verifies a 300-byte message in COSE \
            form (ECDSA r‖s, so a DER conversion per call) for about --seconds CPU-seconds. The reference \
            is `openssl speed -seconds N ed25519 ecdsap256 ecdsap384` run in the same process, which also \
            counts CPU time \
            (OpenSSL's loop reuses one context and, for ECDSA, signs a precomputed 20-byte digest). \
            The chain figures use a test PKI made by Certs/make-test-pki.sh in a temporary directory.
            """
    )

    @Option(help: "Seconds per measurement.")
    var seconds: Int = 2

    @Option(help: "The openssl executable for the reference figures.")
    var openssl: String = "openssl"

    @Flag(name: .customLong("skip-openssl"), help: "Skip the `openssl speed` reference.")
    var skipOpenSSL = false

    @Option(
        help:
            "Rounds of the whole-message comparison, each an `openssl speed` run of the algorithm next to Parley's sign and verify; the median ratio is reported."
    )
    var rounds: Int = 3

    @Option(
        help: ArgumentHelp(
            "Only repeat one whole-message operation for --seconds and print its rate, for a profiler: ALG-sign or ALG-verify, ALG one of ed25519, p256, p384.",
            valueName: "operation"
        )
    )
    var only: String?

    func run() async throws {
        if let only { return try loop(only) }
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let duration = Duration.seconds(seconds)
        print("parley-bench crypto: single thread, \(seconds) CPU-s per figure, 300-byte message")

        var parley: [SignatureAlgorithm: (sign: Double, verify: Double)] = [:]
        for algorithm in SignatureAlgorithm.allCases {
            let key = try PrivateKey.generate(algorithm)
            let signature = try key.signature(for: message)
            let publicKey = key.publicKey
            guard publicKey.isValidSignature(signature, for: message) else {
                throw ValidationError("self-check failed: \(algorithm) signature does not verify")
            }
            let sign = try Self.rate(for: duration) { _ = try key.signature(for: message) }
            let verify = try Self.rate(for: duration) {
                guard publicKey.isValidSignature(signature, for: message) else { throw BenchFailure.verificationFailed }
            }
            parley[algorithm] = (sign, verify)
        }

        var reference: [SignatureAlgorithm: (sign: Double, verify: Double)] = [:]
        if !skipOpenSSL {
            reference = try OpenSSLSpeed.run(openssl, seconds: seconds, SignatureAlgorithm.allCases)
        }

        print("")
        let widths = [16, 10, 14, 14, 16]
        print(Self.row(["algorithm", "operation", "Parley ops/s", "OpenSSL ops/s", "Parley/OpenSSL"], widths: widths))
        for algorithm in SignatureAlgorithm.allCases {
            guard let ours = parley[algorithm] else { continue }
            let theirs = reference[algorithm]
            for (operation, value, base) in [
                ("sign", ours.sign, theirs?.sign), ("verify", ours.verify, theirs?.verify),
            ] {
                print(
                    Self.row(
                        [
                            Self.name(algorithm), operation, Self.format(value), base.map(Self.format) ?? "n/a",
                            base.map { String(format: "%.2f", value / $0) } ?? "n/a",
                        ],
                        widths: widths
                    )
                )
            }
        }

        try chainBenchmark(message: message, duration: duration, reference: reference)
    }

    private func loop(_ operation: String) throws {
        let parts = operation.split(separator: "-").map(String.init)
        guard parts.count == 2, ["ed25519", "p256", "p384"].contains(parts[0]), ["sign", "verify"].contains(parts[1])
        else {
            throw ValidationError(
                "--only takes ed25519-sign, ed25519-verify, p256-sign, p256-verify, p384-sign or p384-verify"
            )
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent(
            "parley-bench-pki-\(UUID().uuidString)"
        )
        defer { try? FileManager.default.removeItem(at: root) }
        try makeTestPKI(in: root.path, algorithm: parts[0], participants: ["US-NRRC", "RU-NRRC"])
        let store = try TrustStore.load(
            anchorsPath: root.appendingPathComponent("trust/anchors.pem").path,
            crlPaths: [root.appendingPathComponent("trust/crls.pem").path]
        )
        let identity = try SigningIdentity.load(
            keyPath: root.appendingPathComponent("participants/US-NRRC/signing.key").path,
            chainPath: root.appendingPathComponent("participants/US-NRRC/signing-chain.pem").path
        )
        let envelope = Examples.envelope(.preLaunch, created: UTCTime(Date()))
        let signed = try identity.sign(envelope)
        let verifier = MessageVerifier(trust: store)
        let time = UTCTime(Date())
        let rate =
            parts[1] == "sign"
            ? try Self.rate(for: .seconds(seconds)) { _ = try identity.sign(envelope) }
            : try Self.rate(for: .seconds(seconds)) { _ = try verifier.verifyMessage(signed, at: time) }
        print("\(operation): \(Self.format(rate)) per CPU-second")
    }

    /// Bare signature verification vs. the same plus `TrustStore.verify` on a chain seen before.
    private func chainBenchmark(
        message: [UInt8],
        duration: Duration,
        reference: [SignatureAlgorithm: (sign: Double, verify: Double)]
    ) throws {
        let root = FileManager.default.temporaryDirectory
            .appendingPathComponent("parley-bench-pki-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }

        print("")
        print("Chain verification: TrustStore.verify on a chain verified before (cached) plus the signature")
        print("verify, relative to the bare signature verify (target: cost <= 1.20 x bare)")
        print(Self.row(["leaf", "measurement", "ops/s", "cost vs bare"], widths: [16, 50, 12, 14]))
        var whole: [WholeMessageSetup] = []
        for (option, algorithm) in [("ed25519", SignatureAlgorithm.edDSA), ("p256", .es256), ("p384", .es384)] {
            let directory = root.appendingPathComponent(option)
            try makeTestPKI(in: directory.path, algorithm: option, participants: ["US-NRRC", "RU-NRRC"])
            let store = try TrustStore.load(
                anchorsPath: directory.appendingPathComponent("trust/anchors.pem").path,
                crlPaths: [directory.appendingPathComponent("trust/crls.pem").path]
            )
            let chain = try Certificate.load(
                path: directory.appendingPathComponent("participants/US-NRRC/signing-chain.pem").path
            )
            let key = try PrivateKey.load(
                path: directory.appendingPathComponent("participants/US-NRRC/signing.key").path
            )
            guard key.algorithm == algorithm else {
                throw ValidationError("test PKI made a \(key.algorithm) key for --alg \(option)")
            }
            let signature = try key.signature(for: message)
            let now = Date()
            let leafKey = try store.verify(chain: chain, at: now).leaf.publicKey

            let der = chain.map(\.derEncoded)

            let bare = try Self.rate(for: duration) {
                guard leafKey.isValidSignature(signature, for: message) else { throw BenchFailure.verificationFailed }
            }
            let cached = try Self.rate(for: duration) {
                let verified = try store.verify(chain: chain, at: now)
                guard verified.leaf.publicKey.isValidSignature(signature, for: message) else {
                    throw BenchFailure.verificationFailed
                }
            }
            let cachedDER = try Self.rate(for: duration) {
                let verified = try store.verify(chainDER: der, at: now)
                guard verified.leaf.publicKey.isValidSignature(signature, for: message) else {
                    throw BenchFailure.verificationFailed
                }
            }
            let lookupOnly = try Self.rate(for: .seconds(max(1, seconds / 2))) {
                _ = try store.verify(chain: chain, at: now)
            }
            let uncached = try Self.rate(for: .seconds(max(1, seconds / 2))) {
                store.clearCache()
                let verified = try store.verify(chain: chain, at: now)
                guard verified.leaf.publicKey.isValidSignature(signature, for: message) else {
                    throw BenchFailure.verificationFailed
                }
            }
            // Whole Parley messages: envelope encoding, COSE_Sign1 framing with the x5chain, low-S,
            // and on the verifying side the full SPEC.md §9.1 procedure with the chain cached.
            let identity = try SigningIdentity(key: key, chain: chain)
            let envelope = Examples.envelope(.preLaunch, created: UTCTime(now))
            let signed = try identity.sign(envelope)
            let verifier = MessageVerifier(trust: store)
            let time = UTCTime(now)
            _ = try verifier.verifyMessage(signed, at: time)
            let verifyMessage = try Self.rate(for: duration) { _ = try verifier.verifyMessage(signed, at: time) }
            whole.append(
                WholeMessageSetup(
                    algorithm: algorithm,
                    identity: identity,
                    envelope: envelope,
                    signed: signed,
                    verifier: verifier,
                    time: time,
                    key: key,
                    leafKey: leafKey
                )
            )

            for (label, value) in [
                ("bare signature verify", bare),
                ("whole message verify (SPEC §9.1, chain cached)", verifyMessage),
                ("cached chain ([Certificate]) + signature verify", cached),
                ("cached chain (DER x5chain) + signature verify", cachedDER),
                ("uncached chain + signature verify", uncached),
                ("cached chain lookup alone (no signature)", lookupOnly),
            ] {
                print(
                    Self.row(
                        [Self.name(algorithm), label, Self.format(value), String(format: "%.3f", bare / value)],
                        widths: [16, 50, 12, 14]
                    )
                )
            }
        }

        try wholeMessageBenchmark(whole, duration: duration)
    }

    /// What the whole-message comparison needs of one algorithm's test PKI.
    struct WholeMessageSetup {
        let algorithm: SignatureAlgorithm
        let identity: SigningIdentity
        let envelope: Envelope
        let signed: [UInt8]
        let verifier: MessageVerifier
        let time: UTCTime
        let key: PrivateKey
        let leafKey: PublicKey
    }

    /// Whole messages against `openssl speed`, in rounds: each round runs `openssl speed` for the
    /// algorithm right before Parley's measurements, so that drift of the machine's speed during the
    /// run cancels out of each round's ratio; the median round is reported, with the range.
    private func wholeMessageBenchmark(_ setups: [WholeMessageSetup], duration: Duration) throws {
        print("")
        print("Whole messages: a pre-launch envelope signed as a COSE_Sign1 with its x5chain (SigningIdentity.sign),")
        print("and verified by MessageVerifier.verifyMessage (the full SPEC.md §9.1 procedure, chain cached), against")
        print(
            "`openssl speed` run right before in each of \(rounds) round(s); median ratio (range). \"same bytes\": the bare"
        )
        print(
            "OpenSSL sign/verify of the message's Sig_structure in the same round, so that column is the cost of framing alone."
        )
        let widths = [16, 16, 14, 14, 22, 18]
        print(
            Self.row(
                ["algorithm", "operation", "Parley ops/s", "OpenSSL ops/s", "Parley/OpenSSL", "Parley/same bytes"],
                widths: widths
            )
        )
        for setup in setups {
            let toBeSigned = try COSESign1(decoding: setup.signed).toBeSigned()
            let signature = try setup.key.signature(for: toBeSigned)
            var sign: [(parley: Double, openssl: Double?, primitive: Double)] = []
            var verify: [(parley: Double, openssl: Double?, primitive: Double)] = []
            for _ in 0..<max(1, rounds) {
                var reference: (sign: Double, verify: Double)?
                if !skipOpenSSL {
                    reference = try OpenSSLSpeed.run(openssl, seconds: seconds, [setup.algorithm])[setup.algorithm]
                }
                let signMessage = try Self.rate(for: duration) { _ = try setup.identity.sign(setup.envelope) }
                let signPrimitive = try Self.rate(for: duration) { opaque(try setup.key.signature(for: toBeSigned)) }
                let verifyMessage = try Self.rate(for: duration) {
                    _ = try setup.verifier.verifyMessage(setup.signed, at: setup.time)
                }
                let verifyPrimitive = try Self.rate(for: duration) {
                    guard setup.leafKey.isValidSignature(signature, for: toBeSigned) else {
                        throw BenchFailure.verificationFailed
                    }
                }
                sign.append((signMessage, reference?.sign, signPrimitive))
                verify.append((verifyMessage, reference?.verify, verifyPrimitive))
            }
            for (operation, results) in [("sign message", sign), ("verify message", verify)] {
                let ratios = results.compactMap { result in result.openssl.map { result.parley / $0 } }.sorted()
                let median = results.sorted { $0.parley < $1.parley }[results.count / 2]
                let ratio =
                    ratios.isEmpty
                    ? "n/a" : String(format: "%.2f (%.2f–%.2f)", ratios[ratios.count / 2], ratios.first!, ratios.last!)
                let framing = results.map { $0.parley / $0.primitive }.sorted()[results.count / 2]
                print(
                    Self.row(
                        [
                            Self.name(setup.algorithm), operation, Self.format(median.parley),
                            median.openssl.map(Self.format) ?? "n/a",
                            ratio, String(format: "%.2f", framing),
                        ],
                        widths: widths
                    ) + "  (\(setup.signed.count)-byte message, \(toBeSigned.count)-byte Sig_structure)"
                )
            }
        }
    }

    enum BenchFailure: Error {
        case verificationFailed
    }

    /// Operations per CPU-second of this thread (the same clock `openssl speed` uses without `-elapsed`),
    /// so that the ratio holds while other processes load the machine.
    static func rate(for duration: Duration, _ operation: () throws -> Void) throws -> Double {
        try measureRate(seconds: Double(duration.components.seconds), batch: 16, operation)
    }

    static func name(_ algorithm: SignatureAlgorithm) -> String {
        switch algorithm {
        case .edDSA: "Ed25519"
        case .es256: "ES256 (P-256)"
        case .es384: "ES384 (P-384)"
        }
    }

    static func format(_ value: Double) -> String {
        String(format: "%.0f", value)
    }

    /// The first two cells left-aligned, the others right-aligned, in columns of `widths`.
    static func row(_ cells: [String], widths: [Int]) -> String {
        zip(cells, widths).enumerated().map { index, pair in
            let (cell, width) = pair
            let pad = String(repeating: " ", count: max(1, width - cell.count))
            return index < 2 ? cell + pad : pad + cell
        }.joined()
    }
}
