/// Decodes CBOR with limits, and in deterministic mode rejects every encoding that RFC 8949 §4.2.1
/// forbids, so that one value has exactly one accepted byte sequence.
public struct CBORDecoder: Sendable {
    /// Bounds that keep a hostile input from costing more than its size.
    public struct Limits: Sendable, Hashable {
        /// Largest accepted input, in bytes.
        public var maximumInputSize: Int
        /// Deepest nesting of arrays, maps and tags (the top-level item is depth 1).
        public var maximumDepth: Int
        /// Most data items in one input, counting every nested item.
        public var maximumItemCount: Int

        public init(maximumInputSize: Int, maximumDepth: Int, maximumItemCount: Int) {
            self.maximumInputSize = maximumInputSize
            self.maximumDepth = maximumDepth
            self.maximumItemCount = maximumItemCount
        }

        /// The receiver limits of Parley v1 (Protocol/SPEC.md): 256 KiB, depth 16, 16 384 items.
        public static let parley = Limits(maximumInputSize: 262_144, maximumDepth: 16, maximumItemCount: 16_384)
    }

    public enum Mode: Sendable, Hashable {
        /// Core deterministic encoding only (RFC 8949 §4.2.1). Parley's wire format.
        case deterministic
        /// Any well-formed CBOR without duplicate map keys (RFC 8949 §5.6), e.g. for inspecting foreign data.
        case wellFormed
    }

    public var limits: Limits
    public var mode: Mode

    public init(limits: Limits = .parley, mode: Mode = .deterministic) {
        self.limits = limits
        self.mode = mode
    }

    /// Decodes exactly one item that must span all of `bytes`.
    public func decode(_ bytes: [UInt8]) throws -> CBOR {
        guard bytes.count <= limits.maximumInputSize else {
            throw CodecError(.inputTooLarge, "input of \(bytes.count) bytes exceeds the limit of \(limits.maximumInputSize) bytes")
        }
        var reader = Reader(bytes: bytes, limits: limits, deterministic: mode == .deterministic)
        let item = try reader.readItem(depth: 1)
        guard reader.position == bytes.count else {
            throw CodecError(.trailingBytes, at: reader.position, "\(bytes.count - reader.position) bytes follow the end of the item")
        }
        return item
    }
}

extension CBOR {
    /// Decodes `bytes` as one deterministic CBOR item within Parley's limits.
    public init(decoding bytes: [UInt8], limits: CBORDecoder.Limits = .parley) throws {
        self = try CBORDecoder(limits: limits, mode: .deterministic).decode(bytes)
    }
}

private struct Reader {
    let bytes: [UInt8]
    let limits: CBORDecoder.Limits
    let deterministic: Bool
    var position = 0
    var itemCount = 0

    init(bytes: [UInt8], limits: CBORDecoder.Limits, deterministic: Bool) {
        self.bytes = bytes
        self.limits = limits
        self.deterministic = deterministic
    }

    private var remaining: Int { bytes.count - position }

    private mutating func readByte() throws -> UInt8 {
        guard position < bytes.count else {
            throw CodecError(.truncated, at: position, "input ends where another byte is needed")
        }
        defer { position += 1 }
        return bytes[position]
    }

    private mutating func readUInt(byteCount: Int) throws -> UInt64 {
        guard remaining >= byteCount else {
            throw CodecError(.truncated, at: position, "input ends inside a \(byteCount)-byte argument")
        }
        var value: UInt64 = 0
        for i in 0..<byteCount { value = value << 8 | UInt64(bytes[position + i]) }
        position += byteCount
        return value
    }

    private mutating func readBytes(_ count: UInt64, at start: Int) throws -> ArraySlice<UInt8> {
        guard count <= UInt64(remaining) else {
            throw CodecError(.lengthExceedsInput, at: start, "declared length \(count) exceeds the \(remaining) bytes left")
        }
        let end = position + Int(count)
        defer { position = end }
        return bytes[position..<end]
    }

    private mutating func countItem(at start: Int) throws {
        itemCount += 1
        guard itemCount <= limits.maximumItemCount else {
            throw CodecError(.itemLimitExceeded, at: start, "more than \(limits.maximumItemCount) data items")
        }
    }

