import ParleyCodec

/// A notification type whose body is a map of fields: every type but acknowledgement (no fields)
/// and correction (a body of another type).
///
/// The type's `fields(_:)` method is its field table, kept beside the type as swift-certificates
/// keeps each extension's encoding with its type: one line per field, in the order of the wire
/// keys and of NOTIFICATIONS.md §3, giving the key, the name (on the wire in diagnostics, and the
/// member name in JSON and YAML composition documents), the kind of value with its limits, whether
/// it is optional, and its label when rendered. The wire codec, composition, validation, rendering,
/// `WireNames` and the CDDL check all walk that one table, so adding a field is adding its stored
/// property and one line to the table (and the field to NOTIFICATIONS.md and parley.cddl, which
/// `FieldTableTests` compares with the tables).
protocol NotificationFields: Sendable, Hashable {
    static var notificationType: NotificationType { get }

    /// The value the walkers that build a body start from. A required field that is absent is an
    /// error, so none of its placeholder values outlives a successful read.
    static var placeholder: Self { get }

    /// The field table: calls `required` or `optional` on `table` once per field, in key order.
    mutating func fields<V: FieldVisitor>(_ table: inout V) throws(V.Failure) where V.Body == Self

    /// This value as a body of its type.
    var body: NotificationBody { get }

    /// Rules between fields, checked after each field's own limits, by readers and by validation.
    func validateRules() throws

    /// Rules relative to the notification's creation time (a correction does not re-apply them).
    func validateTiming(created: UTCTime) throws

    /// Fills in the fields a composition document may leave out (`FieldPresence.computed`);
    /// `given` names the members the document has.
    mutating func complete(given: Set<String>, path: String, created: UTCTime, inCorrection: Bool) throws
}

extension NotificationFields {
    func validateRules() throws {}
    func validateTiming(created: UTCTime) throws {}
    mutating func complete(given: Set<String>, path: String, created: UTCTime, inCorrection: Bool) throws {}
}

/// Whether a field must be present.
enum FieldPresence: Sendable, Hashable {
    case required
    case optional
    /// Required on the wire; a composition document may leave it out, and the composer computes it.
    case computed
}

/// How a field appears when rendered for a person (`Rendering`).
enum FieldLabel<Body>: ExpressibleByStringLiteral {
    /// Lines of the field's kind under this label.
    case text(String)
    /// Not shown on its own: another field's lines include it.
    case hidden
    /// Lines made from the whole body, for a field shown together with others.
    case lines((Body) -> [(String, String)])

    init(stringLiteral value: String) { self = .text(value) }
}

/// One line of a field table, less the value and its kind.
struct FieldSpec<Body> {
    let key: UInt64
    let name: String
    let presence: FieldPresence
    /// Nil for the name with spaces for hyphens, made only when rendering.
    let label: FieldLabel<Body>?

    var resolvedLabel: FieldLabel<Body> { label ?? .text(String(name.map { $0 == "-" ? " " : $0 })) }
}

/// Something that walks a field table: the wire reader and writer, the composer, the checker,
/// the renderer and the describer. Each is generic over the kinds, so the compiler specialises a
/// table walk for each walker as if the walk had been written out by hand.
protocol FieldVisitor {
    associatedtype Body
    associatedtype Failure: Error
    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value, _ kind: K) throws(Failure)
    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value?, _ kind: K) throws(Failure)
}

extension FieldVisitor {
    /// A required field; `label` defaults to the name with spaces for hyphens.
    mutating func required<K: FieldKind>(
        _ key: UInt64,
        _ name: String,
        _ value: inout K.Value,
        _ kind: K,
        label: FieldLabel<Body>? = nil,
        presence: FieldPresence = .required
    ) throws(Failure) {
        try visit(FieldSpec(key: key, name: name, presence: presence, label: label), &value, kind)
    }

