import Foundation
import ParleyCodec
import Testing
@testable import ParleyProtocol
import ParleyTestSupport

/// Each notification type's field table (`NotificationFields.fields`) is the one place a field is
/// declared. These tests check that the wire codec, composition, rendering and `WireNames` all
/// follow the tables, and that parley.cddl and the field tables of NOTIFICATIONS.md §3 say the same
/// as them: adding or removing a field in a table without the documents fails here.
@Suite struct FieldTableTests {
    static let root = SourceTree.root

    /// A body of `type` with every optional field present.
    static func fullBody(_ type: NotificationType) -> NotificationBody {
        guard case .treatyEvent(var event) = Examples.body(type) else { return Examples.body(type) }
        event.destination = try! Position(latitudeMicrodegrees: 55_750_000, longitudeMicrodegrees: 37_620_000)
        return .treatyEvent(event)
    }

    static var fieldTypes: [NotificationType] {
        NotificationType.allCases.filter { NotificationBody.fieldType(of: $0) != nil }
    }

    static func fields(_ type: NotificationType) -> [FieldDescription] {
        NotificationBody.fieldType(of: type)!.fieldDescriptions
    }

    @Test func everyTypeButAcknowledgementAndCorrectionHasATable() {
        #expect(Self.fieldTypes.count == NotificationType.allCases.count - 2)
        #expect(NotificationBody.fieldType(of: .acknowledgement) == nil)
        #expect(NotificationBody.fieldType(of: .correction) == nil)
        for type in Self.fieldTypes {
            #expect(NotificationBody.fieldType(of: type)!.notificationType == type)
            #expect(Self.fullBody(type).fields.map { Swift.type(of: $0).notificationType } == type)
        }
    }

    /// Keys 1, 2, … in table order; names unique; `WireNames` names each key from the table.
    @Test(arguments: fieldTypes) func keysAreConsecutiveAndNamedFromTheTable(_ type: NotificationType) {
        let fields = Self.fields(type)
        #expect(fields.map(\.key) == Array(1...UInt64(fields.count)))
        #expect(Set(fields.map(\.name)).count == fields.count)
        #expect(WireNames.body(type) == fields.map(\.name))
    }

    /// The encoding of a body with every field holds exactly the table's keys, and reads back equal.
    @Test(arguments: fieldTypes) func wireEncodingHasEveryField(_ type: NotificationType) throws {
        let body = Self.fullBody(type)
        let map = try #require(try CBOR(decoding: body.encoded).mapValue)
        #expect(map.keys.compactMap(\.intValue).sorted() == Self.fields(type).map { Int($0.key) })
        var reader = try CBORReader(body.encoded)
        #expect(try NotificationBody(type: type, from: &reader) == body)
        try body.validateFields()
    }

    /// A body without one of its fields: a required field is missing (named by the table), an
    /// optional one is simply absent.
    @Test(arguments: fieldTypes) func wireReaderKnowsWhichFieldsAreRequired(_ type: NotificationType) throws {
        let map = try #require(try CBOR(decoding: Self.fullBody(type).encoded).mapValue)
        for field in Self.fields(type) {
            var shorter = map
            shorter[Int(field.key)] = nil
            var reader = try CBORReader(CBOR.map(shorter).encoded)
            if field.presence == .optional {
                #expect(throws: Never.self) { try NotificationBody(type: type, from: &reader) }
            } else {
                let error = try #require(throws: ProtocolError.self) { try NotificationBody(type: type, from: &reader) }
                #expect(error.code == .missingField && error.field == field.name, "\(type) \(field.name)")
            }
        }
    }

