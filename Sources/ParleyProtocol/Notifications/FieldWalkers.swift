import ParleyCodec

/// Reads each field of a body map from the caller's reader, in key order.
struct WireFieldReader<Body>: FieldVisitor {
    typealias Failure = any Error

    let reader: UnsafeMutablePointer<CBORReader>
    var fields: FieldReader

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value, _ kind: K) throws {
        value = try fields.required(field.key, field.name, &reader.pointee) { try kind.read(&$0) }
    }

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value?, _ kind: K) throws {
        value = try fields.optional(field.key, field.name, &reader.pointee) { try kind.read(&$0) }
    }
}

/// Counts the fields present, for the map header.
struct FieldCounter<Body>: FieldVisitor {
    typealias Failure = Never

    var count = 0

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value, _ kind: K) { count += 1 }

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value?, _ kind: K) {
        if value != nil { count += 1 }
    }
}

/// Writes each field present, key and value, in key order, to the caller's writer.
struct WireFieldWriter<Body>: FieldVisitor {
    typealias Failure = Never

    let writer: UnsafeMutablePointer<CBORWriter>

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value, _ kind: K) {
        writer.pointee.writeUnsigned(field.key)
        kind.write(value, to: &writer.pointee)
    }

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value?, _ kind: K) {
        guard let value else { return }
        writer.pointee.writeUnsigned(field.key)
        kind.write(value, to: &writer.pointee)
    }
}

/// Reads each member of a composition document's body object. The object has been checked for
/// unknown and missing members already; a computed field left out keeps its placeholder until
/// the body's `complete` fills it in.
struct JSONFieldReader<Body>: FieldVisitor {
    typealias Failure = any Error

    let object: JSONFields

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value, _ kind: K) throws {
        if let member = object[field.name] { value = try kind.compose(member, path: object.path(field.name)) }
    }

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value?, _ kind: K) throws {
        value = try object[field.name].map { try kind.compose($0, path: object.path(field.name)) }
    }
}

/// Checks the limits of each field present, naming the field in an error.
struct FieldChecker<Body>: FieldVisitor {
    typealias Failure = any Error

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value, _ kind: K) throws {
        try Field.named(field.name) { try kind.check(value) }
    }

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value?, _ kind: K) throws {
        if let value { try Field.named(field.name) { try kind.check(value) } }
    }
}

/// Label and value lines of each field present, in table order.
struct FieldRenderer<Body>: FieldVisitor {
    typealias Failure = Never

    let body: Body
    var lines: [(String, String)] = []

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value, _ kind: K) {
        switch field.resolvedLabel {
        case .text(let label): lines += kind.lines(value, label: label)
        case .hidden: break
        case .lines(let make): lines += make(body)
        }
    }

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value?, _ kind: K) {
        guard var value else { return }
        visit(field, &value, kind)
    }
}

/// What the table says of each field.
struct FieldDescriber<Body>: FieldVisitor {
    typealias Failure = Never

    var fields: [FieldDescription] = []

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value, _ kind: K) {
        append(field, kind)
    }

    mutating func visit<K: FieldKind>(_ field: FieldSpec<Body>, _ value: inout K.Value?, _ kind: K) {
        append(field, kind)
    }

    private mutating func append<K: FieldKind>(_ field: FieldSpec<Body>, _ kind: K) {
        var label: String? = nil
        if case .text(let text) = field.resolvedLabel { label = text }
        fields.append(
            FieldDescription(
                key: field.key,
                name: field.name,
                presence: field.presence,
                cddl: kind.cddl,
                cddlChoices: kind.cddlChoices,
                label: label
            )
        )
    }
}
