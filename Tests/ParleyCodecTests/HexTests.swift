import Testing
import ParleyCodec

/// `Hex`, the one base-16 codec every module uses for ids, digests, serials and test vectors.
@Suite struct HexTests {
    @Test func encodesEveryByteAsTwoLowerCaseDigits() {
        #expect(Hex.encode([]) == "")
        #expect(Hex.encode([0x00, 0x01, 0x0F, 0x10, 0xAB, 0xFF]) == "00010f10abff")
        #expect([UInt8]([0xDE, 0xAD, 0xBE, 0xEF]).hexString == "deadbeef")
    }

    @Test func encodesUpperCaseOnRequest() {
        #expect(Hex.encode([0x0A, 0xBC, 0xDE], uppercase: true) == "0ABCDE")
    }

    @Test func roundTripsEveryByteValue() {
        let all = (0...255).map { UInt8($0) }
        let text = Hex.encode(all)
        #expect(text.utf8.count == 512)
        #expect(Hex.decode(text) == all)
        #expect(Hex.decode(Hex.encode(all, uppercase: true)) == all)
        #expect(Hex.decode(text[...]) == all)
    }

    @Test func decodesEitherCase() {
        #expect(Hex.decode("aBcD") == [0xAB, 0xCD])
        #expect(Hex.decode("") == [])
    }

    @Test(arguments: ["a", "abc", "0", "12345"])
    func refusesOddLength(_ text: String) {
        #expect(Hex.decode(text) == nil)
    }

    @Test(arguments: ["zz", "0g", "+f", "-1", " a", "a ", "0x12", "ab\n", "１２", "éé"])
    func refusesAnythingButDigits(_ text: String) {
        #expect(Hex.decode(text) == nil)
    }
}