    /// A composition's body object has exactly the table's members: an unknown member's error
    /// lists them all, in table order, and each required one is required.
    @Test(arguments: fieldTypes) func compositionHasEveryField(_ type: NotificationType) throws {
        let fields = Self.fields(type)
        let unknown = JSONValue.object([(key: "no-such-field", value: .bool(true))])
        let error = try #require(throws: ProtocolError.self) {
            try NotificationBody(type: type, json: unknown, created: Examples.created)
        }
        #expect(error.code == .unknownField && error.field == "body.no-such-field")
        let required = fields.filter { $0.presence == .required }.map(\.name)
        let others = fields.filter { $0.presence != .required }.map(\.name)
        #expect(error.reason.hasSuffix("body has " + (required + others).joined(separator: ", ")), "\(error.reason)")
        if let first = required.first {
            let missing = try #require(throws: ProtocolError.self) {
                try NotificationBody(type: type, json: .object([]), created: Examples.created)
            }
            #expect(missing.code == .missingField && missing.field == "body." + first)
        }
    }

    /// Rendering shows the fields in table order, each under its table label.
    @Test(arguments: fieldTypes) func renderingFollowsTheTable(_ type: NotificationType) throws {
        let labels = Rendering.body(Self.fullBody(type)).map(\.0)
        var position = labels.startIndex
        for field in Self.fields(type) {
            guard let label = field.label else { continue }
            let found = labels[position...].firstIndex { $0 == label || $0.hasPrefix(label + " ") }
            let index = try #require(
                found,
                "\(type): no line for \(field.name) (\(label)) after \(labels[..<position])"
            )
            position = index
        }
    }

    @Test func preLaunchRendersInCatalogueOrder() {
        let labels = Rendering.body(Examples.body(.preLaunch)).map(\.0)
        #expect(labels == ["vehicle class", "launch window", "launch area", "impact area 1", "azimuth", "designator"])
    }

    // MARK: parley.cddl

    /// The `name = definition` rules of parley.cddl (comments removed; multi-line rules joined).
    static func cddlRules() throws -> [String: String] {
        let text = try String(contentsOf: root.appendingPathComponent("Protocol/parley.cddl"), encoding: .utf8)
        var rules: [String: String] = [:]
        var current: String? = nil
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw.split(separator: ";", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            if let eq = line.range(of: " = "), !line.hasPrefix(" "), !line.isEmpty {
                let name = String(line[..<eq.lowerBound]).trimmingCharacters(in: .whitespaces)
                rules[name] = String(line[eq.upperBound...]).trimmingCharacters(in: .whitespaces)
                current = name
            } else if let name = current, !line.trimmingCharacters(in: .whitespaces).isEmpty {
                rules[name]! += "\n" + line
            } else {
                current = nil
            }
        }
        return rules
    }

    /// The entries of a `<type>-body = { ... }` rule: key, optional, type, and the name in the comment.
    static func cddlBody(_ type: NotificationType) throws -> [(key: UInt64, optional: Bool, type: String, name: String)]
    {
        let text = try String(contentsOf: root.appendingPathComponent("Protocol/parley.cddl"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let start = try #require(lines.firstIndex(of: "\(type.name)-body = {"), "parley.cddl has no \(type.name)-body")
        var entries: [(UInt64, Bool, String, String)] = []
        for line in lines[(start + 1)...] {
            if line.hasPrefix("}") { break }
            let parts = line.split(separator: ";", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            var entry = Substring(parts[0])
            let optional = entry.hasPrefix("?")
            if optional { entry = entry.dropFirst().drop { $0 == " " } }
            let arrow = try #require(entry.range(of: " => "), "not an entry: \(line)")
            var valueType = entry[arrow.upperBound...]
            if valueType.hasSuffix(",") { valueType = valueType.dropLast() }
            let key = try #require(UInt64(entry[..<arrow.lowerBound]))
            let name = parts.count > 1 ? String(parts[1].prefix { $0 != ":" }) : ""
            entries.append((key, optional, String(valueType), name))
        }
        return entries
    }

    /// Every body rule of parley.cddl has the table's keys, presence, names (in the comments) and
    /// value types; a named type matches the kind by its name or by its definition.
    @Test(arguments: fieldTypes) func cddlAgreesWithTheTable(_ type: NotificationType) throws {
        let rules = try Self.cddlRules()
        let entries = try Self.cddlBody(type)
        let fields = Self.fields(type)
        #expect(
            entries.count == fields.count,
            "\(type): parley.cddl has \(entries.map(\.name)), the table \(fields.map(\.name))"
        )
        for (entry, field) in zip(entries, fields) {
            #expect(entry.key == field.key && entry.name == field.name, "\(type): \(entry) against \(field.name)")
            #expect(
                entry.optional == (field.presence == .optional),
                "\(type) \(field.name): optional in one, not the other"
            )
            let definition = rules[entry.type]
            #expect(
                entry.type == field.cddl || definition == field.cddl,
                "\(type) \(field.name): parley.cddl has \(entry.type) (\(definition ?? "no rule")), the table \(field.cddl)"
            )
        }
    }

    /// A registry's codes (Codes.swift) are the choices of its rule in parley.cddl.
    @Test(arguments: fieldTypes) func cddlListsEachRegistrysCodes(_ type: NotificationType) throws {
        let rules = try Self.cddlRules()
        for field in Self.fields(type) where !field.cddlChoices.isEmpty {
            let rule = try #require(rules[field.cddl], "parley.cddl has no rule \(field.cddl)")
            let choices = rule.split(whereSeparator: { "&(),\n".contains($0) })
                .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            #expect(choices == field.cddlChoices, "\(type) \(field.name)")
        }
    }

    @Test func cddlHasNoOtherBodies() throws {
        let text = try String(contentsOf: Self.root.appendingPathComponent("Protocol/parley.cddl"), encoding: .utf8)
        let bodies = text.split(separator: "\n").filter { $0.hasSuffix("-body = {") }.map {
            String($0.dropLast("-body = {".count))
        }
        #expect(Set(bodies) == Set(Self.fieldTypes.map(\.name) + ["correction"]))
    }

    // MARK: NOTIFICATIONS.md

    /// The rows `| key | name | CBOR type | unit | range | req/opt |` of a type's table in §3.
    static func catalogueRows(_ type: NotificationType) throws -> [(key: UInt64, name: String, required: Bool)] {
        let text = try String(contentsOf: root.appendingPathComponent("Protocol/NOTIFICATIONS.md"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let heading = try #require(
            lines.firstIndex { $0.hasPrefix("### 3.") && $0.hasSuffix(". \(type.name) (\(type.rawValue))") }
        )
        let table = try #require(lines[heading...].firstIndex { $0.hasPrefix("| key | name |") })
        var rows: [(UInt64, String, Bool)] = []
        for line in lines[(table + 2)...] {
            guard line.hasPrefix("|") else { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map {
                $0.trimmingCharacters(in: .whitespaces)
            }
            rows.append((try #require(UInt64(cells[1])), cells[2], cells[cells.count - 2] == "req"))
        }
        return rows
    }

    @Test(arguments: fieldTypes) func catalogueAgreesWithTheTable(_ type: NotificationType) throws {
        let rows = try Self.catalogueRows(type)
        let fields = Self.fields(type)
        #expect(rows.map(\.key) == fields.map(\.key))
        #expect(rows.map(\.name) == fields.map(\.name))
        #expect(rows.map(\.required) == fields.map { $0.presence != .optional })
    }
}
