import ParleyCodec

/// The kind of a field's value: how it is read and written on the wire and in a composition
/// document, what limits it has, how a person reads it, and its type in parley.cddl. Errors are
/// relative to the field; the table walkers put the field's name or path in front.
protocol FieldKind {
    associatedtype Value
    func read(_ reader: inout CBORReader) throws -> Value
    func write(_ value: Value, to w: inout CBORWriter)
    /// The value from its JSON form; errors name `path` (NOTIFICATIONS.md §2.2).
    func compose(_ json: JSONValue, path: String) throws -> Value
    /// The limits of a value made in code (a value read from the wire or JSON has passed them).
    func check(_ value: Value) throws
    func text(_ value: Value) -> String
    /// The rendered lines of the value under `label`.
    func lines(_ value: Value, label: String) -> [(String, String)]
    /// The value's type as parley.cddl writes it, or the definition of the rule it names there.
    var cddl: String { get }
    /// A registry's `name: code` choices, as parley.cddl lists them under the rule `cddl`.
    var cddlChoices: [String] { get }
}

extension FieldKind {
    var cddlChoices: [String] { [] }
    func check(_ value: Value) throws {}
    func lines(_ value: Value, label: String) -> [(String, String)] { [(label, text(value))] }
}

/// A code of one of SPEC.md's registries, written in JSON and rendered by its name.
struct CodeKind<Code: WireCode>: FieldKind {
    func read(_ reader: inout CBORReader) throws -> Code { try Field.code(&reader, Code.self) }
    func write(_ value: Code, to w: inout CBORWriter) { w.write(code: value) }
    func compose(_ json: JSONValue, path: String) throws -> Code { try JSONFields.enumeration(json, Code.self, path) }
    func text(_ value: Code) -> String { value.name }
    /// The registry's rule: the Swift type's name in lower-kebab-case (`VehicleClass`: `vehicle-class`).
    var cddl: String {
        var rule = ""
        for character in String(describing: Code.self) {
            if character.isUppercase && !rule.isEmpty { rule.append("-") }
            rule.append(character.lowercased())
        }
        return rule
    }
    var cddlChoices: [String] { Code.allCases.map { "\($0.name): \($0.rawValue)" } }
}

struct TimeKind: FieldKind {
    func read(_ reader: inout CBORReader) throws -> UTCTime { try Field.time(&reader) }
    func write(_ value: UTCTime, to w: inout CBORWriter) { w.write(value) }
    func compose(_ json: JSONValue, path: String) throws -> UTCTime { try JSONFields.time(json, path) }
    func text(_ value: UTCTime) -> String { value.description }
    var cddl: String { "epoch-time" }
}

struct DateKind: FieldKind {
    func read(_ reader: inout CBORReader) throws -> CalendarDate { try Field.date(&reader) }
    func write(_ value: CalendarDate, to w: inout CBORWriter) { w.write(value) }
    func compose(_ json: JSONValue, path: String) throws -> CalendarDate { try JSONFields.date(json, path) }
    func text(_ value: CalendarDate) -> String { value.description }
    var cddl: String { "date" }
}

struct BoolKind: FieldKind {
    func read(_ reader: inout CBORReader) throws -> Bool { try Field.bool(&reader) }
    func write(_ value: Bool, to w: inout CBORWriter) { w.writeBool(value) }
    func compose(_ json: JSONValue, path: String) throws -> Bool { try JSONFields.bool(json, path) }
    func text(_ value: Bool) -> String { String(value) }
    var cddl: String { "bool" }
}

/// A text of 1…`maximum` Unicode scalar values, optionally of a few ASCII characters only.
struct TextKind: FieldKind {
    let maximum: Int
    let allowed: (@Sendable (UInt8) -> Bool)?
    /// The allowed characters, for a person (`A–Z a–z 0–9 . -`) and as a CDDL character class.
    let describing: String
    let pattern: String

