/// A pull reader over one CBOR input: typed decoders read heads and scalars in order, without building
/// a tree. It enforces the same rules as `CBORDecoder` (which is built on it): limits, and in
/// deterministic mode shortest heads, definite lengths and preferred floats. Map key order is the
/// caller's to check (`CBORDecoder` compares encoded keys; Parley's typed readers require ascending
/// integer keys).
public struct CBORReader: Sendable {
    public let bytes: [UInt8]
    public let limits: CBORDecoder.Limits
    public let deterministic: Bool
    @usableFromInline var cursor = 0
    @usableFromInline var itemCount = 0

    /// Offset of the next byte to read.
    public var position: Int { cursor }

    public init(_ bytes: [UInt8], limits: CBORDecoder.Limits = .parley, mode: CBORDecoder.Mode = .deterministic) throws
    {
        guard bytes.count <= limits.maximumInputSize else {
            throw CodecError(
                .inputTooLarge,
                "input of \(bytes.count) bytes exceeds the limit of \(limits.maximumInputSize) bytes"
            )
        }
        self.bytes = bytes
        self.limits = limits
        self.deterministic = mode == .deterministic
    }

    /// The head of a data item: major type 0…7, the additional information, and the argument
    /// (nil for an indefinite length; the raw 8/16/32/64-bit value for floats and simple values).
    public struct Head: Sendable {
        public var majorType: UInt8
        public var additionalInformation: UInt8
        public var argument: UInt64?
        public var offset: Int

        @inlinable
        init(majorType: UInt8, additionalInformation: UInt8, argument: UInt64?, offset: Int) {
            self.majorType = majorType
            self.additionalInformation = additionalInformation
            self.argument = argument
            self.offset = offset
        }
    }

    @inlinable
    public var isAtEnd: Bool { position == bytes.count }

    /// Throws `trailingBytes` unless the whole input was read.
    public func finish() throws {
        guard isAtEnd else {
            throw CodecError(.trailingBytes, at: position, "\(bytes.count - position) bytes follow the end of the item")
        }
    }

    /// The major type of the next item, without consuming it.
    @inlinable
    public func peekMajorType() throws -> UInt8 {
        guard position < bytes.count else {
            throw CodecError(.truncated, at: position, "input ends where another item is needed")
        }
        return bytes[position] >> 5
    }

    /// True, and the break consumed, when the next byte is the break stop code (0xff).
    mutating func consumeBreak() throws -> Bool {
        guard position < bytes.count else {
            throw CodecError(.truncated, at: position, "input ends inside an indefinite-length item")
        }
        guard bytes[position] == 0xFF else { return false }
        cursor += 1
        return true
    }

    // MARK: Heads

    @inlinable
    public mutating func readHead() throws -> Head {
        let start = position
        guard position < bytes.count else {
            throw CodecError(.truncated, at: position, "input ends where another item is needed")
        }
        let initial = bytes[position]
        cursor += 1
        itemCount += 1
        guard itemCount <= limits.maximumItemCount else {
            throw CodecError(.itemLimitExceeded, at: start, "more than \(limits.maximumItemCount) data items")
        }
        let major = initial >> 5
        let info = initial & 0x1F
        let argument: UInt64
        switch info {
        case 0..<24:
            argument = UInt64(info)
        case 24:
            argument = try readUInt(byteCount: 1)
            if major == 7 {
                guard argument >= 32 else {
                    throw CodecError(
                        .invalidSimpleValue,
                        at: start,
                        "simple value \(argument) must use the one-byte form"
                    )
                }
            } else if deterministic && argument < 24 {
                throw nonShortest(start)
            }
        case 25:
            argument = try readUInt(byteCount: 2)
            if deterministic && major != 7 && argument <= 0xFF { throw nonShortest(start) }
        case 26:
            argument = try readUInt(byteCount: 4)
            if deterministic && major != 7 && argument <= 0xFFFF { throw nonShortest(start) }
        case 27:
            argument = try readUInt(byteCount: 8)
            if deterministic && major != 7 && argument <= 0xFFFF_FFFF { throw nonShortest(start) }
        case 31:
            switch major {
            case 2...5:
                if deterministic {
                    throw CodecError(
                        .indefiniteLength,
                        at: start,
                        "indefinite-length items are not deterministic encoding"
                    )
                }
                return Head(majorType: major, additionalInformation: info, argument: nil, offset: start)
            case 7:
                throw CodecError(.unexpectedBreak, at: start, "break stop code outside an indefinite-length item")
            default:
                throw CodecError(
                    .invalidIndefiniteLength,
                    at: start,
                    "major type \(major) cannot have an indefinite length"
                )
            }
        default:
            throw CodecError(.reservedAdditionalInformation, at: start, "additional information \(info) is reserved")
        }
        return Head(majorType: major, additionalInformation: info, argument: argument, offset: start)
    }

