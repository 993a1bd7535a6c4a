import Foundation

/// A composition document (NOTIFICATIONS.md §2): a notification as operators and tools write it in
/// JSON, before the composer adds the sender, the sequence numbers and (unless given) the id and
/// creation time. Conversion is exact: degrees and azimuths are taken from the numeral's decimal text.
/// Every error names the offending field by its path, e.g. `body.impact-areas[0].polygon[2].lat`.
public struct Composition: Sendable {
    public static let documentFields = ["type", "recipients", "refs", "remarks", "body", "id", "created"]

    public var type: NotificationType
    /// As written; the envelope sorts them.
    public var recipients: [ParticipantID]
    public var references: [Reference]
    public var remarks: LocalizedText?
    /// The body as written; converted by `envelope(...)`, because `late` depends on the creation time.
    public var body: JSONValue?
    public var id: MessageID?
    public var created: UTCTime?

    /// Reads a composition document from JSON text (UTF-8).
    public init(json bytes: [UInt8]) throws {
        try self.init(document: try JSONValue(parsing: bytes))
    }

    /// Reads a composition document from JSON data (UTF-8).
    public init(json data: Data) throws {
        try self.init(json: [UInt8](data))
    }

    /// Reads a composition document from a parsed JSON value. Errors carry the code a receiver
    /// gives the same fault in a message: outside the body `malformed` (an unknown type name
    /// `unknown-type`), inside it `invalid-body`.
    public init(document: JSONValue) throws {
        self = try Field.envelope { try Composition(envelopeFields: document) }
    }

    private init(envelopeFields document: JSONValue) throws {
        let doc = try JSONFields(
            document,
            path: "",
            required: ["type", "recipients"],
            optional: ["refs", "remarks", "body", "id", "created"]
        )
        do {
            type = try JSONFields.enumeration(doc["type"]!, NotificationType.self, "type")
        } catch var error as ProtocolError {
            error.code = .unknownType
            throw error
        }
        guard case .array(let list) = doc["recipients"]!, (1...Envelope.maximumRecipients).contains(list.count) else {
            throw ProtocolError(
                .invalidField,
                field: "recipients",
                "expected an array of 1…\(Envelope.maximumRecipients) participant ids"
            )
        }
        recipients = try list.enumerated().map { try JSONFields.participant($1, "recipients[\($0)]") }
        if Set(recipients).count != recipients.count {
            throw ProtocolError(.invalidField, field: "recipients", "a participant appears twice")
        }
        references = []
        if let refs = doc["refs"] {
            guard case .array(let list) = refs, (1...Envelope.maximumReferences).contains(list.count) else {
                throw ProtocolError(
                    .invalidField,
                    field: "refs",
                    "expected an array of 1…\(Envelope.maximumReferences) references {\"id\": ..., \"relation\": ...}"
                )
            }
            for (i, item) in list.enumerated() {
                let r = try JSONFields(item, path: "refs[\(i)]", required: ["id", "relation"])
                let reference = Reference(
                    messageID: try JSONFields.messageID(r["id"]!, r.path("id")),
                    relation: try JSONFields.enumeration(r["relation"]!, Relation.self, r.path("relation"))
                )
                guard !references.contains(reference) else {
                    throw ProtocolError(
                        .invalidField,
                        field: "refs[\(i)]",
                        "duplicate reference (same id and relation)"
                    )
                }
                references.append(reference)
            }
        }
        remarks = try doc["remarks"].map { try JSONFields.localizedText($0, Envelope.maximumRemarksLength, "remarks") }
        body = doc["body"]
        id = try doc["id"].map { try JSONFields.messageID($0, "id") }
        created = try doc["created"].map { try JSONFields.time($0, "created") }
        if body == nil && type != .acknowledgement {
            throw ProtocolError(
                .missingField,
                field: "body",
                "a \(type) needs a body with the fields of its type (NOTIFICATIONS.md §3)"
            )
        }
    }

