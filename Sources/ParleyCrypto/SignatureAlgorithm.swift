internal import ParleyCodec

/// The signature algorithms Parley accepts, with their COSE algorithm identifiers (RFC 9053).
public enum SignatureAlgorithm: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// EdDSA with Ed25519 (pure, no pre-hash).
    case edDSA = -8
    /// ECDSA on P-256 with SHA-256.
    case es256 = -7
    /// ECDSA on P-384 with SHA-384.
    case es384 = -35

    /// The COSE `alg` value.
    public var coseIdentifier: Int { rawValue }

    /// The length of a signature in COSE form: Ed25519 64, ES256 `r‖s` 64, ES384 `r‖s` 96 bytes.
    public var signatureLength: Int {
        switch self {
        case .edDSA, .es256: 64
        case .es384: 96
        }
    }

    public var description: String {
        switch self {
        case .edDSA: "EdDSA (Ed25519)"
        case .es256: "ES256 (ECDSA P-256, SHA-256)"
        case .es384: "ES384 (ECDSA P-384, SHA-384)"
        }
    }

    /// The byte length of the curve order for ECDSA (each of r and s), nil for EdDSA.
    var scalarLength: Int? {
        switch self {
        case .edDSA: nil
        case .es256: 32
        case .es384: 48
        }
    }

    /// The big-endian group order n for ECDSA, nil for EdDSA.
    var groupOrder: [UInt8]? {
        switch self {
        case .edDSA:
            return nil
        case .es256:
            return Hex.decode("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551")!
        case .es384:
            return Hex.decode(
                "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973"
            )!
        }
    }

    /// The fixed DER prefix of a SubjectPublicKeyInfo for a raw key of this algorithm
    /// (Ed25519: 32 key bytes follow; ECDSA: the uncompressed point 04‖x‖y follows).
    var subjectPublicKeyInfoPrefix: [UInt8] {
        switch self {
        case .edDSA:
            return Hex.decode("302a300506032b6570032100")!
        case .es256:
            return Hex.decode("3059301306072a8648ce3d020106082a8648ce3d030107034200")!
        case .es384:
            return Hex.decode("3076301006072a8648ce3d020106052b81040022036200")!
        }
    }

    /// Raw public key length (Ed25519 key, or uncompressed point).
    var rawPublicKeyLength: Int {
        switch self {
        case .edDSA: 32
        case .es256: 65
        case .es384: 97
        }
    }

    /// The OpenSSL curve name used for key generation (ECDSA only).
    var curveName: String? {
        switch self {
        case .edDSA: nil
        case .es256: "P-256"
        case .es384: "P-384"
        }
    }

    var digest: FetchedDigest? {
        switch self {
        case .edDSA: nil
        case .es256: .sha256
        case .es384: .sha384
        }
    }
}