    @inlinable
    mutating func readUInt(byteCount: Int) throws -> UInt64 {
        guard bytes.count - position >= byteCount else {
            throw CodecError(.truncated, at: position, "input ends inside a \(byteCount)-byte argument")
        }
        var value: UInt64 = 0
        for i in position..<position + byteCount { value = value << 8 | UInt64(bytes[i]) }
        cursor += byteCount
        return value
    }

    @usableFromInline
    func nonShortest(_ start: Int) -> CodecError {
        CodecError(.nonShortestHead, at: start, "argument is not encoded in its shortest form")
    }

    @usableFromInline
    func mismatch(_ head: Head, expected: String) -> CodecError {
        CodecError(
            .typeMismatch,
            at: head.offset,
            "expected \(expected), found \(Self.kindName(major: head.majorType, info: head.additionalInformation))"
        )
    }

    @usableFromInline
    static func kindName(major: UInt8, info: UInt8) -> String {
        switch major {
        case 0: return "unsigned integer"
        case 1: return "negative integer"
        case 2: return "byte string"
        case 3: return "text string"
        case 4: return "array"
        case 5: return "map"
        case 6: return "tag"
        default:
            switch info {
            case 20, 21: return "boolean"
            case 22: return "null"
            case 23: return "undefined"
            case 25, 26, 27: return "float"
            default: return "simple value"
            }
        }
    }

    // MARK: Typed reads

    @inlinable
    public mutating func readUnsigned() throws -> UInt64 {
        let head = try readHead()
        guard head.majorType == 0 else { throw mismatch(head, expected: "an unsigned integer") }
        return head.argument!
    }

    /// An integer of major type 0 or 1 that fits in `Int64`.
    @inlinable
    public mutating func readInteger() throws -> Int64 {
        let head = try readHead()
        switch head.majorType {
        case 0 where head.argument! <= UInt64(Int64.max): return Int64(head.argument!)
        case 1 where head.argument! <= UInt64(Int64.max): return -1 - Int64(head.argument!)
        case 0, 1: throw CodecError(.typeMismatch, at: head.offset, "integer does not fit in 64 bits")
        default: throw mismatch(head, expected: "an integer")
        }
    }

    @inlinable
    public mutating func readBool() throws -> Bool {
        let head = try readHead()
        guard head.majorType == 7, head.additionalInformation == 20 || head.additionalInformation == 21 else {
            throw mismatch(head, expected: "true or false")
        }
        return head.additionalInformation == 21
    }

    @inlinable
    public mutating func readByteString() throws -> [UInt8] {
        let head = try readHead()
        guard head.majorType == 2 else { throw mismatch(head, expected: "a byte string") }
        guard let length = head.argument else { return try readIndefiniteString(major: 2, at: head.offset) }
        return Array(try take(length, at: head.offset))
    }

    @inlinable
    public mutating func readTextString() throws -> String {
        let head = try readHead()
        guard head.majorType == 3 else { throw mismatch(head, expected: "a text string") }
        guard let length = head.argument else {
            return try Self.validatedText(try readIndefiniteString(major: 3, at: head.offset)[...], at: head.offset)
        }
        return try Self.validatedText(try take(length, at: head.offset), at: head.offset)
    }

