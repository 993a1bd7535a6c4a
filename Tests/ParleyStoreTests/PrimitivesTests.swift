import Foundation
import Testing
@testable import ParleyStore

@Suite struct SHA256Tests {
    @Test func fipsVectors() {
        #expect(SHA256.digest(Data()).hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.digest(Data("abc".utf8)).hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.digest(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)).hexString
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        #expect(SHA256.digest(Data(repeating: 0x61, count: 1_000_000)).hexString
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    @Test func incrementalEqualsOneShot() {
        let data = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        var hasher = SHA256()
        for chunk in stride(from: 0, to: data.count, by: 37) {
            hasher.update(data[chunk..<min(chunk + 37, data.count)])
        }
        #expect(hasher.finalize() == SHA256.digest(data))
    }
}

@Suite struct ArchiveCBORTests {
    func decode(_ bytes: [UInt8]) throws(ArchiveCBORDecoder.Failure) -> ArchiveCBOR {
        var decoder = ArchiveCBORDecoder(bytes: bytes)
        return try decoder.decode()
    }

    @Test func roundTripIsDeterministic() throws {
        let value = ArchiveCBOR.array([.unsigned(1), .map([10: .text("é"), 2: .bytes(Data([1, 2])), 300: .time(1_780_000_000)]),
                                       .unsigned(UInt64.max), .unsigned(23), .unsigned(24), .unsigned(65_536)])
        let encoded = value.encoded
        #expect(try decode(encoded) == value)
        // Map keys ascending: 2, 10, 300.
        #expect(Array(encoded[2...4]) == [0xA3, 0x02, 0x42])
    }

    @Test func rejectsNonDeterministicEncodings() {
        #expect(throws: ArchiveCBORDecoder.Failure.invalid("integer or length not in shortest form")) { try decode([0x18, 0x05]) }
        #expect(throws: ArchiveCBORDecoder.Failure.invalid("indefinite length is not deterministic CBOR")) { try decode([0x9F, 0x01, 0xFF]) }
        #expect(throws: ArchiveCBORDecoder.Failure.invalid("map keys not in ascending order or duplicated (key 1)")) {
            try decode([0xA2, 0x02, 0x00, 0x01, 0x00])
        }
        #expect(throws: ArchiveCBORDecoder.Failure.invalid("map key is not an unsigned integer")) { try decode([0xA1, 0x61, 0x61, 0x00]) }
        #expect(throws: ArchiveCBORDecoder.Failure.invalid("text string is not valid UTF-8")) { try decode([0x62, 0xC3, 0x28]) }
        #expect(throws: ArchiveCBORDecoder.Failure.invalid("major type 1 is not used in Parley archives")) { try decode([0x20]) }
        #expect(throws: ArchiveCBORDecoder.Failure.truncated) { try decode([0x43, 0x01]) }
        let deep = [UInt8](repeating: 0x81, count: 20) + [0x00]
        #expect(throws: ArchiveCBORDecoder.Failure.invalid("nesting deeper than 8")) { try decode(deep) }
    }
}

@Suite struct MessageIDTests {
    @Test func lengthAndHex() {
        #expect(MessageID(Data(count: 15)) == nil)
        #expect(MessageID(Data(count: 17)) == nil)
        let id = MessageID(hex: "00112233445566778899aabbccddeeff")!
        #expect(id.hex == "00112233445566778899aabbccddeeff")
        #expect(MessageID(hex: "zz112233445566778899aabbccddeeff") == nil)
    }

    @Test func participantIDs() {
        #expect(ParticipantIDRule.isValid("US-NRRC"))
        #expect(ParticipantIDRule.isValid("1A"))
        #expect(!ParticipantIDRule.isValid("-US"))
        #expect(!ParticipantIDRule.isValid("us-nrrc"))
        #expect(!ParticipantIDRule.isValid(""))
        #expect(!ParticipantIDRule.isValid(String(repeating: "A", count: 65)))
    }
}
