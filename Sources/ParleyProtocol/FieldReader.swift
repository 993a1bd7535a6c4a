import ParleyCodec

/// Reads a map with unsigned integer keys in ascending order, field by field, straight from the
/// input: no tree is built. Asking for keys in ascending order finds every key the caller does not
/// know: it is passed over, and reported as an unknown field.
struct FieldReader {
    private var remaining: Int
    private var nextKey: UInt64?
    private var lastKey: UInt64?

    init(_ reader: inout CBORReader) throws {
        remaining = try Field.structure { try reader.readMapHeader() }
        try advance(&reader)
    }

    private mutating func advance(_ reader: inout CBORReader) throws {
        guard remaining > 0 else {
            nextKey = nil
            return
        }
        remaining -= 1
        let head = try Field.structure { try reader.readHead() }
        guard head.majorType == 0, let key = head.argument else {
            throw ProtocolError(
                .unknownField,
                "unknown key of CBOR major type \(head.majorType) at byte \(head.offset); version 1 defines no such field"
            )
        }
        if let lastKey, key <= lastKey {
            throw ProtocolError(
                .malformed,
                key == lastKey ? "map key \(key) appears twice" : "map key \(key) is out of ascending order"
            )
        }
        lastKey = key
        nextKey = key
    }

    mutating func optional<T>(
        _ key: UInt64,
        _ name: String,
        _ reader: inout CBORReader,
        _ parse: (inout CBORReader) throws -> T
    ) throws -> T? {
        guard let next = nextKey else { return nil }
        guard next >= key else {
            throw ProtocolError(.unknownField, "unknown key \(next); version 1 defines no such field")
        }
        guard next == key else { return nil }
        let value = try Field.named(name) { try parse(&reader) }
        try advance(&reader)
        return value
    }

    mutating func required<T>(
        _ key: UInt64,
        _ name: String,
        _ reader: inout CBORReader,
        _ parse: (inout CBORReader) throws -> T
    ) throws -> T {
        guard let value = try optional(key, name, &reader, parse) else {
            throw ProtocolError(.missingField, field: name, "required field (key \(key)) is missing")
        }
        return value
    }

    /// Refuses any key left after the last one the caller asked for.
    func finish() throws {
        if let nextKey {
            throw ProtocolError(.unknownField, "unknown key \(nextKey); version 1 defines no such field")
        }
    }
}

/// Readers for the shared field types of SPEC.md. They throw errors whose `field` is relative; the
/// callers put the names of the enclosing fields in front as the error travels up.
enum Field {
    /// Runs `body`, naming `component` in front of the field of any error it throws. The name is
    /// only built when there is an error.
    static func named<T>(_ component: @autoclosure () -> String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as ProtocolError {
            error.field = join(component(), error.field)
            throw error
        } catch let error as CodecError {
            throw ProtocolError(
                error.code == .typeMismatch ? .invalidField : .malformed,
                field: component(),
                error.description
            )
        }
    }

