import Foundation
import Testing
@testable import ParleyCrypto

/// The DER ⇄ `r‖s` conversions of ECDSA signatures (RFC 9053 §2.1), written in Swift: every
/// signature OpenSSL makes converts and verifies, the edge cases of DER INTEGER encoding are
/// exact, and DER that is not strict is refused.
@Suite struct ECDSASignatureEncodingTests {
    /// Random messages: about one signature in 256 has an r or s with a leading zero byte, and half
    /// have a top bit set (a 0x00 pad in DER), so 1 500 per curve exercise both paths.
    @Test(arguments: [SignatureAlgorithm.es256, .es384])
    func everySignatureConvertsAndVerifies(_ algorithm: SignatureAlgorithm) throws {
        let key = try PrivateKey.generate(algorithm)
        var generator = SystemRandomNumberGenerator()
        var shortComponents = 0
        for _ in 0..<1_500 {
            let message = (0..<Int.random(in: 0...64, using: &generator)).map { _ in
                UInt8.random(in: 0...255, using: &generator)
            }
            let signature = try key.signature(for: message)
            #expect(signature.count == algorithm.signatureLength)
            #expect(key.publicKey.isValidSignature(signature, for: message))
            #expect(ECDSALowS.isLowS(signature, algorithm: algorithm))
            // The in-place low-S step the signer uses agrees with the functional one on the twin.
            var twin = ECDSALowS.twin(of: signature, algorithm: algorithm)
            #expect(!ECDSALowS.isLowS(twin, algorithm: algorithm))
            ECDSALowS.normalize(&twin, algorithm: algorithm)
            #expect(twin == signature)
            let half = signature.count / 2
            if signature[0] == 0 || signature[half] == 0 { shortComponents += 1 }
            let der = try #require(KeyOperations.derSignature(r: signature[..<half], s: signature[half...]))
            #expect(try KeyOperations.rawSignature(fromDER: der, scalarLength: half) == signature)
        }
        // Not an assertion on luck: 1 500 draws give at least one short component with
        // probability 1 − (1 − 2/256)^1500 > 0.9999.
        #expect(shortComponents > 0)
    }

    @Test func derIntegersAreMinimal() throws {
        let r: [UInt8] = [0x00, 0x00, 0x7F] + Array(repeating: 1, count: 29)  // leading zeros dropped
        let s: [UInt8] = [0x80] + Array(repeating: 2, count: 31)  // top bit: 0x00 pad
        let der = try #require(KeyOperations.derSignature(r: r[...], s: s[...]))
        #expect(Array(der.prefix(4)) == [0x30, UInt8(der.count - 2), 0x02, 30])
        #expect(der[4] == 0x7F)
        #expect(Array(der[34...37]) == [0x02, 33, 0x00, 0x80])
        #expect(try KeyOperations.rawSignature(fromDER: der, scalarLength: 32) == r + s)
        #expect(KeyOperations.derSignature(r: Array(repeating: 0, count: 32)[...], s: s[...]) == nil)
    }

    @Test func nonStrictDERIsRefused() throws {
        let good: [UInt8] = [0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]
        #expect(
            try KeyOperations.rawSignature(fromDER: good, scalarLength: 32) == [UInt8](repeating: 0, count: 31) + [1]
                + [UInt8](repeating: 0, count: 31) + [2]
        )
        let bad: [(String, [UInt8])] = [
            ("not a SEQUENCE", [0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]),
            ("wrong length", [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02]),
            ("trailing byte", [0x30, 0x09, 0x02, 0x01, 0x01, 0x02, 0x01, 0x02, 0x00, 0x00, 0x00]),
            ("not an INTEGER", [0x30, 0x06, 0x04, 0x01, 0x01, 0x02, 0x01, 0x02]),
            ("negative", [0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x02]),
            ("non-minimal", [0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x02]),
            ("empty INTEGER", [0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x02]),
            ("too long", [0x30, 0x26, 0x02, 0x21, 0x01] + Array(repeating: 1, count: 32) + [0x02, 0x01, 0x02]),
        ]
        for (what, der) in bad {
            #expect(throws: CryptoError.self, "\(what)") {
                try KeyOperations.rawSignature(fromDER: der, scalarLength: 32)
            }
        }
    }
}
