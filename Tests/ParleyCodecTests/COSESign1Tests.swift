import Foundation
import Testing
@testable import ParleyCodec
import ParleyTestSupport

@Suite struct COSESign1Tests {
    static let digest = [UInt8](repeating: 0xAB, count: 32)
    static let header = ProtectedHeader(
        algorithm: -8,
        contentType: "application/parley-message+cbor",
        chainDigest: digest
    )
    static let chain: CBORMap = [33: .byteString([0x30, 0x03, 0x02, 0x01, 0x01])]

    @Test func roundTripsByteForByte() throws {
        let message = COSESign1(
            protectedHeader: Self.header.encoded,
            unprotectedHeader: Self.chain,
            payload: [0xA0],
            signature: [UInt8](repeating: 7, count: 64)
        )
        let bytes = message.encoded
        #expect(bytes.prefix(2) == [0xD2, 0x84])
        let decoded = try COSESign1(decoding: bytes)
        #expect(decoded == message)
        #expect(decoded.encoded == bytes)
        #expect(try ProtectedHeader(decoding: decoded.protectedHeader) == Self.header)
        #expect(try decoded.certificateChain == X5Chain([[0x30, 0x03, 0x02, 0x01, 0x01]]))
    }

    @Test func protectedHeaderEncodingIsDeterministic() throws {
        // {1: -8, 3: "a", -65537: h'AB…'}: the private-use label sorts after the positive ones.
        let header = ProtectedHeader(algorithm: -8, contentType: "a", chainDigest: Self.digest)
        #expect(
            Hex.encode(header.encoded) == "a30127036161" + "3a00010000" + "5820" + String(repeating: "ab", count: 32)
        )
        #expect(try ProtectedHeader(decoding: header.encoded) == header)
    }

    @Test func chainOfSeveralCertificatesIsAnArray() throws {
        let chain = try X5Chain([[1], [2], [3]])
        #expect(chain.item == .array([.byteString([1]), .byteString([2]), .byteString([3])]))
        #expect(chain.encoded == CBOREncoder.encode(chain.item))
        #expect(try X5Chain(chain.item) == chain)
        let one = try X5Chain([[1, 2]])
        #expect(one.item == .byteString([1, 2]))
        #expect(one.encoded == [0x42, 1, 2])
    }

    /// RFC 9052 §4.4: `Sig_structure = ["Signature1", body_protected, external_aad, payload]`.
    @Test func toBeSignedIsTheSignature1Structure() throws {
        let tbs = COSESign1.toBeSigned(
            protectedHeader: [0xA1, 0x01, 0x26],
            payload: Array("This is the content.".utf8)
        )
        let expected = CBOREncoder.encode([
            "Signature1", .byteString([0xA1, 0x01, 0x26]), .byteString([]),
            .byteString(Array("This is the content.".utf8)),
        ])
        #expect(tbs == expected)
        #expect(Hex.encode(tbs) == "846a5369676e61747572653143a101264054546869732069732074686520636f6e74656e742e")
    }

    struct Case: Sendable, CustomTestStringConvertible {
        var name: String
        var diagnostic: CBOR
        var code: CodecError.Code
        var testDescription: String { name }
    }

    static let good = Self.header.encoded
    static let cases: [Case] = [
        Case(
            name: "untagged",
            diagnostic: [.byteString(good), .map([:]), .byteString([]), .byteString([])],
            code: .notCOSESign1
        ),
        Case(
            name: "COSE_Mac0 tag 17",
            diagnostic: .tagged(17, [.byteString(good), .map([:]), .byteString([]), .byteString([])]),
            code: .notCOSESign1
        ),
        Case(
            name: "three elements",
            diagnostic: .tagged(18, [.byteString(good), .map([:]), .byteString([])]),
            code: .notCOSESign1
        ),
        Case(
            name: "protected header as a map",
            diagnostic: .tagged(18, [.map([1: -8]), .map([:]), .byteString([]), .byteString([])]),
            code: .notCOSESign1
        ),
        Case(
            name: "unprotected header with kid",
            diagnostic: .tagged(
                18,
                [
                    .byteString(good), .map([4: .byteString([1]), 33: .byteString([1])]), .byteString([]),
                    .byteString([]),
                ]
            ),
            code: .unsupportedHeaderParameter
        ),
        Case(
            name: "unprotected header empty",
            diagnostic: .tagged(18, [.byteString(good), .map([:]), .byteString([]), .byteString([])]),
            code: .missingHeaderParameter
        ),
        Case(
            name: "x5chain array of one",
            diagnostic: .tagged(
                18,
                [.byteString(good), .map([33: [.byteString([1])]]), .byteString([]), .byteString([])]
            ),
            code: .invalidHeaderParameter
        ),
        Case(
            name: "x5chain of nine",
            diagnostic: .tagged(
                18,
                [
                    .byteString(good), .map([33: .array(Array(repeating: .byteString([1]), count: 9))]),
                    .byteString([]), .byteString([]),
                ]
            ),
            code: .headerLimitExceeded
        ),
        Case(
            name: "x5chain entry not bytes",
            diagnostic: .tagged(
                18,
                [.byteString(good), .map([33: [.byteString([1]), "x"]]), .byteString([]), .byteString([])]
            ),
            code: .invalidHeaderParameter
        ),
        Case(
            name: "empty certificate",
            diagnostic: .tagged(
                18,
                [.byteString(good), .map([33: .byteString([])]), .byteString([]), .byteString([])]
            ),
            code: .invalidHeaderParameter
        ),
        Case(
            name: "oversized certificate",
            diagnostic: .tagged(
                18,
                [
                    .byteString(good), .map([33: .byteString(Array(repeating: 0, count: 16_385))]), .byteString([]),
                    .byteString([]),
                ]
            ),
            code: .headerLimitExceeded
        ),
        Case(
            name: "x5chain as text",
            diagnostic: .tagged(18, [.byteString(good), .map([33: "cert"]), .byteString([]), .byteString([])]),
            code: .invalidHeaderParameter
        ),
        Case(
            name: "detached payload",
            diagnostic: .tagged(18, [.byteString(good), .map(chain), .null, .byteString([])]),
            code: .detachedPayload
        ),
        Case(
            name: "payload as text",
            diagnostic: .tagged(18, [.byteString(good), .map(chain), "x", .byteString([])]),
            code: .notCOSESign1
        ),
        Case(
            name: "signature as array",
            diagnostic: .tagged(18, [.byteString(good), .map(chain), .byteString([]), []]),
            code: .notCOSESign1
        ),
    ]

    @Test(arguments: cases)
    func malformedStructureIsRejected(_ c: Case) {
        #expect { try COSESign1(decoding: CBOREncoder.encode(c.diagnostic)) } throws: {
            ($0 as? CodecError)?.code == c.code
        }
    }

    struct HeaderCase: Sendable, CustomTestStringConvertible {
        var name: String
        var header: CBOR
        var code: CodecError.Code
        var testDescription: String { name }
    }

    static let headerCases: [HeaderCase] = [
        HeaderCase(
            name: "crit parameter",
            header: .map([1: -8, 2: [1], 3: "application/parley-message+cbor", -65537: .byteString(digest)]),
            code: .unsupportedHeaderParameter
        ),
        HeaderCase(
            name: "kid parameter",
            header: .map([
                1: -8, 3: "application/parley-message+cbor", 4: .byteString([1]), -65537: .byteString(digest),
            ]),
            code: .unsupportedHeaderParameter
        ),
        HeaderCase(
            name: "x5chain in the protected header",
            header: .map([
                1: -8, 3: "application/parley-message+cbor", 33: .byteString([1]), -65537: .byteString(digest),
            ]),
            code: .unsupportedHeaderParameter
        ),
        HeaderCase(
            name: "x5t parameter",
            header: .map([
                1: -8, 3: "application/parley-message+cbor", 34: [-16, .byteString(digest)],
                -65537: .byteString(digest),
            ]),
            code: .unsupportedHeaderParameter
        ),
        HeaderCase(
            name: "text label",
            header: .map([1: -8, 3: "application/parley-message+cbor", -65537: .byteString(digest), "alg": 1]),
            code: .unsupportedHeaderParameter
        ),
        HeaderCase(
            name: "no alg",
            header: .map([3: "application/parley-message+cbor", -65537: .byteString(digest)]),
            code: .missingHeaderParameter
        ),
        HeaderCase(
            name: "no content type",
            header: .map([1: -8, -65537: .byteString(digest)]),
            code: .missingHeaderParameter
        ),
        HeaderCase(
            name: "no x5chain-sha256",
            header: .map([1: -8, 3: "application/parley-message+cbor"]),
            code: .missingHeaderParameter
        ),
        HeaderCase(
            name: "alg as text",
            header: .map([1: "EdDSA", 3: "application/parley-message+cbor", -65537: .byteString(digest)]),
            code: .invalidHeaderParameter
        ),
        HeaderCase(
            name: "content type as integer",
            header: .map([1: -8, 3: 60, -65537: .byteString(digest)]),
            code: .invalidHeaderParameter
        ),
        HeaderCase(
            name: "x5chain-sha256 of 31 bytes",
            header: .map([1: -8, 3: "a", -65537: .byteString(Array(repeating: 1, count: 31))]),
            code: .invalidHeaderParameter
        ),
        HeaderCase(
            name: "x5chain-sha256 as text",
            header: .map([1: -8, 3: "a", -65537: "digest"]),
            code: .invalidHeaderParameter
        ),
        HeaderCase(name: "header not a map", header: [1, -8], code: .invalidHeaderParameter),
    ]

    @Test(arguments: headerCases)
    func malformedProtectedHeaderIsRejected(_ c: HeaderCase) {
        #expect { try ProtectedHeader(decoding: CBOREncoder.encode(c.header)) } throws: {
            ($0 as? CodecError)?.code == c.code
        }
    }

    @Test func emptyProtectedHeaderIsRejected() {
        #expect { try ProtectedHeader(decoding: []) } throws: { ($0 as? CodecError)?.code == .missingHeaderParameter }
    }

    @Test func nonDeterministicProtectedHeaderIsRejected() {
        // {3: "a", 1: -8, -65537: h'01'}: keys out of order.
        #expect { try ProtectedHeader(decoding: hexBytes("a30361610127" + "3a000100004101")) } throws: {
            ($0 as? CodecError)?.code == .unsortedMapKeys
        }
    }
}