    /// The envelope, not yet validated as a whole (signing validates it). `now` and `newID` stand in
    /// for the creation time and id when the document gives none.
    public func envelope(
        sender: ParticipantID,
        sequences: [ParticipantID: UInt64],
        now: UTCTime,
        newID: MessageID
    ) throws -> Envelope {
        if let i = recipients.firstIndex(of: sender) {
            throw ProtocolError(
                .malformed,
                field: "recipients[\(i)]",
                "the sender \(sender) cannot be its own recipient"
            )
        }
        if let body, case .object = body {
        } else if let body {
            throw ProtocolError(
                .malformed,
                field: "body",
                "expected an object with the fields of a \(type), found \(body.kindName)"
            )
        }
        let created = created ?? now
        let body = try NotificationBody(type: type, json: body ?? .object([]), created: created)
        let recipients = try recipients.map { participant -> Recipient in
            guard let sequence = sequences[participant] else {
                throw ProtocolError(
                    .invalidField,
                    field: "recipients",
                    "no sequence number for recipient \(participant)"
                )
            }
            return Recipient(participant: participant, sequence: sequence)
        }
        return Envelope(
            id: id ?? newID,
            sender: sender,
            recipients: recipients,
            created: created,
            body: body,
            references: references,
            remarks: remarks
        )
    }
}

extension NotificationBody {
    /// The body of a notification of `type` from its JSON form (NOTIFICATIONS.md §3, field names in
    /// lower-kebab-case). `created` decides a pre-launch's `late` flag when it is omitted; inside a
    /// correction (`inCorrection`) `late` is required instead. Error paths start with `path`.
    public init(
        type: NotificationType,
        json: JSONValue,
        created: UTCTime,
        path: String = "body",
        inCorrection: Bool = false
    ) throws {
        typealias F = JSONFields
        switch type {
        case .acknowledgement:
            _ = try F(json, path: path, required: [])
            self = .acknowledgement
        case .correction:
            let b = try F(json, path: path, required: ["corrected-type", "corrected-body"])
            let correctedType = try F.enumeration(b["corrected-type"]!, NotificationType.self, b.path("corrected-type"))
            guard correctedType != .acknowledgement && correctedType != .correction else {
                throw ProtocolError(
                    .invalidField,
                    field: b.path("corrected-type"),
                    "any type name except acknowledgement and correction"
                )
            }
            self = .correction(
                try NotificationBody(
                    type: correctedType,
                    json: b["corrected-body"]!,
                    created: created,
                    path: b.path("corrected-body"),
                    inCorrection: true
                )
            )
        default:
            // Every other type has a field table, which says which members its object has.
            guard let fieldType = Self.fieldType(of: type) else { preconditionFailure("\(type) has no field table") }
            self = try fieldType.init(json: json, path: path, created: created, inCorrection: inCorrection).body
        }
        try F.at(path) { try validateFields() }
    }

    /// The body of a notification of `type` from JSON text (the `body` object of a composition document).
    public init(type: NotificationType, json bytes: [UInt8], created: UTCTime) throws {
        try self.init(type: type, json: try JSONValue(parsing: bytes), created: created)
    }

    /// The body of a notification of `type` from JSON data (the `body` object of a composition document).
    public init(type: NotificationType, json data: Data, created: UTCTime) throws {
        try self.init(type: type, json: [UInt8](data), created: created)
    }
}

/// The members of one JSON object, checked against the fields a composition allows, and the
/// conversions of NOTIFICATIONS.md §2.2.
struct JSONFields {
    let members: [String: JSONValue]
    let prefix: String

