import Foundation
import ParleyCrypto
import Testing
import ParleyTestSupport

@Suite("Keys and signatures")
struct KeyTests {
    static let message = Array((0..<300).map { UInt8(truncatingIfNeeded: $0 &* 7) })

    @Test(arguments: SignatureAlgorithm.allCases)
    func generateSignVerify(_ algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        #expect(key.algorithm == algorithm)
        #expect(key.publicKey.algorithm == algorithm)
        let signature = try key.signature(for: Self.message)
        #expect(signature.count == algorithm.signatureLength)
        #expect(key.publicKey.isValidSignature(signature, for: Self.message))
        #expect(key.publicKey.isValidSignature(try key.signature(for: []), for: []))

        var tampered = signature
        tampered[tampered.count - 1] ^= 0x80
        #expect(!key.publicKey.isValidSignature(tampered, for: Self.message))
        var otherMessage = Self.message
        otherMessage[0] ^= 1
        #expect(!key.publicKey.isValidSignature(signature, for: otherMessage))
        #expect(!key.publicKey.isValidSignature(Array(signature.dropLast()), for: Self.message))
        #expect(!key.publicKey.isValidSignature(signature + [0], for: Self.message))
        #expect(!key.publicKey.isValidSignature([], for: Self.message))

        let other = try PrivateKey.generate(algorithm)
        #expect(!other.publicKey.isValidSignature(signature, for: Self.message))
        #expect(other.publicKey != key.publicKey)

        // The public key survives DER and PEM.
        #expect(try PublicKey(derEncoded: key.publicKey.derEncoded) == key.publicKey)
        #expect(try PublicKey(pemEncoded: key.publicKey.pemEncoded) == key.publicKey)
    }

    /// A key reuses its OpenSSL contexts from call to call, also after a failed verification and
    /// from many tasks at once: every signature still verifies (and Ed25519, being deterministic,
    /// matches what a fresh copy of the key signs), and a tampered one still fails.
    @Test(arguments: SignatureAlgorithm.allCases)
    func reusedContextsKeepSigningAndVerifying(_ algorithm: SignatureAlgorithm) async throws {
        let key = try PrivateKey.generate(algorithm)
        let fresh = try PrivateKey(pemEncoded: try key.pkcs8PEM())
        let messages = (0..<40).map { i in Array(Self.message.prefix(10 * i)) + [UInt8(i)] }
        let signatures = try await withThrowingTaskGroup(of: (Int, [UInt8]).self) { group in
            for (index, message) in messages.enumerated() {
                group.addTask { (index, try key.signature(for: message)) }
            }
            var result = [[UInt8]](repeating: [], count: messages.count)
            for try await (index, signature) in group { result[index] = signature }
            return result
        }
        for (message, signature) in zip(messages, signatures) {
            var tampered = signature
            tampered[5] ^= 0x01
            #expect(!key.publicKey.isValidSignature(tampered, for: message))
            #expect(key.publicKey.isValidSignature(signature, for: message))
            #expect(fresh.publicKey.isValidSignature(signature, for: message))
            if algorithm == .edDSA {
                #expect(try fresh.signature(for: message) == signature)
            }
        }
    }

    /// ECDSA signatures with r or s equal to 0 or ≥ n, or in DER form, are rejected before OpenSSL sees them.
    @Test(arguments: [SignatureAlgorithm.es256, .es384])
    func ecdsaNonCanonicalSignaturesAreRejected(_ algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let signature = try key.signature(for: Self.message)
        let half = signature.count / 2
        let zero = [UInt8](repeating: 0, count: half)
        let ones = [UInt8](repeating: 0xff, count: half)
        for bad in [
            zero + Array(signature[half...]), Array(signature[..<half]) + zero, ones + Array(signature[half...]),
            Array(signature[..<half]) + ones,
        ] {
            #expect(!key.publicKey.isValidSignature(bad, for: Self.message))
        }
        // The same signature in DER form (as OpenSSL itself produces) is not COSE form.
        #expect(!key.publicKey.isValidSignature(derEncode(signature), for: Self.message))
    }

    /// ECDSA signatures come out low-S (SPEC.md §5.3); the high-S twin still verifies as plain ECDSA.
    @Test(arguments: [SignatureAlgorithm.es256, .es384])
    func ecdsaSignaturesAreLowS(_ algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        for round in 0..<64 {
            let message = Array("low-S round \(round)".utf8)
            let signature = try key.signature(for: message)
            #expect(ECDSALowS.isLowS(signature, algorithm: algorithm), "round \(round)")
            #expect(key.publicKey.isValidSignature(signature, for: message))
            let twin = ECDSALowS.twin(of: signature, algorithm: algorithm)
            #expect(twin != signature)
            #expect(key.publicKey.isValidSignature(twin, for: message))
        }
    }

