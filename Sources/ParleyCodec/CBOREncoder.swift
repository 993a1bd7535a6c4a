/// Encodes CBOR items in core deterministic encoding (RFC 8949 §4.2.1): shortest heads, definite
/// lengths, map keys sorted by the bytewise order of their encodings, preferred floats.
public enum CBOREncoder {
    public static func encode(_ item: CBOR) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64)
        append(item, to: &out)
        return out
    }

    /// Appends the deterministic encoding of `item` to `out`.
    public static func append(_ item: CBOR, to out: inout [UInt8]) {
        switch item {
        case .unsignedInteger(let n):
            appendHead(major: 0, argument: n, to: &out)
        case .negativeInteger(let n):
            appendHead(major: 1, argument: n, to: &out)
        case .byteString(let bytes):
            appendHead(major: 2, argument: UInt64(bytes.count), to: &out)
            out.append(contentsOf: bytes)
        case .textString(let text):
            var text = text
            text.withUTF8 { utf8 in
                appendHead(major: 3, argument: UInt64(utf8.count), to: &out)
                out.append(contentsOf: utf8)
            }
        case .array(let items):
            appendHead(major: 4, argument: UInt64(items.count), to: &out)
            for element in items { append(element, to: &out) }
        case .map(let map):
            appendMap(map, to: &out)
        case .tagged(let tag, let content):
            appendHead(major: 6, argument: tag, to: &out)
            append(content, to: &out)
        case .boolean(let value):
            out.append(value ? 0xF5 : 0xF4)
        case .null:
            out.append(0xF6)
        case .undefined:
            out.append(0xF7)
        case .simple(let value):
            if value < 24 {
                out.append(0xE0 | value)
            } else {
                out.append(0xF8)
                out.append(value)
            }
        case .float(let value):
            appendPreferredFloat(value, to: &out)
        }
    }

    /// The head of a data item (major type and argument) in its shortest form.
    @inlinable
    public static func appendHead(major: UInt8, argument: UInt64, to out: inout [UInt8]) {
        let m = major << 5
        if argument < 24 {
            out.append(m | UInt8(truncatingIfNeeded: argument))
        } else if argument <= 0xFF {
            out.append(m | 24)
            out.append(UInt8(truncatingIfNeeded: argument))
        } else if argument <= 0xFFFF {
            out.append(m | 25)
            out.append(UInt8(truncatingIfNeeded: argument >> 8))
            out.append(UInt8(truncatingIfNeeded: argument))
        } else if argument <= 0xFFFF_FFFF {
            out.append(m | 26)
            out.append(UInt8(truncatingIfNeeded: argument >> 24))
            out.append(UInt8(truncatingIfNeeded: argument >> 16))
            out.append(UInt8(truncatingIfNeeded: argument >> 8))
            out.append(UInt8(truncatingIfNeeded: argument))
        } else {
            out.append(m | 27)
            out.append(UInt8(truncatingIfNeeded: argument >> 56))
            out.append(UInt8(truncatingIfNeeded: argument >> 48))
            out.append(UInt8(truncatingIfNeeded: argument >> 40))
            out.append(UInt8(truncatingIfNeeded: argument >> 32))
            out.append(UInt8(truncatingIfNeeded: argument >> 24))
            out.append(UInt8(truncatingIfNeeded: argument >> 16))
            out.append(UInt8(truncatingIfNeeded: argument >> 8))
            out.append(UInt8(truncatingIfNeeded: argument))
        }
    }

    private static func appendMap(_ map: CBORMap, to out: inout [UInt8]) {
        appendHead(major: 5, argument: UInt64(map.count), to: &out)
        if map.count <= 1 || map.entries.allSatisfy(\.key.isSmallUnsignedInteger) {
            // Fast path: keys 0…23 encode as one byte, so numeric order is bytewise order.
            let sorted = map.count <= 1 ? map.entries : map.entries.sorted { $0.key.smallValue < $1.key.smallValue }
            for entry in sorted {
                append(entry.key, to: &out)
                append(entry.value, to: &out)
            }
            return
        }
        let keyed = map.entries.map { (key: encode($0.key), value: $0.value) }
        for entry in keyed.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
            out.append(contentsOf: entry.key)
            append(entry.value, to: &out)
        }
    }

    private static func appendPreferredFloat(_ value: Double, to out: inout [UInt8]) {
        if value.isNaN {
            out.append(contentsOf: [0xF9, 0x7E, 0x00])
            return
        }
        if let half = HalfFloat.exactBits(of: value) {
            out.append(0xF9)
            out.append(UInt8(half >> 8))
            out.append(UInt8(truncatingIfNeeded: half))
            return
        }
        let single = Float(value)
        if Double(single) == value {
            out.append(0xFA)
            let bits = single.bitPattern
            for shift in stride(from: 24, through: 0, by: -8) {
                out.append(UInt8(truncatingIfNeeded: bits >> UInt32(shift)))
            }
            return
        }
        out.append(0xFB)
        let bits = value.bitPattern
        for shift in stride(from: 56, through: 0, by: -8) {
            out.append(UInt8(truncatingIfNeeded: bits >> UInt64(shift)))
        }
    }
}

extension CBOR {
    /// The deterministic encoding of this item.
    public var encoded: [UInt8] { CBOREncoder.encode(self) }

    fileprivate var isSmallUnsignedInteger: Bool {
        if case .unsignedInteger(let n) = self { return n < 24 }
        return false
    }

    fileprivate var smallValue: UInt64 {
        if case .unsignedInteger(let n) = self { return n }
        return .max
    }
}