    /// Reads a head's argument for additional information 0…27; nil for 31 (indefinite).
    private mutating func readArgument(_ info: UInt8, major: UInt8, at start: Int) throws -> UInt64? {
        let value: UInt64
        switch info {
        case 0..<24: return UInt64(info)
        case 24: value = try readUInt(byteCount: 1); if deterministic && value < 24 { throw nonShortest(start) }
        case 25: value = try readUInt(byteCount: 2); if deterministic && value <= 0xFF { throw nonShortest(start) }
        case 26: value = try readUInt(byteCount: 4); if deterministic && value <= 0xFFFF { throw nonShortest(start) }
        case 27: value = try readUInt(byteCount: 8); if deterministic && value <= 0xFFFF_FFFF { throw nonShortest(start) }
        case 31:
            guard major >= 2 && major <= 5 else {
                throw CodecError(.invalidIndefiniteLength, at: start, "major type \(major) cannot have an indefinite length")
            }
            if deterministic {
                throw CodecError(.indefiniteLength, at: start, "indefinite-length items are not deterministic encoding")
            }
            return nil
        default:
            throw CodecError(.reservedAdditionalInformation, at: start, "additional information \(info) is reserved")
        }
        return value
    }

    private func nonShortest(_ start: Int) -> CodecError {
        CodecError(.nonShortestHead, at: start, "argument is not encoded in its shortest form")
    }

    mutating func readItem(depth: Int) throws -> CBOR {
        let start = position
        let initial = try readByte()
        try countItem(at: start)
        let major = initial >> 5
        let info = initial & 0x1F

        if major == 7 { return try readSimpleOrFloat(info, at: start) }
        let argument = try readArgument(info, major: major, at: start)

        switch major {
        case 0:
            return .unsignedInteger(argument!)
        case 1:
            return .negativeInteger(argument!)
        case 2:
            guard let length = argument else { return .byteString(try readIndefiniteString(major: 2, at: start)) }
            return .byteString(Array(try readBytes(length, at: start)))
        case 3:
            let utf8: ArraySlice<UInt8>
            if let length = argument {
                utf8 = try readBytes(length, at: start)
            } else {
                utf8 = try readIndefiniteString(major: 3, at: start)[...]
            }
            guard let text = String(validating: utf8, as: UTF8.self) else {
                throw CodecError(.invalidUTF8, at: start, "text string is not valid UTF-8")
            }
            return .textString(text)
        case 4:
            try checkDepth(depth, at: start)
            guard let count = argument else {
                var items: [CBOR] = []
                while try !atBreak() { items.append(try readItem(depth: depth + 1)) }
                return .array(items)
            }
            try checkCount(count, minimumBytesEach: 1, at: start)
            var items: [CBOR] = []
            items.reserveCapacity(Int(count))
            for _ in 0..<count { items.append(try readItem(depth: depth + 1)) }
            return .array(items)
        case 5:
            try checkDepth(depth, at: start)
            return .map(try readMap(count: argument, depth: depth, at: start))
        default:  // 6
            try checkDepth(depth, at: start)
            return .tagged(argument!, try readItem(depth: depth + 1))
        }
    }

    private func checkDepth(_ depth: Int, at start: Int) throws {
        guard depth <= limits.maximumDepth else {
            throw CodecError(.depthLimitExceeded, at: start, "nesting deeper than \(limits.maximumDepth) levels")
        }
    }

    private func checkCount(_ count: UInt64, minimumBytesEach: UInt64, at start: Int) throws {
        guard count <= UInt64(remaining) / minimumBytesEach else {
            throw CodecError(.lengthExceedsInput, at: start, "declared \(count) elements cannot fit in the \(remaining) bytes left")
        }
        guard count <= UInt64(limits.maximumItemCount) else {
            throw CodecError(.itemLimitExceeded, at: start, "declared \(count) elements exceed the limit of \(limits.maximumItemCount) items")
        }
    }

    /// True (and consumes it) when the next byte is a break stop code.
    private mutating func atBreak() throws -> Bool {
        guard position < bytes.count else {
            throw CodecError(.truncated, at: position, "input ends inside an indefinite-length item")
        }
        if bytes[position] == 0xFF {
            position += 1
            return true
        }
        return false
    }

