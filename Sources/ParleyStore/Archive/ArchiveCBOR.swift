import Foundation

/// The subset of deterministic CBOR (RFC 8949 §4.2.1) the archive format uses: unsigned integers,
/// byte and text strings, arrays, maps with unsigned-integer keys, tags. Private to the store;
/// to be replaced by ParleyCodec once it lands.
indirect enum ArchiveCBOR: Hashable {
    case unsigned(UInt64)
    case bytes(Data)
    case text(String)
    case array([ArchiveCBOR])
    /// Keys are unique and kept in ascending order by the writer.
    case map([UInt64: ArchiveCBOR])
    case tag(UInt64, ArchiveCBOR)

    static func time(_ seconds: Int64) -> ArchiveCBOR { .tag(1, .unsigned(UInt64(max(0, seconds)))) }

    // MARK: Writing

    func encode(into out: inout [UInt8]) {
        switch self {
        case .unsigned(let value): Self.head(0, value, into: &out)
        case .bytes(let data):
            Self.head(2, UInt64(data.count), into: &out)
            out.append(contentsOf: data)
        case .text(let string):
            let utf8 = Array(string.utf8)
            Self.head(3, UInt64(utf8.count), into: &out)
            out.append(contentsOf: utf8)
        case .array(let items):
            Self.head(4, UInt64(items.count), into: &out)
            for item in items { item.encode(into: &out) }
        case .map(let entries):
            Self.head(5, UInt64(entries.count), into: &out)
            for key in entries.keys.sorted() {
                Self.head(0, key, into: &out)
                entries[key]!.encode(into: &out)
            }
        case .tag(let tag, let item):
            Self.head(6, tag, into: &out)
            item.encode(into: &out)
        }
    }

    var encoded: [UInt8] {
        var out = [UInt8]()
        encode(into: &out)
        return out
    }

    private static func head(_ major: UInt8, _ value: UInt64, into out: inout [UInt8]) {
        let m = major << 5
        switch value {
        case 0..<24: out.append(m | UInt8(value))
        case 24...0xFF: out.append(contentsOf: [m | 24, UInt8(value)])
        case 0x100...0xFFFF: out.append(contentsOf: [m | 25, UInt8(value >> 8), UInt8(value & 0xFF)])
        case 0x1_0000...0xFFFF_FFFF:
            out.append(m | 26)
            for shift in stride(from: 24, through: 0, by: -8) { out.append(UInt8((value >> UInt64(shift)) & 0xFF)) }
        default:
            out.append(m | 27)
            for shift in stride(from: 56, through: 0, by: -8) { out.append(UInt8((value >> UInt64(shift)) & 0xFF)) }
        }
    }

    // MARK: Accessors used by the archive reader

    var unsigned: UInt64? { if case .unsigned(let v) = self { v } else { nil } }
    var bytes: Data? { if case .bytes(let v) = self { v } else { nil } }
    var text: String? { if case .text(let v) = self { v } else { nil } }
    var array: [ArchiveCBOR]? { if case .array(let v) = self { v } else { nil } }
    var map: [UInt64: ArchiveCBOR]? { if case .map(let v) = self { v } else { nil } }
    /// `#6.1(uint)`: whole seconds since the epoch.
    var time: Int64? {
        if case .tag(1, .unsigned(let v)) = self, v <= UInt64(Int64.max) { Int64(v) } else { nil }
    }
}

/// Strict decoder: rejects anything the writer would not produce (non-shortest heads, indefinite
/// lengths, unsorted or duplicate map keys, non-integer keys, floats, simple values, negative
/// integers, invalid UTF-8), and enforces size and depth limits.
struct ArchiveCBORDecoder {
    enum Failure: Error, Equatable {
        /// More bytes are needed to finish the item.
        case truncated
        case invalid(String)
    }

    static let maximumDepth = 8
    static let maximumCount = 1 << 20

    let bytes: [UInt8]
    var position: Int

    init(bytes: [UInt8], position: Int = 0) {
        self.bytes = bytes
        self.position = position
    }

    mutating func decode(depth: Int = 0) throws(Failure) -> ArchiveCBOR {
        guard depth <= Self.maximumDepth else { throw .invalid("nesting deeper than \(Self.maximumDepth)") }
        let (major, value) = try head()
        switch major {
        case 0: return .unsigned(value)
        case 2: return .bytes(Data(try take(value)))
        case 3:
            let raw = try take(value)
            guard let string = String(validating: raw, as: UTF8.self) else { throw .invalid("text string is not valid UTF-8") }
            return .text(string)
        case 4:
            guard value <= UInt64(Self.maximumCount) else { throw .invalid("array of \(value) items exceeds the limit") }
            var items = [ArchiveCBOR]()
            for _ in 0..<value { items.append(try decode(depth: depth + 1)) }
            return .array(items)
        case 5:
            guard value <= UInt64(Self.maximumCount) else { throw .invalid("map of \(value) entries exceeds the limit") }
            var entries = [UInt64: ArchiveCBOR]()
            var previous: UInt64?
            for _ in 0..<value {
                let (keyMajor, key) = try head()
                guard keyMajor == 0 else { throw .invalid("map key is not an unsigned integer") }
                if let previous, key <= previous { throw .invalid("map keys not in ascending order or duplicated (key \(key))") }
                previous = key
                entries[key] = try decode(depth: depth + 1)
            }
            return .map(entries)
        case 6: return .tag(value, try decode(depth: depth + 1))
        default: throw .invalid("major type \(major) is not used in Parley archives")
        }
    }

    private mutating func head() throws(Failure) -> (UInt8, UInt64) {
        guard position < bytes.count else { throw .truncated }
        let initial = bytes[position]
        position += 1
        let major = initial >> 5
        let info = initial & 0x1F
        let value: UInt64
        switch info {
        case 0..<24: value = UInt64(info)
        case 24, 25, 26, 27:
            let length = 1 << Int(info - 24)
            guard position + length <= bytes.count else { throw .truncated }
            var v: UInt64 = 0
            for i in 0..<length { v = v << 8 | UInt64(bytes[position + i]) }
            position += length
            let minimum: UInt64 = [24, 0x100, 0x1_0000, 0x1_0000_0000][Int(info - 24)]
            guard v >= minimum else { throw .invalid("integer or length not in shortest form") }
            value = v
        case 31: throw .invalid("indefinite length is not deterministic CBOR")
        default: throw .invalid("reserved additional information \(info)")
        }
        guard major != 7 else { throw .invalid("floats and simple values are not used in Parley archives") }
        return (major, value)
    }

    private mutating func take(_ count: UInt64) throws(Failure) -> ArraySlice<UInt8> {
        guard count <= UInt64(bytes.count - position) else { throw .truncated }
        let slice = bytes[position..<(position + Int(count))]
        position += Int(count)
        return slice
    }
}
