import ParleyCodec

/// Annual declaration (type 5): a policy statement and the launches of a year, per class.
public struct AnnualDeclaration: Sendable, Hashable {
    public static let yearRange: ClosedRange<UInt64> = 2000...2199
    public static let maximumCount: UInt64 = 100_000

    public struct LaunchCount: Sendable, Hashable {
        public var vehicleClass: VehicleClass
        public var count: UInt32
        public init(vehicleClass: VehicleClass, count: UInt32) {
            self.vehicleClass = vehicleClass
            self.count = count
        }
    }

    public var year: UInt16
    public var policy: LocalizedText
    public var launches: [LaunchCount]

    public init(year: UInt16, policy: LocalizedText, launches: [LaunchCount]) {
        self.year = year
        self.policy = policy
        self.launches = launches
    }

    init(from reader: inout CBORReader) throws {
        var r = try FieldReader(&reader)
        year = UInt16(try r.required(1, "year", &reader) { try Field.uint(&$0, Self.yearRange) })
        policy = try r.required(2, "policy", &reader) { try LocalizedText(from: &$0, maximumLength: 65_536) }
        launches = try r.required(3, "launches", &reader) { reader in
            let n = try Field.array(&reader, count: 0...VehicleClass.allCases.count)
            return try Field.elements(&reader, count: n) { reader in
                let (vehicleClass, count) = try Field.pair(&reader,
                    { try Field.code(&$0, VehicleClass.self) },
                    { try Field.uint(&$0, 0...Self.maximumCount, unit: "launches") })
                return LaunchCount(vehicleClass: vehicleClass, count: UInt32(count))
            }
        }
        try r.finish()
        try validateFields()
    }

    func write(to w: inout CBORWriter) {
        w.writeMapHeader(3)
        w.writeUnsigned(1); w.writeUnsigned(UInt64(year))
        w.writeUnsigned(2); policy.write(to: &w)
        w.writeUnsigned(3); w.writeArrayHeader(launches.count)
        for launch in launches {
            w.writeArrayHeader(2)
            w.write(code: launch.vehicleClass)
            w.writeUnsigned(UInt64(launch.count))
        }
    }

    func validateFields() throws {
        guard Self.yearRange.contains(UInt64(year)) else {
            throw ProtocolError(.invalidField, field: "year", "year \(year) is out of range 2000…2199")
        }
        try Field.named("policy") { try Field.checkText(policy.text, maximum: 65_536) }
        for (i, launch) in launches.enumerated() {
            guard UInt64(launch.count) <= Self.maximumCount else {
                throw ProtocolError(.invalidField, field: "launches[\(i)]", "\(launch.count) launches is out of range 0…100 000")
            }
            if i > 0 && launches[i - 1].vehicleClass.rawValue >= launch.vehicleClass.rawValue {
                throw ProtocolError(.invalidField, field: "launches[\(i)]", "classes must be unique and in ascending order of their codes")
            }
        }
    }
}

/// Export-denial notice (type 6): a licence for a controlled item was denied.
public struct ExportDenial: Sendable, Hashable {
    public var itemCategory: String
    public var destination: CountryCode
    public var endUser: String
    public var reason: DenialReason
    public var denialDate: CalendarDate
    public var nationalReference: String?

    public init(itemCategory: String, destination: CountryCode, endUser: String, reason: DenialReason,
                denialDate: CalendarDate, nationalReference: String? = nil) {
        self.itemCategory = itemCategory
        self.destination = destination
        self.endUser = endUser
        self.reason = reason
        self.denialDate = denialDate
        self.nationalReference = nationalReference
    }

    static func isCategoryCharacter(_ c: UInt8) -> Bool {
        (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || (0x30...0x39).contains(c) || c == 0x2E || c == 0x2D
    }

    static func checkCategory(_ text: String) throws {
        try Field.checkText(text, maximum: 32, allowed: isCategoryCharacter, describing: "A–Z a–z 0–9 . -")
    }

    init(from reader: inout CBORReader) throws {
        var r = try FieldReader(&reader)
        itemCategory = try r.required(1, "item-category", &reader) { reader in
            let text = try reader.readTextString()
            try Self.checkCategory(text)
            return text
        }
        destination = try r.required(2, "destination", &reader) { try CountryCode(try $0.readTextString()) }
        endUser = try r.required(3, "end-user", &reader) { try Field.text(&$0, 256) }
        reason = try r.required(4, "reason", &reader) { try Field.code(&$0, DenialReason.self) }
        denialDate = try r.required(5, "denial-date", &reader, Field.date)
        nationalReference = try r.optional(6, "national-reference", &reader) { try Field.text(&$0, 64) }
        try r.finish()
    }

    func write(to w: inout CBORWriter) {
        w.writeMapHeader(nationalReference == nil ? 5 : 6)
        w.writeUnsigned(1); w.writeTextString(itemCategory)
        w.writeUnsigned(2); w.writeTextString(destination.rawValue)
        w.writeUnsigned(3); w.writeTextString(endUser)
        w.writeUnsigned(4); w.write(code: reason)
        w.writeUnsigned(5); w.write(denialDate)
        if let nationalReference { w.writeUnsigned(6); w.writeTextString(nationalReference) }
    }

    func validateFields() throws {
        try Field.named("item-category") { try Self.checkCategory(itemCategory) }
        try Field.named("end-user") { try Field.checkText(endUser, maximum: 256) }
        if let nationalReference { try Field.named("national-reference") { try Field.checkText(nationalReference, maximum: 64) } }
    }
}

/// Export-denial withdrawal (type 7): a denial notified earlier no longer applies.
public struct ExportDenialWithdrawal: Sendable, Hashable {
    public var withdrawalDate: CalendarDate

