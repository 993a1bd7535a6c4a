internal import COpenSSL
internal import ParleyCodec

/// An Ed25519, P-256 or P-384 public key. Equal when their SubjectPublicKeyInfo DER is equal.
public struct PublicKey: Sendable, Hashable, CustomStringConvertible {
    /// Upper bound for SubjectPublicKeyInfo input (the largest supported key is 120 bytes).
    public static let maximumDERLength = 1_024

    let key: EVPKey
    public let algorithm: SignatureAlgorithm
    /// The SubjectPublicKeyInfo (RFC 5280 §4.1.2.7) in DER.
    public let derEncoded: [UInt8]

    /// Parses a DER SubjectPublicKeyInfo.
    public init(derEncoded: [UInt8]) throws {
        guard derEncoded.count <= Self.maximumDERLength else {
            throw CryptoError(
                .tooLarge,
                "public key has \(derEncoded.count) bytes; the limit is \(Self.maximumDERLength)"
            )
        }
        OpenSSLErrorQueue.clear()
        let parsed: OpaquePointer? = derEncoded.withUnsafeBufferPointer { buffer in
            var cursor: UnsafePointer<UInt8>? = buffer.baseAddress
            guard let key = d2i_PUBKEY(nil, &cursor, buffer.count) else { return nil }
            guard cursor == buffer.baseAddress.map({ $0 + buffer.count }) else {
                EVP_PKEY_free(key)
                return nil
            }
            return key
        }
        guard let parsed else {
            throw CryptoError.openSSL(.invalidKey, "not a DER SubjectPublicKeyInfo (or trailing bytes after it)")
        }
        let key = EVPKey(taking: parsed)
        self.algorithm = try KeyOperations.algorithm(of: key.pointer)
        self.key = key
        self.derEncoded = derEncoded
    }

    /// Parses a `-----BEGIN PUBLIC KEY-----` block.
    public init(pemEncoded: String) throws {
        let blocks = try PEMBlock.parseAll(pemEncoded, limit: 16_384).filter { $0.label == "PUBLIC KEY" }
        guard blocks.count == 1 else {
            throw CryptoError(.invalidPEM, "expected exactly one 'PUBLIC KEY' PEM block, found \(blocks.count)")
        }
        try self.init(derEncoded: blocks[0].der)
    }

    /// An Ed25519 public key from its 32 raw bytes (RFC 8032).
    public init(rawEd25519 bytes: [UInt8]) throws {
        guard bytes.count == 32 else {
            throw CryptoError(.invalidKey, "a raw Ed25519 public key has 32 bytes, not \(bytes.count)")
        }
        try self.init(derEncoded: SignatureAlgorithm.edDSA.subjectPublicKeyInfoPrefix + bytes)
    }

    /// An ECDSA public key from its uncompressed point `04‖x‖y` (SEC 1 §2.3.3).
    public init(uncompressedPoint bytes: [UInt8], algorithm: SignatureAlgorithm) throws {
        guard algorithm != .edDSA else {
            throw CryptoError(.algorithmMismatch, "an uncompressed point is an ECDSA key, not \(algorithm)")
        }
        guard bytes.count == algorithm.rawPublicKeyLength, bytes.first == 0x04 else {
            throw CryptoError(
                .invalidKey,
                "an uncompressed \(algorithm) point is 0x04 followed by \(algorithm.rawPublicKeyLength - 1) bytes"
            )
        }
        try self.init(derEncoded: algorithm.subjectPublicKeyInfoPrefix + bytes)
        guard self.algorithm == algorithm else {
            throw CryptoError(.algorithmMismatch, "point is for \(self.algorithm), not \(algorithm)")
        }
    }

    init(evpKey: EVPKey) throws {
        var output: UnsafeMutablePointer<UInt8>? = nil
        let length = i2d_PUBKEY(evpKey.pointer, &output)
        guard length > 0, let output else {
            throw CryptoError.openSSL(.invalidKey, "cannot encode the public key")
        }
        defer { parley_OPENSSL_free(output) }
        self.key = evpKey
        self.derEncoded = Array(UnsafeBufferPointer(start: output, count: Int(length)))
        self.algorithm = try KeyOperations.algorithm(of: evpKey.pointer)
    }

    /// The key as a `-----BEGIN PUBLIC KEY-----` block.
    public var pemEncoded: String {
        Base64.pem(label: "PUBLIC KEY", der: derEncoded)
    }

    /// True only if `signature` is a valid COSE-form signature of this key's algorithm over `message`.
    /// Wrong lengths, DER-encoded ECDSA signatures, r or s outside [1, n−1] and non-canonical Ed25519
    /// signatures are all rejected.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        KeyOperations.verify(key: key, algorithm: algorithm, signature: signature, message: message)
    }

    /// As `isValidSignature(_:for:)`, but false unless the key is of `algorithm` (e.g. the COSE `alg`).
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8], algorithm: SignatureAlgorithm) -> Bool {
        algorithm == self.algorithm && isValidSignature(signature, for: message)
    }

    public static func == (lhs: PublicKey, rhs: PublicKey) -> Bool {
        lhs.derEncoded == rhs.derEncoded
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(derEncoded)
    }

    public var description: String {
        "PublicKey(\(algorithm), sha256:\(Digest.sha256(derEncoded).prefix(8).hexString))"
    }
}
