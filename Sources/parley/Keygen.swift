import ArgumentParser
import Foundation
import ParleyCrypto

/// `parley keygen`: a new signing key in a new file with mode 0600.
struct Keygen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate a signing private key (PKCS#8 PEM, file mode 0600).",
        discussion: """
            The key is written to a new file readable only by its owner; an existing file is never \
            overwritten. With --passphrase-file the key is encrypted (scrypt, AES-256-CBC) with the \
            first line of that file. Get a certificate for it from the regime's issuing CA \
            (see Certs/README.md); for tests use `parley pki test`.

            Examples:
              parley keygen --alg ed25519 --out /etc/parley/signing.key
              parley keygen --alg p384 --out signing.key --passphrase-file secret.txt

            \(ExitStatus.seeTable)
            """
    )

    enum Algorithm: String, ExpressibleByArgument, CaseIterable {
        case ed25519, p256, p384
        var signatureAlgorithm: SignatureAlgorithm {
            switch self {
            case .ed25519: .edDSA
            case .p256: .es256
            case .p384: .es384
            }
        }
    }

    @Option(help: ArgumentHelp("Key algorithm: ed25519, p256 or p384. Example: --alg ed25519", valueName: "alg"))
    var alg: Algorithm

    @Option(help: ArgumentHelp("The new key file (must not exist). Example: --out signing.key", valueName: "file"))
    var out: String

    @Option(
        help: ArgumentHelp(
            "Encrypt the key with the first line of this file. Example: --passphrase-file secret.txt",
            valueName: "file"
        )
    )
    var passphraseFile: String?

    func run() throws {
        guard !FileManager.default.fileExists(atPath: out) else {
            throw CLIError(
                ExitStatus.cannotCreate,
                "\(out) exists already; a key file is never overwritten: choose another --out or remove the old key deliberately"
            )
        }
        let passphrase = try passphraseFile.map { file -> String in
            let text = String(decoding: try readInputFile(file, what: "passphrase file", limit: 4096), as: UTF8.self)
            let line = String(text.split(separator: "\n", omittingEmptySubsequences: false).first ?? "")
            guard !line.isEmpty else {
                throw CLIError(
                    ExitStatus.invalidData,
                    "passphrase file \(file) is empty; put the passphrase on its first line"
                )
            }
            return line
        }
        let key = try PrivateKey.generate(alg.signatureAlgorithm)
        do {
            try key.write(to: out, passphrase: passphrase)
        } catch let error as CryptoError where error.code == .fileAccess {
            throw CLIError(ExitStatus.cannotCreate, error.description)  // the output, not an input
        }
        print("wrote \(key.algorithm) private key to \(out) (mode 0600\(passphrase == nil ? "" : ", encrypted"))")
    }
}
