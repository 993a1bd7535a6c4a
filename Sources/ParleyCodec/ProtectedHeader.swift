/// The protected header of a Parley message or receipt (Protocol/SPEC.md, "Message").
///
/// Exactly three labels: 1 `alg`, 3 `content type`, 33 `x5chain` (RFC 9360). Any other label,
/// including `crit`, is refused: a verifier that ignores a parameter it does not understand could
/// be made to accept something the signer did not mean.
public struct ProtectedHeader: Sendable, Hashable {
    public enum Label {
        public static let algorithm = 1
        public static let contentType = 3
        public static let x5chain = 33
    }

    /// Most certificates in `x5chain`, and most bytes in one.
    public static let maximumChainLength = 8
    public static let maximumCertificateSize = 16_384

    /// COSE algorithm identifier (-8 EdDSA, -7 ES256, -35 ES384). Checked against the key by the verifier.
    public var algorithm: Int
    public var contentType: String
    /// DER certificates, leaf first, trust anchor not included.
    public var certificateChain: [[UInt8]]

    public init(algorithm: Int, contentType: String, certificateChain: [[UInt8]]) {
        self.algorithm = algorithm
        self.contentType = contentType
        self.certificateChain = certificateChain
    }

    /// Parses the bytes of a protected header bucket.
    public init(decoding bytes: [UInt8]) throws {
        guard !bytes.isEmpty else {
            throw CodecError(.missingHeaderParameter, "the protected header is empty; alg, content type and x5chain are required")
        }
        guard case .map(let map) = try CBOR(decoding: bytes) else {
            throw CodecError(.invalidHeaderParameter, "the protected header must be a map")
        }
        let known: Set<CBOR> = [.integer(Label.algorithm), .integer(Label.contentType), .integer(Label.x5chain)]
        for key in map.keys where !known.contains(key) {
            throw CodecError(.unsupportedHeaderParameter, "header parameter \(CBORDiagnostic.format(key)) is not allowed in a Parley protected header")
        }
        guard let alg = map[Label.algorithm] else {
            throw CodecError(.missingHeaderParameter, "header parameter 1 (alg) is missing")
        }
        guard let algorithm = alg.intValue else {
            throw CodecError(.invalidHeaderParameter, "header parameter 1 (alg) must be an integer, found \(alg.kindName)")
        }
        guard let ct = map[Label.contentType] else {
            throw CodecError(.missingHeaderParameter, "header parameter 3 (content type) is missing")
        }
        guard case .textString(let contentType) = ct else {
            throw CodecError(.invalidHeaderParameter, "header parameter 3 (content type) must be a text string, found \(ct.kindName)")
        }
        guard let x5 = map[Label.x5chain] else {
            throw CodecError(.missingHeaderParameter, "header parameter 33 (x5chain) is missing: the signer's certificate chain is required")
        }
        let chain: [[UInt8]]
        switch x5 {
        case .byteString(let one):
            chain = [one]
        case .array(let items) where items.count >= 2 && items.count <= Self.maximumChainLength:
            chain = try items.map { item in
                guard case .byteString(let der) = item else {
                    throw CodecError(.invalidHeaderParameter, "x5chain entries must be byte strings, found \(item.kindName)")
                }
                return der
            }
        case .array(let items) where items.count > Self.maximumChainLength:
            throw CodecError(.headerLimitExceeded, "x5chain holds \(items.count) certificates; at most \(Self.maximumChainLength) are allowed")
        case .array(let items):
            throw CodecError(.invalidHeaderParameter, "x5chain as an array must hold 2…\(Self.maximumChainLength) certificates, found \(items.count)")
        default:
            throw CodecError(.invalidHeaderParameter, "x5chain must be a byte string or an array of byte strings, found \(x5.kindName)")
        }
        for (index, der) in chain.enumerated() where der.isEmpty || der.count > Self.maximumCertificateSize {
            throw CodecError(der.isEmpty ? .invalidHeaderParameter : .headerLimitExceeded,
                             "x5chain certificate \(index) is \(der.count) bytes; allowed 1…\(Self.maximumCertificateSize)")
        }
        self.init(algorithm: algorithm, contentType: contentType, certificateChain: chain)
    }

    /// The deterministic encoding of this header (the bytes that go into the protected bucket).
    public var encoded: [UInt8] {
        var map = CBORMap()
        map[Label.algorithm] = .integer(algorithm)
        map[Label.contentType] = .textString(contentType)
        map[Label.x5chain] = certificateChain.count == 1
            ? .byteString(certificateChain[0])
            : .array(certificateChain.map(CBOR.byteString))
        return CBOREncoder.encode(.map(map))
    }
}
