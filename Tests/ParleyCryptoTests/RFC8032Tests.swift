import Foundation
import ParleyCrypto
import Testing
import ParleyTestSupport

/// RFC 8032 §7.1 Ed25519 test vectors: derive, sign (deterministic), verify, tamper.
@Suite("RFC 8032 Ed25519")
struct RFC8032Tests {
    struct File: Decodable {
        struct Vector: Decodable {
            var name: String
            var secretKey: String
            var publicKey: String
            var message: String
            var signature: String
        }
        var source: String
        var tests: [Vector]
    }

    @Test func section7_1() throws {
        let file = try JSONDecoder().decode(File.self, from: TestSupport.vector("rfc8032/ed25519.json"))
        #expect(file.source.hasPrefix("RFC 8032, section 7.1"))
        #expect(file.tests.map(\.name) == ["TEST 1", "TEST 2", "TEST 3", "TEST 1024", "TEST SHA(abc)"])
        for vector in file.tests {
            let key = try PrivateKey(rawEd25519Seed: hexBytes(vector.secretKey))
            let publicKey = try PublicKey(rawEd25519: hexBytes(vector.publicKey))
            let message = hexBytes(vector.message)
            let expected = hexBytes(vector.signature)
            #expect(key.algorithm == .edDSA)
            #expect(key.publicKey == publicKey, "\(vector.name): public key")
            #expect(try key.signature(for: message) == expected, "\(vector.name): signature")
            #expect(publicKey.isValidSignature(expected, for: message), "\(vector.name): verify")

            var tampered = expected
            tampered[10] ^= 0x01
            #expect(!publicKey.isValidSignature(tampered, for: message), "\(vector.name): tampered signature")
            #expect(!publicKey.isValidSignature(expected, for: message + [0]), "\(vector.name): longer message")
        }
    }
}
