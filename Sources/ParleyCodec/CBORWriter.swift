/// Writes deterministic CBOR item by item. Typed encoders write map keys in ascending order
/// themselves; `write(_:)` sorts the keys of generic maps.
public struct CBORWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    public mutating func writeUnsigned(_ value: UInt64) { CBOREncoder.appendHead(major: 0, argument: value, to: &bytes) }

    public mutating func writeInteger(_ value: Int64) {
        if value >= 0 {
            CBOREncoder.appendHead(major: 0, argument: UInt64(value), to: &bytes)
        } else {
            CBOREncoder.appendHead(major: 1, argument: UInt64(-1 - value), to: &bytes)
        }
    }

    public mutating func writeByteString(_ value: [UInt8]) {
        CBOREncoder.appendHead(major: 2, argument: UInt64(value.count), to: &bytes)
        bytes.append(contentsOf: value)
    }

    public mutating func writeTextString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            CBOREncoder.appendHead(major: 3, argument: UInt64(utf8.count), to: &bytes)
            bytes.append(contentsOf: utf8)
        }
    }

    public mutating func writeArrayHeader(_ count: Int) { CBOREncoder.appendHead(major: 4, argument: UInt64(count), to: &bytes) }
    public mutating func writeMapHeader(_ count: Int) { CBOREncoder.appendHead(major: 5, argument: UInt64(count), to: &bytes) }
    public mutating func writeTag(_ tag: UInt64) { CBOREncoder.appendHead(major: 6, argument: tag, to: &bytes) }
    public mutating func writeBool(_ value: Bool) { bytes.append(value ? 0xF5 : 0xF4) }

    public mutating func write(_ item: CBOR) { CBOREncoder.append(item, to: &bytes) }
}
