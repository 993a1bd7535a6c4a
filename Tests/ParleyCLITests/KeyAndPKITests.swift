import Foundation
import ParleyCrypto
import Testing
import ParleyTestSupport

/// `parley keygen` and `parley pki test`.
@Suite struct KeyAndPKITests {
    let dir = TemporaryDirectory()

    func mode(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test(arguments: ["ed25519", "p256", "p384"])
    func keygenWritesAPrivateFileAndNeverOverwrites(_ alg: String) throws {
        let path = dir.path("\(alg).key")
        let output = try CLI.run(["keygen", "--alg", alg, "--out", path])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(try mode(path) == 0o600)
        let key = try PrivateKey.load(path: path)
        let expected: SignatureAlgorithm = ["ed25519": .edDSA, "p256": .es256, "p384": .es384][alg]!
        #expect(key.algorithm == expected)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let again = try CLI.run(["keygen", "--alg", alg, "--out", path])
        #expect(again.status == 73)
        #expect(again.stderr.contains(path))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test func keygenWithPassphraseEncrypts() throws {
        let secret = dir.write("secret.txt", "correct horse battery staple\n")
        let path = dir.path("encrypted.key")
        let output = try CLI.run(["keygen", "--alg", "p384", "--out", path, "--passphrase-file", secret])
        #expect(output.status == 0, "\(output.stderr)")
        #expect(try mode(path) == 0o600)
        #expect(throws: CryptoError.self) { try PrivateKey.load(path: path) }
        #expect(try PrivateKey.load(path: path, passphrase: "correct horse battery staple").algorithm == .es384)
    }

    @Test func keygenRejectsAnUnknownAlgorithm() throws {
        let output = try CLI.run(["keygen", "--alg", "rsa", "--out", dir.path("rsa.key")])
        #expect(output.status == 64)
        #expect(!FileManager.default.fileExists(atPath: dir.path("rsa.key")))
    }

    @Test func pkiTestMakesAUsableTestPKI() throws {
        let (pki, output) = try CLITestPKI.made.get()
        #expect(output.stdout.contains("trust"))
        for participant in CLITestPKI.participants {
            #expect(try mode(pki.key(participant)) == 0o600)
            let identity = try pki.identity(participant)
            #expect(identity.participantID.rawValue == participant)
        }
        #expect(FileManager.default.fileExists(atPath: pki.anchors))
        #expect(FileManager.default.fileExists(atPath: pki.crls))
    }

    @Test func pkiTestRefusesANonEmptyDirectory() throws {
        _ = dir.write("something", "x")
        let output = try CLI.run(["pki", "test", dir.url.path, "--participants", "US-NRRC"])
        #expect(output.status == 73)
        #expect(output.stderr.contains("not an empty directory"))
    }

    @Test func pkiTestWithAMissingScriptSaysSo() throws {
        let output = try CLI.run([
            "pki", "test", dir.path("new"), "--participants", "US-NRRC", "--script", dir.path("none.sh"),
        ])
        #expect(output.status == 69)
        #expect(output.stderr.contains("none.sh"))
    }

    @Test(arguments: [
        ["compose", "--type", "acknowledgement"], ["keygen", "--alg", "rsa", "--out", "x"], ["frobnicate"],
        ["pki", "test"],
    ])
    func usageErrorIsOneLine(_ arguments: [String]) throws {
        let output = try CLI.run(arguments)
        #expect(output.status == 64)
        #expect(output.stderr.hasPrefix("parley: error: "))
        #expect(output.stderr.split(separator: "\n").count == 1, "\(output.stderr)")
    }

    @Test func helpDocumentsExitStatuses() throws {
        let output = try CLI.run(["--help"])
        #expect(output.status == 0)
        for line in ["64  usage error", "65  invalid input data", "66  an input file", "73  an output file"] {
            #expect(output.stdout.contains(line), "\(line)")
        }
        for command in ["compose", "verify", "inspect", "keygen", "pki", "archive"] {
            #expect(output.stdout.contains(command))
        }
    }
}
