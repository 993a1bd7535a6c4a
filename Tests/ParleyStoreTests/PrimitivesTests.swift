import Foundation
import ParleyCodec
import ParleyCrypto
import Testing
import ParleyProtocol
@testable import ParleyStore

/// The store's digests come from ParleyCrypto: one-shot for stored bytes, incremental for archives.
@Suite struct SHA256Tests {
    @Test func fipsVectors() async {
        #expect(Data().sha256.hexString == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(Data("abc".utf8).sha256.hexString == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(
            Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8).sha256.hexString
                == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        )
        #expect(
            Data(repeating: 0x61, count: 1_000_000).sha256.hexString
                == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        )
    }

    @Test func incrementalEqualsOneShot() async {
        let data = Data((0..<1000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let hasher = SHA256Hasher()
        for chunk in stride(from: 0, to: data.count, by: 37) {
            hasher.update(data[chunk..<min(chunk + 37, data.count)])
        }
        #expect(Data(hasher.finalize()) == data.sha256)
        let million = SHA256Hasher()
        for _ in 0..<1000 { million.update([UInt8](repeating: 0x61, count: 1000)) }
        #expect(
            Data(million.finalize()).hexString == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
        )
    }
}

/// The archive's CBOR profile (ARCHIVE.md §1) on ParleyCodec.
@Suite struct ArchiveCBORTests {
    func decode(_ bytes: [UInt8]) throws(ArchiveCBOR.Failure) -> CBOR {
        try ArchiveCBOR.decode(bytes)
    }

    func rejects(_ bytes: [UInt8], _ expected: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try decode(bytes)
            Issue.record("accepted \(bytes)", sourceLocation: sourceLocation)
        } catch {
            switch error {
            case .truncated:
                Issue.record("\(bytes) reported as truncated, expected \(expected)", sourceLocation: sourceLocation)
            case .invalid(let reason):
                #expect(reason.contains(expected), "\(reason)", sourceLocation: sourceLocation)
                #expect(
                    CodecError.Code.allCases.allSatisfy {
                        !reason.contains($0.rawValue) || $0.rawValue == $0.rawValue.lowercased()
                    },
                    "an operator's text, no Swift case name: \(reason)",
                    sourceLocation: sourceLocation
                )
            }
        }
    }

    @Test func roundTripIsDeterministic() async throws {
        let entries: [UInt64: CBOR] = [10: .tstr("é"), 2: .bstr(Data([1, 2])), 300: .time(1_780_000_000)]
        let value = CBOR.array([.uint(1), .intMap(entries), .uint(UInt64.max), .uint(23), .uint(24), .uint(65_536)])
        var encoded = [UInt8]()
        ArchiveCBOR.encode(value, into: &encoded)
        // CBORMap keeps entry order, so compare maps as dictionaries and the rest item by item.
        let decoded = try #require(try decode(encoded).arrayValue)
        #expect(decoded.count == 6)
        #expect(decoded[1].archiveMap == entries)
        #expect(
            decoded[0] == .uint(1) && Array(decoded[2...]) == [.uint(UInt64.max), .uint(23), .uint(24), .uint(65_536)]
        )
        var reencoded = [UInt8]()
        ArchiveCBOR.encode(.array(decoded), into: &reencoded)
        #expect(reencoded == encoded)
        // Map keys ascending: 2, 10, 300.
        #expect(Array(encoded[2...4]) == [0xA3, 0x02, 0x42])
    }

    @Test func rejectsNonDeterministicEncodings() async {
        rejects([0x18, 0x05], "not encoded in its shortest form")
        rejects([0x9F, 0x01, 0xFF], "indefinite-length items are not deterministic")
        rejects([0xA2, 0x02, 0x00, 0x01, 0x00], "out of the bytewise order of encoded keys")
        rejects([0xA2, 0x01, 0x00, 0x01, 0x00], "map key 1 appears twice")
        rejects([0xA1, 0x61, 0x61, 0x00], "map key is not an unsigned integer")
        rejects([0x62, 0xC3, 0x28], "not valid UTF-8")
        rejects([0x20], "negative integer is not used in Parley archives")
        rejects([0xF5], "boolean is not used in Parley archives")
        rejects([0xF9, 0x3C, 0x00], "float is not used in Parley archives")
        rejects([0xC2, 0x41, 0x01], "tag 2 is not used in Parley archives")
        #expect(throws: ArchiveCBOR.Failure.truncated) { try decode([0x43, 0x01]) }
        #expect(throws: ArchiveCBOR.Failure.truncated) { try decode([0x82, 0x01]) }
        let deep = [UInt8](repeating: 0x81, count: 20) + [0x00]
        rejects(deep, "nesting deeper than 8 levels")
        // Eight levels of nesting are allowed, nine are not (ARCHIVE.md §1.6).
        #expect(throws: Never.self) { try decode([UInt8](repeating: 0x81, count: 8) + [0x00]) }
        rejects([UInt8](repeating: 0x81, count: 9) + [0x00], "nesting deeper than 8 levels")
    }
}

@Suite struct MessageIDTests {
    @Test func lengthAndHex() async throws {
        #expect(MessageID(Data(count: 15)) == nil)
        #expect(MessageID(Data(count: 17)) == nil)
        let id = try MessageID(hex: "00112233445566778899aabbccddeeff")
        #expect(id.hex == "00112233445566778899aabbccddeeff")
        #expect(MessageID(id.data) == id)
        #expect(throws: ProtocolError.self) { try MessageID(hex: "zz112233445566778899aabbccddeeff") }
    }

    @Test func participantIDs() async {
        #expect(ParticipantIDRule.isValid("US-NRRC"))
        #expect(ParticipantIDRule.isValid("1A"))
        #expect(!ParticipantIDRule.isValid("-US"))
        #expect(!ParticipantIDRule.isValid("us-nrrc"))
        #expect(!ParticipantIDRule.isValid(""))
        #expect(!ParticipantIDRule.isValid(String(repeating: "A", count: 65)))
    }
}
