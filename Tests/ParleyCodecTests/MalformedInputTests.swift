import Testing
@testable import ParleyCodec
import ParleyTestSupport

/// Inputs the strict decoder must refuse, each with the error that names what is wrong.
@Suite struct MalformedInputTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var hex: String
        var code: CodecError.Code
        var mode: CBORDecoder.Mode = .deterministic
        var testDescription: String { "\(name) (\(hex.prefix(40)))" }
    }

    static let cases: [Case] = [
        Case(name: "empty input", hex: "", code: .truncated),
        Case(name: "1-byte argument missing", hex: "18", code: .truncated),
        Case(name: "2-byte argument cut", hex: "1901", code: .truncated),
        Case(name: "4-byte argument cut", hex: "1a0000", code: .truncated),
        Case(name: "8-byte argument cut", hex: "1b00000000000000", code: .truncated),
        Case(name: "tag without content", hex: "c2", code: .truncated),
        Case(name: "map missing its value", hex: "a100", code: .lengthExceedsInput),
        Case(name: "array shorter than declared", hex: "8200", code: .lengthExceedsInput),
        Case(name: "byte string shorter than declared", hex: "430102", code: .lengthExceedsInput),
        Case(name: "second item after the first", hex: "0000", code: .trailingBytes),
        Case(name: "additional information 28", hex: "1c", code: .reservedAdditionalInformation),
        Case(name: "additional information 30 on a negative integer", hex: "3e", code: .reservedAdditionalInformation),
        Case(name: "additional information 29 in major type 7", hex: "fd", code: .reservedAdditionalInformation),
        Case(name: "indefinite unsigned integer", hex: "1f", code: .invalidIndefiniteLength),
        Case(name: "indefinite negative integer", hex: "3f", code: .invalidIndefiniteLength),
        Case(name: "indefinite tag", hex: "df00", code: .invalidIndefiniteLength),
        Case(name: "lone break", hex: "ff", code: .unexpectedBreak),
        Case(name: "break inside a definite array", hex: "81ff", code: .unexpectedBreak),
        Case(name: "two-byte simple value 0", hex: "f800", code: .invalidSimpleValue),
        Case(name: "two-byte simple value 31", hex: "f81f", code: .invalidSimpleValue),
        Case(name: "indefinite byte string", hex: "5f4101ff", code: .indefiniteLength),
        Case(name: "indefinite text string", hex: "7f6161ff", code: .indefiniteLength),
        Case(name: "indefinite array", hex: "9fff", code: .indefiniteLength),
        Case(name: "indefinite map", hex: "bf0000ff", code: .indefiniteLength),
        Case(name: "23 in a 1-byte argument", hex: "1817", code: .nonShortestHead),
        Case(name: "255 in a 2-byte argument", hex: "1900ff", code: .nonShortestHead),
        Case(name: "65535 in a 4-byte argument", hex: "1a0000ffff", code: .nonShortestHead),
        Case(name: "2^32-1 in an 8-byte argument", hex: "1b00000000ffffffff", code: .nonShortestHead),
        Case(name: "negative -1 in a 1-byte argument", hex: "3800", code: .nonShortestHead),
        Case(name: "byte string length not shortest", hex: "5800", code: .nonShortestHead),
        Case(name: "array length not shortest", hex: "9800", code: .nonShortestHead),
        Case(name: "tag number not shortest", hex: "d80100", code: .nonShortestHead),
        Case(name: "1.0 as single precision", hex: "fa3f800000", code: .nonPreferredFloat),
        Case(name: "1.0 as double precision", hex: "fb3ff0000000000000", code: .nonPreferredFloat),
        Case(name: "100000.0 as double (fits single)", hex: "fb40f86a0000000000", code: .nonPreferredFloat),
        Case(name: "NaN with a payload", hex: "f97e01", code: .nonPreferredFloat),
        Case(name: "signalling NaN in half precision", hex: "f97c01", code: .nonPreferredFloat),
        Case(name: "integer keys out of order", hex: "a202000100", code: .unsortedMapKeys),
        Case(name: "text keys out of order", hex: "a2616200616100", code: .unsortedMapKeys),
        Case(
            name: "key 24 before key 23 (bytewise order)",
            hex: "a218180017 00".replacingOccurrences(of: " ", with: ""),
            code: .unsortedMapKeys
        ),
        Case(
            name: "negative key before positive key",
            hex: "a2200000 00".replacingOccurrences(of: " ", with: ""),
            code: .unsortedMapKeys
        ),
        Case(name: "duplicate integer key", hex: "a201000100", code: .duplicateMapKey),
        Case(name: "duplicate text key", hex: "a2616100616100", code: .duplicateMapKey),
        Case(name: "duplicate key in a well-formed map", hex: "a201000100", code: .duplicateMapKey, mode: .wellFormed),
        Case(
            name: "duplicate key, differently encoded",
            hex: "a2011800180100",
            code: .duplicateMapKey,
            mode: .wellFormed
        ),
        Case(name: "overlong UTF-8", hex: "62c0af", code: .invalidUTF8),
        Case(name: "lone continuation byte", hex: "6180", code: .invalidUTF8),
        Case(name: "UTF-8 encoded surrogate", hex: "63eda080", code: .invalidUTF8),
        Case(name: "byte 0xff in text", hex: "61ff", code: .invalidUTF8),
        Case(name: "truncated UTF-8 sequence", hex: "62e282", code: .invalidUTF8),
        Case(name: "text chunk with invalid UTF-8", hex: "7f61ffff", code: .invalidUTF8, mode: .wellFormed),
        Case(
            name: "byte string chunk in a text string",
            hex: "7f4161ff",
            code: .invalidIndefiniteChunk,
            mode: .wellFormed
        ),
        Case(name: "nested indefinite chunk", hex: "5f5f4101ffff", code: .invalidIndefiniteChunk, mode: .wellFormed),
        Case(name: "indefinite array never closed", hex: "9f00", code: .truncated, mode: .wellFormed),
        Case(name: "4 GiB byte string declared in 5 bytes", hex: "5affffffff", code: .lengthExceedsInput),
        Case(name: "2^64-1 element array declared in 9 bytes", hex: "9bffffffffffffffff", code: .lengthExceedsInput),
        Case(name: "2^64-1 entry map declared in 9 bytes", hex: "bbffffffffffffffff", code: .lengthExceedsInput),
        Case(name: "2^64-1 byte text declared in 9 bytes", hex: "7bffffffffffffffff", code: .lengthExceedsInput),
        Case(name: "17 nested arrays", hex: String(repeating: "81", count: 17) + "00", code: .depthLimitExceeded),
        Case(name: "17 nested tags", hex: String(repeating: "c1", count: 17) + "00", code: .depthLimitExceeded),
        Case(name: "17 nested maps", hex: String(repeating: "a100", count: 17) + "00", code: .depthLimitExceeded),
        Case(
            name: "array of 16385 items",
            hex: "9940 01".replacingOccurrences(of: " ", with: "") + String(repeating: "00", count: 16_385),
            code: .itemLimitExceeded
        ),
        Case(
            name: "16384 items plus the array itself",
            hex: "994000" + String(repeating: "00", count: 16_384),
            code: .itemLimitExceeded
        ),
    ]

    @Test func catalogueHasAtLeastThirtyCasesAndCoversEveryDecoderError() {
        #expect(Self.cases.count >= 30)
        let decoderCodes: Set<CodecError.Code> = [
            .truncated, .trailingBytes, .reservedAdditionalInformation, .invalidIndefiniteLength, .unexpectedBreak,
            .invalidSimpleValue, .invalidIndefiniteChunk, .invalidUTF8, .lengthExceedsInput, .indefiniteLength,
            .nonShortestHead, .nonPreferredFloat, .unsortedMapKeys, .duplicateMapKey, .depthLimitExceeded,
            .itemLimitExceeded,
        ]
        #expect(Set(Self.cases.map(\.code)) == decoderCodes)
    }

    @Test(arguments: cases)
    func isRejectedWithItsError(_ c: Case) {
        #expect { try CBORDecoder(mode: c.mode).decode(hexBytes(c.hex)) } throws: { error in
            guard let error = error as? CodecError else { return false }
            return error.code == c.code
        }
    }

    @Test func inputLargerThanTheLimitIsRejectedBeforeParsing() {
        let bytes = [UInt8](repeating: 0, count: CBORDecoder.Limits.parley.maximumInputSize + 1)
        #expect { try CBOR(decoding: bytes) } throws: { ($0 as? CodecError)?.code == .inputTooLarge }
    }

    @Test func deepestAllowedNestingIsAccepted() throws {
        let bytes = hexBytes(String(repeating: "81", count: 16) + "00")
        _ = try CBOR(decoding: bytes)
    }

    @Test func errorsNameTheirPosition() {
        do {
            _ = try CBOR(decoding: hexBytes("8301021900ff"))
            Issue.record("accepted a non-shortest head")
        } catch let error as CodecError {
            #expect(error.offset == 3)
            #expect(error.description.contains("byte 3"))
        } catch {
            Issue.record("unexpected \(error)")
        }
    }
}