    /// An optional field: absent on the wire and in JSON when nil.
    mutating func optional<K: FieldKind>(
        _ key: UInt64,
        _ name: String,
        _ value: inout K.Value?,
        _ kind: K,
        label: FieldLabel<Body>? = nil
    ) throws(Failure) {
        try visit(FieldSpec(key: key, name: name, presence: .optional, label: label), &value, kind)
    }
}

/// What a field table says about one field, without the value.
struct FieldDescription: Sendable, Hashable {
    let key: UInt64
    let name: String
    let presence: FieldPresence
    /// The CDDL type of the value as parley.cddl writes it, or the definition of the rule it names.
    let cddl: String
    /// For a code of a registry, its `name: code` choices.
    let cddlChoices: [String]
    /// The label of the field's lines when rendered; nil when another field's lines show it.
    let label: String?
}

extension NotificationFields {
    /// The field table, described.
    static var fieldDescriptions: [FieldDescription] {
        var describer = FieldDescriber<Self>()
        var body = placeholder
        body.fields(&describer)
        return describer.fields
    }

    /// Reads a body of this type (the value of envelope key 8), checking each field's limits and
    /// then the rules between fields.
    init(from reader: inout CBORReader) throws {
        let fields = try FieldReader(&reader)
        var body = Self.placeholder
        try withUnsafeMutablePointer(to: &reader) { reader in
            var walker = WireFieldReader<Self>(reader: reader, fields: fields)
            try body.fields(&walker)
            try walker.fields.finish()
        }
        try body.validateRules()
        self = body
    }

    func write(to w: inout CBORWriter) {
        // The table takes its fields `inout` (readers fill them in); the writers only read them,
        // so they walk the value in place rather than a copy, which would retain every field.
        withUnsafePointer(to: self) { pointer in
            let body = UnsafeMutablePointer(mutating: pointer)
            var counter = FieldCounter<Self>()
            body.pointee.fields(&counter)
            w.writeMapHeader(counter.count)
            withUnsafeMutablePointer(to: &w) { writer in
                var walker = WireFieldWriter<Self>(writer: writer)
                body.pointee.fields(&walker)
            }
        }
    }

    /// Checks each field's limits, naming the field in any error, then the rules between fields.
    func validateFields() throws {
        var checker = FieldChecker<Self>()
        var body = self
        try body.fields(&checker)
        try validateRules()
    }

    /// A body of this type from its JSON object (NOTIFICATIONS.md §2, §3). Error paths start with `path`.
    init(json: JSONValue, path: String, created: UTCTime, inCorrection: Bool) throws {
        let described = Self.fieldDescriptions
        let object = try JSONFields(
            json,
            path: path,
            required: described.filter { $0.presence == .required }.map(\.name),
            optional: described.filter { $0.presence != .required }.map(\.name)
        )
        var walker = JSONFieldReader<Self>(object: object)
        var body = Self.placeholder
        try body.fields(&walker)
        try body.complete(given: Set(object.members.keys), path: path, created: created, inCorrection: inCorrection)
        self = body
    }

    /// Label and value lines in table order.
    func renderedLines() -> [(String, String)] {
        var renderer = FieldRenderer<Self>(body: self)
        var body = self
        body.fields(&renderer)
        return renderer.lines
    }
}

// Placeholders of the field types that check their values on construction: the walkers that
// build a body start from them (`NotificationFields.placeholder`).

extension LocalizedText {
    static let placeholder = LocalizedText(uncheckedLanguage: "", text: "")
    private init(uncheckedLanguage language: String, text: String) {
        self.language = language
        self.text = text
    }
}

extension CountryCode {
    static let placeholder = CountryCode(unchecked: "")
    private init(unchecked rawValue: String) { self.rawValue = rawValue }
}

extension Position {
    static let placeholder = Position(uncheckedLatitude: 0, longitude: 0)
    private init(uncheckedLatitude latitude: Int32, longitude: Int32) {
        latitudeMicrodegrees = latitude
        longitudeMicrodegrees = longitude
    }
}
