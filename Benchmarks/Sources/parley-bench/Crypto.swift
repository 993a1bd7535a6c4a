import ArgumentParser
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ParleyCodec
import ParleyCrypto
import ParleyProtocol

/// `parley bench crypto`: ParleyCrypto's sign/verify throughput against `openssl speed` in the same
/// run, and the cost of verifying a message whose certificate chain was verified before.
struct BenchCrypto: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "crypto",
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

    @Option(help: "Path of Certs/make-test-pki.sh (default: found from this source file's location).")
    var pkiScript: String?

    @Flag(name: .customLong("skip-openssl"), help: "Skip the `openssl speed` reference.")
    var skipOpenSSL = false

    @Option(help: "Rounds of the whole-message comparison, each an `openssl speed` run of the algorithm next to Parley's sign and verify; the median ratio is reported.")
    var rounds: Int = 3

    @Option(help: ArgumentHelp(
        "Only repeat one whole-message operation for --seconds and print its rate, for a profiler: ALG-sign or ALG-verify, ALG one of ed25519, p256, p384.",
        valueName: "operation"))
    var only: String?

    func run() async throws {
        if let only { return try loop(only) }
        let message = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let duration = Duration.seconds(seconds)
        print("parley bench crypto: single thread, \(seconds) CPU-s per figure, 300-byte message")

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
            let output = try Self.runTool(openssl, [
                "speed", "-seconds", String(seconds), "ed25519", "ecdsap256", "ecdsap384",
            ])
            reference = Self.parseOpenSSLSpeed(output)
        }

        print("")
        let widths = [16, 10, 14, 14, 16]
        print(Self.row(["algorithm", "operation", "Parley ops/s", "OpenSSL ops/s", "Parley/OpenSSL"], widths: widths))
        for algorithm in SignatureAlgorithm.allCases {
            guard let ours = parley[algorithm] else { continue }
            let theirs = reference[algorithm]
            for (operation, value, base) in [("sign", ours.sign, theirs?.sign), ("verify", ours.verify, theirs?.verify)] {
                print(Self.row([
                    Self.name(algorithm), operation, Self.format(value), base.map(Self.format) ?? "n/a",
                    base.map { String(format: "%.2f", value / $0) } ?? "n/a",
                ], widths: widths))
            }
        }

        try chainBenchmark(message: message, duration: duration, reference: reference)
    }

    private func loop(_ operation: String) throws {
        let parts = operation.split(separator: "-").map(String.init)
        guard parts.count == 2, ["ed25519", "p256", "p384"].contains(parts[0]), ["sign", "verify"].contains(parts[1]) else {
            throw ValidationError("--only takes ed25519-sign, ed25519-verify, p256-sign, p256-verify, p384-sign or p384-verify")
        }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("parley-bench-pki-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        _ = try Self.runTool("bash", [try testPKIScript(), "--alg", parts[0], root.path, "US-NRRC", "RU-NRRC"])
        let store = try TrustStore.load(anchorsPath: root.appendingPathComponent("trust/anchors.pem").path,
                                        crlPaths: [root.appendingPathComponent("trust/crls.pem").path])
        let identity = try SigningIdentity.load(keyPath: root.appendingPathComponent("participants/US-NRRC/signing.key").path,
                                                chainPath: root.appendingPathComponent("participants/US-NRRC/signing-chain.pem").path)
        let envelope = Examples.envelope(.preLaunch, created: UTCTime(Date()))
        let signed = try identity.sign(envelope)
        let verifier = MessageVerifier(trust: store)
        let time = UTCTime(Date())
        let rate = parts[1] == "sign"
            ? try Self.rate(for: .seconds(seconds)) { _ = try identity.sign(envelope) }
            : try Self.rate(for: .seconds(seconds)) { _ = try verifier.verifyMessage(signed, at: time) }
        print("\(operation): \(Self.format(rate)) per CPU-second")
    }

    private func testPKIScript() throws -> String {
        let script = pkiScript ?? URL(fileURLWithPath: #filePath)
            .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Certs/make-test-pki.sh").path
        guard FileManager.default.fileExists(atPath: script) else {
            throw ValidationError("test-PKI script not found at \(script); give --pki-script")
        }
        return script
    }

    /// Bare signature verification vs. the same plus `TrustStore.verify` on a chain seen before.
    private func chainBenchmark(message: [UInt8], duration: Duration,
                                reference: [SignatureAlgorithm: (sign: Double, verify: Double)]) throws {
        let script = try testPKIScript()
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
            _ = try Self.runTool("bash", [script, "--alg", option, directory.path, "US-NRRC", "RU-NRRC"])
            let store = try TrustStore.load(
                anchorsPath: directory.appendingPathComponent("trust/anchors.pem").path,
                crlPaths: [directory.appendingPathComponent("trust/crls.pem").path]
            )
            let chain = try Certificate.load(path: directory.appendingPathComponent("participants/US-NRRC/signing-chain.pem").path)
            let key = try PrivateKey.load(path: directory.appendingPathComponent("participants/US-NRRC/signing.key").path)
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
            whole.append(WholeMessageSetup(algorithm: algorithm, identity: identity, envelope: envelope, signed: signed,
                                           verifier: verifier, time: time, key: key, leafKey: leafKey))

            for (label, value) in [
                ("bare signature verify", bare),
                ("whole message verify (SPEC §9.1, chain cached)", verifyMessage),
                ("cached chain ([Certificate]) + signature verify", cached),
                ("cached chain (DER x5chain) + signature verify", cachedDER),
                ("uncached chain + signature verify", uncached),
                ("cached chain lookup alone (no signature)", lookupOnly),
            ] {
                print(Self.row(
                    [Self.name(algorithm), label, Self.format(value), String(format: "%.3f", bare / value)],
                    widths: [16, 50, 12, 14]
                ))
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
        print("`openssl speed` run right before in each of \(rounds) round(s); median ratio (range). \"same bytes\": the bare")
        print("OpenSSL sign/verify of the message's Sig_structure in the same round, so that column is the cost of framing alone.")
        let widths = [16, 16, 14, 14, 22, 18]
        print(Self.row(["algorithm", "operation", "Parley ops/s", "OpenSSL ops/s", "Parley/OpenSSL", "Parley/same bytes"], widths: widths))
        for setup in setups {
            let toBeSigned = try COSESign1(decoding: setup.signed).toBeSigned()
            let signature = try setup.key.signature(for: toBeSigned)
            var sign: [(parley: Double, openssl: Double?, primitive: Double)] = []
            var verify: [(parley: Double, openssl: Double?, primitive: Double)] = []
            for _ in 0..<max(1, rounds) {
                var reference: (sign: Double, verify: Double)?
                if !skipOpenSSL {
                    let name = ["ed25519", "ecdsap256", "ecdsap384"][SignatureAlgorithm.allCases.firstIndex(of: setup.algorithm)!]
                    reference = Self.parseOpenSSLSpeed(try Self.runTool(openssl, ["speed", "-seconds", String(seconds), name]))[setup.algorithm]
                }
                let signMessage = try Self.rate(for: duration) { _ = try setup.identity.sign(setup.envelope) }
                let signPrimitive = try Self.rate(for: duration) { blackHole(try setup.key.signature(for: toBeSigned)) }
                let verifyMessage = try Self.rate(for: duration) { _ = try setup.verifier.verifyMessage(setup.signed, at: setup.time) }
                let verifyPrimitive = try Self.rate(for: duration) {
                    guard setup.leafKey.isValidSignature(signature, for: toBeSigned) else { throw BenchFailure.verificationFailed }
                }
                sign.append((signMessage, reference?.sign, signPrimitive))
                verify.append((verifyMessage, reference?.verify, verifyPrimitive))
            }
            for (operation, results) in [("sign message", sign), ("verify message", verify)] {
                let ratios = results.compactMap { result in result.openssl.map { result.parley / $0 } }.sorted()
                let median = results.sorted { $0.parley < $1.parley }[results.count / 2]
                let ratio = ratios.isEmpty ? "n/a" : String(format: "%.2f (%.2f–%.2f)", ratios[ratios.count / 2], ratios.first!, ratios.last!)
                let framing = results.map { $0.parley / $0.primitive }.sorted()[results.count / 2]
                print(Self.row([
                    Self.name(setup.algorithm), operation, Self.format(median.parley), median.openssl.map(Self.format) ?? "n/a",
                    ratio, String(format: "%.2f", framing),
                ], widths: widths) + "  (\(setup.signed.count)-byte message, \(toBeSigned.count)-byte Sig_structure)")
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

    /// sign/s and verify/s from `openssl speed` output lines such as
    /// ` 256 bits ecdsa (nistp256)   0.0000s   0.0001s  29402.0  12914.0`.
    static func parseOpenSSLSpeed(_ output: String) -> [SignatureAlgorithm: (sign: Double, verify: Double)] {
        var result: [SignatureAlgorithm: (sign: Double, verify: Double)] = [:]
        for line in output.split(separator: "\n") {
            let algorithm: SignatureAlgorithm
            if line.contains("(Ed25519)") {
                algorithm = .edDSA
            } else if line.contains("(nistp256)") {
                algorithm = .es256
            } else if line.contains("(nistp384)") {
                algorithm = .es384
            } else {
                continue
            }
            let numbers = line.split(separator: " ").compactMap { Double($0) }
            guard numbers.count >= 2 else { continue }
            result[algorithm] = (numbers[numbers.count - 2], numbers[numbers.count - 1])
        }
        return result
    }

    /// Runs a tool and returns its standard output (standard error is discarded).
    ///
    /// Spawned with posix_spawn and an empty signal mask: Foundation's `Process` passes on the parent's
    /// blocked signals, and `openssl speed` ends each measurement with SIGALRM, so under `Process` it
    /// would never stop.
    static func runTool(_ executable: String, _ arguments: [String]) throws -> String {
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pipeEnds: [Int32] = [0, 0]
        guard pipe(&pipeEnds) == 0 else { throw ValidationError("pipe failed: \(String(cString: strerror(errno)))") }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, pipeEnds[1], 1)
        posix_spawn_file_actions_addclose(&actions, pipeEnds[0])
        posix_spawn_file_actions_addclose(&actions, pipeEnds[1])
        posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var emptyMask = sigset_t()
        sigemptyset(&emptyMask)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGALRM, SIGTERM, SIGINT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigmask(&attributes, &emptyMask)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))

        var pid: pid_t = 0
        let status = posix_spawnp(&pid, executable, &actions, &attributes, argv, environ)
        close(pipeEnds[1])
        guard status == 0 else {
            close(pipeEnds[0])
            throw ValidationError("cannot run \(executable): \(String(cString: strerror(status)))")
        }
        var output: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(pipeEnds[0], $0.baseAddress, $0.count) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            output.append(contentsOf: buffer[0..<count])
        }
        close(pipeEnds[0])
        var exitStatus: Int32 = 0
        while waitpid(pid, &exitStatus, 0) < 0 && errno == EINTR {}
        let exited = exitStatus & 0x7f == 0
        let code = (exitStatus >> 8) & 0xff
        guard exited && code == 0 else {
            throw ValidationError(
                "\(executable) \(arguments.joined(separator: " ")) failed (wait status \(exitStatus))"
            )
        }
        return String(decoding: output, as: UTF8.self)
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