    public init(withdrawalDate: CalendarDate) { self.withdrawalDate = withdrawalDate }

    init(from reader: inout CBORReader) throws {
        var r = try FieldReader(&reader)
        withdrawalDate = try r.required(1, "withdrawal-date", &reader, Field.date)
        try r.finish()
    }

    func write(to w: inout CBORWriter) {
        w.writeMapHeader(1)
        w.writeUnsigned(1); w.write(withdrawalDate)
    }
}

/// Treaty event notice (type 8): an elimination, movement, inspection or exhibition of treaty items.
public struct TreatyEvent: Sendable, Hashable {
    public var kind: TreatyEventKind
    public var itemType: String
    public var quantity: UInt32
    public var location: Position
    public var eventTime: UTCTime
    public var locationName: String?
    public var destination: Position?

    public init(kind: TreatyEventKind, itemType: String, quantity: UInt32, location: Position, eventTime: UTCTime,
                locationName: String? = nil, destination: Position? = nil) {
        self.kind = kind
        self.itemType = itemType
        self.quantity = quantity
        self.location = location
        self.eventTime = eventTime
        self.locationName = locationName
        self.destination = destination
    }

    init(from reader: inout CBORReader) throws {
        var r = try FieldReader(&reader)
        kind = try r.required(1, "kind", &reader) { try Field.code(&$0, TreatyEventKind.self) }
        itemType = try r.required(2, "item-type", &reader) { try Field.text(&$0, 64) }
        quantity = UInt32(try r.required(3, "quantity", &reader) { try Field.uint(&$0, 1...1_000_000, unit: "items") })
        location = try r.required(4, "location", &reader) { try Position(from: &$0) }
        eventTime = try r.required(5, "event-time", &reader, Field.time)
        locationName = try r.optional(6, "location-name", &reader) { try Field.text(&$0, 128) }
        destination = try r.optional(7, "destination", &reader) { try Position(from: &$0) }
        try r.finish()
    }

    func write(to w: inout CBORWriter) {
        w.writeMapHeader(5 + (locationName == nil ? 0 : 1) + (destination == nil ? 0 : 1))
        w.writeUnsigned(1); w.write(code: kind)
        w.writeUnsigned(2); w.writeTextString(itemType)
        w.writeUnsigned(3); w.writeUnsigned(UInt64(quantity))
        w.writeUnsigned(4); location.write(to: &w)
        w.writeUnsigned(5); w.write(eventTime)
        if let locationName { w.writeUnsigned(6); w.writeTextString(locationName) }
        if let destination { w.writeUnsigned(7); destination.write(to: &w) }
    }

    func validateFields() throws {
        try Field.named("item-type") { try Field.checkText(itemType, maximum: 64) }
        guard (1...1_000_000).contains(quantity) else {
            throw ProtocolError(.invalidField, field: "quantity", "\(quantity) items is out of range 1…1 000 000")
        }
        if let locationName { try Field.named("location-name") { try Field.checkText(locationName, maximum: 128) } }
    }
}

/// General communication (type 11): free text between participants.
public struct GeneralCommunication: Sendable, Hashable {
    public var subject: String
    public var text: LocalizedText

    public init(subject: String, text: LocalizedText) {
        self.subject = subject
        self.text = text
    }

    init(from reader: inout CBORReader) throws {
        var r = try FieldReader(&reader)
        subject = try r.required(1, "subject", &reader) { try Field.text(&$0, 256) }
        text = try r.required(2, "text", &reader) { try LocalizedText(from: &$0, maximumLength: 65_536) }
        try r.finish()
    }

    func write(to w: inout CBORWriter) {
        w.writeMapHeader(2)
        w.writeUnsigned(1); w.writeTextString(subject)
        w.writeUnsigned(2); text.write(to: &w)
    }

    func validateFields() throws {
        try Field.named("subject") { try Field.checkText(subject, maximum: 256) }
        try Field.named("text") { try Field.checkText(text.text, maximum: 65_536) }
    }
}
