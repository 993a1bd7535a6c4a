import Foundation
internal import COpenSSL

/// An Ed25519, P-256 or P-384 signing key, parsed once and usable from many tasks at once.
public struct PrivateKey: Sendable {
    /// Upper bound for PEM key text.
    public static let maximumPEMLength = 65_536

    let key: EVPKey
    public let algorithm: SignatureAlgorithm
    public let publicKey: PublicKey

    init(evpKey: EVPKey) throws {
        self.key = evpKey
        self.algorithm = try KeyOperations.algorithm(of: evpKey.pointer)
        self.publicKey = try PublicKey(evpKey: evpKey)
    }

    /// A new random key.
    public static func generate(_ algorithm: SignatureAlgorithm) throws -> PrivateKey {
        let generated: OpaquePointer?
        if let curve = algorithm.curveName {
            generated = parley_generate_ec(curve)
        } else {
            generated = parley_generate_ed25519()
        }
        guard let generated else {
            throw CryptoError.openSSL(.openSSLFailure, "cannot generate a \(algorithm) key")
        }
        return try PrivateKey(evpKey: EVPKey(taking: generated))
    }

    /// An Ed25519 key from its 32-byte seed (RFC 8032's "SECRET KEY"; for test vectors).
    public init(rawEd25519Seed seed: [UInt8]) throws {
        guard seed.count == 32 else {
            throw CryptoError(.invalidKey, "an Ed25519 seed has 32 bytes, not \(seed.count)")
        }
        guard let key = EVP_PKEY_new_raw_private_key(parley_EVP_PKEY_ED25519(), nil, seed, seed.count) else {
            throw CryptoError.openSSL(.invalidKey, "cannot make an Ed25519 key from the seed")
        }
        try self.init(evpKey: EVPKey(taking: key))
    }

    /// Parses a PEM private key: PKCS#8 (`PRIVATE KEY`), encrypted PKCS#8 (`ENCRYPTED PRIVATE KEY`,
    /// which needs `passphrase`) or SEC 1 (`EC PRIVATE KEY`).
    public init(pemEncoded: String, passphrase: String? = nil) throws {
        try self.init(pemEncoded: pemEncoded, passphrase: passphrase, source: "private key")
    }

    init(pemEncoded: String, passphrase: String?, source: String) throws {
        let utf8 = Array(pemEncoded.utf8)
        guard utf8.count <= Self.maximumPEMLength else {
            throw CryptoError(.tooLarge, "\(source) has \(utf8.count) bytes; the limit is \(Self.maximumPEMLength)")
        }
        let isEncrypted =
            pemEncoded.contains("-----BEGIN ENCRYPTED PRIVATE KEY-----")
            || pemEncoded.contains("Proc-Type: 4,ENCRYPTED")
        if isEncrypted && passphrase == nil {
            throw CryptoError(.passphraseRequired, "\(source) is encrypted; give its passphrase")
        }
        OpenSSLErrorQueue.clear()
        let parsed: OpaquePointer? = try utf8.withUnsafeBytes { bytes in
            let bio = try MemoryBIO(readingFrom: bytes)
            if let passphrase {
                return passphrase.withCString { secret in
                    PEM_read_bio_PrivateKey(
                        bio.pointer,
                        nil,
                        parley_passphrase_callback_pointer(),
                        UnsafeMutableRawPointer(mutating: secret)
                    )
                }
            }
            return PEM_read_bio_PrivateKey(bio.pointer, nil, parley_passphrase_callback_pointer(), nil)
        }
        guard let parsed else {
            if isEncrypted {
                throw CryptoError.openSSL(
                    .wrongPassphrase,
                    "cannot decrypt \(source): wrong passphrase (or damaged key)"
                )
            }
            throw CryptoError.openSSL(.invalidKey, "\(source) is not a PEM private key")
        }
        try self.init(evpKey: EVPKey(taking: parsed))
    }

