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
        /// Parley messages and receipts: an empty unprotected header.
        case parley
        /// Any unprotected header (for interoperability checks against other COSE implementations).
        case rfc9052
    }

    /// Decodes a tagged COSE_Sign1 in deterministic CBOR. The tag and an embedded payload are
    /// always required; the `.parley` profile also requires an empty unprotected header.
    public init(decoding bytes: [UInt8], limits: CBORDecoder.Limits = .parley, profile: Profile = .parley) throws {
        let item = try CBOR(decoding: bytes, limits: limits)
        guard case .tagged(Self.tag, .array(let fields)) = item else {
            throw CodecError(.notCOSESign1, at: 0, "expected a COSE_Sign1 (tag 18 around an array), found \(item.kindName)")
        }
        guard fields.count == 4 else {
            throw CodecError(.notCOSESign1, at: 0, "a COSE_Sign1 array has 4 elements, found \(fields.count)")
        }
        guard case .byteString(let protected) = fields[0] else {
            throw CodecError(.notCOSESign1, "the protected header must be a byte string, found \(fields[0].kindName)")
        }
        guard case .map(let unprotected) = fields[1] else {
            throw CodecError(.notCOSESign1, "the unprotected header must be a map, found \(fields[1].kindName)")
        }
        guard unprotected.isEmpty || profile == .rfc9052 else {
            throw CodecError(.unprotectedHeaderNotEmpty, "the unprotected header must be empty; found labels \(unprotected.keys.map(CBORDiagnostic.format))")
        }
        guard case .byteString(let payload) = fields[2] else {
            if fields[2] == .null {
                throw CodecError(.detachedPayload, "detached payloads (nil) are not supported: the payload must be embedded")
            }
            throw CodecError(.notCOSESign1, "the payload must be a byte string, found \(fields[2].kindName)")
        }
        guard case .byteString(let signature) = fields[3] else {
            throw CodecError(.notCOSESign1, "the signature must be a byte string, found \(fields[3].kindName)")
        }
        self.init(protectedHeader: protected, unprotectedHeader: unprotected, payload: payload, signature: signature)
    }

    /// The tagged, deterministic encoding.
    public var encoded: [UInt8] {
        var writer = CBORWriter(capacity: protectedHeader.count + payload.count + signature.count + 16)
        writer.writeTag(Self.tag)
        writer.writeArrayHeader(4)
        writer.writeByteString(protectedHeader)
        writer.write(.map(unprotectedHeader))
        writer.writeByteString(payload)
        writer.writeByteString(signature)
        return writer.bytes
    }

    /// The bytes to sign or verify: `Sig_structure = ["Signature1", protected, external_aad, payload]`.
    public static func toBeSigned(protectedHeader: [UInt8], payload: [UInt8], externalAAD: [UInt8] = []) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(protectedHeader.count + payload.count + externalAAD.count + 24)
        out.append(0x84)
        CBOREncoder.append(.textString("Signature1"), to: &out)
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
