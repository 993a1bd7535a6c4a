import Foundation
import Testing
@testable import ParleyCodec
import ParleyTestSupport

/// Every example of RFC 8949 Appendix A, from `Vectors/appendix_a.json` (source in `Vectors/SOURCE.md`).
@Suite struct AppendixATests {
    struct Example: CustomTestStringConvertible, Sendable {
        var hex: String
        var roundtrip: Bool
        var decoded: JSONValueBox?
        var diagnostic: String?
        var testDescription: String { hex }
    }

    /// `JSONValue` is not Sendable (it holds tuples); box it for test arguments.
    final class JSONValueBox: @unchecked Sendable {
        let value: JSONValue
        init(_ value: JSONValue) { self.value = value }
    }

    static let examples: [Example] = {
        let data = try! Data(contentsOf: vectorURL("appendix_a.json"))
        guard case .array(let items) = try! JSONParser.parse(data) else {
            fatalError("appendix_a.json is not an array")
        }
        return items.map { item in
            Example(
                hex: item["hex"]!.string!,
                roundtrip: item["roundtrip"]!.bool!,
                decoded: item["decoded"].map(JSONValueBox.init),
                diagnostic: item["diagnostic"]?.string
            )
        }
    }()

    @Test func allExamplesArePresent() {
        #expect(Self.examples.count == 82)
    }

    /// `f818` (simple(24)) is an RFC 7049 example that RFC 8949 §3.3 made not well-formed: a
    /// two-byte simple value below 32 is listed as invalid in RFC 8949 Appendix F.1.
    static let obsoletedByRFC8949 = "f818"

    @Test func obsoleteTwoByteSimpleValueIsRejected() {
        #expect(Self.examples.contains { $0.hex == Self.obsoletedByRFC8949 })
        for mode in [CBORDecoder.Mode.deterministic, .wellFormed] {
            #expect { try CBORDecoder(mode: mode).decode(hexBytes(Self.obsoletedByRFC8949)) } throws: {
                ($0 as? CodecError)?.code == .invalidSimpleValue
            }
        }
    }

    @Test(arguments: examples.filter { $0.hex != obsoletedByRFC8949 })
    func decodesAsPublished(_ example: Example) throws {
        let item = try CBORDecoder(mode: .wellFormed).decode(hexBytes(example.hex))
        if let decoded = example.decoded {
            #expect(matches(item, decoded.value), "decoded \(CBORDiagnostic.format(item))")
        } else if let diagnostic = example.diagnostic, example.roundtrip {
            #expect(CBORDiagnostic.format(item) == diagnostic)
        } else if let diagnostic = example.diagnostic {
            // Non-deterministic forms of values whose diagnostic notation has no encoding indicator.
            if !diagnostic.hasPrefix("(_") { #expect(CBORDiagnostic.format(item) == diagnostic) }
        }
    }

    @Test(arguments: examples.filter { $0.roundtrip && $0.hex != obsoletedByRFC8949 })
    func deterministicExamplesRoundTripByteForByte(_ example: Example) throws {
        let bytes = hexBytes(example.hex)
        let item = try CBOR(decoding: bytes)
        #expect(CBOREncoder.encode(item) == bytes)
    }

    @Test(arguments: examples.filter { !$0.roundtrip })
    func nonDeterministicExamplesAreRejectedAndReencodedCanonically(_ example: Example) throws {
        let bytes = hexBytes(example.hex)
        let expected: CodecError.Code = bytes[0] >> 5 == 7 ? .nonPreferredFloat : .indefiniteLength
        #expect { try CBOR(decoding: bytes) } throws: { ($0 as? CodecError)?.code == expected }
        let lenient = try CBORDecoder(mode: .wellFormed).decode(bytes)
        let canonical = CBOREncoder.encode(lenient)
        #expect(canonical != bytes)
        let again = try CBOR(decoding: canonical)
        #expect(CBOREncoder.encode(again) == canonical)
    }

    private func matches(_ item: CBOR, _ json: JSONValue) -> Bool {
        switch (item, json) {
        case (.unsignedInteger(let n), .number(let text)):
            return String(n) == text
        case (.negativeInteger(let n), .number(let text)):
            return (n == .max ? "-18446744073709551616" : "-" + String(n + 1)) == text
        case (.tagged(2, .byteString(let magnitude)), .number(let text)):
            return decimalString(bigEndian: magnitude) == text
        case (.tagged(3, .byteString(let magnitude)), .number(let text)):
            return "-" + decimalStringPlusOne(bigEndian: magnitude) == text
        case (.float(let value), .number(let text)):
            guard let expected = Double(text) else { return false }
            return value == expected && value.sign == expected.sign
        case (.textString(let s), .string(let t)):
            return s == t
        case (.boolean(let b), .bool(let c)):
            return b == c
        case (.null, .null):
            return true
        case (.array(let items), .array(let values)):
            return items.count == values.count && zip(items, values).allSatisfy { matches($0, $1) }
        case (.map(let map), .object(let fields)):
            return map.count == fields.count
                && zip(map.entries, fields).allSatisfy { entry, field in
                    entry.key == .textString(field.0) && matches(entry.value, field.1)
                }
        default:
            return false
        }
    }
}
