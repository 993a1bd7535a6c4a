import Foundation
import ParleyCrypto
import Testing

/// Deploy/README.md: a private key owned by another user than the one using it is refused.
@Suite("Key file owner")
struct KeyFileOwnerTests {
    @Test func keyOwnedByAnotherUserIsRefused() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "parley-key-owner-\(UUID().uuidString)"
        )
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("signing.key").path
        let key = try PrivateKey.generate(.edDSA)
        try key.write(to: path)
        let me = geteuid()

        #expect(try PrivateKey.load(path: path, owner: me).publicKey == key.publicKey)
        // The same file, as seen by a process running as another user.
        let error = #expect(throws: CryptoError.self) { try PrivateKey.load(path: path, owner: me + 1) }
        #expect(error?.code == .insecureKeyFile)
        #expect(error?.reason.contains("is owned by") == true, "\(String(describing: error))")
        #expect(error?.reason.contains("chown") == true, "says what to do: \(String(describing: error))")
        // The default owner is the effective user (root excepted), so the daemon's own key loads.
        #expect(try PrivateKey.load(path: path).publicKey == key.publicKey)
        if me == 0 {
            // Root may use a key that belongs to the daemon's user; everyone else may not.
            #expect(chown(path, 65_534, 65_534) == 0)
            #expect(try PrivateKey.load(path: path).publicKey == key.publicKey)
            #expect(throws: CryptoError.self) { try PrivateKey.load(path: path, owner: 0) }
        }
    }
}