    /// Reads a PEM private key file, refusing it (like ssh) if group or others may read or write it,
    /// or if it is owned by another user than `owner`: someone else could then have written or
    /// replaced the key the process signs with. `owner` is the effective user by default, and
    /// nil for root, which can read and re-own any file anyway.
    public static func load(
        path: String,
        passphrase: String? = nil,
        owner: UInt32? = geteuid() == 0 ? nil : geteuid()
    ) throws -> PrivateKey {
        let contents = try FileAccess.read(path: path, limit: maximumPEMLength, what: "private key file")
        if let owner, contents.owner != owner {
            throw CryptoError(
                .insecureKeyFile,
                "private key file \(path) is owned by user \(FileAccess.userName(contents.owner)), not by "
                    + "\(FileAccess.userName(owner)) who uses it; refusing to use it. "
                    + "Run: chown \(FileAccess.userName(owner)) \(path)"
            )
        }
        guard contents.mode & 0o077 == 0 else {
            throw CryptoError(
                .insecureKeyFile,
                "private key file \(path) has mode \(FileAccess.octal(contents.mode)), so group or others can access it; "
                    + "refusing to use it. Run: chmod 600 \(path)"
            )
        }
        guard let text = String(validating: contents.bytes, as: UTF8.self) else {
            throw CryptoError(.invalidKey, "private key file \(path) is not PEM text")
        }
        return try PrivateKey(pemEncoded: text, passphrase: passphrase, source: "private key file \(path)")
    }

    /// scrypt parameters for encrypted PKCS#8 (OpenSSL's `-scrypt` defaults: N 2^14, r 8, p 1; 16 MiB).
    static let scryptN: UInt64 = 1 << 14
    static let scryptR: UInt64 = 8
    static let scryptP: UInt64 = 1

    /// The key as PKCS#8 PEM; with a passphrase, encrypted (PBES2: scrypt, AES-256-CBC).
    public func pkcs8PEM(passphrase: String? = nil) throws -> String {
        let bio = try MemoryBIO()
        guard let passphrase else {
            guard PEM_write_bio_PKCS8PrivateKey(bio.pointer, key.pointer, nil, nil, 0, nil, nil) == 1 else {
                throw CryptoError.openSSL(.openSSLFailure, "cannot encode the private key as PKCS#8")
            }
            return bio.string
        }
        guard !passphrase.isEmpty else {
            throw CryptoError(
                .wrongPassphrase,
                "an empty passphrase would not protect the key; give a real one or none"
            )
        }
        guard let info = EVP_PKEY2PKCS8(key.pointer) else {
            throw CryptoError.openSSL(.openSSLFailure, "cannot convert the private key to PKCS#8")
        }
        defer { PKCS8_PRIV_KEY_INFO_free(info) }
        guard
            let algorithm = PKCS5_pbe2_set_scrypt(
                EVP_aes_256_cbc(),
                nil,
                0,
                nil,
                Self.scryptN,
                Self.scryptR,
                Self.scryptP
            )
        else {
            throw CryptoError.openSSL(.openSSLFailure, "cannot set up scrypt + AES-256-CBC")
        }
        let encrypted = passphrase.withCString { secret in
            PKCS8_set0_pbe(secret, Int32(strlen(secret)), info, algorithm)
        }
        guard let encrypted else {
            X509_ALGOR_free(algorithm)
            throw CryptoError.openSSL(.openSSLFailure, "cannot encrypt the private key")
        }
        defer { X509_SIG_free(encrypted) }
        guard PEM_write_bio_PKCS8(bio.pointer, encrypted) == 1 else {
            throw CryptoError.openSSL(.openSSLFailure, "cannot write the encrypted private key")
        }
        return bio.string
    }

    /// Writes the key as PKCS#8 PEM to a new file with mode 0600; never overwrites.
    public func write(to path: String, passphrase: String? = nil) throws {
        let text = try pkcs8PEM(passphrase: passphrase)
        try FileAccess.createNew(path: path, bytes: Array(text.utf8), mode: 0o600, what: "private key file")
    }

    /// A COSE-form signature over `message`: Ed25519 64 bytes (pure EdDSA); ES256 `r‖s` 64 bytes over
    /// SHA-256; ES384 `r‖s` 96 bytes over SHA-384. ECDSA signatures are low-S (`s ≤ n/2`, SPEC.md §5.3).
    public func signature(for message: [UInt8]) throws -> [UInt8] {
        try KeyOperations.sign(key: key, algorithm: algorithm, message: message)
    }
}
