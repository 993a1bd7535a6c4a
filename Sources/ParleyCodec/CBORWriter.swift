/// Writes deterministic CBOR item by item. Typed encoders write map keys in ascending order
/// themselves; `write(_:)` sorts the keys of generic maps.
public struct CBORWriter: Sendable {
    @usableFromInline var storage: [UInt8] = []

    /// What has been written.
    public var bytes: [UInt8] { storage }

    public init(capacity: Int = 256) { storage.reserveCapacity(capacity) }

    @inlinable
    public mutating func writeUnsigned(_ value: UInt64) {
        CBOREncoder.appendHead(major: 0, argument: value, to: &storage)
    }

    @inlinable
    public mutating func writeInteger(_ value: Int64) {
        if value >= 0 {
            CBOREncoder.appendHead(major: 0, argument: UInt64(value), to: &storage)
        } else {
            CBOREncoder.appendHead(major: 1, argument: UInt64(-1 - value), to: &storage)
        }
    }

    @inlinable
    public mutating func writeByteString(_ value: [UInt8]) {
        CBOREncoder.appendHead(major: 2, argument: UInt64(value.count), to: &storage)
        storage.append(contentsOf: value)
    }

    @inlinable
    public mutating func writeTextString(_ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            CBOREncoder.appendHead(major: 3, argument: UInt64(utf8.count), to: &storage)
            storage.append(contentsOf: utf8)
        }
    }

    @inlinable
    public mutating func writeArrayHeader(_ count: Int) {
        CBOREncoder.appendHead(major: 4, argument: UInt64(count), to: &storage)
    }
    @inlinable
    public mutating func writeMapHeader(_ count: Int) {
        CBOREncoder.appendHead(major: 5, argument: UInt64(count), to: &storage)
    }
    @inlinable
    public mutating func writeTag(_ tag: UInt64) { CBOREncoder.appendHead(major: 6, argument: tag, to: &storage) }
    @inlinable
    public mutating func writeBool(_ value: Bool) { storage.append(value ? 0xF5 : 0xF4) }

    @inlinable
    public mutating func write(_ item: CBOR) { CBOREncoder.append(item, to: &storage) }

    /// Appends bytes that already are one deterministically encoded item (not checked).
    public mutating func writeEncoded(_ item: [UInt8]) { storage.append(contentsOf: item) }
}
