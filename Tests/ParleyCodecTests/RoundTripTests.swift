import Testing
@testable import ParleyCodec
import ParleyTestSupport

/// Random items survive encode → strict decode → encode unchanged, and random damage never crashes.
@Suite struct RoundTripTests {
    struct SplitMix64: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomItem(depth: Int, using rng: inout SplitMix64) -> CBOR {
        let choice = Int.random(in: 0..<(depth > 4 ? 8 : 11), using: &rng)
        switch choice {
        case 0:
            return .unsignedInteger(
                UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            )
        case 1:
            return .negativeInteger(
                UInt64.random(in: 0...UInt64.max, using: &rng) >> UInt64.random(in: 0...63, using: &rng)
            )
        case 2:
            return .byteString(
                (0..<Int.random(in: 0...40, using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
            )
        case 3:
            let scalars = (0..<Int.random(in: 0...12, using: &rng)).compactMap { _ in
                Unicode.Scalar(
                    UInt32.random(
                        in: [0x20...0x7E, 0xA0...0xD7FF, 0xE000...0x10FFFF].randomElement(using: &rng)!,
                        using: &rng
                    )
                )
            }
            return .textString(String(String.UnicodeScalarView(scalars)))
        case 4: return .boolean(Bool.random(using: &rng))
        case 5:
            return [
                .null, .undefined, .simple(UInt8.random(in: 0...19, using: &rng)),
                .simple(UInt8.random(in: 32...255, using: &rng)),
            ].randomElement(using: &rng)!
        case 6:
            let candidates: [Double] = [
                0, -0.0, 1.5, -4.25, 65504, 1e-7, 3.4028234663852886e38, 1.1, .pi, .infinity, -.infinity, .nan,
                5.960464477539063e-8,
            ]
            return .float(candidates.randomElement(using: &rng)!)
        case 7: return .float(Double(bitPattern: UInt64.random(in: 0...UInt64.max, using: &rng)))
        case 8:
            return .array(
                (0..<Int.random(in: 0...5, using: &rng)).map { _ in randomItem(depth: depth + 1, using: &rng) }
            )
        case 9:
            var map = CBORMap()
            for _ in 0..<Int.random(in: 0...5, using: &rng) {
                map[randomItem(depth: depth + 3, using: &rng)] = randomItem(depth: depth + 1, using: &rng)
            }
            return .map(map)
        default: return .tagged(UInt64.random(in: 0...100_000, using: &rng), randomItem(depth: depth + 1, using: &rng))
        }
    }

    @Test func randomItemsRoundTripByteForByte() throws {
        var rng = SplitMix64(state: 0x5EED)
        for _ in 0..<5_000 {
            let item = Self.randomItem(depth: 1, using: &rng)
            let bytes = CBOREncoder.encode(item)
            let decoded = try CBOR(decoding: bytes)
            #expect(CBOREncoder.encode(decoded) == bytes)
        }
    }

    @Test func damagedInputsFailCleanly() throws {
        var rng = SplitMix64(state: 0xBAD)
        var rejected = 0
        for _ in 0..<5_000 {
            var bytes = CBOREncoder.encode(Self.randomItem(depth: 1, using: &rng))
            switch Int.random(in: 0..<3, using: &rng) {
            case 0:
                bytes[Int.random(in: 0..<bytes.count, using: &rng)] ^= UInt8(1) << UInt8.random(in: 0...7, using: &rng)
            case 1: bytes.removeLast(Int.random(in: 1...bytes.count, using: &rng))
            default:
                bytes.insert(UInt8.random(in: 0...255, using: &rng), at: Int.random(in: 0...bytes.count, using: &rng))
            }
            do {
                // Whatever is accepted must be canonical: re-encoding gives the same bytes.
                let item = try CBOR(decoding: bytes)
                #expect(CBOREncoder.encode(item) == bytes)
            } catch is CodecError {
                rejected += 1
            }
        }
        #expect(rejected > 1_000)
    }

    @Test func preferredFloatsUseTheShortestExactWidth() {
        #expect(CBOREncoder.encode(.float(0.0)) == hexBytes("f90000"))
        #expect(CBOREncoder.encode(.float(-0.0)) == hexBytes("f98000"))
        #expect(CBOREncoder.encode(.float(65504)) == hexBytes("f97bff"))
        #expect(CBOREncoder.encode(.float(100000)) == hexBytes("fa47c35000"))
        #expect(CBOREncoder.encode(.float(1.1)) == hexBytes("fb3ff199999999999a"))
        #expect(CBOREncoder.encode(.float(5.960464477539063e-8)) == hexBytes("f90001"))
        #expect(CBOREncoder.encode(.float(.nan)) == hexBytes("f97e00"))
    }

    @Test func mapsAreSortedByEncodedKeyBytes() {
        let map: CBORMap = [.integer(100): 1, .integer(-1): 2, "z": 3, .integer(10): 4, "aa": 5, .byteString([1]): 6]
        // 0a < 1864 < 20 < 4101 < 617a < 626161
        #expect(Hex.encode(CBOREncoder.encode(.map(map))) == "a60a04186401200241010661" + "7a0362616105")
    }

    @Test func diagnosticNotationNamesKeysAndIndents() {
        let item: CBOR = .map([1: .integer(-8), 4: .array([.byteString([0xAB]), "x"])])
        #expect(CBORDiagnostic.format(item) == "{1: -8, 4: [h'ab', \"x\"]}")
        let named = CBORDiagnostic.format(item, indent: 2) { path, key in path.isEmpty && key == 1 ? "alg" : nil }
        #expect(named == "{1 / alg /: -8, 4: [h'ab', \"x\"]}")
        let long: CBOR = .array([.textString(String(repeating: "a", count: 70))])
        #expect(CBORDiagnostic.format(long, indent: 2) == "[\n  \"" + String(repeating: "a", count: 70) + "\"\n]")
    }
}