    func read(_ reader: inout CBORReader) throws -> String {
        try Field.text(&reader, maximum, allowed: allowed, describing: describing)
    }
    func write(_ value: String, to w: inout CBORWriter) { w.writeTextString(value) }
    func compose(_ json: JSONValue, path: String) throws -> String {
        let text = try JSONFields.text(json, 1...maximum, path)
        if allowed != nil { try JSONFields.at(path) { try check(text) } }
        return text
    }
    func check(_ value: String) throws {
        try Field.checkText(value, maximum: maximum, allowed: allowed, describing: describing)
    }
    func text(_ value: String) -> String { value }
    /// Limits in Unicode scalar values; parley.cddl bounds bytes at 4 per scalar value.
    var cddl: String {
        allowed == nil ? "tstr .size (1..\(4 * maximum))" : "tstr .regexp \"\(pattern){1,\(maximum)}\""
    }
}

/// An unsigned integer in `range`, stored as `Value`. `unit` follows numbers in errors; `meaning`
/// tells a composer what the number is.
struct UIntKind<Value: FixedWidthInteger & UnsignedInteger>: FieldKind {
    let range: ClosedRange<UInt64>
    let unit: String
    let meaning: String

    func read(_ reader: inout CBORReader) throws -> Value { Value(try Field.uint(&reader, range, unit: unit)) }
    func write(_ value: Value, to w: inout CBORWriter) { w.writeUnsigned(UInt64(value)) }
    func compose(_ json: JSONValue, path: String) throws -> Value {
        Value(try JSONFields.uint(json, range, unit: meaning, path))
    }
    func check(_ value: Value) throws {
        guard range.contains(UInt64(value)) else {
            let u = unit.isEmpty ? "" : " " + unit
            throw ProtocolError(
                .invalidField,
                "\(value)\(u) is out of range \(range.lowerBound)…\(range.upperBound)\(u)"
            )
        }
    }
    func text(_ value: Value) -> String { String(value) }
    var cddl: String { "\(range.lowerBound)..\(range.upperBound)" }
}

/// An azimuth: hundredths of a degree on the wire, decimal degrees in JSON and when rendered.
struct AzimuthKind: FieldKind {
    static let range: ClosedRange<UInt64> = 0...35_999

    func read(_ reader: inout CBORReader) throws -> UInt16 {
        UInt16(try Field.uint(&reader, Self.range, unit: "centidegrees"))
    }
    func write(_ value: UInt16, to w: inout CBORWriter) { w.writeUnsigned(UInt64(value)) }
    func compose(_ json: JSONValue, path: String) throws -> UInt16 { try JSONFields.azimuth(json, path) }
    func check(_ value: UInt16) throws {
        guard Self.range.contains(UInt64(value)) else {
            throw ProtocolError(.invalidField, "\(value) centidegrees is out of range 0…35 999")
        }
    }
    func text(_ value: UInt16) -> String { Rendering.degrees(value) + " from true north" }
    var cddl: String { "\(Self.range.lowerBound)..\(Self.range.upperBound)" }
}

struct AreaKind: FieldKind {
    func read(_ reader: inout CBORReader) throws -> Area { try Area(from: &reader) }
    func write(_ value: Area, to w: inout CBORWriter) { value.write(to: &w) }
    func compose(_ json: JSONValue, path: String) throws -> Area { try JSONFields.area(json, path) }
    func check(_ value: Area) throws { try value.validate() }
    func text(_ value: Area) -> String { value.description }
    var cddl: String { "area" }
}

/// `count` areas, rendered one per line under the label followed by their number.
struct AreasKind: FieldKind {
    let count: ClosedRange<Int>

    func read(_ reader: inout CBORReader) throws -> [Area] {
        let n = try Field.array(&reader, count: count)
        return try Field.elements(&reader, count: n) { try Area(from: &$0) }
    }
    func write(_ value: [Area], to w: inout CBORWriter) {
        w.writeArrayHeader(value.count)
        for area in value { area.write(to: &w) }
    }
    func compose(_ json: JSONValue, path: String) throws -> [Area] {
        guard case .array(let areas) = json, count.contains(areas.count) else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "expected an array of \(count.lowerBound)…\(count.upperBound) areas"
            )
        }
        return try areas.enumerated().map { try JSONFields.area($1, path + "[\($0)]") }
    }
    func check(_ value: [Area]) throws {
        guard count.contains(value.count) else {
            throw ProtocolError(
                .invalidField,
                "must hold \(count.lowerBound)…\(count.upperBound) elements, found \(value.count)"
            )
        }
        for (i, area) in value.enumerated() { try Field.named("[\(i)]") { try area.validate() } }
    }
    func text(_ value: [Area]) -> String { value.map(\.description).joined(separator: "; ") }
    func lines(_ value: [Area], label: String) -> [(String, String)] {
        value.enumerated().map { ("\(label) \($0 + 1)", $1.description) }
    }
    var cddl: String { "[\(count.lowerBound)*\(count.upperBound) area]" }
}

