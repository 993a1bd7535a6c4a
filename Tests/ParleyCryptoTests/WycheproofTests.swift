import Foundation
import ParleyCrypto
import Testing
import ParleyTestSupport

/// Every case of the Wycheproof Ed25519, ECDSA P-256/SHA-256 and P-384/SHA-384 (P1363) files.
@Suite("Wycheproof")
struct WycheproofTests {
    struct File: Decodable {
        var algorithm: String
        var numberOfTests: Int
        var testGroups: [Group]
    }

    struct Group: Decodable {
        struct Key: Decodable {
            var curve: String?
            var pk: String?
            var uncompressed: String?
        }
        var publicKey: Key
        var publicKeyDer: String
        var sha: String?
        var tests: [Case]
    }

    struct Case: Decodable {
        var tcId: Int
        var comment: String
        var msg: String
        var sig: String
        var result: String
        var flags: [String]
    }

    struct Tally: Equatable, CustomStringConvertible {
        var valid = 0
        var invalid = 0
        var acceptable = 0
        var total: Int { valid + invalid + acceptable }
        var description: String { "valid \(valid), invalid \(invalid), acceptable \(acceptable)" }
    }

    /// Runs one file with both key forms (raw and SubjectPublicKeyInfo DER); returns the counts.
    func run(_ name: String, algorithm: SignatureAlgorithm, sha: String?) throws -> Tally {
        let file = try JSONDecoder().decode(File.self, from: TestSupport.vector("wycheproof/\(name)"))
        var tally = Tally()
        for group in file.testGroups {
            #expect(group.sha == sha)
            let fromDER = try PublicKey(derEncoded: hexBytes(group.publicKeyDer))
            let fromRaw: PublicKey
            switch algorithm {
            case .edDSA:
                fromRaw = try PublicKey(rawEd25519: hexBytes(try #require(group.publicKey.pk)))
            case .es256, .es384:
                fromRaw = try PublicKey(
                    uncompressedPoint: hexBytes(try #require(group.publicKey.uncompressed)),
                    algorithm: algorithm
                )
            }
            #expect(fromRaw == fromDER)
            #expect(fromDER.algorithm == algorithm)

            for test in group.tests {
                let message = hexBytes(test.msg)
                let signature = hexBytes(test.sig)
                let accepted = fromDER.isValidSignature(signature, for: message)
                #expect(fromRaw.isValidSignature(signature, for: message) == accepted, "tcId \(test.tcId)")
                switch test.result {
                case "valid":
                    tally.valid += 1
                    #expect(accepted, "\(name) tcId \(test.tcId) (\(test.comment), \(test.flags)) must verify")
                case "invalid":
                    tally.invalid += 1
                    #expect(!accepted, "\(name) tcId \(test.tcId) (\(test.comment), \(test.flags)) must be rejected")
                case "acceptable":
                    tally.acceptable += 1  // either outcome is allowed by Wycheproof; see Vectors/wycheproof/SOURCE.md
                default:
                    Issue.record("unknown result '\(test.result)' in tcId \(test.tcId)")
                }
            }
        }
        #expect(tally.total == file.numberOfTests)
        return tally
    }

    @Test func ed25519() throws {
        let tally = try run("ed25519_test.json", algorithm: .edDSA, sha: nil)
        #expect(tally == Tally(valid: 88, invalid: 63, acceptable: 0), "\(tally)")
    }

    @Test func ecdsaP256SHA256() throws {
        let tally = try run("ecdsa_secp256r1_sha256_p1363_test.json", algorithm: .es256, sha: "SHA-256")
        #expect(tally == Tally(valid: 173, invalid: 89, acceptable: 0), "\(tally)")
    }

    @Test func ecdsaP384SHA384() throws {
        let tally = try run("ecdsa_secp384r1_sha384_p1363_test.json", algorithm: .es384, sha: "SHA-384")
        #expect(tally == Tally(valid: 193, invalid: 87, acceptable: 0), "\(tally)")
    }

    /// A P-384 key never accepts ES256-shaped input and vice versa; keys refuse the other algorithm.
    @Test func algorithmMismatchIsRejected() throws {
        let p256 = try PrivateKey.generate(.es256)
        let p384 = try PrivateKey.generate(.es384)
        let message = Array("mismatch".utf8)
        let signature256 = try p256.signature(for: message)
        #expect(!p384.publicKey.isValidSignature(signature256, for: message))
        #expect(p256.publicKey.isValidSignature(signature256, for: message, algorithm: .es256))
        #expect(!p256.publicKey.isValidSignature(signature256, for: message, algorithm: .es384))
        #expect(!p256.publicKey.isValidSignature(signature256, for: message, algorithm: .edDSA))
        let point = Array(p256.publicKey.derEncoded.suffix(65))
        #expect(throws: CryptoError.self) { try PublicKey(uncompressedPoint: point, algorithm: .es384) }
        #expect(throws: CryptoError.self) { try PublicKey(uncompressedPoint: point, algorithm: .edDSA) }
    }
}