/// Published COSE_Sign1 examples (cose-wg/Examples): the structure decodes and the bytes to be
/// signed are exactly the published `ToBeSign`. Their signatures are checked in ParleyProtocolTests.
@Suite struct COSEPublishedExampleTests {
    @Test func toBeSignedMatchesPublishedIntermediates() throws {
        let data = try Data(contentsOf: vectorURL("cose_wg_sign1.json"))
        let cases = try #require(JSONParser.parse(data)["cases"]?.array)
        #expect(cases.count == 2)
        for c in cases {
            let bytes = hexBytes(c["cbor"]!.string!)
            if c["tagged"]!.bool! {
                let message = try COSESign1(decoding: bytes, profile: .rfc9052)
                #expect(
                    Hex.encode(message.toBeSigned(externalAAD: hexBytes(c["external"]!.string!)))
                        == c["tbs"]!.string!.lowercased()
                )
                #expect(message.encoded == bytes)
                // Their unprotected headers carry kid (4), which a Parley object may not.
                #expect { try COSESign1(decoding: bytes) } throws: {
                    ($0 as? CodecError)?.code == .unsupportedHeaderParameter
                }
            } else {
                // Parley requires the COSE_Sign1 tag even where RFC 9052 lets the context imply it.
                #expect { try COSESign1(decoding: bytes, profile: .rfc9052) } throws: {
                    ($0 as? CodecError)?.code == .notCOSESign1
                }
            }
        }
    }
}