    init(_ value: JSONValue, path: String, required: [String], optional: [String] = []) throws {
        guard case .object(let list) = value else {
            throw ProtocolError(.invalidField, field: path, "expected an object, found \(value.kindName)")
        }
        prefix = path
        members = Dictionary(list.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
        let allowed = Set(required + optional)
        if let unknown = list.first(where: { !allowed.contains($0.key) }) {
            let expected = (required + optional).joined(separator: ", ")
            throw ProtocolError(
                .unknownField,
                field: Self.join(path, unknown.key),
                "unknown field; \(path.isEmpty ? "the document" : path) has \(expected.isEmpty ? "no fields" : expected)"
            )
        }
        if let missing = required.first(where: { members[$0] == nil }) {
            throw ProtocolError(.missingField, field: Self.join(path, missing), "required field is missing")
        }
    }

    subscript(_ key: String) -> JSONValue? { members[key] }

    func path(_ key: String) -> String { Self.join(prefix, key) }

    static func join(_ parent: String, _ child: String) -> String { parent.isEmpty ? child : "\(parent).\(child)" }

    /// Runs `body`, naming `path` in an error that names no field yet.
    static func at<T>(_ path: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch var error as ProtocolError {
            error.field =
                error.field.isEmpty ? path : (error.field.hasPrefix(path) ? error.field : join(path, error.field))
            throw error
        }
    }

    static func string(_ value: JSONValue, _ path: String, _ expected: String) throws -> String {
        guard case .string(let s) = value else {
            throw ProtocolError(.invalidField, field: path, "expected \(expected), found \(value.kindName)")
        }
        return s
    }

    static func time(_ value: JSONValue, _ path: String) throws -> UTCTime {
        let expected = "a UTC time YYYY-MM-DDTHH:MM:SSZ (RFC 3339, e.g. 2026-12-01T06:00:00Z)"
        let s = try string(value, path, expected)
        let u = Array(s.utf8)
        let digitPositions = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
        guard u.count == 20, u[4] == 0x2D, u[7] == 0x2D, u[10] == 0x54, u[13] == 0x3A, u[16] == 0x3A, u[19] == 0x5A,
            digitPositions.allSatisfy({ (0x30...0x39).contains(u[$0]) })
        else {
            throw ProtocolError(.invalidField, field: path, "expected \(expected), found \"\(s.prefix(40))\"")
        }
        let time = try at(path) { try UTCTime(rfc3339: s) }
        guard time.secondsSince1970 >= 0 else {
            throw ProtocolError(.invalidField, field: path, "times before 1970-01-01T00:00:00Z are not representable")
        }
        return time
    }

    static func date(_ value: JSONValue, _ path: String) throws -> CalendarDate {
        let s = try string(value, path, "a date YYYY-MM-DD")
        return try at(path) { try CalendarDate(s) }
    }

    static func messageID(_ value: JSONValue, _ path: String) throws -> MessageID {
        let s = try string(value, path, "a message id of 32 hex digits (optionally 8-4-4-4-12)")
        var u = Array(s.utf8)
        if u.count == 36 {
            guard [8, 13, 18, 23].allSatisfy({ u[$0] == 0x2D }) else {
                throw ProtocolError(
                    .invalidField,
                    field: path,
                    "expected a message id of 32 hex digits, all together or grouped 8-4-4-4-12, found \"\(s)\""
                )
            }
            u.removeAll { $0 == 0x2D }
        }
        let isHex: (UInt8) -> Bool = {
            (0x30...0x39).contains($0) || (0x41...0x46).contains($0) || (0x61...0x66).contains($0)
        }
        guard u.count == 32, u.allSatisfy(isHex) else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "expected a message id of 32 hex digits, all together or grouped 8-4-4-4-12, found \"\(s.prefix(40))\""
            )
        }
        return try at(path) { try MessageID(hex: String(decoding: u, as: UTF8.self)) }
    }

    static func participant(_ value: JSONValue, _ path: String) throws -> ParticipantID {
        let s = try string(value, path, "a participant id such as US-NRRC")
        return try at(path) { try ParticipantID(s) }
    }

    static func enumeration<T: WireCode>(_ value: JSONValue, _ type: T.Type, _ path: String) throws -> T {
        let names = T.allCases.map(\.name).joined(separator: ", ")
        let s = try string(value, path, "one of \(names)")
        guard let code = T(name: s) else {
            throw ProtocolError(.invalidField, field: path, "\"\(s.prefix(40))\" is not one of \(names)")
        }
        return code
    }

    static func bool(_ value: JSONValue, _ path: String) throws -> Bool {
        guard case .bool(let b) = value else {
            throw ProtocolError(.invalidField, field: path, "expected true or false, found \(value.kindName)")
        }
        return b
    }

    static func text(_ value: JSONValue, _ length: ClosedRange<Int>, _ path: String) throws -> String {
        let s = try string(value, path, "text of \(length.lowerBound)…\(length.upperBound) characters")
        let count = s.unicodeScalars.count
        guard length.contains(count) else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "text must be \(length.lowerBound)…\(length.upperBound) characters, found \(count)"
            )
        }
        return s
    }

    static func uint(_ value: JSONValue, _ range: ClosedRange<UInt64>, unit: String, _ path: String) throws -> UInt64 {
        let expected = "an integer \(range.lowerBound)…\(range.upperBound) (\(unit))"
        guard case .number(let numeral) = value else {
            throw ProtocolError(.invalidField, field: path, "expected \(expected), found \(value.kindName)")
        }
        guard numeral.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == 0x2D }) else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "expected \(expected) written without fraction or exponent, found \(numeral.prefix(40))"
            )
        }
        guard let n = UInt64(numeral), range.contains(n) else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "\(numeral.prefix(40)) is out of range: expected \(expected)"
            )
        }
        return n
    }

    static func localizedText(_ value: JSONValue, _ limit: Int, _ path: String) throws -> LocalizedText {
        let o = try JSONFields(value, path: path, required: ["lang", "text"])
        let lang = try string(o["lang"]!, o.path("lang"), "a language tag such as en")
        try at(o.path("lang")) { try LocalizedText.checkLanguage(lang) }
        let text = try text(o["text"]!, 1...limit, o.path("text"))
        return try at(path) { try LocalizedText(language: lang, text: text, maximumLength: limit) }
    }

    static func position(_ value: JSONValue, _ path: String) throws -> Position {
        let o = try JSONFields(value, path: path, required: ["lat", "lon"])
        let lat = try microdegrees(o["lat"]!, Position.latitudeRange, "latitude", "−90…90", o.path("lat"))
        let lon = try microdegrees(o["lon"]!, Position.longitudeRange, "longitude", "−180…180", o.path("lon"))
        return try at(path) { try Position(latitudeMicrodegrees: lat, longitudeMicrodegrees: lon) }
    }

    static func microdegrees(
        _ value: JSONValue,
        _ range: ClosedRange<Int64>,
        _ name: String,
        _ degrees: String,
        _ path: String
    ) throws -> Int64 {
        guard case .number(let numeral) = value else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "expected a \(name) in decimal degrees (\(degrees)°), found \(value.kindName)"
            )
        }
        guard let m = ExactDecimal(numeral)?.scaled(byPowerOfTen: 6).value, range.contains(m) else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "\(name) \(numeral.prefix(40))° is out of range \(degrees)° (after rounding to whole microdegrees)"
            )
        }
        return m
    }

    static func area(_ value: JSONValue, _ path: String) throws -> Area {
        guard case .object(let list) = value, list.count == 1, ["polygon", "circle"].contains(list[0].key) else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "expected {\"polygon\": [position, ...]} or {\"circle\": {\"center\": position, \"radius-m\": metres}}"
            )
        }
        if list[0].key == "polygon" {
            let p = join(path, "polygon")
            guard case .array(let vertices) = list[0].value, Area.vertexCount.contains(vertices.count) else {
                throw ProtocolError(
                    .invalidField,
                    field: p,
                    "expected an array of 3…64 positions {\"lat\": degrees, \"lon\": degrees}"
                )
            }
            let polygon = Area.polygon(try vertices.enumerated().map { try position($1, "\(p)[\($0)]") })
            try at(p) { try polygon.validate() }
            return polygon
        }
        let c = try JSONFields(list[0].value, path: join(path, "circle"), required: ["center", "radius-m"])
        return .circle(
            center: try position(c["center"]!, c.path("center")),
            radiusMetres: UInt32(try uint(c["radius-m"]!, Area.radiusRange, unit: "metres", c.path("radius-m")))
        )
    }

    static func azimuth(_ value: JSONValue, _ path: String) throws -> UInt16 {
        guard case .number(let numeral) = value else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "expected an azimuth in degrees (0 ≤ value < 360, at most 2 decimals), found \(value.kindName)"
            )
        }
        guard let scaled = ExactDecimal(numeral)?.scaled(byPowerOfTen: 2), scaled.exact else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "azimuth \(numeral.prefix(40))° has more than 2 decimals; give it in hundredths of a degree at most, e.g. 247.55"
            )
        }
        guard let n = scaled.value, (0...35_999).contains(n) else {
            throw ProtocolError(
                .invalidField,
                field: path,
                "azimuth \(numeral.prefix(40))° is out of range: 0 ≤ degrees < 360"
            )
        }
        return UInt16(n)
    }
}

