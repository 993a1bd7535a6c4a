/// The protected header of a Parley message or receipt (Protocol/SPEC.md §5.2).
///
/// Exactly three labels: 1 `alg`, 3 `content type`, and -65537 `x5chain-sha256`, the SHA-256 of
/// the `x5chain` carried in the unprotected header. Any other label, including `crit` and
/// `x5chain` itself, is refused: a verifier that ignores a parameter it does not understand could
/// be made to accept something the signer did not mean.
public struct ProtectedHeader: Sendable, Hashable {
    public enum Label {
        public static let algorithm = 1
        public static let contentType = 3
        /// Parley's private-use label (RFC 9052 §16.4: below -65536) for the chain digest.
        public static let x5chainSHA256 = -65537
    }

    /// Bytes of a SHA-256 digest.
    public static let chainDigestSize = 32

    /// COSE algorithm identifier (-8 EdDSA, -7 ES256, -35 ES384). Checked against the key by the verifier.
    public var algorithm: Int
    public var contentType: String
    /// SHA-256 of `X5Chain.encoded` of the unprotected header's chain.
    public var chainDigest: [UInt8]

    public init(algorithm: Int, contentType: String, chainDigest: [UInt8]) {
        self.algorithm = algorithm
        self.contentType = contentType
        self.chainDigest = chainDigest
    }

    /// Parses the bytes of a protected header bucket.
    public init(decoding bytes: [UInt8]) throws {
        guard !bytes.isEmpty else {
            throw CodecError(
                .missingHeaderParameter,
                "the protected header is empty; alg, content type and x5chain-sha256 are required"
            )
        }
        guard case .map(let map) = try CBOR(decoding: bytes) else {
            throw CodecError(.invalidHeaderParameter, "the protected header must be a map")
        }
        for key in map.keys {
            switch key {
            case .integer(Label.algorithm), .integer(Label.contentType), .integer(Label.x5chainSHA256): continue
            case .integer(33):
                throw CodecError(
                    .unsupportedHeaderParameter,
                    "header parameter 33 (x5chain) belongs in the unprotected header; the protected header carries its SHA-256 (label \(Label.x5chainSHA256))"
                )
            default:
                throw CodecError(
                    .unsupportedHeaderParameter,
                    "header parameter \(CBORDiagnostic.format(key)) is not allowed in a Parley protected header"
                )
            }
        }
        guard let alg = map[Label.algorithm] else {
            throw CodecError(.missingHeaderParameter, "header parameter 1 (alg) is missing")
        }
        guard let algorithm = alg.intValue else {
            throw CodecError(
                .invalidHeaderParameter,
                "header parameter 1 (alg) must be an integer, found \(alg.kindName)"
            )
        }
        guard let ct = map[Label.contentType] else {
            throw CodecError(.missingHeaderParameter, "header parameter 3 (content type) is missing")
        }
        guard case .textString(let contentType) = ct else {
            throw CodecError(
                .invalidHeaderParameter,
                "header parameter 3 (content type) must be a text string, found \(ct.kindName)"
            )
        }
        guard let digest = map[Label.x5chainSHA256] else {
            throw CodecError(
                .missingHeaderParameter,
                "header parameter \(Label.x5chainSHA256) (x5chain-sha256) is missing: the signature must cover the certificate chain"
            )
        }
        guard case .byteString(let chainDigest) = digest, chainDigest.count == Self.chainDigestSize else {
            throw CodecError(
                .invalidHeaderParameter,
                "header parameter \(Label.x5chainSHA256) (x5chain-sha256) must be a \(Self.chainDigestSize)-byte string, found \(digest.kindName)"
            )
        }
        self.init(algorithm: algorithm, contentType: contentType, chainDigest: chainDigest)
    }

    /// The deterministic encoding of this header (the bytes that go into the protected bucket).
    public var encoded: [UInt8] {
        var map = CBORMap()
        map[Label.algorithm] = .integer(algorithm)
        map[Label.contentType] = .textString(contentType)
        map[Label.x5chainSHA256] = .byteString(chainDigest)
        return CBOREncoder.encode(.map(map))
    }
}
