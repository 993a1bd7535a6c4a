/// A COSE_Sign1 structure (RFC 9052 §4.2): one signer, embedded payload.
///
/// `protectedHeader` keeps the exact bytes that were signed; the signature covers them, not a
/// re-encoding of their content.
public struct COSESign1: Sendable, Hashable {
    /// CBOR tag of a COSE_Sign1 message.
    public static let tag: UInt64 = 18

    public var protectedHeader: [UInt8]
    public var unprotectedHeader: CBORMap
    public var payload: [UInt8]
    public var signature: [UInt8]

    public init(protectedHeader: [UInt8], unprotectedHeader: CBORMap = [:], payload: [UInt8], signature: [UInt8]) {
        self.protectedHeader = protectedHeader
        self.unprotectedHeader = unprotectedHeader
        self.payload = payload
        self.signature = signature
    }

    /// How much of RFC 9052 a decoder accepts.
    public enum Profile: Sendable {
        /// Parley messages and receipts: the unprotected header holds exactly `x5chain` (label 33).
        case parley
        /// Any unprotected header (for interoperability checks against other COSE implementations).
        case rfc9052
    }

    /// Decodes a tagged COSE_Sign1 in deterministic CBOR. The tag and an embedded payload are
    /// always required; the `.parley` profile also requires an unprotected header of exactly one
    /// parameter, a valid `x5chain` (SPEC.md §5.1).
    public init(decoding bytes: [UInt8], limits: CBORDecoder.Limits = .parley, profile: Profile = .parley) throws {
        // Read with the streaming reader: no tree, and the byte strings are copied once.
        var reader = try CBORReader(bytes, limits: limits)
        let head = try reader.readHead()
        guard head.majorType == 6, head.argument == Self.tag else {
            // Decode the rest so that malformed input is reported as such, not as "not COSE".
            var whole = try CBORReader(bytes, limits: limits)
            let item = try whole.readItem()
            try whole.finish()
            throw CodecError(
                .notCOSESign1,
                at: 0,
                "expected a COSE_Sign1 (tag 18 around an array), found \(item.kindName)"
            )
        }
        let body = reader
        let fields: Int
        do { fields = try reader.readArrayHeader() } catch let error as CodecError where error.code == .typeMismatch {
            throw CodecError(.notCOSESign1, at: 0, "expected a COSE_Sign1 (tag 18 around an array): \(error.reason)")
        }
        guard fields == 4 else {
            var whole = body
            _ = try whole.readItem()
            try whole.finish()
            throw CodecError(.notCOSESign1, at: 0, "a COSE_Sign1 array has 4 elements, found \(fields)")
        }
        func byteString(_ name: String, _ reader: inout CBORReader) throws -> [UInt8] {
            do { return try reader.readByteString() } catch let error as CodecError where error.code == .typeMismatch {
                throw CodecError(.notCOSESign1, at: error.offset, "the \(name) must be a byte string: \(error.reason)")
            }
        }
        let protected = try byteString("protected header", &reader)
        let unprotected = try reader.readItem()
        guard case .map(let unprotectedMap) = unprotected else {
            throw CodecError(.notCOSESign1, "the unprotected header must be a map, found \(unprotected.kindName)")
        }
        if profile == .parley {
            try Self.checkParleyUnprotectedHeader(unprotectedMap)
        }
        if try reader.peekMajorType() == 7 {
            let item = try reader.readItem()
            if item == .null {
                throw CodecError(
                    .detachedPayload,
                    "detached payloads (nil) are not supported: the payload must be embedded"
                )
            }
            throw CodecError(.notCOSESign1, "the payload must be a byte string, found \(item.kindName)")
        }
        let payload = try byteString("payload", &reader)
        let signature = try byteString("signature", &reader)
        try reader.finish()
        self.init(protectedHeader: protected, unprotectedHeader: unprotectedMap, payload: payload, signature: signature)
    }

    /// The chain of a Parley object (unprotected header label 33).
    public var certificateChain: X5Chain {
        get throws { try Self.certificateChain(in: unprotectedHeader) }
    }

    private static func certificateChain(in unprotected: CBORMap) throws -> X5Chain {
        guard let item = unprotected[X5Chain.label] else {
            throw CodecError(
                .missingHeaderParameter,
                "header parameter 33 (x5chain) is missing from the unprotected header: the signer's certificate chain is required"
            )
        }
        return try X5Chain(item)
    }

    /// The `.parley` profile's check of the unprotected header, for an object decoded with `.rfc9052`.
    public func checkParleyUnprotectedHeader() throws {
        try Self.checkParleyUnprotectedHeader(unprotectedHeader)
    }

    private static func checkParleyUnprotectedHeader(_ map: CBORMap) throws {
        for key in map.keys where key != .integer(X5Chain.label) {
            throw CodecError(
                .unsupportedHeaderParameter,
                "header parameter \(CBORDiagnostic.format(key)) is not allowed in a Parley unprotected header; it holds only 33 (x5chain)"
            )
        }
        _ = try certificateChain(in: map)
    }

    /// The tagged, deterministic encoding.
    public var encoded: [UInt8] {
        Self.encode(
            protectedHeader: protectedHeader,
            encodedUnprotectedHeader: CBOREncoder.encode(.map(unprotectedHeader)),
            payload: payload,
            signature: signature
        )
    }

    /// The tagged encoding of a COSE_Sign1 whose unprotected header is given already encoded
    /// (a signer's headers are the same for every object it signs).
    public static func encode(
        protectedHeader: [UInt8],
        encodedUnprotectedHeader: [UInt8],
        payload: [UInt8],
        signature: [UInt8]
    ) -> [UInt8] {
        var writer = CBORWriter(
            capacity: protectedHeader.count + encodedUnprotectedHeader.count + payload.count + signature.count + 16
        )
        writer.writeTag(Self.tag)
        writer.writeArrayHeader(4)
        writer.writeByteString(protectedHeader)
        writer.writeEncoded(encodedUnprotectedHeader)
        writer.writeByteString(payload)
        writer.writeByteString(signature)
        return writer.bytes
    }

    /// `0x84` (array of 4) and the text string "Signature1": how every Sig_structure starts.
    private static let signature1Prefix: [UInt8] = [0x84, 0x6A] + Array("Signature1".utf8)

    /// The bytes to sign or verify: `Sig_structure = ["Signature1", protected, external_aad, payload]`.
    public static func toBeSigned(protectedHeader: [UInt8], payload: [UInt8], externalAAD: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(protectedHeader.count + payload.count + externalAAD.count + 24)
        out.append(contentsOf: signature1Prefix)
        CBOREncoder.appendHead(major: 2, argument: UInt64(protectedHeader.count), to: &out)
        out.append(contentsOf: protectedHeader)
        CBOREncoder.appendHead(major: 2, argument: UInt64(externalAAD.count), to: &out)
        out.append(contentsOf: externalAAD)
        CBOREncoder.appendHead(major: 2, argument: UInt64(payload.count), to: &out)
        out.append(contentsOf: payload)
        return out
    }

    public func toBeSigned(externalAAD: [UInt8] = []) -> [UInt8] {
        Self.toBeSigned(protectedHeader: protectedHeader, payload: payload, externalAAD: externalAAD)
    }
}
