import Foundation
import ParleyProtocol
import Testing

@Suite struct JSONValueTests {
    @Test func serializedTextParsesBackToTheSameValue() throws {
        let text =
            #"{"b":[1,-2.50,3e-7,true,false,null],"a":{"z":"","y":"x"},"s":"quote \" backslash \\ slash / tab \t newline \n cr \r bell \u0007 nul \u0000 é ✓ 🚀"}"#
        let value = try JSONValue(parsing: Array(text.utf8))
        let serialized = value.serialized
        #expect(try JSONValue(parsing: Array(serialized.utf8)) == value)
        // Members keep their order, numbers their numerals; no insignificant white space.
        #expect(serialized.hasPrefix(#"{"b":[1,-2.50,3e-7,true,false,null],"a":{"z":"","y":"x"},"s":"#))
        #expect(
            serialized.contains(#"quote \" backslash \\ slash / tab \t newline \n cr \r bell \u0007 nul \u0000 é ✓ 🚀"#),
            "\(serialized)"
        )
        // Foundation reads the same strings.
        let object = try #require(try JSONSerialization.jsonObject(with: Data(serialized.utf8)) as? [String: Any])
        #expect(
            object["s"] as? String == "quote \" backslash \\ slash / tab \t newline \n cr \r bell \u{7} nul \u{0} é ✓ 🚀"
        )
    }

    @Test func everyControlCharacterIsEscaped() throws {
        let controls = String(String.UnicodeScalarView((0..<0x20).compactMap(Unicode.Scalar.init)))
        let serialized = JSONValue.string(controls).serialized
        #expect(!serialized.unicodeScalars.contains { $0.value < 0x20 })
        #expect(try JSONValue(parsing: Array(serialized.utf8)) == .string(controls))
    }
}