    /// The length of a definite-length array (indefinite ones are refused in deterministic mode by `readHead`).
    @inlinable
    public mutating func readArrayHeader() throws -> Int {
        let head = try readHead()
        guard head.majorType == 4 else { throw mismatch(head, expected: "an array") }
        guard let count = head.argument else {
            throw CodecError(.indefiniteLength, at: head.offset, "an indefinite-length array is not allowed here")
        }
        try checkCount(count, minimumBytesEach: 1, at: head.offset)
        return Int(count)
    }

    @inlinable
    public mutating func readMapHeader() throws -> Int {
        let head = try readHead()
        guard head.majorType == 5 else { throw mismatch(head, expected: "a map") }
        guard let count = head.argument else {
            throw CodecError(.indefiniteLength, at: head.offset, "an indefinite-length map is not allowed here")
        }
        try checkCount(count, minimumBytesEach: 2, at: head.offset)
        return Int(count)
    }

    @inlinable
    public mutating func readTag() throws -> UInt64 {
        let head = try readHead()
        guard head.majorType == 6 else { throw mismatch(head, expected: "a tag") }
        return head.argument!
    }

    // MARK: Helpers shared with the tree decoder

    @inlinable
    mutating func take(_ count: UInt64, at start: Int) throws -> ArraySlice<UInt8> {
        guard count <= UInt64(bytes.count - position) else {
            throw CodecError(
                .lengthExceedsInput,
                at: start,
                "declared length \(count) exceeds the \(bytes.count - position) bytes left"
            )
        }
        let end = position + Int(count)
        defer { cursor = end }
        return bytes[position..<end]
    }

    @inlinable
    func checkCount(_ count: UInt64, minimumBytesEach: UInt64, at start: Int) throws {
        let remaining = UInt64(bytes.count - position)
        // `count <= remaining` first, so that the product cannot overflow.
        guard count <= remaining && count * minimumBytesEach <= remaining else {
            throw CodecError(
                .lengthExceedsInput,
                at: start,
                "declared \(count) elements cannot fit in the \(remaining) bytes left"
            )
        }
        guard count <= UInt64(limits.maximumItemCount) else {
            throw CodecError(
                .itemLimitExceeded,
                at: start,
                "declared \(count) elements exceed the limit of \(limits.maximumItemCount) items"
            )
        }
    }

    @usableFromInline
    mutating func readIndefiniteString(major: UInt8, at start: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        while try !consumeBreak() {
            let chunk = try readHead()
            guard chunk.majorType == major, let length = chunk.argument else {
                throw CodecError(
                    .invalidIndefiniteChunk,
                    at: chunk.offset,
                    "an indefinite-length string may only contain definite-length strings of its own type"
                )
            }
            let bytes = try take(length, at: chunk.offset)
            if major == 3 { _ = try Self.validatedText(bytes, at: chunk.offset) }
            result.append(contentsOf: bytes)
        }
        return result
    }

    @usableFromInline
    static func validatedText(_ utf8: ArraySlice<UInt8>, at start: Int) throws -> String {
        let text = String(decoding: utf8, as: UTF8.self)
        // Decoding repairs invalid sequences with U+FFFD, which changes the bytes: equal means valid.
        if utf8.allSatisfy({ $0 < 0x80 }) || text.utf8.elementsEqual(utf8) { return text }
        throw CodecError(.invalidUTF8, at: start, "text string is not valid UTF-8")
    }

    // MARK: Generic items

    /// Reads one whole item as a tree, checking map key order in deterministic mode.
    public mutating func readItem() throws -> CBOR {
        try readItem(depth: 1)
    }