/// A JSON numeral's exact decimal value: `digits × 10^exponent`.
struct ExactDecimal {
    var negative: Bool
    /// Decimal digits without leading zeros (empty for zero).
    var digits: [UInt8]
    var exponent: Int

    init?(_ numeral: String) {
        var u = Array(numeral.utf8)
        negative = u.first == 0x2D
        if negative { u.removeFirst() }
        var exponentValue = 0
        if let e = u.firstIndex(where: { $0 == 0x65 || $0 == 0x45 }) {
            let text = String(decoding: u[(e + 1)...], as: UTF8.self)
            // Clamp huge exponents: anything beyond ±100 000 is zero or out of every range anyway.
            let magnitude = text.drop { $0 == "+" || $0 == "-" }
            guard let parsed = Int(magnitude.count > 7 ? "9999999" : String(magnitude)) else { return nil }
            exponentValue = min(parsed, 100_000) * (text.hasPrefix("-") ? -1 : 1)
            u = Array(u[..<e])
        }
        var fraction = 0
        if let dot = u.firstIndex(of: 0x2E) {
            fraction = u.count - dot - 1
            u.remove(at: dot)
        }
        guard !u.isEmpty, u.allSatisfy({ (0x30...0x39).contains($0) }) else { return nil }
        digits = Array(u.drop { $0 == 0x30 }).map { $0 - 0x30 }
        exponent = exponentValue - fraction
    }

    /// The value × 10^power rounded to an integer half away from zero (nil if beyond ±10^18), and
    /// whether that was exact.
    func scaled(byPowerOfTen power: Int) -> (value: Int64?, exact: Bool) {
        guard !digits.isEmpty else { return (0, true) }
        let e = exponent + power
        var magnitude: Int64 = 0
        var exact = true
        if e >= 0 {
            guard digits.count + e <= 18 else { return (nil, true) }
            for d in digits { magnitude = magnitude * 10 + Int64(d) }
            for _ in 0..<e { magnitude *= 10 }
        } else {
            let kept = digits.count + e
            if kept > 18 { return (nil, false) }
            if kept > 0 { for d in digits[..<kept] { magnitude = magnitude * 10 + Int64(d) } }
            let firstDropped = kept >= 0 ? digits[kept] : 0
            exact = digits[max(0, kept)...].allSatisfy { $0 == 0 }
            if firstDropped >= 5 { magnitude += 1 }
        }
        return (negative ? -magnitude : magnitude, exact)
    }
}