    private mutating func readIndefiniteString(major: UInt8, at start: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        while try !atBreak() {
            let chunkStart = position
            let initial = try readByte()
            try countItem(at: chunkStart)
            guard initial >> 5 == major, initial & 0x1F != 31 else {
                throw CodecError(.invalidIndefiniteChunk, at: chunkStart, "an indefinite-length string may only contain definite-length strings of its own type")
            }
            let length = try readArgument(initial & 0x1F, major: major, at: chunkStart)!
            let chunk = try readBytes(length, at: chunkStart)
            if major == 3 && String(validating: chunk, as: UTF8.self) == nil {
                throw CodecError(.invalidUTF8, at: chunkStart, "text string chunk is not valid UTF-8")
            }
            result.append(contentsOf: chunk)
        }
        return result
    }

    private mutating func readMap(count: UInt64?, depth: Int, at start: Int) throws -> CBORMap {
        var entries: [CBORMap.Entry] = []
        var previousKey: ArraySlice<UInt8>? = nil
        var seen = Set<CBOR>()
        if let count {
            try checkCount(count, minimumBytesEach: 2, at: start)
            entries.reserveCapacity(Int(count))
        }
        var index: UInt64 = 0
        while true {
            if let count {
                if index == count { break }
            } else if try atBreak() {
                break
            }
            let keyStart = position
            let key = try readItem(depth: depth + 1)
            if deterministic {
                let keyBytes = bytes[keyStart..<position]
                if let previousKey {
                    if keyBytes == previousKey {
                        throw CodecError(.duplicateMapKey, at: keyStart, "map key \(CBORDiagnostic.format(key)) appears twice")
                    }
                    if !previousKey.lexicographicallyPrecedes(keyBytes) {
                        throw CodecError(.unsortedMapKeys, at: keyStart, "map key \(CBORDiagnostic.format(key)) is out of the bytewise order of encoded keys")
                    }
                }
                previousKey = keyBytes
            } else if !seen.insert(key).inserted {
                throw CodecError(.duplicateMapKey, at: keyStart, "map key \(CBORDiagnostic.format(key)) appears twice")
            }
            let value = try readItem(depth: depth + 1)
            entries.append(CBORMap.Entry(key: key, value: value))
            index += 1
        }
        return CBORMap(uniqueEntries: entries)
    }

    private mutating func readSimpleOrFloat(_ info: UInt8, at start: Int) throws -> CBOR {
        switch info {
        case 20: return .boolean(false)
        case 21: return .boolean(true)
        case 22: return .null
        case 23: return .undefined
        case 0..<20: return .simple(info)
        case 24:
            let value = try readByte()
            guard value >= 32 else {
                throw CodecError(.invalidSimpleValue, at: start, "simple value \(value) must use the one-byte form")
            }
            return .simple(value)
        case 25:
            let bits = UInt16(try readUInt(byteCount: 2))
            let value = HalfFloat.decode(bits)
            if deterministic && value.isNaN && bits != 0x7E00 {
                throw CodecError(.nonPreferredFloat, at: start, "NaN must be encoded as f97e00")
            }
            return .float(value)
        case 26:
            let value = Double(Float(bitPattern: UInt32(try readUInt(byteCount: 4))))
            if deterministic && (value.isNaN || HalfFloat.exactBits(of: value) != nil) {
                throw CodecError(.nonPreferredFloat, at: start, "single-precision float \(value) has a shorter exact encoding")
            }
            return .float(value)
        case 27:
            let value = Double(bitPattern: try readUInt(byteCount: 8))
            if deterministic && (value.isNaN || Double(Float(value)) == value) {
                throw CodecError(.nonPreferredFloat, at: start, "double-precision float \(value) has a shorter exact encoding")
            }
            return .float(value)
        case 31:
            throw CodecError(.unexpectedBreak, at: start, "break stop code outside an indefinite-length item")
        default:
            throw CodecError(.reservedAdditionalInformation, at: start, "additional information \(info) is reserved")
        }
    }
}
