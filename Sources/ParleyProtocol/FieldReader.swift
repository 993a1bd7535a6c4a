import ParleyCodec

/// Reads a map with small unsigned integer keys, field by field, and refuses keys it was not asked for.
struct FieldReader {
    let map: CBORMap
    let path: String
    private var consumed = Set<UInt64>()

    init(_ item: CBOR, path: String) throws {
        guard case .map(let map) = item else {
            throw ProtocolError(.invalidField, field: path, "must be a map, found \(item.kindName)")
        }
        self.map = map
        self.path = path
    }

    func fieldPath(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    mutating func required<T>(_ key: UInt64, _ name: String, _ parse: (CBOR, String) throws -> T) throws -> T {
        guard let value = try optional(key, name, parse) else {
            throw ProtocolError(.missingField, field: fieldPath(name), "required field (key \(key)) is missing")
        }
        return value
    }

    mutating func optional<T>(_ key: UInt64, _ name: String, _ parse: (CBOR, String) throws -> T) throws -> T? {
        guard let item = map[.unsignedInteger(key)] else { return nil }
        consumed.insert(key)
        return try parse(item, fieldPath(name))
    }

    /// Refuses any key that no `required` or `optional` call read.
    func finish() throws {
        for key in map.keys {
            guard case .unsignedInteger(let k) = key, consumed.contains(k) else {
                throw ProtocolError(.unknownField, field: path, "unknown key \(CBORDiagnostic.format(key)); version 1 defines no such field")
            }
        }
    }
}

/// Parsers for the shared field types of SPEC.md, each naming the field in its error.
enum Field {
    static func uint(_ range: ClosedRange<UInt64>, unit: String = "") -> (CBOR, String) throws -> UInt64 {
        { item, field in
            guard case .unsignedInteger(let n) = item else {
                throw ProtocolError(.invalidField, field: field, "must be an unsigned integer, found \(item.kindName)")
            }
            guard range.contains(n) else {
                throw ProtocolError(.invalidField, field: field, "\(n)\(unit.isEmpty ? "" : " " + unit) is out of range \(range.lowerBound)…\(range.upperBound)\(unit.isEmpty ? "" : " " + unit)")
            }
            return n
        }
    }

    static func int(_ range: ClosedRange<Int64>, unit: String) -> (CBOR, String) throws -> Int64 {
        { item, field in
            let value: Int64
            switch item {
            case .unsignedInteger(let n) where n <= UInt64(Int64.max): value = Int64(n)
            case .negativeInteger(let n) where n < UInt64(Int64.max): value = -1 - Int64(n)
            default: throw ProtocolError(.invalidField, field: field, "must be an integer (\(unit)), found \(item.kindName)")
            }
            guard range.contains(value) else {
                throw ProtocolError(.invalidField, field: field, "\(value) \(unit) is out of range \(range.lowerBound)…\(range.upperBound) \(unit)")
            }
            return value
        }
    }

    static func code<E: RawRepresentable>(_ type: E.Type) -> (CBOR, String) throws -> E where E.RawValue == UInt64 {
        { item, field in
            guard case .unsignedInteger(let n) = item, let value = E(rawValue: n) else {
                throw ProtocolError(.invalidField, field: field, "\(CBORDiagnostic.format(item).prefix(40)) is not one of the codes SPEC.md defines for this field")
            }
            return value
        }
    }

    static func bool(_ item: CBOR, _ field: String) throws -> Bool {
        guard case .boolean(let b) = item else {
            throw ProtocolError(.invalidField, field: field, "must be true or false, found \(item.kindName)")
        }
        return b
    }

    /// A text of 1…`maximum` Unicode scalar values, optionally limited to `allowed` ASCII characters.
    static func text(_ maximum: Int, allowed: ((UInt8) -> Bool)? = nil, describing: String = "") -> (CBOR, String) throws -> String {
        { item, field in
            guard case .textString(let text) = item else {
                throw ProtocolError(.invalidField, field: field, "must be a text string, found \(item.kindName)")
            }
            try checkText(text, maximum: maximum, field: field)
            if let allowed, !text.utf8.allSatisfy(allowed) {
                throw ProtocolError(.invalidField, field: field, "\"\(text.prefix(40))\" may contain only \(describing)")
            }
            return text
        }
    }

    static func checkText(_ text: String, maximum: Int, field: String) throws {
        let count = text.unicodeScalars.count
        guard count >= 1 && count <= maximum else {
            throw ProtocolError(.invalidField, field: field, "text must be 1…\(maximum) characters, found \(count)")
        }
    }

    static func time(_ item: CBOR, _ field: String) throws -> UTCTime { try UTCTime(cbor: item, field: field) }
    static func date(_ item: CBOR, _ field: String) throws -> CalendarDate { try CalendarDate(cbor: item, field: field) }

    static func participant(_ item: CBOR, _ field: String) throws -> ParticipantID {
        guard case .textString(let text) = item else {
            throw ProtocolError(.invalidField, field: field, "must be a participant id (text), found \(item.kindName)")
        }
        do { return try ParticipantID(text) } catch var error as ProtocolError {
            error.field = field
            throw error
        }
    }

    static func messageID(_ item: CBOR, _ field: String) throws -> MessageID {
        guard case .byteString(let bytes) = item, bytes.count == 16 else {
            throw ProtocolError(.invalidField, field: field, "must be a 16-byte message id")
        }
        return try MessageID(bytes: bytes)
    }

    static func array(_ item: CBOR, _ field: String, count: ClosedRange<Int>) throws -> [CBOR] {
        guard case .array(let items) = item else {
            throw ProtocolError(.invalidField, field: field, "must be an array, found \(item.kindName)")
        }
        guard count.contains(items.count) else {
            throw ProtocolError(.invalidField, field: field, "must hold \(count.lowerBound)…\(count.upperBound) elements, found \(items.count)")
        }
        return items
    }
}
