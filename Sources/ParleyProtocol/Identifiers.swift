import ParleyCodec

/// A participant of the regime, e.g. `US-NRRC`: 1–64 of `A–Z 0–9 -`, starting with a letter or digit.
public struct ParticipantID: Sendable, Hashable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(_ rawValue: String) throws {
        let utf8 = rawValue.utf8
        guard (1...64).contains(utf8.count) else {
            throw ProtocolError(
                .invalidField,
                "participant id must be 1…64 characters, found \(rawValue.unicodeScalars.count)"
            )
        }
        let isIDByte: (UInt8) -> Bool = { (0x41...0x5A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2D }
        // Native strings expose their UTF-8 contiguously: scan the buffer rather than the view.
        let valid = utf8.withContiguousStorageIfAvailable { $0.allSatisfy(isIDByte) } ?? utf8.allSatisfy(isIDByte)
        guard valid, utf8.first != 0x2D else {
            throw ProtocolError(
                .invalidField,
                "participant id \"\(rawValue)\" may contain only A–Z, 0–9 and '-', and must start with a letter or digit"
            )
        }
        self.rawValue = rawValue
    }

    public var description: String { rawValue }

    /// Bytewise order of the UTF-8 text, which for these characters is the order of the CBOR encodings
    /// of equal-length strings and the order SPEC.md requires for recipient lists.
    public static func < (lhs: ParticipantID, rhs: ParticipantID) -> Bool {
        lhs.rawValue.utf8.lexicographicallyPrecedes(rhs.rawValue.utf8)
    }
}

/// A message id: 16 bytes, written as 32 lower-case hex digits.
public struct MessageID: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 16 else {
            throw ProtocolError(.invalidField, "message id must be 16 bytes, found \(bytes.count)")
        }
        self.bytes = bytes
    }

    public init(hex: String) throws {
        let count = hex.utf8.count
        guard count == 32 else {
            throw ProtocolError(.invalidField, "message id must be 32 hex digits, found \(count) characters")
        }
        guard let bytes = Hex.decode(hex) else {
            throw ProtocolError(.invalidField, "message id \"\(hex)\" is not hexadecimal")
        }
        try self.init(bytes: bytes)
    }

    /// A UUIDv7 (RFC 9562): 48-bit Unix milliseconds, then random bits, so ids sort by creation time.
    public static func generate(at time: UTCTime = .now) -> MessageID {
        var rng = SystemRandomNumberGenerator()
        // Two draws (one getrandom(2) each) instead of one per byte.
        let (first, second): (UInt64, UInt64) = (rng.next(), rng.next())
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<8 {
            bytes[i] = UInt8(truncatingIfNeeded: first >> UInt64(8 * i))
            bytes[8 + i] = UInt8(truncatingIfNeeded: second >> UInt64(8 * i))
        }
        let millis = UInt64(max(0, time.secondsSince1970)) * 1000
        for i in 0..<6 { bytes[i] = UInt8(truncatingIfNeeded: millis >> UInt64(8 * (5 - i))) }
        bytes[6] = 0x70 | (bytes[6] & 0x0F)
        bytes[8] = 0x80 | (bytes[8] & 0x3F)
        return try! MessageID(bytes: bytes)
    }

    public var hex: String { Hex.encode(bytes) }
    public var description: String { hex }
}

extension String {
    func leftPadded(to width: Int, with pad: Character = "0") -> String {
        count >= width ? self : String(repeating: pad, count: width - count) + self
    }
}