    /// The DER encoding of an r‖s signature, to check that DER input is refused.
    func derEncode(_ raw: [UInt8]) -> [UInt8] {
        func integer(_ bytes: ArraySlice<UInt8>) -> [UInt8] {
            var value = Array(bytes.drop { $0 == 0 })
            if value.first.map({ $0 & 0x80 != 0 }) ?? true { value.insert(0, at: 0) }
            return [0x02, UInt8(value.count)] + value
        }
        let body = integer(raw[..<(raw.count / 2)]) + integer(raw[(raw.count / 2)...])
        return [0x30, UInt8(body.count)] + body
    }

    @Test(arguments: SignatureAlgorithm.allCases)
    func pkcs8RoundTrip(_ algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        let plain = try key.pkcs8PEM()
        #expect(plain.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        let reloaded = try PrivateKey(pemEncoded: plain)
        #expect(reloaded.publicKey == key.publicKey)
        #expect(key.publicKey.isValidSignature(try reloaded.signature(for: Self.message), for: Self.message))

        let encrypted = try key.pkcs8PEM(passphrase: "correct horse battery staple")
        #expect(encrypted.hasPrefix("-----BEGIN ENCRYPTED PRIVATE KEY-----\n"))
        let decrypted = try PrivateKey(pemEncoded: encrypted, passphrase: "correct horse battery staple")
        #expect(decrypted.publicKey == key.publicKey)

        let wrong = #expect(throws: CryptoError.self) {
            try PrivateKey(pemEncoded: encrypted, passphrase: "incorrect horse")
        }
        #expect(wrong?.code == .wrongPassphrase)
        let missing = #expect(throws: CryptoError.self) { try PrivateKey(pemEncoded: encrypted) }
        #expect(missing?.code == .passphraseRequired)
    }

    @Test func encryptedKeyUsesScryptAndAES256CBC() throws {
        let pem = try PrivateKey.generate(.edDSA).pkcs8PEM(passphrase: "pass phrase")
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("key.pem").path
        try pem.write(toFile: path, atomically: false, encoding: .utf8)
        let dump = try run("/usr/bin/openssl", ["asn1parse", "-in", path])
        #expect(dump.contains("OBJECT            :scrypt"), "\(dump)")
        #expect(dump.contains("OBJECT            :aes-256-cbc"), "\(dump)")
    }

    @Test func keyFilesAreCreatedPrivateAndNeverOverwritten() throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("signing.key").path
        let key = try PrivateKey.generate(.es256)
        try key.write(to: path, passphrase: "secret")
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        #expect(try PrivateKey.load(path: path, passphrase: "secret").publicKey == key.publicKey)

        let again = #expect(throws: CryptoError.self) { try PrivateKey.generate(.es256).write(to: path) }
        #expect(again?.code == .fileExists)
        #expect(try PrivateKey.load(path: path, passphrase: "secret").publicKey == key.publicKey)

        let plainPath = directory.appendingPathComponent("plain.key").path
        try key.write(to: plainPath)
        #expect(try PrivateKey.load(path: plainPath).publicKey == key.publicKey)
    }

    @Test(arguments: [0o644, 0o640, 0o604, 0o660, 0o602])
    func looseKeyFileIsRefused(_ mode: Int) throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("loose.key").path
        try PrivateKey.generate(.edDSA).write(to: path)
        try FileManager.default.setAttributes([.posixPermissions: mode], ofItemAtPath: path)
        let error = #expect(throws: CryptoError.self) { try PrivateKey.load(path: path) }
        #expect(error?.code == .insecureKeyFile)
        #expect(error?.reason.contains(path) == true)
        #expect(error?.reason.contains("chmod 600 \(path)") == true)
        #expect(error?.reason.contains(String(mode, radix: 8)) == true, "\(String(describing: error))")
    }

    @Test func badKeyInputsGiveTypedErrors() throws {
        let cases: [(String, CryptoError.Code)] = [
            ("", .invalidKey),
            ("garbage", .invalidKey),
            ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", .invalidKey),
            ("-----BEGIN PRIVATE KEY-----\n!!!!\n-----END PRIVATE KEY-----\n", .invalidKey),
            (try PrivateKey.generate(.edDSA).publicKey.pemEncoded, .invalidKey),
            (String(repeating: "A", count: 70_000), .tooLarge),
        ]
        for (text, code) in cases {
            let error = #expect(throws: CryptoError.self) { try PrivateKey(pemEncoded: text) }
            #expect(error?.code == code, "\(text.prefix(40)): \(String(describing: error))")
        }
        // An RSA key is a well-formed key of an unsupported algorithm.
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let rsaPath = directory.appendingPathComponent("rsa.pem").path
        _ = try run(
            "/usr/bin/openssl",
            ["genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:1024", "-out", rsaPath]
        )
        let rsa = #expect(throws: CryptoError.self) {
            try PrivateKey(pemEncoded: String(contentsOfFile: rsaPath, encoding: .utf8))
        }
        #expect(rsa?.code == .unsupportedAlgorithm)
        let secp256k1Path = directory.appendingPathComponent("k1.pem").path
        _ = try run(
            "/usr/bin/openssl",
            ["genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:secp256k1", "-out", secp256k1Path]
        )
        let k1 = #expect(throws: CryptoError.self) {
            try PrivateKey(pemEncoded: String(contentsOfFile: secp256k1Path, encoding: .utf8))
        }
        #expect(k1?.code == .unsupportedAlgorithm)

        let missing = #expect(throws: CryptoError.self) {
            try PrivateKey.load(path: directory.appendingPathComponent("nope").path)
        }
        #expect(missing?.code == .fileAccess)
        #expect(missing?.reason.contains("nope") == true)
    }

    @Test func badPublicKeyInputsGiveTypedErrors() throws {
        let good = try PrivateKey.generate(.es256).publicKey.derEncoded
        #expect(throws: CryptoError.self) { try PublicKey(derEncoded: []) }
        #expect(throws: CryptoError.self) { try PublicKey(derEncoded: [0x30, 0x03, 0x02, 0x01]) }
        #expect(throws: CryptoError.self) { try PublicKey(derEncoded: good + [0]) }
        #expect(throws: CryptoError.self) { try PublicKey(derEncoded: Array(good.dropLast())) }
        #expect(throws: CryptoError.self) { try PublicKey(derEncoded: [UInt8](repeating: 0x30, count: 2_000)) }
        var offCurve = Array(good.suffix(65))
        offCurve[64] ^= 1
        #expect(throws: CryptoError.self) { try PublicKey(uncompressedPoint: offCurve, algorithm: .es256) }
        #expect(throws: CryptoError.self) { try PublicKey(rawEd25519: [1, 2, 3]) }
        #expect(throws: CryptoError.self) {
            try PublicKey(pemEncoded: "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n")
        }
        for _ in 0..<200 {
            let random = (0..<Int.random(in: 0..<200)).map { _ in UInt8.random(in: 0...255) }
            _ = try? PublicKey(derEncoded: random)
            _ = try? PublicKey(derEncoded: [0x30, 0x59] + random)
        }
    }

    @Test func digests() {
        #expect(
            Digest.sha256(Array("abc".utf8))
                == hexBytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        )
        #expect(
            Digest.sha384(Array("abc".utf8))
                == hexBytes(
                    "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7"
                )
        )
        #expect(Digest.sha256([]) == hexBytes("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))
    }

    @Test func incrementalSHA256() {
        let data = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        let hasher = SHA256Hasher()
        for start in stride(from: 0, to: data.count, by: 777) {
            hasher.update(data[start..<min(start + 777, data.count)])
        }
        #expect(hasher.finalize() == Digest.sha256(data))
        #expect(SHA256Hasher().finalize() == Digest.sha256([]))
        let abc = SHA256Hasher()
        abc.update("abc".utf8)
        #expect(abc.finalize() == hexBytes("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
    }

    /// Signing and verifying with one shared key from many tasks at once.
    @Test func concurrentSigning() async throws {
        let key = try PrivateKey.generate(.es256)
        let results = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<8 {
                group.addTask {
                    var ok = true
                    for round in 0..<50 {
                        let message = Array("task \(index) round \(round)".utf8)
                        let signature = try key.signature(for: message)
                        if !key.publicKey.isValidSignature(signature, for: message) { ok = false }
                    }
                    return ok
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(results == Array(repeating: true, count: 8))
    }
}

/// Runs a tool and returns its standard output; fails the test on a non-zero exit.
@discardableResult
func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let output = Pipe()
    let errors = Pipe()
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    let outData = output.fileHandleForReading.readDataToEndOfFile()
    let errData = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    let text = String(decoding: outData, as: UTF8.self)
    guard process.terminationStatus == 0 else {
        throw ProcessFailure(
            command: ([executable] + arguments).joined(separator: " "),
            status: process.terminationStatus,
            output: text + String(decoding: errData, as: UTF8.self)
        )
    }
    return text
}

struct ProcessFailure: Error, CustomStringConvertible {
    var command: String
    var status: Int32
    var output: String
    var description: String { "\(command) exited with \(status): \(output)" }
}