    mutating func readItem(depth: Int) throws -> CBOR {
        let head = try readHead()
        switch head.majorType {
        case 0:
            return .unsignedInteger(head.argument!)
        case 1:
            return .negativeInteger(head.argument!)
        case 2:
            guard let length = head.argument else {
                return .byteString(try readIndefiniteString(major: 2, at: head.offset))
            }
            return .byteString(Array(try take(length, at: head.offset)))
        case 3:
            guard let length = head.argument else {
                return .textString(
                    try Self.validatedText(try readIndefiniteString(major: 3, at: head.offset)[...], at: head.offset)
                )
            }
            return .textString(try Self.validatedText(try take(length, at: head.offset), at: head.offset))
        case 4:
            try checkDepth(depth, at: head.offset)
            var items: [CBOR] = []
            if let count = head.argument {
                try checkCount(count, minimumBytesEach: 1, at: head.offset)
                items.reserveCapacity(Int(count))
                for _ in 0..<count { items.append(try readItem(depth: depth + 1)) }
            } else {
                while try !consumeBreak() { items.append(try readItem(depth: depth + 1)) }
            }
            return .array(items)
        case 5:
            try checkDepth(depth, at: head.offset)
            return .map(try readMapEntries(count: head.argument, depth: depth, at: head.offset))
        case 6:
            try checkDepth(depth, at: head.offset)
            return .tagged(head.argument!, try readItem(depth: depth + 1))
        default:
            return try simpleOrFloat(head)
        }
    }

    private func checkDepth(_ depth: Int, at start: Int) throws {
        guard depth <= limits.maximumDepth else {
            throw CodecError(.depthLimitExceeded, at: start, "nesting deeper than \(limits.maximumDepth) levels")
        }
    }

    private mutating func readMapEntries(count: UInt64?, depth: Int, at start: Int) throws -> CBORMap {
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
            } else if try consumeBreak() {
                break
            }
            let keyStart = position
            let key = try readItem(depth: depth + 1)
            if deterministic {
                let keyBytes = bytes[keyStart..<position]
                if let previousKey {
                    if keyBytes == previousKey {
                        throw CodecError(
                            .duplicateMapKey,
                            at: keyStart,
                            "map key \(CBORDiagnostic.format(key)) appears twice"
                        )
                    }
                    if !previousKey.lexicographicallyPrecedes(keyBytes) {
                        throw CodecError(
                            .unsortedMapKeys,
                            at: keyStart,
                            "map key \(CBORDiagnostic.format(key)) is out of the bytewise order of encoded keys"
                        )
                    }
                }
                previousKey = keyBytes
            } else if !seen.insert(key).inserted {
                throw CodecError(.duplicateMapKey, at: keyStart, "map key \(CBORDiagnostic.format(key)) appears twice")
            }
            entries.append(CBORMap.Entry(key: key, value: try readItem(depth: depth + 1)))
            index += 1
        }
        return CBORMap(uniqueEntries: entries)
    }

    private func simpleOrFloat(_ head: Head) throws -> CBOR {
        let argument = head.argument!
        switch head.additionalInformation {
        case 20: return .boolean(false)
        case 21: return .boolean(true)
        case 22: return .null
        case 23: return .undefined
        case 0..<20, 24: return .simple(UInt8(argument))
        case 25:
            let value = HalfFloat.decode(UInt16(argument))
            if deterministic && value.isNaN && argument != 0x7E00 {
                throw CodecError(.nonPreferredFloat, at: head.offset, "NaN must be encoded as f97e00")
            }
            return .float(value)
        case 26:
            let value = Double(Float(bitPattern: UInt32(argument)))
            if deterministic && (value.isNaN || HalfFloat.exactBits(of: value) != nil) {
                throw CodecError(
                    .nonPreferredFloat,
                    at: head.offset,
                    "single-precision float \(value) has a shorter exact encoding"
                )
            }
            return .float(value)
        default:
            let value = Double(bitPattern: argument)
            if deterministic && (value.isNaN || Double(Float(value)) == value) {
                throw CodecError(
                    .nonPreferredFloat,
                    at: head.offset,
                    "double-precision float \(value) has a shorter exact encoding"
                )
            }
            return .float(value)
        }
    }
}
