/// The signer's certificate chain, as Parley carries it in the unprotected header (label 33,
/// `x5chain`, RFC 9360 §2): one DER certificate as a byte string, or 2…8 as an array of byte
/// strings, leaf first, trust anchor not included.
///
/// The chain is unprotected but not unsigned: the protected header holds the SHA-256 of `encoded`
/// (`ProtectedHeader.chainDigest`), so every byte of a Parley object is fixed by its signature.
public struct X5Chain: Sendable, Hashable {
    /// The header label (RFC 9360).
    public static let label = 33

    /// Most certificates in a chain, and most bytes in one certificate (SPEC.md §4.3).
    public static let maximumLength = 8
    public static let maximumCertificateSize = 16_384

    /// DER certificates, leaf first.
    public let certificates: [[UInt8]]

    /// A chain of 1…8 certificates of 1…16 384 bytes each.
    public init(_ certificates: [[UInt8]]) throws {
        guard !certificates.isEmpty else {
            throw CodecError(.invalidHeaderParameter, "x5chain must hold at least one certificate")
        }
        guard certificates.count <= Self.maximumLength else {
            throw CodecError(
                .headerLimitExceeded,
                "x5chain holds \(certificates.count) certificates; at most \(Self.maximumLength) are allowed"
            )
        }
        for (index, der) in certificates.enumerated() where der.isEmpty || der.count > Self.maximumCertificateSize {
            throw CodecError(
                der.isEmpty ? .invalidHeaderParameter : .headerLimitExceeded,
                "x5chain certificate \(index) is \(der.count) bytes; allowed 1…\(Self.maximumCertificateSize)"
            )
        }
        self.certificates = certificates
    }

    /// Reads the value of header parameter 33.
    public init(_ item: CBOR) throws {
        switch item {
        case .byteString(let one):
            try self.init([one])
        case .array(let items) where items.count > Self.maximumLength:
            throw CodecError(
                .headerLimitExceeded,
                "x5chain holds \(items.count) certificates; at most \(Self.maximumLength) are allowed"
            )
        case .array(let items) where items.count >= 2:
            try self.init(
                items.map { item in
                    guard case .byteString(let der) = item else {
                        throw CodecError(
                            .invalidHeaderParameter,
                            "x5chain entries must be byte strings, found \(item.kindName)"
                        )
                    }
                    return der
                }
            )
        case .array(let items):
            throw CodecError(
                .invalidHeaderParameter,
                "x5chain as an array must hold 2…\(Self.maximumLength) certificates, found \(items.count) (a single certificate is a byte string, RFC 9360 §2)"
            )
        default:
            throw CodecError(
                .invalidHeaderParameter,
                "x5chain must be a byte string or an array of byte strings, found \(item.kindName)"
            )
        }
    }

    /// The header parameter's value: a byte string for one certificate, otherwise an array.
    public var item: CBOR {
        certificates.count == 1 ? .byteString(certificates[0]) : .array(certificates.map(CBOR.byteString))
    }

    /// The deterministic encoding of `item`: the bytes `ProtectedHeader.chainDigest` is the SHA-256 of.
    public var encoded: [UInt8] {
        var writer = CBORWriter(capacity: certificates.reduce(16) { $0 + $1.count + 5 })
        if certificates.count == 1 {
            writer.writeByteString(certificates[0])
        } else {
            writer.writeArrayHeader(certificates.count)
            for der in certificates { writer.writeByteString(der) }
        }
        return writer.bytes
    }
}