    /// Runs a structural read, turning codec errors into protocol errors without a field name.
    static func structure<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch let error as CodecError {
            throw ProtocolError(error.code == .typeMismatch ? .invalidField : .malformed, error.description)
        }
    }

    /// A decoding failure of a whole item (`what`: "the message", "the payload", …) as SPEC.md §4.3
    /// and §9.1 steps 2–4 classify it: a limit exceeded is `too-large`, any other fault `malformed`.
    /// The reason says what is wrong and at which byte.
    static func decoding(_ error: CodecError, of what: String) -> ProtocolError {
        let at = error.offset.map { " at byte \($0) of \(what)" } ?? ""
        switch error.code {
        case .depthLimitExceeded, .itemLimitExceeded, .inputTooLarge:
            return ProtocolError(.tooLarge, "\(error.reason)\(at): \(what) exceeds a limit of SPEC.md §4.3")
        case .headerLimitExceeded:
            return ProtocolError(.tooLarge, error.reason)
        case .notCOSESign1, .detachedPayload, .unsupportedHeaderParameter, .invalidHeaderParameter,
            .missingHeaderParameter, .typeMismatch:
            return ProtocolError(.malformed, "\(error.reason)\(at)")
        default:
            return ProtocolError(
                .malformed,
                "\(error.reason)\(at): \(what) is not valid deterministic CBOR (SPEC.md §4.2)"
            )
        }
    }

    /// Runs a read of envelope structure (SPEC.md §6.1, §6.2): outside the body, a field that is
    /// missing, unknown, of the wrong type or out of range is `malformed`, not `invalid-body`.
    static func envelope<T>(_ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as ProtocolError where [.invalidField, .missingField, .unknownField].contains(error.code) {
            error.code = .malformed
            throw error
        }
    }

    static func join(_ parent: String, _ child: String) -> String {
        if child.isEmpty { return parent }
        if parent.isEmpty || child.hasPrefix("[") { return parent + child }
        return parent + "." + child
    }

    static func uint(_ reader: inout CBORReader, _ range: ClosedRange<UInt64>, unit: String = "") throws -> UInt64 {
        let n = try reader.readUnsigned()
        guard range.contains(n) else {
            let u = unit.isEmpty ? "" : " " + unit
            throw ProtocolError(.invalidField, "\(n)\(u) is out of range \(range.lowerBound)…\(range.upperBound)\(u)")
        }
        return n
    }

    static func int(_ reader: inout CBORReader, _ range: ClosedRange<Int64>, unit: String) throws -> Int64 {
        let n = try reader.readInteger()
        guard range.contains(n) else {
            throw ProtocolError(
                .invalidField,
                "\(n) \(unit) is out of range \(range.lowerBound)…\(range.upperBound) \(unit)"
            )
        }
        return n
    }

    static func code<E: WireCode>(_ reader: inout CBORReader, _ type: E.Type) throws -> E {
        let n = try reader.readUnsigned()
        guard let value = E(rawValue: n) else {
            throw ProtocolError(
                .invalidField,
                "\(n) is not one of the codes SPEC.md defines for this field (\(E.allCases.map { "\($0.rawValue) \($0.name)" }.joined(separator: ", ")))"
            )
        }
        return value
    }

    /// A text of 1…`maximum` Unicode scalar values, optionally limited to `allowed` ASCII characters.
    static func text(
        _ reader: inout CBORReader,
        _ maximum: Int,
        allowed: ((UInt8) -> Bool)? = nil,
        describing: String = ""
    ) throws -> String {
        let text = try reader.readTextString()
        try checkText(text, maximum: maximum, allowed: allowed, describing: describing)
        return text
    }

    static func checkText(
        _ text: String,
        maximum: Int,
        allowed: ((UInt8) -> Bool)? = nil,
        describing: String = ""
    ) throws {
        // A text has at most as many scalars as UTF-8 bytes: count them only when that could matter.
        let bytes = text.utf8.count
        let count = bytes <= maximum ? bytes : text.unicodeScalars.count
        guard bytes >= 1 && count <= maximum else {
            throw ProtocolError(
                .invalidField,
                "text must be 1…\(maximum) characters, found \(text.unicodeScalars.count)"
            )
        }
        if let allowed, !text.utf8.allSatisfy(allowed) {
            throw ProtocolError(.invalidField, "\"\(text.prefix(40))\" may contain only \(describing)")
        }
    }

    /// An array header whose length must lie in `count`.
    static func array(_ reader: inout CBORReader, count: ClosedRange<Int>) throws -> Int {
        let n = try reader.readArrayHeader()
        guard count.contains(n) else {
            throw ProtocolError(
                .invalidField,
                count.count == 1
                    ? "must be an array of \(count.lowerBound) elements, found \(n)"
                    : "must hold \(count.lowerBound)…\(count.upperBound) elements, found \(n)"
            )
        }
        return n
    }

    /// Reads `count` elements, naming each `[i]` in errors.
    static func elements<T>(
        _ reader: inout CBORReader,
        count: Int,
        _ parse: (inout CBORReader) throws -> T
    ) throws -> [T] {
        var result: [T] = []
        result.reserveCapacity(count)
        for i in 0..<count { result.append(try named("[\(i)]") { try parse(&reader) }) }
        return result
    }

    /// A `[a, b]` pair.
    static func pair<A, B>(
        _ reader: inout CBORReader,
        _ first: (inout CBORReader) throws -> A,
        _ second: (inout CBORReader) throws -> B
    ) throws -> (A, B) {
        _ = try array(&reader, count: 2...2)
        let a = try named("[0]") { try first(&reader) }
        let b = try named("[1]") { try second(&reader) }
        return (a, b)
    }

    static func participant(_ reader: inout CBORReader) throws -> ParticipantID {
        try ParticipantID(try reader.readTextString())
    }

    static func messageID(_ reader: inout CBORReader) throws -> MessageID {
        try MessageID(bytes: try reader.readByteString())
    }

    static func bool(_ reader: inout CBORReader) throws -> Bool { try reader.readBool() }

    static func time(_ reader: inout CBORReader) throws -> UTCTime {
        guard try reader.readTag() == 1 else {
            throw ProtocolError(.invalidField, "must be a time: tag 1 around whole seconds since 1970")
        }
        let seconds = try reader.readUnsigned()
        guard seconds <= UInt64(Int64.max) else {
            throw ProtocolError(.invalidField, "time \(seconds) is out of range")
        }
        return UTCTime(secondsSince1970: Int64(seconds))
    }

    static func date(_ reader: inout CBORReader) throws -> CalendarDate {
        guard try reader.readTag() == 1004 else {
            throw ProtocolError(.invalidField, "must be a date: tag 1004 around \"YYYY-MM-DD\"")
        }
        return try CalendarDate(try reader.readTextString())
    }
}

extension CBORWriter {
    mutating func write(_ time: UTCTime) {
        writeTag(1)
        writeInteger(time.secondsSince1970)
    }

    mutating func write(_ date: CalendarDate) {
        writeTag(1004)
        writeTextString(date.description)
    }

    mutating func write<E: WireCode>(code: E) { writeUnsigned(code.rawValue) }
}