struct PositionKind: FieldKind {
    func read(_ reader: inout CBORReader) throws -> Position { try Position(from: &reader) }
    func write(_ value: Position, to w: inout CBORWriter) { value.write(to: &w) }
    func compose(_ json: JSONValue, path: String) throws -> Position { try JSONFields.position(json, path) }
    func text(_ value: Position) -> String { value.description }
    var cddl: String { "position" }
}

struct CountryKind: FieldKind {
    func read(_ reader: inout CBORReader) throws -> CountryCode { try CountryCode(try reader.readTextString()) }
    func write(_ value: CountryCode, to w: inout CBORWriter) { w.writeTextString(value.rawValue) }
    func compose(_ json: JSONValue, path: String) throws -> CountryCode {
        let code = try JSONFields.string(json, path, "an ISO 3166-1 alpha-2 country code such as FR")
        return try JSONFields.at(path) { try CountryCode(code) }
    }
    func text(_ value: CountryCode) -> String { value.rawValue }
    var cddl: String { "country" }
}

/// A text of 1…`maximum` Unicode scalar values with its language, rendered under the label
/// followed by the language.
struct LocalizedTextKind: FieldKind {
    let maximum: Int

    func read(_ reader: inout CBORReader) throws -> LocalizedText {
        try LocalizedText(from: &reader, maximumLength: maximum)
    }
    func write(_ value: LocalizedText, to w: inout CBORWriter) { value.write(to: &w) }
    func compose(_ json: JSONValue, path: String) throws -> LocalizedText {
        try JSONFields.localizedText(json, maximum, path)
    }
    func check(_ value: LocalizedText) throws { try Field.checkText(value.text, maximum: maximum) }
    func text(_ value: LocalizedText) -> String { value.text }
    func lines(_ value: LocalizedText, label: String) -> [(String, String)] {
        [("\(label) [\(value.language)]", value.text)]
    }
    var cddl: String { "[lang: lang, text: tstr .size (1..\(4 * maximum))]" }
}

extension FieldKind {
    static func code<Code: WireCode>(_ type: Code.Type) -> CodeKind<Code> where Self == CodeKind<Code> { CodeKind() }
    static func uint<V: FixedWidthInteger & UnsignedInteger>(
        _ range: ClosedRange<UInt64>,
        unit: String = "",
        meaning: String? = nil
    ) -> UIntKind<V>
    where Self == UIntKind<V> {
        UIntKind(range: range, unit: unit, meaning: meaning ?? unit)
    }
}
extension FieldKind where Self == TimeKind { static var time: TimeKind { TimeKind() } }
extension FieldKind where Self == DateKind { static var date: DateKind { DateKind() } }
extension FieldKind where Self == BoolKind { static var bool: BoolKind { BoolKind() } }
extension FieldKind where Self == AreaKind { static var area: AreaKind { AreaKind() } }
extension FieldKind where Self == PositionKind { static var position: PositionKind { PositionKind() } }
extension FieldKind where Self == CountryKind { static var country: CountryKind { CountryKind() } }
extension FieldKind where Self == AzimuthKind { static var azimuth: AzimuthKind { AzimuthKind() } }
extension FieldKind where Self == AreasKind {
    static func areas(_ count: ClosedRange<Int>) -> AreasKind { AreasKind(count: count) }
}
extension FieldKind where Self == LocalizedTextKind {
    static func localizedText(_ maximum: Int) -> LocalizedTextKind { LocalizedTextKind(maximum: maximum) }
}
extension FieldKind where Self == TextKind {
    /// A text of 1…`maximum` characters; `allowed` with `describing` (for a person) and `pattern`
    /// (a CDDL character class) limits it to a few ASCII characters.
    static func text(
        _ maximum: Int,
        allowed: (@Sendable (UInt8) -> Bool)? = nil,
        describing: String = "",
        pattern: String = ""
    ) -> TextKind {
        TextKind(maximum: maximum, allowed: allowed, describing: describing, pattern: pattern)
    }
}
