import Foundation
import ParleyCodec
import ParleyCrypto

/// The CBOR profile of archive items (Protocol/ARCHIVE.md §1) on ParleyCodec: the codec's
/// deterministic mode checks the encoding; `checkProfile` admits only the types an archive uses.
enum ArchiveCBOR {
    /// ARCHIVE.md §1.6.
    static let maximumItemSize = 4 << 20
    static let maximumDepth = 8
    static let maximumEntries = 1 << 20

    enum Failure: Error, Equatable {
        /// More bytes are needed to finish the item.
        case truncated
        case invalid(String)
    }

    /// Limits for a reader over a buffer of at most `bufferSize` bytes holding consecutive items.
    /// The item count of `CBORReader` accumulates over the whole buffer, so it is bounded only by
    /// the buffer's size here; the per-item bounds of ARCHIVE.md are checked by `readItem`.
    static func limits(bufferSize: Int) -> CBORDecoder.Limits {
        CBORDecoder.Limits(maximumInputSize: bufferSize, maximumDepth: maximumDepth, maximumItemCount: bufferSize)
    }

    /// Reads the next top-level item from `reader`. On `.truncated`, `reader` is left unchanged.
    static func readItem(from reader: inout CBORReader) throws(Failure) -> CBOR {
        var attempt = reader
        let start = attempt.position
        let item: CBOR
        do {
            item = try attempt.readItem()
        } catch let error as CodecError {
            switch error.code {
            case .truncated, .lengthExceedsInput:
                if attempt.bytes.count - start > maximumItemSize {
                    throw .invalid("item larger than \(maximumItemSize) bytes")
                }
                throw .truncated
            default:
                throw .invalid(error.description)
            }
        } catch {
            throw .invalid("\(error)")
        }
        guard attempt.position - start <= maximumItemSize else {
            throw .invalid("item larger than \(maximumItemSize) bytes")
        }
        try checkProfile(item)
        reader = attempt
        return item
    }

    /// Decodes `bytes` as exactly one archive item.
    static func decode(_ bytes: [UInt8]) throws(Failure) -> CBOR {
        var reader: CBORReader
        do { reader = try CBORReader(bytes, limits: limits(bufferSize: maximumItemSize), mode: .deterministic) } catch {
            throw .invalid("item larger than \(maximumItemSize) bytes")
        }
        let item = try readItem(from: &reader)
        guard reader.isAtEnd else { throw .invalid("\(bytes.count - reader.position) bytes follow the item") }
        return item
    }

    /// Only unsigned integers, byte and text strings, arrays, maps with unsigned-integer keys and
    /// tag 1 (ARCHIVE.md §1.3); arrays and maps of at most `maximumEntries` entries (§1.6).
    static func checkProfile(_ item: CBOR) throws(Failure) {
        switch item {
        case .unsignedInteger, .byteString, .textString:
            return
        case .array(let items):
            guard items.count <= maximumEntries else {
                throw .invalid("array of \(items.count) items exceeds the limit")
            }
            for element in items { try checkProfile(element) }
        case .map(let map):
            guard map.count <= maximumEntries else { throw .invalid("map of \(map.count) entries exceeds the limit") }
            for entry in map {
                guard case .unsignedInteger = entry.key else { throw .invalid("map key is not an unsigned integer") }
                try checkProfile(entry.value)
            }
        case .tagged(1, let content):
            guard case .unsignedInteger = content else { throw .invalid("tag 1 must hold an unsigned integer") }
        case .tagged(let tag, _):
            throw .invalid("tag \(tag) is not used in Parley archives")
        default:
            throw .invalid("\(item.kindName) is not used in Parley archives")
        }
    }

    static func encode(_ item: CBOR, into out: inout [UInt8]) { CBOREncoder.append(item, to: &out) }
}

/// Builders and accessors for archive items.
extension CBOR {
    static func uint(_ value: UInt64) -> CBOR { .unsignedInteger(value) }
    static func bstr(_ data: Data) -> CBOR { .byteString([UInt8](data)) }
    static func tstr(_ string: String) -> CBOR { .textString(string) }
    /// `#6.1(uint)`: whole seconds since the epoch (negative times are written as 0).
    static func time(_ seconds: Int64) -> CBOR { .tagged(1, .unsignedInteger(UInt64(max(0, seconds)))) }

    /// A map with unsigned-integer keys (the encoder writes them in ascending order).
    static func intMap(_ entries: [UInt64: CBOR]) -> CBOR {
        var map = CBORMap()
        for (key, value) in entries { map[.unsignedInteger(key)] = value }
        return .map(map)
    }

    var archiveMap: [UInt64: CBOR]? {
        guard case .map(let map) = self else { return nil }
        var entries = [UInt64: CBOR](minimumCapacity: map.count)
        for entry in map {
            guard case .unsignedInteger(let key) = entry.key else { return nil }
            entries[key] = entry.value
        }
        return entries
    }

    var archiveBytes: Data? { bytesValue.map { Data($0) } }

    /// `#6.1(uint)`: whole seconds since the epoch.
    var archiveTime: Int64? {
        if case .tagged(1, .unsignedInteger(let v)) = self, v <= UInt64(Int64.max) { Int64(v) } else { nil }
    }
}

extension Data {
    /// SHA-256 of these bytes (ParleyCrypto).
    var sha256: Data { Data(Digest.sha256([UInt8](self))) }
}
